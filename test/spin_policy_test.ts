/** The spin policy of the completion queue (ffi/spin_policy.ts), on a clock the test moves. */
import { assertEquals } from "@std/assert";
import { PROBE_FIRST, PROBE_MAX, SPIN_MAX_US, SPIN_TURN_MS, SpinPolicy } from "../ffi/spin_policy.ts";

const US = 0.001; // ms

Deno.test("it spins for answers that came quickly, twice as long as the last took, never past the maximum", () => {
  const p = new SpinPolicy();
  p.turn(0);
  assertEquals(p.flushed(0), 0, "nothing learnt yet: the doorbell");
  p.answered(30 * US);
  assertEquals(p.flushed(40 * US), 60);
  p.answered(40 * US + 50 * US);
  assertEquals(p.flushed(100 * US), 100);
  p.answered(100 * US + 100 * US);
  assertEquals(p.flushed(210 * US), SPIN_MAX_US, "capped");
});

Deno.test("a slow answer or a spin that ran out stops spinning until a quick answer comes again", () => {
  const p = new SpinPolicy();
  p.turn(0);
  p.flushed(0);
  p.answered(20 * US);
  assertEquals(p.flushed(20 * US), 40);
  p.missed();
  assertEquals(p.flushed(30 * US), 0, "after a spin ran out");
  p.answered(30 * US + 2 * SPIN_MAX_US * US);
  assertEquals(p.flushed(400 * US), 0, "after an answer slower than the longest spin");
  p.answered(410 * US);
  assertEquals(p.flushed(420 * US), 20, "a quick one again");
});

Deno.test("calls answered by spinning give the event loop its turn after SPIN_TURN_MS", () => {
  const p = new SpinPolicy();
  p.turn(0);
  p.flushed(0);
  p.answered(10 * US);
  assertEquals(p.flushed(SPIN_TURN_MS * 0.9), 20, "within the turn");
  p.answered(SPIN_TURN_MS * 0.9 + 10 * US);
  assertEquals(p.flushed(SPIN_TURN_MS + 0.01), 0, "past it: wait for the doorbell");
  p.answered(SPIN_TURN_MS + 0.02);
  p.turn(SPIN_TURN_MS + 0.5);
  assertEquals(p.flushed(SPIN_TURN_MS + 0.5), 20, "a new turn");
  assertEquals(new SpinPolicy().flushed(0), 0, "no turn yet (no doorbell: never)");
});

Deno.test("while it does not spin, it tries every PROBE_FIRST flushes, backing off to PROBE_MAX while tries fail", () => {
  const p = new SpinPolicy();
  p.turn(0);
  const flushes = (n: number) => Array.from({ length: n }, () => p.flushed(1 * US));
  // Answers only through the doorbell, each slower than the longest spin: without tries, never again.
  p.answered(2 * SPIN_MAX_US * US);
  assertEquals(flushes(PROBE_FIRST), [...Array(PROBE_FIRST - 1).fill(0), SPIN_MAX_US], "a try");
  p.missed();
  assertEquals(
    flushes(2 * PROBE_FIRST).indexOf(SPIN_MAX_US),
    2 * PROBE_FIRST - 1,
    "a failed try: half as often",
  );
  p.missed();
  for (let i = 0; i < 10; i++) {
    flushes(PROBE_MAX);
    p.missed();
  }
  assertEquals(
    flushes(PROBE_MAX).indexOf(SPIN_MAX_US),
    PROBE_MAX - 1,
    "never less often than every PROBE_MAX",
  );
  // A try that finds a quick answer: spinning again, and tries come often again when it stops.
  p.answered(1 * US + 30 * US);
  assertEquals(p.flushed(40 * US), 60);
  p.missed();
  assertEquals(flushes(PROBE_FIRST).indexOf(SPIN_MAX_US), PROBE_FIRST - 1);
});
