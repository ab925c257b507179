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

/** JSON text of `value` on one line, bigint- and bytes-safe. */
export function toJsonLine(value: unknown): string {
  return JSON.stringify(value, (_, v) => {
    if (typeof v === "bigint") return String(v);
    if (v instanceof Uint8Array) return Array.from(v, (b) => b.toString(16).padStart(2, "0")).join("");
    return v;
  });
}

/** Writes `value` as one NDJSON line to stdout. */
export function writeJsonLine(value: unknown): void {
  console.log(toJsonLine(value));
}
