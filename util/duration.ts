/**
 * Durations as people type them: `500ms`, `10s`, `2m`, `1h`, or a bare number of milliseconds —
 * one rule for every duration the REPL, the scripts and the library take (a bare number meant
 * seconds in some places and milliseconds in others, and a user could not tell which from the
 * option's name).
 * @module
 */

const UNITS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

/**
 * Milliseconds in `text`; a bare number is in `bareUnit` (milliseconds unless said).
 * @throws {RangeError} naming the text when it is not a duration.
 * @example
 * ```ts
 * import { parseDuration } from "./duration.ts";
 * parseDuration("500ms"); // 500
 * parseDuration("2s"); // 2000
 * parseDuration("250"); // 250
 * ```
 */
export function parseDuration(text: string, bareUnit: "ms" | "s" = "ms"): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(String(text).trim());
  if (!m) {
    throw new RangeError(
      `bad duration ${JSON.stringify(text)}; use e.g. 500ms, 10s, 2m (a bare number is ${
        bareUnit === "ms" ? "milliseconds" : "seconds"
      })`,
    );
  }
  return Number(m[1]) * UNITS[(m[2] ?? bareUnit) as keyof typeof UNITS];
}

/**
 * A time limit in milliseconds: a duration above zero (0 would give up before anyone could
 * answer; leaving a limit out is how to wait without one).
 * @throws {RangeError} naming the text when it is not a duration, or is 0.
 * @example
 * ```ts
 * import { parseTimeout } from "./duration.ts";
 * parseTimeout("5s"); // 5000
 * ```
 */
export function parseTimeout(text: string): number {
  let ms = NaN;
  try {
    ms = parseDuration(text);
  } catch { /* said below, in one message for both mistakes */ }
  if (!(ms > 0)) {
    throw new RangeError(
      `expected a duration > 0 (250ms, 5s, 2m; a bare number is milliseconds), got ${JSON.stringify(text)}`,
    );
  }
  return ms;
}
