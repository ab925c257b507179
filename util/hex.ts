/**
 * Bytes as hex text, the form people type and the JSON output uses; and where two byte strings
 * part ways, for messages that name the byte.
 *
 * @example
 * ```ts
 * import { parseHex, toHex } from "./hex.ts";
 * toHex(parseHex("0x0a:0b")!); // "0a0b"
 * ```
 * @module
 */

/** Parses hex (`0x0a0b`, `0a 0b`, `0a:0b`) into bytes; `null` when it is not hex. */
export function parseHex(text: string): Uint8Array | null {
  const clean = text.trim().replace(/^0x/i, "").replace(/[\s:]/g, "");
  if (clean.length % 2 !== 0 || !/^[0-9a-f]*$/i.test(clean)) return null;
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** Formats bytes as lowercase hex without separators. */
export function toHex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

/**
 * Where two byte strings first differ: an index, the shorter one's length when one is a prefix of
 * the other, -1 when they are the same. Indexes in `skip` are not compared.
 */
export function firstDifference(a: Uint8Array, b: Uint8Array, skip?: ReadonlySet<number>): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i] && !skip?.has(i)) return i;
  return a.length === b.length ? -1 : n;
}

/** One byte as `0x0a`; "nothing" past the end of its bytes. */
export function hexByte(b: number | undefined): string {
  return b === undefined ? "nothing" : `0x${b.toString(16).padStart(2, "0")}`;
}

/**
 * Bytes as `hexdump -C` shows them, a row of 16 each: the offset, the bytes in two groups of 8,
 * and their printable ASCII (`.` for the rest); a run of rows the same as the one before is one `*`
 * row, as hexdump does (a 4 KiB page of zeros is three lines). At most `rows` lines; `covered`:
 * how many of the bytes they show (all of them unless `rows` cut them short).
 * @example
 * ```ts
 * import { hexDumpLines } from "./hex.ts";
 * hexDumpLines(new TextEncoder().encode("ACME NVMe")).lines;
 * // ["0000  41 43 4d 45 20 4e 56 4d  65                       |ACME NVMe|"]
 * ```
 */
export function hexDumpLines(bytes: Uint8Array, rows = Infinity): { lines: string[]; covered: number } {
  const digits = bytes.length > 0x10000 ? 8 : 4;
  const out: string[] = [];
  let previous: string | undefined;
  let starred = false;
  let at = 0;
  for (; at < bytes.length && out.length < rows; at += 16) {
    const row = bytes.subarray(at, at + 16);
    const hex = [...row].map((b) => b.toString(16).padStart(2, "0"));
    const body = `${hex.slice(0, 8).join(" ").padEnd(23)}  ${hex.slice(8).join(" ").padEnd(23)}`;
    const last = at + 16 >= bytes.length;
    if (body === previous && !last) {
      if (!starred) out.push("*");
      starred = true;
      continue;
    }
    previous = body;
    starred = false;
    const ascii = [...row].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : ".")).join("");
    out.push(`${at.toString(16).padStart(digits, "0")}  ${body}  |${ascii}|`);
  }
  return { lines: out, covered: Math.min(at, bytes.length) };
}
