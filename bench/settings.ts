/**
 * Numeric settings of the bench tools from the environment (BENCH_*, SOAK_*), each checked before
 * anything runs: a setting that is not a positive number (a whole one for counts) stops the tool
 * with its name and what it must be, where NaN or 0 once ran it with zero events and printed
 * nonsense ratios.
 *
 * @example
 * ```ts ignore
 * const rounds = envSetting("BENCH_ROUNDS", 3); // 3 unset; throws for "abc", "0", "1.5"
 * const seconds = envSetting("BENCH_SECONDS", 2, false); // 0.5 is fine
 * ```
 * @module
 */

/**
 * The setting `name`: a positive number (a whole one unless `whole` is false), or `fallback` unset.
 * @throws {Error} naming the variable, what it must be and what it was, for anything else
 */
export function envSetting(name: string, fallback: number, whole = true): number {
  const raw = Deno.env.get(name);
  if (raw === undefined) return fallback;
  const value = raw.trim() === "" ? NaN : Number(raw);
  if (!(value > 0) || !Number.isFinite(value) || (whole && !Number.isSafeInteger(value))) {
    throw new Error(
      `${name} must be ${whole ? "a whole number ≥ 1" : "a number > 0"}, got ${
        JSON.stringify(raw)
      } (unset: ${fallback})`,
    );
  }
  return value;
}
