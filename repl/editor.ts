/**
 * The interactive line editor, on `node:readline`: Tab completion, an inline hint after the
 * cursor, history persisted per user, Ctrl-R reverse search, Ctrl-C (clears the line or stops
 * the running command), Ctrl-D (exit), multi-line values, and printing above the prompt without
 * destroying the line being typed.
 * @module
 */
import * as readline from "node:readline";
import process from "node:process";
import { dim } from "@std/fmt/colors";
import { cutToWidth, displayWidth } from "./width.ts";

/** Options of {@link LineEditor}. */
export interface EditorOptions {
  /** The prompt, recomputed before each line. */
  prompt: () => string;
  /** History file (one entry per line, oldest first). */
  historyFile?: string;
  /** Entries kept. */
  historySize?: number;
  /** Completion of the line before the cursor. */
  complete: (line: string) => Promise<[string[], string]>;
  /** Inline hint for the line (empty for none). */
  hint: (line: string) => string;
  /** Ctrl-C pressed while a command runs. */
  onInterrupt: () => boolean;
  /** Whether a value continues on the next line. */
  incomplete: (text: string) => boolean;
  /** Colours the line as it is typed (same visible text; none under NO_COLOR). */
  colour?: (line: string) => string;
}

type Key = { name?: string; ctrl?: boolean; meta?: boolean; shift?: boolean; sequence?: string };
type Internal = readline.Interface & {
  line: string;
  cursor: number;
  history: string[];
  [k: symbol]: unknown;
};

function internal(rl: readline.Interface, name: string): symbol {
  let proto = Object.getPrototypeOf(rl);
  while (proto) {
    const sym = Object.getOwnPropertySymbols(proto).find((s) => s.description === name);
    if (sym) return sym;
    proto = Object.getPrototypeOf(proto);
  }
  throw new Error(`node:readline lacks ${name}`);
}

/**
 * A hint as shown: dimmed, or (under NO_COLOR, where dim text would look typed) in brackets.
 */
const hintText = (s: string) => {
  if (!Deno.env.get("NO_COLOR")) return dim(s);
  const lead = s.length - s.trimStart().length;
  return `${s.slice(0, lead)}[${s.slice(lead)}]`;
};

