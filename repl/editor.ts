/**
 * The interactive line editor, our own, on a terminal in raw mode (`Deno.stdin.setRaw`): Emacs
 * editing keys, Tab completion (a second Tab lists the choices), an inline hint after the cursor,
 * colour as you type, history persisted per user with Up/Down and Ctrl-R reverse search, Ctrl-C
 * (clears the line, or stops the running command), Ctrl-D (exit), Ctrl-L, values typed over
 * several lines, questions asked on the edit line, and printing above the prompt without
 * destroying the line being typed. Keys are decoded by {@link KeyDecoder}, edits made on a
 * {@link LineBuffer}, the line drawn by {@link EditLineView}, history kept by {@link History}.
 *
 * The terminal is raw only while a line is read; while a command runs it is as the user's shell
 * left it (cooked: what is typed is echoed and waits for the next prompt, as in bash), stdin is not
 * read, and Ctrl-C reaches the REPL as SIGINT. That is what lets another program — `edit`'s
 * `$EDITOR` — have the terminal with nothing of ours reading it (a pending read cannot be
 * cancelled in Deno; it would take that program's first key). What it gives up: SIGINT goes to
 * the whole foreground process group, so a child the REPL starts must not die of it (the
 * simulator it starts runs in a session of its own, see `sim/process.ts`).
 *
 * Keys are handled one at a time, each to its end — a completion that asks the kernel for
 * instances included — before the next: two Tabs that arrive in one read complete, then list.
 * @module
 */
import { dim } from "@std/fmt/colors";
import { EditLineView, endColumn } from "./edit_line_view.ts";
import { History } from "./history.ts";
import { type Key, KeyDecoder } from "./keys.ts";
import { LineBuffer } from "./line_buffer.ts";
import { cutToWidth, displayWidth } from "./width.ts";

/** Options of {@link LineEditor}. */
export interface EditorOptions {
  /** The prompt, recomputed before each line. */
  prompt: () => string;
  /** History file (one entry per line, oldest first). */
  historyFile?: string;
  /** Entries kept. */
  historySize?: number;
  /** Completion of the line before the cursor: the choices, and the end of the line they replace. */
  complete: (line: string) => Promise<[string[], string]>;
  /** Inline hint for the line (empty for none). */
  hint: (line: string) => string;
  /** Ctrl-C pressed while a command runs: true when it stopped one. */
  onInterrupt: () => boolean;
  /** Whether a value continues on the next line. */
  incomplete: (text: string) => boolean;
  /** Colours the line as it is typed (same visible text; none under NO_COLOR). */
  colour?: (line: string) => string;
}

/**
 * A hint as shown: dimmed, or (under NO_COLOR, where dim text would look typed) in brackets.
 */
const hintText = (s: string) => {
  if (!Deno.env.get("NO_COLOR")) return dim(s);
  const lead = s.length - s.trimStart().length;
  return `${s.slice(0, lead)}[${s.slice(lead)}]`;
};

/** The longest start all of `words` share. */
function commonPrefix(words: string[]): string {
  let prefix = words[0] ?? "";
  for (const w of words) {
    while (!w.startsWith(prefix)) prefix = prefix.slice(0, -1);
  }
  return prefix;
}

/** `items` in columns as wide as the widest plus two, as many as fit in `columns`. */
function inColumns(items: string[], columns: number): string {
  const width = Math.max(...items.map(displayWidth)) + 2;
  const perRow = Math.max(1, Math.floor(columns / width));
  const rows: string[] = [];
  for (let i = 0; i < items.length; i += perRow) {
    const row = items.slice(i, i + perRow);
    rows.push(row.map((w, j) => j < row.length - 1 ? w + " ".repeat(width - displayWidth(w)) : w).join(""));
  }
  return rows.join("\r\n");
}

