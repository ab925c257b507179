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
