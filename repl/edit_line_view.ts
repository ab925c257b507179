/**
 * Draws the edit line — prompt, text, a dimmed hint after the cursor — on a terminal, over as
 * many rows as it wraps to, and puts the cursor where it belongs. It keeps track of the rows it
 * drew and where it left the cursor, so the next drawing (a key, an event printed above, a
 * resize) replaces them exactly: no copy left behind, nothing below disturbed.
 *
 * How: it moves to the first row it drew, clears each row with `ESC[2K` (never `ESC[J`: tmux
 * pushes a whole screen cleared from its top-left corner into the scrollback, so each keystroke
 * after Ctrl-L would leave a copy there), writes everything in one write, and moves the cursor
 * back from the end by relative moves. It lays text out as the terminal does: a wide character
 * that does not fit in the last column goes to the next row, and a row filled to its last column
 * leaves the cursor on that row until the next character, so after such a row it writes `\r\n`
 * itself to know where the cursor is.
 *
 * What it gives up: after a resize it assumes the terminal reflowed the rows it drew (tmux, VTE,
 * kitty, iTerm2 do; xterm cuts them instead, which can leave a stale row until the next Ctrl-L).
 * @module
 */
import { stripAnsiCode } from "@std/fmt/colors";
import { displayWidth } from "./width.ts";

const graphemes = new Intl.Segmenter(undefined, { granularity: "grapheme" });

/** What to draw: visible text and how it looks. */
export interface EditLine {
  /** The prompt (may hold colour escapes). */
  prompt: string;
  /** The text being edited. */
  text: string;
  /** Cursor, a UTF-16 index into {@link text}. */
  cursor: number;
  /** The text as drawn (same visible characters, with colour escapes), when it differs. */
  coloured?: string;
  /** A hint shown after the text when the cursor is at its end (already styled; cut to fit). */
  hint?: string;
}

/** Where a piece of text leaves the cursor: a row below the first one drawn, and a column. */
interface Place {
  row: number;
  col: number;
}

/**
 * Moves `at` over `text` as a terminal of `columns` would: `col` may equal `columns` (the row is
 * full; the terminal moves to the next row only when the next character comes).
 */
function advance(at: Place, text: string, columns: number): Place {
  let { row, col } = at;
  for (const { segment } of graphemes.segment(stripAnsiCode(text))) {
    const w = displayWidth(segment);
    if (w === 0) continue;
    if (col + w > columns) {
      row++;
      col = 0;
    }
    col += w;
  }
  return { row, col };
}

/**
 * The column where drawing `prompt` then `text` from a row's start ends, on a terminal `columns`
 * wide (0 when it ends exactly at a row's end: the next character starts a new row).
 */
export function endColumn(prompt: string, text: string, columns: number): number {
  const end = advance(advance({ row: 0, col: 0 }, prompt, columns), text, columns);
  return end.col === columns ? 0 : end.col;
}

/** The edit line on a terminal, and the rows it takes there now. */
export class EditLineView {
  readonly #write: (text: string) => void;
  /** Rows drawn last time, and the row (counted from the first) the cursor was left on. */
  #rows = 0;
  #cursorRow = 0;
  /** Columns and the offsets drawn last time, to work out the rows after a reflow. */
  #columns = 0;
  #lastEnd = 0;
  #lastCursor = 0;

  /** A view writing through `write` (everything one drawing needs goes in one call). */
  constructor(write: (text: string) => void) {
    this.#write = write;
  }

  /** Whether something is drawn (and would be cleared by the next drawing). */
  get drawn(): boolean {
    return this.#rows > 0;
  }

  /**
   * The terminal is `columns` wide now: if it was not when the line was drawn, the terminal
   * reflowed the rows, and the rows to clear are worked out again from what was drawn.
   */
  #reflow(columns: number): void {
    if (!this.#rows || columns === this.#columns || this.#columns === 0) return;
    this.#rows = Math.max(1, Math.ceil(this.#lastEnd / columns));
    this.#cursorRow = Math.min(this.#rows - 1, Math.floor(this.#lastCursor / columns));
  }

  /** The escapes that clear what was drawn and leave the cursor at the start of its first row. */
  #clearing(columns: number): string {
    this.#reflow(columns);
    let out = "\r";
    if (this.#cursorRow > 0) out += `\x1b[${this.#cursorRow}A`;
    for (let i = 0; i < this.#rows; i++) out += i ? "\x1b[B\x1b[2K" : "\x1b[2K";
    if (this.#rows > 1) out += `\x1b[${this.#rows - 1}A`;
    return out;
  }

  /** Draws `line` in place of what was drawn, for a terminal `columns` wide. */
  draw(line: EditLine, columns: number): void {
    let out = this.#clearing(columns);
    const start = advance({ row: 0, col: 0 }, line.prompt, columns);
    const cursorAt = advance(start, line.text.slice(0, line.cursor), columns);
    let end = advance(cursorAt, line.text.slice(line.cursor), columns);
    out += line.prompt + (line.coloured ?? line.text);
    if (end.col === columns) {
      // A full last row: the terminal's cursor waits at its end; make it a new row we know.
      out += "\r\n";
      end = { row: end.row + 1, col: 0 };
    }
    if (line.hint && line.cursor === line.text.length) {
      out += line.hint;
      end = { row: end.row, col: end.col + displayWidth(stripAnsiCode(line.hint)) };
    }
    // The cursor after a full row is at the start of the next (where the next character goes).
    const cursor = cursorAt.col === columns ? { row: cursorAt.row + 1, col: 0 } : cursorAt;
    if (end.row > cursor.row) out += `\x1b[${end.row - cursor.row}A`;
    out += "\r";
    if (cursor.col > 0) out += `\x1b[${cursor.col}C`;
    this.#write(out);
    this.#rows = end.row + 1;
    this.#cursorRow = cursor.row;
    this.#columns = columns;
    this.#lastEnd = end.row * columns + end.col;
    this.#lastCursor = cursor.row * columns + cursor.col;
  }

  /**
   * Clears what was drawn and forgets it: the cursor is left at the start of the row the line
   * began on, where text printed above the prompt goes.
   */
  clear(columns: number): void {
    if (!this.#rows) return;
    this.#write(this.#clearing(columns));
    this.forget();
  }

  /**
   * Moves below what was drawn (`\r\n` after its last row) and forgets it: the line stays on the
   * screen as it is, and what comes next starts on a new row.
   */
  leave(columns: number): void {
    if (!this.#rows) return;
    this.#reflow(columns);
    const down = this.#rows - 1 - this.#cursorRow;
    // A last row left empty (the line filled the row before) is already the new row.
    const fresh = this.#lastEnd % columns === 0 && this.#rows > 1;
    this.#write(`${down > 0 ? `\x1b[${down}B` : ""}${fresh ? "\r" : "\r\n"}`);
    this.forget();
  }

  /** Forgets what was drawn (the screen was cleared, or the rows are no longer ours). */
  forget(): void {
    this.#rows = 0;
    this.#cursorRow = 0;
    this.#columns = 0;
  }
}
