/**
 * How wide text is on a terminal (wide CJK and emoji take two columns, escapes none), measured
 * with npm's `string-width` — std's `unicode-width` does not load from the republished std package.
 * @module
 */
import stringWidth from "string-width";

/** The columns `text` takes on a terminal. */
export function displayWidth(text: string): number {
  return stringWidth(text);
}

/** The longest start of `text` that fits in `columns` (never splitting a wide character). */
export function cutToWidth(text: string, columns: number): string {
  let out = "";
  let used = 0;
  for (const ch of text) {
    const w = stringWidth(ch);
    if (used + w > columns) break;
    out += ch;
    used += w;
  }
  return out;
}

/** `text` padded with spaces to `columns` display columns. */
export function padToWidth(text: string, columns: number): string {
  return text + " ".repeat(Math.max(0, columns - stringWidth(text)));
}