/** A readline-based editor for a terminal. */
export class LineEditor {
  readonly #rl: Internal;
  readonly #opts: EditorOptions;
  readonly #refresh: () => void;
  #lines: string[] = [];
  #waiter?: (line: string | null) => void;
  #closed = false;
  #reading = false;
  #pending = "";
  #completing = false;
  #question?: string;
  #prefill?: string;
  #lastWasTab = false;
  readonly #tabComplete: (listChoices: boolean) => Promise<void>;
  #queued: [string, Key, (s: string, key: Key) => void][] = [];
  #search?: {
    query: string;
    index: number;
    saved: string;
    savedCursor: number;
    match?: string;
    failed?: boolean;
  };

  /** Creates the editor on the process's terminal. */
  constructor(opts: EditorOptions) {
    this.#opts = opts;
    const history = this.#loadHistory();
    const rl = readline.createInterface({
      input: process.stdin,
      output: process.stdout,
      terminal: true,
      historySize: opts.historySize ?? 1000,
      removeHistoryDuplicates: true,
      history,
      completer: (line: string, cb: (err: Error | null, result: [string[], string]) => void) => {
        // readline inserts the completion after cb returns: the hint and the keys that waited
        // come after that.
        opts.complete(line).then((r) => cb(null, r), () => cb(null, [[], line])).finally(() =>
          setTimeout(this.#endCompletion, 0)
        );
      },
    } as readline.ReadLineOptions) as Internal;
    this.#rl = rl;
    const refreshSym = internal(rl, "_refreshLine");
    this.#refresh = () => (rl[refreshSym] as () => void).call(rl);
    const tabSym = internal(rl, "_tabComplete");
    this.#tabComplete = (listChoices) => (rl[tabSym] as (l: boolean) => Promise<void>).call(rl, listChoices);
    const writeSym = internal(rl, "_writeToOutput");
    const write = rl[writeSym] as (text: string) => void;
    if (opts.colour) {
      // readline draws the line as prompt + line in one write: colour the line part of it.
      Object.defineProperty(rl, writeSym, {
        value: (text: string) => {
          const prompt = rl.getPrompt();
          const colour = opts.colour!;
          if (!this.#search && this.#question === undefined && text === prompt + rl.line && rl.line) {
            write.call(rl, prompt + colour(rl.line));
          } else write.call(rl, text);
        },
        configurable: true,
        writable: true,
      });
    }
    const ttySym = internal(rl, "_ttyWrite");
    const original = rl[ttySym] as (s: string, key: Key) => void;
    // Every key passes through here first (Ctrl-R search, hints); the prototype has only a getter.
    Object.defineProperty(rl, ttySym, {
      value: (s: string, key: Key = {}) => this.#onKey(s, key, (ss, kk) => original.call(rl, ss, kk)),
      configurable: true,
      writable: true,
    });
    rl.on("line", (line: string) => this.#onLine(line));
    rl.on("close", () => {
      this.#closed = true;
      this.#waiter?.(null);
    });
    rl.on("SIGINT", () => {
      if (this.#question !== undefined && this.#waiter) {
        // Ctrl-C at a question cancels it (the command that asked gives up).
        process.stdout.write("\x1b[K^C\n");
        rl.line = "";
        rl.cursor = 0;
        this.#reading = false;
        const w = this.#waiter;
        this.#waiter = undefined;
        w(null);
        return;
      }
      if (this.#opts.onInterrupt()) return;
      // Ctrl-C at the prompt abandons the line (and a half-typed multi-line value).
      this.#pending = "";
      process.stdout.write("\x1b[K^C\n");
      rl.line = "";
      rl.cursor = 0;
      if (this.#reading) this.#prompt();
    });
    rl.on("history", (h: string[]) => this.#saveHistory(h));
    Deno.addSignalListener("SIGWINCH", this.#onResize);
  }

  /** A resized terminal: the line is drawn again for the new width, and its hint cut to it. */
  readonly #onResize = () => {
    if (!this.#reading || this.#closed) return;
    if (this.#search) this.#renderSearch();
    else {
      this.#refresh();
      this.#showHint();
    }
  };

  #loadHistory(): string[] {
    if (!this.#opts.historyFile) return [];
    try {
      return Deno.readTextFileSync(this.#opts.historyFile).split("\n").filter(Boolean).reverse();
    } catch {
      return [];
    }
  }

  #saveHistory(h: string[]): void {
    if (!this.#opts.historyFile) return;
    try {
      const text = h.slice(0, this.#opts.historySize ?? 1000).reverse().join("\n") + "\n";
      Deno.writeTextFileSync(this.#opts.historyFile, text, { mode: 0o600 });
    } catch { /* history is a convenience: never fail a command over it */ }
  }

  /**
   * Shows the hint after the cursor, never past the right edge: a hint that does not fit in what
   * is left of the row is cut (with …) or dropped, so it can never wrap and leave a copy behind.
   */
  #showHint(): void {
    if (this.#search || !this.#reading) return;
    const rl = this.#rl;
    if (rl.cursor !== rl.line.length) return;
    let h = this.#pending || this.#question !== undefined ? "" : this.#opts.hint(rl.line);
    if (h) {
      const columns = process.stdout.columns || 80;
      const at = (displayWidth(rl.getPrompt()) + displayWidth(rl.line)) % columns;
      const room = columns - at - 1; // the last column stays free: writing there would wrap
      const extra = Deno.env.get("NO_COLOR") ? 2 : 0; // the brackets
      if (displayWidth(h) + extra > room) {
        h = room - extra >= 8 ? `${cutToWidth(h, room - extra - 1)}…` : "";
      }
    }
    if (!h) {
      process.stdout.write("\x1b[K");
      return;
    }
    const text = hintText(h);
    process.stdout.write(`\x1b[K${text}\x1b[${displayWidth(text)}D`);
  }

  /** The search line, as bash shows it; a query nothing matches says so (Enter would run the match shown). */
  #renderSearch(): void {
    const s = this.#search!;
    const match = s.match ?? "";
    const label = s.failed ? "failed reverse-i-search" : "reverse-i-search";
    process.stdout.write(`\r\x1b[K(${label})'${s.query}': ${match}`);
  }

  /** Finds the query from history entry `from` on; keeps the last match and marks failure when none. */
  #find(from: number): void {
    const s = this.#search!;
    const h = this.#rl.history;
    for (let i = from; i < h.length; i++) {
      if (s.query && h[i].includes(s.query)) {
        s.index = i;
        s.match = h[i];
        s.failed = false;
        return;
      }
    }
    s.failed = s.query.length > 0;
  }

  #endSearch(accept: boolean): void {
    const s = this.#search!;
    this.#search = undefined;
    const rl = this.#rl;
    rl.line = accept && s.match !== undefined ? s.match : s.saved;
    rl.cursor = accept && s.match !== undefined ? rl.line.length : s.savedCursor;
    process.stdout.write("\r\x1b[K");
    this.#refresh();
  }

  /** A completion is done: its hint, then the keys that waited. */
  readonly #endCompletion = () => {
    this.#completing = false;
    this.#showHint();
    this.#drainKeys();
  };

  /** Keys typed while a completion runs, replayed in order when it is done. */
  #drainKeys(): void {
    while (!this.#completing && this.#queued.length) {
      const [s, key, pass] = this.#queued.shift()!;
      this.#onKey(s, key, pass);
    }
  }

  #onKey(s: string, key: Key, pass: (s: string, key: Key) => void): void {
    if (this.#completing) {
      this.#queued.push([s, key, pass]);
      return;
    }
    if (this.#search) {
      if (key.ctrl && key.name === "r") {
        this.#find(this.#search.index + 1);
        this.#renderSearch();
        return;
      }
      if (key.name === "backspace") {
        this.#search.query = this.#search.query.slice(0, -1);
        this.#search.match = undefined;
        this.#find(0);
        this.#renderSearch();
        return;
      }
      if ((key.ctrl && (key.name === "g" || key.name === "c")) || key.name === "escape") {
        this.#endSearch(false);
        return;
      }
      if (
        s && !key.ctrl && !key.meta && s.length === 1 && s >= " " && key.name !== "return" &&
        key.name !== "enter"
      ) {
        this.#search.query += s;
        this.#find(
          this.#search.match && this.#search.match.includes(this.#search.query) ? this.#search.index : 0,
        );
        this.#renderSearch();
        return;
      }
      this.#endSearch(true);
      if (key.name === "return" || key.name === "enter") pass(s, key);
      else this.#showHint();
      return;
    }
    if (key.name === "tab" && !key.ctrl && !key.meta && !key.shift) {
      // Every Tab completes — also one that arrives with other keys in one read, which readline
      // would insert as a TAB. Keys that arrive meanwhile wait, so that a second Tab completes
      // the completed line (and lists the choices, as a second Tab does).
      const listChoices = this.#lastWasTab;
      this.#lastWasTab = true;
      this.#completing = true;
      // (Should readline not call the completer, the keys must not wait for ever.)
      Promise.resolve(this.#tabComplete(listChoices)).catch(() => {}).finally(() =>
        setTimeout(() => this.#completing && this.#endCompletion(), 50)
      );
      return;
    }
    this.#lastWasTab = false;
    if (key.ctrl && key.name === "r") {
      this.#search = { query: "", index: 0, saved: this.#rl.line, savedCursor: this.#rl.cursor };
      this.#renderSearch();
      return;
    }
    if (key.name === "return" || key.name === "enter") {
      // The scrollback keeps the whole command: go to its end before clearing the hint after it.
      const rl = this.#rl;
      if (rl.cursor !== rl.line.length) {
        rl.cursor = rl.line.length;
        this.#refresh();
      }
      process.stdout.write("\x1b[K");
    }
    pass(s, key);
    // A typed character goes out alone: draw the line again so that it is coloured as a whole.
    if (this.#opts.colour && this.#reading && s && !key.ctrl && !key.meta && key.name !== "return") {
      this.#refresh();
    }
    this.#showHint();
  }

  #onLine(line: string): void {
    const text = this.#pending ? `${this.#pending}\n${line}` : line;
    if (this.#opts.incomplete(text)) {
      this.#pending = text;
      this.#rl.setPrompt("... ");
      this.#rl.prompt();
      return;
    }
    if (this.#pending && this.#question === undefined) {
      // A value typed over several lines is one history item (one line: Up brings it back whole).
      // readline kept each non-blank line as an item, newest first: those become one.
      const lines = text.split("\n").filter((l) => l.trim());
      const h = this.#rl.history;
      if (h.slice(0, lines.length).every((e, i) => e === lines[lines.length - 1 - i])) {
        h.splice(0, lines.length);
      }
      h.unshift(lines.map((l) => l.trim()).join(" "));
      this.#saveHistory(h);
    }
    this.#pending = "";
    this.#reading = false;
    if (this.#waiter) {
      const w = this.#waiter;
      this.#waiter = undefined;
      w(text);
    } else this.#lines.push(text);
  }

  #prompt(): void {
    this.#rl.setPrompt(this.#question ?? (this.#pending ? "... " : this.#opts.prompt()));
    this.#rl.prompt(true);
    if (this.#prefill !== undefined) {
      this.#rl.line = this.#prefill;
      this.#rl.cursor = this.#prefill.length;
      this.#prefill = undefined;
      this.#refresh();
    }
    this.#showHint();
  }

  /**
   * Asks one question on the edit line (`mtu (u32): `): the answer, or null after Ctrl-D. No
   * hint, and the answer does not go to the history.
   */
  async ask(question: string): Promise<string | null> {
    this.#question = question;
    const history = [...this.#rl.history];
    try {
      return await this.read();
    } finally {
      this.#question = undefined;
      this.#rl.history.splice(0, this.#rl.history.length, ...history);
    }
  }

  /**
   * Lends the terminal to another program (an external editor): input paused and cooked while
   * `fn` runs, then raw and reading again.
   */
  async suspend(fn: () => Promise<void>): Promise<void> {
    this.#rl.pause();
    const stdin = process.stdin as unknown as { setRawMode?: (on: boolean) => void };
    stdin.setRawMode?.(false);
    try {
      await fn();
    } finally {
      stdin.setRawMode?.(true);
      this.#rl.resume();
    }
  }

  /** Puts `text` on the next edit line, ready to edit (`template … --edit`). */
  prefill(text: string): void {
    this.#prefill = text;
  }

  /** The next line; null after Ctrl-D. */
  read(): Promise<string | null> {
    if (this.#lines.length) return Promise.resolve(this.#lines.shift()!);
    if (this.#closed) return Promise.resolve(null);
    this.#reading = true;
    this.#prompt();
    return new Promise((resolve) => (this.#waiter = resolve));
  }

  /** Prints `text` above the prompt, keeping what the user is typing. */
  printAbove(text: string): void {
    if (!this.#reading) {
      console.log(text);
      return;
    }
    process.stdout.write(`\r\x1b[K${text}\n`);
    if (this.#search) this.#renderSearch();
    else {
      this.#refresh();
      this.#showHint();
    }
  }

  /** Restores the terminal. */
  close(): void {
    Deno.removeSignalListener("SIGWINCH", this.#onResize);
    if (!this.#closed) this.#rl.close();
  }
}
