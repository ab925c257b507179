/**
 * The line being edited: its text, the cursor, and the edits a shell's keys make (Emacs keys, as
 * bash and readline have them). The cursor moves by user-perceived characters (grapheme clusters:
 * `é` typed as `e` + a combining accent, a flag, a family emoji), never into the middle of one, so
 * Backspace removes what the user sees as one character. Words are runs of letters, digits and `_`
 * (Alt-B/F; Ctrl-W deletes a word or a run of punctuation, as Node's readline). Nothing here
 * touches the terminal: {@link LineEditor} draws what this holds.
 * @module
 */

const graphemes = new Intl.Segmenter(undefined, { granularity: "grapheme" });
const WORD = /[\p{L}\p{N}_]/u;

/** Text and a cursor (a UTF-16 index that is always on a grapheme boundary). */
export class LineBuffer {
  #text = "";
  #cursor = 0;
  /** What the last kill removed (Ctrl-Y puts it back). */
  #killed = "";

  /** The text. */
  get text(): string {
    return this.#text;
  }

  /** The cursor, as an index into {@link text}. */
  get cursor(): number {
    return this.#cursor;
  }

  /** Whether the cursor is after the last character. */
  get atEnd(): boolean {
    return this.#cursor === this.#text.length;
  }

  /** Replaces the text; the cursor goes to `cursor` (the end by default). */
  set(text: string, cursor = text.length): void {
    this.#text = text;
    this.#cursor = Math.max(0, Math.min(cursor, text.length));
  }

  /** Inserts `s` at the cursor and moves the cursor after it. */
  insert(s: string): void {
    this.#text = this.#text.slice(0, this.#cursor) + s + this.#text.slice(this.#cursor);
    this.#cursor += s.length;
  }

  /** Replaces the `count` UTF-16 units before the cursor with `s` (a completion). */
  replaceBefore(count: number, s: string): void {
    const from = Math.max(0, this.#cursor - count);
    this.#text = this.#text.slice(0, from) + s + this.#text.slice(this.#cursor);
    this.#cursor = from + s.length;
  }

  /** The index of the grapheme boundary before the cursor (0 at the start). */
  #previous(at = this.#cursor): number {
    let last = 0;
    for (const { index } of graphemes.segment(this.#text.slice(0, at))) last = index;
    return at === 0 ? 0 : last;
  }

  /** The index of the grapheme boundary after the cursor (the length at the end). */
  #next(at = this.#cursor): number {
    if (at >= this.#text.length) return this.#text.length;
    const first = graphemes.segment(this.#text.slice(at))[Symbol.iterator]().next().value;
    return at + (first?.segment.length ?? 1);
  }

  /** Moves one character left; false at the start. */
  left(): boolean {
    if (this.#cursor === 0) return false;
    this.#cursor = this.#previous();
    return true;
  }

  /** Moves one character right; false at the end. */
  right(): boolean {
    if (this.atEnd) return false;
    this.#cursor = this.#next();
    return true;
  }

  /** Moves to the start. */
  home(): void {
    this.#cursor = 0;
  }

  /** Moves to the end. */
  end(): void {
    this.#cursor = this.#text.length;
  }

  /** Where the word before `at` starts (Alt-B): back over non-word characters, then the word. */
  #wordStart(at: number): number {
    let i = at;
    while (i > 0 && !WORD.test(this.#text[i - 1])) i--;
    while (i > 0 && WORD.test(this.#text[i - 1])) i--;
    return i;
  }

  /** Where the word after `at` ends (Alt-F). */
  #wordEnd(at: number): number {
    let i = at;
    while (i < this.#text.length && !WORD.test(this.#text[i])) i++;
    while (i < this.#text.length && WORD.test(this.#text[i])) i++;
    return i;
  }

  /** Moves to the start of the word before the cursor. */
  wordLeft(): void {
    this.#cursor = this.#wordStart(this.#cursor);
  }

  /** Moves to the end of the word after the cursor. */
  wordRight(): void {
    this.#cursor = this.#wordEnd(this.#cursor);
  }

  /** Deletes the character before the cursor (Backspace); false at the start. */
  backspace(): boolean {
    if (this.#cursor === 0) return false;
    const from = this.#previous();
    this.#text = this.#text.slice(0, from) + this.#text.slice(this.#cursor);
    this.#cursor = from;
    return true;
  }

  /** Deletes the character under the cursor (Delete, Ctrl-D); false at the end. */
  deleteForward(): boolean {
    if (this.atEnd) return false;
    this.#text = this.#text.slice(0, this.#cursor) + this.#text.slice(this.#next());
    return true;
  }

  /** Removes `from`–`to` and keeps it for {@link yank}. */
  #kill(from: number, to: number): void {
    if (from === to) return;
    this.#killed = this.#text.slice(from, to);
    this.#text = this.#text.slice(0, from) + this.#text.slice(to);
    this.#cursor = from;
  }

  /** Ctrl-U: deletes from the start to the cursor. */
  killToStart(): void {
    this.#kill(0, this.#cursor);
  }

  /** Ctrl-K: deletes from the cursor to the end. */
  killToEnd(): void {
    this.#killed = this.#text.slice(this.#cursor) || this.#killed;
    this.#text = this.#text.slice(0, this.#cursor);
  }

  /**
   * Ctrl-W and Alt-Backspace: deletes back over spaces, then a word or a run of punctuation — so
   * on `mtu=0` it takes the `0` and leaves `mtu=` to type the value again (as Node's readline
   * does; bash's Ctrl-W would take all of `mtu=0`).
   */
  killWordBack(): void {
    let i = this.#cursor;
    while (i > 0 && /\s/.test(this.#text[i - 1])) i--;
    const word = i > 0 && WORD.test(this.#text[i - 1]);
    while (i > 0 && !/\s/.test(this.#text[i - 1]) && WORD.test(this.#text[i - 1]) === word) i--;
    this.#kill(i, this.#cursor);
  }

  /** Alt-D: deletes the word after the cursor. */
  killWordForward(): void {
    const to = this.#wordEnd(this.#cursor);
    const at = this.#cursor;
    this.#kill(at, to);
  }

  /** Ctrl-Y: inserts what the last kill removed. */
  yank(): void {
    if (this.#killed) this.insert(this.#killed);
  }

  /** Ctrl-T: swaps the two characters before the cursor (at the end) or around it. */
  transpose(): void {
    if (this.#text.length < 2 || this.#cursor === 0) return;
    if (this.atEnd) this.#cursor = this.#previous();
    const a = this.#previous();
    const b = this.#next();
    const first = this.#text.slice(a, this.#cursor);
    const second = this.#text.slice(this.#cursor, b);
    this.#text = this.#text.slice(0, a) + second + first + this.#text.slice(b);
    this.#cursor = b;
  }
}
