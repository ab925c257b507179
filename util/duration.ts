/**
 * Durations as people type them: `500ms`, `10s`, `2m`, `1h`, or a bare number of seconds.
 * @module
 */

/**
 * Milliseconds in `text`; a bare number is in `bareUnit` (seconds unless said).
 * @throws {RangeError} naming the text when it is not a duration.
 * @example
 * ```ts
 * import { parseDuration } from "./duration.ts";
 * parseDuration("500ms"); // 500
 * parseDuration("2"); // 2000
 * parseDuration("250", "ms"); // 250
 * ```
 */
export function parseDuration(text: string, bareUnit: "ms" | "s" = "s"): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(String(text).trim());
  if (!m) throw new RangeError(`bad duration ${JSON.stringify(text)}; use e.g. 500ms, 10s, 2m`);
  return Number(m[1]) *
    { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? bareUnit) as "ms" | "s" | "m" | "h"];
}