/** An editor of command lines on the process's terminal. */
export class LineEditor {
  readonly #opts: EditorOptions;
  readonly #history: History;
  readonly #line = new LineBuffer();
  readonly #view = new EditLineView((text) => this.#write(text));
  readonly #decoder = new KeyDecoder();
  /** Keys read but not handled yet (type-ahead, the rest of a paste after its Enter). */
  readonly #keys: Key[] = [];
  readonly #chunk = new Uint8Array(4096);
  #reading = false;
  #closed = false;
  /** A value begun on earlier lines (the prompt is `... `). */
  #pending = "";
  #prompt = "";
  #question?: string;
  #prefill?: string;
  #lastWasTab = false;
  #listening = false;
  #search?: { query: string; index: number; saved: string; savedCursor: number; failed: boolean };

  /** Creates the editor on the process's terminal (raw only while {@link read} reads). */
  constructor(opts: EditorOptions) {
    this.#opts = opts;
    this.#history = new History(opts.historyFile, opts.historySize ?? 1000);
  }

  /**
   * From the first line read on: a resize redraws, and Ctrl-C while a command runs (SIGINT) stops
   * it instead of the process — not before, so Ctrl-C while the REPL starts still ends it.
   */
  #listen(): void {
    if (this.#listening) return;
    this.#listening = true;
    Deno.addSignalListener("SIGWINCH", this.#onResize);
    Deno.addSignalListener("SIGINT", this.#onSigint);
  }

  /** Writes all of `text` to the terminal now (in the order of console output around it). */
  #write(text: string): void {
    const bytes = new TextEncoder().encode(text);
    for (let done = 0; done < bytes.length;) done += Deno.stdout.writeSync(bytes.subarray(done));
  }

  #columns(): number {
    try {
      return Deno.consoleSize().columns || 80;
    } catch {
      return 80;
    }
  }

  /** Ctrl-C while a command runs (the terminal is cooked then, so it comes as SIGINT). */
  readonly #onSigint = () => {
    // The terminal echoed ^C: what the stopped command prints goes on a line of its own.
    if (!this.#reading && this.#opts.onInterrupt()) this.#write("\n");
  };

  /** A resized terminal: the line is drawn again for the new width, and its hint cut to it. */
  readonly #onResize = () => {
    if (this.#reading && !this.#closed) this.#render();
  };

