/**
 * The line editor's pieces without a terminal: keys decoded from bytes (split anywhere), edits on
 * a line by user-perceived characters, history (browsing, search, the file), and what the view
 * writes to a terminal (replayed on a small model of one). The editor as a whole is driven in a
 * real terminal by the tmux suites.
 */
import { assert, assertEquals } from "@std/assert";
import { KeyDecoder } from "../repl/keys.ts";
import { LineBuffer } from "../repl/line_buffer.ts";
import { History } from "../repl/history.ts";
import { EditLineView, endColumn } from "../repl/edit_line_view.ts";

const bytes = (s: string) => new TextEncoder().encode(s);

Deno.test("keys: text runs, control keys, CSI and SS3 sequences, Alt, modifiers", () => {
  const d = new KeyDecoder();
  assertEquals(d.decode(bytes("call\t\t")), [
    { name: "text", text: "call" },
    { name: "tab" },
    { name: "tab" },
  ]);
  assertEquals(d.decode(bytes("\r\n\x7f\x08\x03\x12")), [
    { name: "enter" },
    { name: "enter" },
    { name: "backspace" },
    { name: "backspace" },
    { name: "c", ctrl: true },
    { name: "r", ctrl: true },
  ]);
  assertEquals(d.decode(bytes("\x1b[A\x1bOB\x1b[3~\x1b[1;5D\x1b[H\x1b[4~\x1b[Z")), [
    { name: "up" },
    { name: "down" },
    { name: "delete" },
    { name: "left", ctrl: true },
    { name: "home" },
    { name: "end" },
    { name: "tab", shift: true },
  ]);
  assertEquals(d.decode(bytes("\x1bb\x1b\x7f\x1b")), [
    { name: "b", text: "b", meta: true },
    { name: "backspace", meta: true },
    { name: "escape" },
  ]);
  // A C1 control is never text.
  assertEquals(d.decode(bytes("a\u0085b")), [{ name: "text", text: "a" }, { name: "unknown" }, {
    name: "text",
    text: "b",
  }]);
});

Deno.test("keys: a character split between two reads comes out whole, once", () => {
  const d = new KeyDecoder();
  const all = bytes("日本");
  assertEquals(d.decode(all.subarray(0, 2)), []);
  assertEquals(d.decode(all.subarray(2, 4)), [{ name: "text", text: "日" }]);
  assertEquals(d.decode(all.subarray(4)), [{ name: "text", text: "本" }]);
});

Deno.test("line: the cursor moves and deletes by what the user sees as one character", () => {
  const l = new LineBuffer();
  l.insert("ae\u0301🇫🇷x"); // e + a combining accent; a flag is two code points
  assert(l.atEnd);
  l.backspace();
  assertEquals(l.text, "ae\u0301🇫🇷");
  l.backspace();
  assertEquals(l.text, "ae\u0301");
  l.left();
  assertEquals(l.cursor, 1);
  l.deleteForward();
  assertEquals(l.text, "a");
  l.set("call setMtu vmnic0 mtu=1500");
  l.killWordBack();
  assertEquals(l.text, "call setMtu vmnic0 mtu=");
  l.killWordBack();
  assertEquals(l.text, "call setMtu vmnic0 mtu");
  l.yank();
  assertEquals(l.text, "call setMtu vmnic0 mtu=");
  l.insert("1500");
  l.wordLeft();
  assertEquals(l.text.slice(l.cursor), "1500");
  l.left();
  l.killWordBack();
  assertEquals(l.text, "call setMtu vmnic0 =1500");
  l.home();
  l.killWordForward();
  assertEquals(l.text, " setMtu vmnic0 =1500");
  l.end();
  l.killToStart();
  assertEquals([l.text, l.cursor], ["", 0]);
  l.set("abc", 1);
  l.killToEnd();
  assertEquals(l.text, "a");
  l.set("ab");
  l.transpose();
  assertEquals(l.text, "ba");
  l.set("call open", 4);
  l.replaceBefore(4, "help");
  assertEquals([l.text, l.cursor], ["help open", 4]);
});

