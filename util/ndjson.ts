/**
 * Structured output for scripts: one JSON document per line, with 64-bit integers as decimal
 * strings and bytes as hex (the forms the REPL and control commands accept back).
 *
 * @example
 * ```ts
 * import { toJsonLine } from "./ndjson.ts";
 * toJsonLine({ rx: 2n ** 64n - 1n, fw: new Uint8Array([1, 2]) }); // '{"rx":"18446744073709551615","fw":"0102"}'
 * ```
 * @module
 */
import { toHex } from "./hex.ts";

/** JSON.stringify replacer: bigint as a decimal string, bytes as hex. */
export function losslessReplacer(_key: string, v: unknown): unknown {
  if (typeof v === "bigint") return String(v);
  if (v instanceof Uint8Array) return toHex(v);
  return v;
}

/** JSON text of `value` on one line, bigint- and bytes-safe. */
export function toJsonLine(value: unknown): string {
  return JSON.stringify(value, losslessReplacer);
}

/** Parses JSON, keeping integers too large for a double exact (as decimal strings). */
export function parseJsonExact(text: string): unknown {
  return JSON.parse(text.replace(/(^\s*|[:\[,]\s*)(-?\d{16,})(?=\s*(?:[,\]}]|$))/g, '$1"$2"'));
}

/** Writes `value` as one NDJSON line to stdout. */
export function writeJsonLine(value: unknown): void {
  console.log(toJsonLine(value));
}