  /** The hint for the line as it stands, cut to the room left on its last row (or none). */
  #hint(columns: number): string | undefined {
    if (this.#search || this.#pending || this.#question !== undefined || !this.#line.atEnd) return undefined;
    let h = this.#opts.hint(this.#line.text);
    if (!h) return undefined;
    const room = columns - endColumn(this.#prompt, this.#line.text, columns) - 1; // the last column stays free
    const extra = Deno.env.get("NO_COLOR") ? 2 : 0; // the brackets
    if (displayWidth(h) + extra > room) h = room - extra >= 8 ? `${cutToWidth(h, room - extra - 1)}…` : "";
    return h ? hintText(h) : undefined;
  }

  /** Draws the edit line (or the search line) as it stands. */
  #render(hint = true): void {
    const columns = this.#columns();
    const s = this.#search;
    if (s) {
      const match = s.index >= 0 ? this.#history.entries[s.index] : "";
      const label = s.failed ? "failed reverse-i-search" : "reverse-i-search";
      this.#view.draw({ prompt: `(${label})'${s.query}': `, text: match, cursor: match.length }, columns);
      return;
    }
    const text = this.#line.text;
    const plain = this.#question !== undefined || !this.#opts.colour || !text;
    this.#view.draw({
      prompt: this.#prompt,
      text,
      cursor: this.#line.cursor,
      coloured: plain ? undefined : this.#opts.colour!(text),
      hint: hint ? this.#hint(columns) : undefined,
    }, columns);
  }

  /** The next key: one read ahead, or from the terminal; null when the input ended. */
  async #nextKey(): Promise<Key | null> {
    while (!this.#keys.length) {
      const n = await Deno.stdin.read(this.#chunk);
      if (n === null) return null;
      this.#keys.push(...this.#decoder.decode(this.#chunk.subarray(0, n)));
    }
    return this.#keys.shift()!;
  }

  /**
   * The next line; null after Ctrl-D (or when the input ends). The terminal is raw only while
   * this waits.
   */
  async read(): Promise<string | null> {
    if (this.#closed) return null;
    this.#listen();
    this.#reading = true;
    Deno.stdin.setRaw(true);
    this.#history.reset();
    this.#line.set(this.#prefill ?? "");
    this.#prefill = undefined;
    this.#prompt = this.#question ?? (this.#pending ? "... " : this.#opts.prompt());
    this.#render();
    try {
      for (;;) {
        const key = await this.#nextKey();
        if (key === null) return this.#endOfInput();
        const done = await this.#handle(key);
        if (done !== undefined) return done;
      }
    } finally {
      this.#reading = false;
      if (!this.#closed) Deno.stdin.setRaw(false);
    }
  }

  /** Ctrl-D on an empty line, or the input ended: no line; the line is left as it stands. */
  #endOfInput(): null {
    this.#render(false);
    this.#view.forget();
    return null;
  }

  /** Handles one key: a finished line (or null for Ctrl-D), or undefined to read on. */
  async #handle(key: Key): Promise<string | null | undefined> {
    if (this.#search) return this.#searchKey(key);
    const tab = key.name === "tab" && !key.ctrl && !key.meta && !key.shift;
    const listChoices = this.#lastWasTab;
    this.#lastWasTab = tab;
    if (tab) {
      if (this.#question === undefined) await this.#complete(listChoices);
      return undefined;
    }
    if (key.name === "enter") return this.#enter();
    if (key.ctrl && key.name === "c") return this.#interrupt();
    if (key.ctrl && key.name === "d" && !this.#line.text) return this.#endOfInput();
    if (key.ctrl && key.name === "r") {
      this.#search = {
        query: "",
        index: -1,
        saved: this.#line.text,
        savedCursor: this.#line.cursor,
        failed: false,
      };
    } else if (key.ctrl && key.name === "l") {
      this.#write("\x1b[H\x1b[2J");
      this.#view.forget();
    } else if (!this.#edit(key)) return undefined;
    this.#render();
    return undefined;
  }

  /** An editing or moving key on the line: false when it is none (nothing to draw again). */
  #edit(key: Key): boolean {
    const line = this.#line;
    const ctrl = (name: string) => key.ctrl && !key.meta && key.name === name;
    const meta = (name: string) => key.meta && key.name === name;
    if (key.name === "text") line.insert(key.text!);
    else if ((key.name === "left" && (key.ctrl || key.meta)) || meta("b")) line.wordLeft();
    else if ((key.name === "right" && (key.ctrl || key.meta)) || meta("f")) line.wordRight();
    else if (key.name === "left" || ctrl("b")) line.left();
    else if (key.name === "right" || ctrl("f")) line.right();
    else if (key.name === "home" || ctrl("a")) line.home();
    else if (key.name === "end" || ctrl("e")) line.end();
    else if (key.name === "backspace" && key.meta) line.killWordBack();
    else if (key.name === "backspace") line.backspace();
    else if (key.name === "delete" || ctrl("d")) line.deleteForward();
    else if (ctrl("u")) line.killToStart();
    else if (ctrl("k")) line.killToEnd();
    else if (ctrl("w")) line.killWordBack();
    else if (meta("d")) line.killWordForward();
    else if (ctrl("y")) line.yank();
    else if (ctrl("t")) line.transpose();
    else if (key.name === "up" || ctrl("p")) {
      const entry = this.#history.previous(line.text);
      if (entry === undefined) return false;
      line.set(entry);
    } else if (key.name === "down" || ctrl("n")) {
      const entry = this.#history.next();
      if (entry === undefined) return false;
      line.set(entry);
    } else return false;
    return true;
  }

  /** Tab: the one choice, or what all choices share; the second Tab in a row lists them. */
  async #complete(listChoices: boolean): Promise<void> {
    const before = this.#line.text.slice(0, this.#line.cursor);
    const [choices, replaced] = await this.#opts.complete(before).catch((): [
      string[],
      string,
    ] => [[], before]);
    if (!choices.length) return;
    const prefix = commonPrefix(choices);
    if (choices.length === 1 || (prefix.length > replaced.length && prefix.startsWith(replaced))) {
      this.#line.replaceBefore(replaced.length, choices.length === 1 ? choices[0] : prefix);
      this.#render();
      return;
    }
    if (!listChoices) return;
    const columns = this.#columns();
    this.#render(false);
    this.#view.leave(columns);
    this.#write(`${inColumns(choices, columns)}\r\n`);
    this.#render();
  }

  /** Enter: the line is done (unless a value goes on); the whole of it stays in the scrollback. */
  #enter(): string | undefined {
    this.#line.end();
    this.#render(false);
    this.#view.leave(this.#columns());
    const line = this.#line.text;
    const text = this.#pending ? `${this.#pending}\n${line}` : line;
    if (this.#question === undefined && this.#opts.incomplete(text)) {
      this.#pending = text;
      this.#prompt = "... ";
      this.#line.set("");
      this.#render();
      return undefined;
    }
    if (this.#question === undefined) {
      // A value typed over several lines is one history item (Up brings it back whole).
      this.#history.add(
        this.#pending ? text.split("\n").map((l) => l.trim()).filter(Boolean).join(" ") : line,
      );
    }
    this.#pending = "";
    return text;
  }

  /** Ctrl-C while reading: a question is cancelled (null); a line (and a value begun) abandoned. */
  #interrupt(): null | undefined {
    this.#render(false);
    this.#write("^C");
    this.#view.leave(this.#columns());
    if (this.#question !== undefined) return null;
    this.#pending = "";
    this.#line.set("");
    this.#history.reset();
    this.#prompt = this.#opts.prompt();
    this.#render();
    return undefined;
  }

  /** A key during Ctrl-R: refines or steps the search, or ends it (Enter runs the match). */
  #searchKey(key: Key): string | null | undefined {
    const s = this.#search!;
    const entries = this.#history.entries;
    if (key.ctrl && key.name === "r") {
      const older = s.index > 0 ? this.#history.search(s.query, s.index - 1) : -1;
      if (older >= 0) s.index = older;
      else s.failed = s.query.length > 0;
    } else if (key.name === "backspace") {
      s.query = s.query.slice(0, -1);
      s.index = this.#history.search(s.query);
      s.failed = false;
    } else if ((key.ctrl && (key.name === "g" || key.name === "c")) || key.name === "escape") {
      this.#search = undefined;
      this.#line.set(s.saved, s.savedCursor);
    } else if (key.name === "text") {
      s.query += key.text!;
      // The match shown stays while it still holds the query (as bash does).
      const from = s.index >= 0 && entries[s.index].includes(s.query) ? s.index : entries.length - 1;
      const found = this.#history.search(s.query, from);
      if (found >= 0) s.index = found;
      s.failed = found < 0;
    } else {
      // Any other key takes the match to the edit line and does there what it does (as in bash).
      this.#search = undefined;
      this.#line.set(s.index >= 0 ? entries[s.index] : s.saved);
      if (key.name === "enter") return this.#enter();
      this.#edit(key);
    }
    this.#render();
    return undefined;
  }

  /**
   * Asks one question on the edit line (`mtu (u32): `): the answer, or null after Ctrl-C or
   * Ctrl-D. No hint, no completion, and the answer does not go to the history.
   */
  async ask(question: string): Promise<string | null> {
    this.#question = question;
    try {
      return await this.read();
    } finally {
      this.#question = undefined;
    }
  }

  /** Puts `text` on the next edit line, ready to edit (`template … --edit`). */
  prefill(text: string): void {
    this.#prefill = text;
  }

  /** Prints `text` above the prompt, keeping what the user is typing. */
  printAbove(text: string): void {
    if (!this.#reading) {
      console.log(text);
      return;
    }
    this.#view.clear(this.#columns());
    this.#write(`${text.replaceAll("\n", "\r\n")}\r\n`);
    // What was printed may have changed what the prompt says (a session found lost).
    if (!this.#question && !this.#pending) this.#prompt = this.#opts.prompt();
    this.#render();
  }

  /** Restores the terminal and stops listening for signals. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#listening) {
      Deno.removeSignalListener("SIGWINCH", this.#onResize);
      Deno.removeSignalListener("SIGINT", this.#onSigint);
    }
    if (this.#reading) Deno.stdin.setRaw(false);
  }
}