Deno.test("history: a repeated entry moves to the newest place; browsing gives the typed line back; saved 0600", async () => {
  const dir = await Deno.makeTempDir();
  const file = `${dir}/history`;
  try {
    const h = new History(file, 3);
    for (const e of ["open a", "call x", "open a", "  ", "sessions", "help"]) h.add(e);
    assertEquals(h.entries, ["call x", "open a", "sessions", "help"].slice(-3));
    assertEquals(Deno.readTextFileSync(file), "open a\nsessions\nhelp\n");
    assertEquals(Deno.statSync(file).mode! & 0o777, 0o600);
    assertEquals(h.previous("half typ"), "help");
    assertEquals(h.previous("ignored"), "sessions");
    assertEquals(h.previous(""), "open a");
    assertEquals(h.previous(""), undefined);
    assertEquals(h.next(), "sessions");
    assertEquals(h.next(), "help");
    assertEquals(h.next(), "half typ");
    assertEquals(h.next(), undefined);
    assertEquals(h.search("s"), 1);
    assertEquals(h.search("s", 0), -1);
    assertEquals(h.search(""), -1);
    assertEquals(new History(file).entries, ["open a", "sessions", "help"]);
    assertEquals(new History(`${dir}/none`).entries, []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/**
 * A terminal just big enough for the view's output: printable text (each char one column),
 * CR, LF, cursor up/down/right, erase line; autowrap with the pending-wrap state terminals have.
 */
class ModelTerminal {
  rows: string[][] = [[]];
  row = 0;
  col = 0;
  #pendingWrap = false;
  constructor(readonly columns: number) {}
  #ensure(r: number) {
    while (this.rows.length <= r) this.rows.push([]);
  }
  write(s: string): void {
    for (let i = 0; i < s.length; i++) {
      const ch = s[i];
      if (ch === "\x1b") {
        // deno-lint-ignore no-control-regex -- the model reads the escapes the view writes
        const m = /^\x1b\[(\d*)([A-Za-z])/.exec(s.slice(i))!;
        const n = Number(m[1] || "1");
        if (m[2] === "A") this.row = Math.max(0, this.row - n);
        if (m[2] === "B") this.row += n;
        if (m[2] === "C") this.col = Math.min(this.columns - 1, this.col + n);
        if (m[2] === "K") this.rows[this.row] = [];
        this.#ensure(this.row);
        this.#pendingWrap = false;
        i += m[0].length - 1;
      } else if (ch === "\r") {
        this.col = 0;
        this.#pendingWrap = false;
      } else if (ch === "\n") {
        this.row++;
        this.#ensure(this.row);
        this.#pendingWrap = false;
      } else {
        if (this.#pendingWrap) {
          this.row++;
          this.col = 0;
          this.#ensure(this.row);
          this.#pendingWrap = false;
        }
        this.rows[this.row][this.col] = ch;
        if (this.col === this.columns - 1) this.#pendingWrap = true;
        else this.col++;
      }
    }
  }
  text(): string[] {
    return this.rows.map((r) => Array.from(r, (c) => c ?? " ").join("").trimEnd());
  }
}

Deno.test("view: a line that wraps is drawn over its rows, redrawn in place, cursor where it belongs", () => {
  const term = new ModelTerminal(10);
  term.write("above\r\n");
  const view = new EditLineView((s) => term.write(s));
  view.draw({ prompt: "> ", text: "abcdefghijklmnop", cursor: 3 }, 10);
  assertEquals(term.text(), ["above", "> abcdefgh", "ijklmnop"]);
  assertEquals([term.row, term.col], [1, 5]);
  // Shorter: the second row is cleared, nothing left behind.
  view.draw({ prompt: "> ", text: "abc", cursor: 3, hint: " [x]" }, 10);
  assertEquals(term.text(), ["above", "> abc [x]", ""]);
  assertEquals([term.row, term.col], [1, 5]);
  // Exactly one row full: the cursor goes to the start of the next row, where typing goes on.
  view.draw({ prompt: "> ", text: "abcdefgh", cursor: 8 }, 10);
  assertEquals(term.text(), ["above", "> abcdefgh", ""]);
  assertEquals([term.row, term.col], [2, 0]);
  view.draw({ prompt: "> ", text: "abcdefghi", cursor: 9 }, 10);
  assertEquals(term.text(), ["above", "> abcdefgh", "i"]);
  view.leave(10);
  term.write("next");
  assertEquals(term.text(), ["above", "> abcdefgh", "i", "next"]);
  assertEquals(endColumn("> ", "abcdefgh", 10), 0);
  assertEquals(endColumn("> ", "日本語日", 10), 0);
  assertEquals(endColumn("> ", "日本語日本", 10), 2);
});
