/**
 * The interactive line editor, on `node:readline`: Tab completion, an inline hint after the
 * cursor, history persisted per user, Ctrl-R reverse search, Ctrl-C (clears the line or stops
 * the running command), Ctrl-D (exit), multi-line values, and printing above the prompt without
 * destroying the line being typed.
 * @module
 */
import * as readline from "node:readline";
import process from "node:process";

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

const dim = (s: string) => (Deno.env.get("NO_COLOR") ? s : `\x1b[2m${s}\x1b[0m`);

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
  #search?: { query: string; index: number; saved: string; savedCursor: number; match?: string };

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
        // The completion is inserted inside cb: the hint for the new line comes after it.
        opts.complete(line).then((r) => cb(null, r), () => cb(null, [[], line])).finally(() =>
          this.#showHint()
        );
      },
    } as readline.ReadLineOptions) as Internal;
    this.#rl = rl;
    const refreshSym = internal(rl, "_refreshLine");
    this.#refresh = () => (rl[refreshSym] as () => void).call(rl);
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
      if (this.#opts.onInterrupt()) return;
      // Ctrl-C at the prompt abandons the line (and a half-typed multi-line value).
      this.#pending = "";
      process.stdout.write("\x1b[K^C\n");
      rl.line = "";
      rl.cursor = 0;
      if (this.#reading) this.#prompt();
    });
    rl.on("history", (h: string[]) => this.#saveHistory(h));
  }

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

  #showHint(): void {
    if (this.#search || !this.#reading) return;
    const rl = this.#rl;
    if (rl.cursor !== rl.line.length) return;
    const h = this.#pending ? "" : this.#opts.hint(rl.line);
    process.stdout.write(h ? `\x1b[K${dim(h)}\x1b[${h.length}D` : "\x1b[K");
  }

  #renderSearch(): void {
    const s = this.#search!;
    const match = s.match ?? "";
    process.stdout.write(`\r\x1b[K(reverse-i-search)'${s.query}': ${match}`);
  }

  #find(from: number): void {
    const s = this.#search!;
    const h = this.#rl.history;
    for (let i = from; i < h.length; i++) {
      if (s.query && h[i].includes(s.query)) {
        s.index = i;
        s.match = h[i];
        return;
      }
    }
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

  #onKey(s: string, key: Key, pass: (s: string, key: Key) => void): void {
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
    if (key.ctrl && key.name === "r") {
      this.#search = { query: "", index: 0, saved: this.#rl.line, savedCursor: this.#rl.cursor };
      this.#renderSearch();
      return;
    }
    if (key.name === "return" || key.name === "enter") process.stdout.write("\x1b[K");
    pass(s, key);
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
    this.#pending = "";
    this.#reading = false;
    if (this.#waiter) {
      const w = this.#waiter;
      this.#waiter = undefined;
      w(text);
    } else this.#lines.push(text);
  }

  #prompt(): void {
    this.#rl.setPrompt(this.#pending ? "... " : this.#opts.prompt());
    this.#rl.prompt(true);
    this.#showHint();
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
    if (!this.#closed) this.#rl.close();
  }
}
