/** The spin policy of the completion queue (ffi/spin_policy.ts), on a clock the test moves. */
import { assertEquals } from "@std/assert";
import { PROBE_FIRST, PROBE_MAX, SPIN_MAX_US, SPIN_TURN_MS, SpinPolicy } from "../ffi/spin_policy.ts";

const US = 0.001; // ms

/** A policy that has learnt to spin for answers that take `us`. */
function learnt(us: number): SpinPolicy {
  const p = new SpinPolicy();
  p.turn(0);
  assertEquals(p.flushed(0), SPIN_MAX_US, "nothing learnt yet: the first flush tries the longest spin");
  p.answered(us * US);
  return p;
}

Deno.test("it spins for answers that came quickly, twice as long as the last took, never past the maximum", () => {
  const p = learnt(30);
  assertEquals(p.flushed(40 * US), 60);
  p.answered(40 * US + 50 * US);
  assertEquals(p.flushed(100 * US), 100);
  p.answered(100 * US + 100 * US);
  assertEquals(p.flushed(210 * US), SPIN_MAX_US, "capped");
});

Deno.test("a spin that ran out, or a spun answer slower than the longest spin, stops spinning", () => {
  const p = learnt(20);
  assertEquals(p.flushed(20 * US), 40);
  p.missed();
  assertEquals(p.flushed(30 * US), 0, "after a spin ran out");
  const q = learnt(20);
  assertEquals(q.flushed(20 * US), 40);
  q.answered(20 * US + 2 * SPIN_MAX_US * US);
  assertEquals(q.flushed(400 * US), 0, "after an answer slower than the longest spin");
});

Deno.test("an answer that came through the doorbell teaches nothing: it took a wake-up more", () => {
  const p = learnt(20);
  p.missed(); // (this spin ran out: the next flushes do not spin, their answers come by the doorbell)
  assertEquals(p.flushed(10 * US), 0);
  p.answered(10 * US + 15 * US); // quick, but not spun for: nothing learnt
  assertEquals(p.flushed(30 * US), 0, "still not spinning (a try comes every PROBE_FIRST flushes)");
  const q = learnt(20);
  assertEquals(q.flushed(20 * US), 40);
  q.answered(20 * US + 10 * US);
  q.answered(20 * US + 3 * SPIN_MAX_US * US); // a second drain (the doorbell's, later): not this spin's
  assertEquals(q.flushed(400 * US), 20, "learnt from the spin alone");
});

Deno.test("after SPIN_TURN_MS of calls answered by spinning, the event loop's turn is due", () => {
  const p = learnt(10);
  assertEquals(p.turnOver(SPIN_TURN_MS * 0.9), false, "within the turn");
  assertEquals(p.flushed(SPIN_TURN_MS + 0.01), 20, "past it it still spins (the answer waits for the turn)");
  assertEquals(p.turnOver(SPIN_TURN_MS + 0.01), true, "past it: the doorbell first");
  p.turn(SPIN_TURN_MS + 0.5);
  assertEquals(p.turnOver(SPIN_TURN_MS + 0.6), false, "a new turn");
  assertEquals(new SpinPolicy().flushed(0), 0, "no turn yet (no doorbell: never)");
});

Deno.test("while it does not spin, it tries every PROBE_FIRST flushes, backing off to PROBE_MAX while tries fail", () => {
  const p = new SpinPolicy();
  p.turn(0);
  const flushes = (n: number) => Array.from({ length: n }, () => p.flushed(1 * US));
  assertEquals(p.flushed(0), SPIN_MAX_US, "the first flush tries");
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
