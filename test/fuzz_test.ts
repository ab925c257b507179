/**
 * Each libFuzzer harness (native/fuzz/, `deno task fuzz`) runs for a short bounded time from its
 * seed corpus; a crash, leak, hang or a simulator that stops answering fails the test, and the input
 * that did it is kept in native/build/fuzz/artifacts/. Needs clang with libFuzzer (.ci/run installs
 * it); without it the test is skipped, saying so.
 */
import { assert } from "@std/assert";
import { fuzzerAvailable, HARNESSES, runHarness } from "../bench/fuzz.ts";

const SECONDS = Number(Deno.env.get("FUZZ_TEST_SECONDS") ?? 15);
if (!Number.isSafeInteger(SECONDS) || SECONDS < 1) {
  throw new Error(`FUZZ_TEST_SECONDS must be a whole number ≥ 1, got ${Deno.env.get("FUZZ_TEST_SECONDS")}`);
}
const available = await fuzzerAvailable();
if (available !== true) console.warn(`fuzz_test: skipped — ${available}`);

for (const harness of HARNESSES) {
  Deno.test({
    name: `fuzz ${harness}: ${SECONDS} s of mutated input break nothing`,
    ignore: available !== true,
    sanitizeResources: false,
    sanitizeOps: false,
    fn: async () => {
      const r = await runHarness(harness, SECONDS);
      assert(r.ok, `fuzz ${harness} failed; kept ${r.artifacts.join(", ") || "no input"}\n${r.tail}`);
      assert(r.executions > 0, `fuzz ${harness} ran no input`);
    },
  });
}
