/**
 * Splitting REPL input: commands separated by `;`, words separated by spaces, with "double" and
 * 'single' quotes and JSON values ({…} and […]) kept whole even when they contain spaces.
 * @module
 */

/** A word of a command line with where it starts. */
export interface Token {
  /** The word with quotes removed (JSON text kept as is). */
  text: string;
  /** The word as typed. */
  raw: string;
  /** Offset of the word in the line. */
  start: number;
  /** True when the value part was quoted (`name="…"` or `"…"`). */
  quoted: boolean;
}

/** Thrown for an unterminated quote; `incomplete` input may continue on the next line. */
export class SyntaxErrorAt extends Error {
  /** Builds the error. */
  constructor(message: string) {
    super(message);
    this.name = "SyntaxError";
  }
}

/** True when `text` has an unclosed quote, brace or bracket (a value continues on the next line). */
export function isIncomplete(text: string): boolean {
  let depth = 0;
  let quote: string | null = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === "\\") i++;
      else if (c === quote) quote = null;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === "{" || c === "[") depth++;
    else if (c === "}" || c === "]") depth--;
  }
  return quote !== null || depth > 0;
}

/**
 * Splits `a; b; c` (and lines) into commands, ignoring `;` inside quotes and JSON, and inside a
 * `js` command, which runs to the end of its line.
 */
export function splitCommands(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quote: string | null = null;
  let cur = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      cur += c;
      if (c === "\\" && i + 1 < text.length) cur += text[++i];
      else if (c === quote) quote = null;
      continue;
    }
    if (c === '"' || c === "'") quote = c;
    else if (c === "{" || c === "[") depth++;
    else if (c === "}" || c === "]") depth--;
    if ((c === ";" || c === "\n") && depth <= 0) {
      // `js` takes the rest of its line: JavaScript has semicolons of its own.
      if (c === ";" && /^\s*js(\s|$)/.test(cur)) {
        cur += c;
        continue;
      }
      if (cur.trim()) out.push(cur.trim());
      cur = "";
      continue;
    }
    cur += c;
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}

/** Splits one command into words. `allowOpen` tolerates an unclosed quote (for completion). */
export function tokenize(line: string, allowOpen = false): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < line.length) {
    while (i < line.length && /\s/.test(line[i])) i++;
    if (i >= line.length) break;
    const start = i;
    let text = "";
    let depth = 0;
    let quoted = false;
    while (i < line.length && (depth > 0 || !/\s/.test(line[i]))) {
      const c = line[i];
      if ((c === '"' || c === "'") && depth === 0) {
        quoted = true;
        const end = findClose(line, i, c);
        if (end < 0) {
          if (!allowOpen) throw new SyntaxErrorAt(`unterminated ${c} quote starting at column ${i + 1}`);
          text += unescape(line.slice(i + 1), c);
          i = line.length;
          break;
        }
        text += unescape(line.slice(i + 1, end), c);
        i = end + 1;
        continue;
      }
      if (c === "{" || c === "[") depth++;
      if (c === "}" || c === "]") depth--;
      if (depth > 0 && (c === '"' || c === "'")) {
        const end = findClose(line, i, c);
        const stop = end < 0 ? line.length : end + 1;
        text += line.slice(i, stop);
        i = stop;
        continue;
      }
      text += c;
      i++;
    }
    tokens.push({ text, raw: line.slice(start, i), start, quoted });
  }
  return tokens;
}

function findClose(line: string, open: number, q: string): number {
  for (let j = open + 1; j < line.length; j++) {
    if (line[j] === "\\") j++;
    else if (line[j] === q) return j;
  }
  return -1;
}

function unescape(s: string, q: string): string {
  return s.replace(
    /\\(.)/g,
    (_, c) => (c === "n" ? "\n" : c === "t" ? "\t" : c === q || c === "\\" ? c : `\\${c}`),
  );
}
