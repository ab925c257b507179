/** The spin policy of the completion queue (ffi/spin_policy.ts), on a clock the test moves. */
import { assertEquals } from "@std/assert";
import { SPIN_MAX_US, SPIN_TURN_MS, SpinPolicy } from "../ffi/spin_policy.ts";

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
