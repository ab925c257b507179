/**
 * Keys from a terminal in raw mode: bytes in, {@link Key}s out. Text arrives as UTF-8 that a read
 * may split anywhere; special keys as control bytes or escape sequences (CSI `ESC [ … final`, SS3
 * `ESC O x`, or `ESC` before a key for Alt). Printable text typed or pasted in one read comes out as
 * one key, so a paste of a thousand characters is one insertion and one redraw, not a thousand.
 *
 * What it gives up: a lone `ESC` at the end of a read is taken as the Escape key at once, not held
 * back in case the rest of a sequence follows in a later read (terminals send a sequence in one
 * write; holding it back would delay every Escape by a timeout, as vi users know).
 * @module
 */

/** One key press, or a run of text typed at once. */
export interface Key {
  /**
   * What was pressed: `text` (see {@link Key.text}), `enter`, `tab`, `backspace`, `delete`,
   * `left`, `right`, `up`, `down`, `home`, `end`, `escape`, a letter with {@link Key.ctrl} (`c`,
   * `d`, `r`, …), or `unknown` for a sequence this editor has no use for.
   */
  name: string;
  /** The text typed (for `text`, and a letter with {@link Key.meta}). */
  text?: string;
  /** Ctrl was held (a control byte, or a modifier in the sequence). */
  ctrl?: boolean;
  /** Alt (Meta) was held: the key came after an `ESC`. */
  meta?: boolean;
  /** Shift was held (Shift-Tab, shifted arrows). */
  shift?: boolean;
}

/** CSI final bytes and `~` numbers that name a key. */
const CSI_FINAL: Record<string, string> = {
  A: "up",
  B: "down",
  C: "right",
  D: "left",
  H: "home",
  F: "end",
  Z: "tab", // Shift-Tab
};
const CSI_TILDE: Record<string, string> = {
  "1": "home",
  "2": "insert",
  "3": "delete",
  "4": "end",
  "5": "pageup",
  "6": "pagedown",
  "7": "home",
  "8": "end",
};

/** The modifiers of a CSI sequence's second parameter (xterm: 1 + shift 1, alt 2, ctrl 4). */
function modifiers(param: string | undefined): Pick<Key, "ctrl" | "meta" | "shift"> {
  const m = Number(param ?? "1") - 1;
  if (!(m > 0)) return {};
  return {
    ...(m & 1 ? { shift: true } : {}),
    ...(m & 2 ? { meta: true } : {}),
    ...(m & 4 ? { ctrl: true } : {}),
  };
}

/** C0 controls, DEL and C1 controls: never inserted as text. */
const isControl = (code: number) => code < 0x20 || (code >= 0x7f && code <= 0x9f);

/** The key a control byte (below 0x20, or DEL) stands for. */
function controlKey(code: number): Key {
  if (code === 0x0d || code === 0x0a) return { name: "enter" };
  if (code === 0x09) return { name: "tab" };
  if (code === 0x7f || code === 0x08) return { name: "backspace" };
  if (code === 0x1b) return { name: "escape" };
  if (code === 0) return { name: "space", ctrl: true };
  if (code <= 0x1a) return { name: String.fromCharCode(code + 0x60), ctrl: true };
  return { name: "unknown" };
}

/**
 * An escape sequence at `s[i]` (which is ESC): the key and where the next one starts. A CSI
 * sequence runs to its final byte (0x40–0x7e); one cut short by the end of the read is dropped.
 */
function escapeKey(s: string, i: number): [Key, number] {
  const next = s[i + 1];
  if (next === undefined) return [{ name: "escape" }, i + 1];
  if (next === "[") {
    let j = i + 2;
    while (j < s.length && !(s.charCodeAt(j) >= 0x40 && s.charCodeAt(j) <= 0x7e)) j++;
    if (j >= s.length) return [{ name: "unknown" }, s.length];
    const params = s.slice(i + 2, j).split(";");
    const final = s[j];
    if (final === "~") {
      if (params[0] === "200" || params[0] === "201") {
        return [{ name: params[0] === "200" ? "paste-start" : "paste-end" }, j + 1];
      }
      return [{ name: CSI_TILDE[params[0]] ?? "unknown", ...modifiers(params[1]) }, j + 1];
    }
    const name = CSI_FINAL[final] ?? "unknown";
    return [{ name, ...modifiers(params[1]), ...(final === "Z" ? { shift: true } : {}) }, j + 1];
  }
  if (next === "O" && i + 2 < s.length) {
    return [{ name: CSI_FINAL[s[i + 2]] ?? "unknown" }, i + 3];
  }
  if (next === "\x1b") return [{ name: "escape" }, i + 1];
  // Alt (Meta) and a key: ESC sent first, as terminals do for Alt.
  const code = s.charCodeAt(i + 1);
  if (code < 0x20 || code === 0x7f) return [{ ...controlKey(code), meta: true }, i + 2];
  const ch = String.fromCodePoint(s.codePointAt(i + 1)!);
  return [{ name: ch.toLowerCase(), text: ch, meta: true }, i + 1 + ch.length];
}

/** Decodes the bytes a terminal sends into keys, across reads (UTF-8 split anywhere). */
export class KeyDecoder {
  readonly #utf8 = new TextDecoder("utf-8", { fatal: false });

  /** The keys in `bytes` (and what earlier reads left of a character). */
  decode(bytes: Uint8Array): Key[] {
    const s = this.#utf8.decode(bytes, { stream: true });
    const keys: Key[] = [];
    let i = 0;
    while (i < s.length) {
      const code = s.charCodeAt(i);
      if (code === 0x1b) {
        const [key, next] = escapeKey(s, i);
        keys.push(key);
        i = next;
      } else if (isControl(code)) {
        keys.push(controlKey(code));
        i++;
      } else {
        let j = i + 1;
        while (j < s.length && !isControl(s.charCodeAt(j))) j++;
        keys.push({ name: "text", text: s.slice(i, j) });
        i = j;
      }
    }
    return keys;
  }
}
