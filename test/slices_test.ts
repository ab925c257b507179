/**
 * mgmt/slices.ts: invoke's work runs in slices at the end of the turn — in order, a burst split so a
 * timer due meanwhile runs in between (and first, when the caller's own loop already took a slice's
 * time), and a batch of a few calls reads no clock (a read costs about as much as encoding a small
 * call).
 */
import { assert, assertEquals } from "@std/assert";
import { inSlice } from "../mgmt/slices.ts";

/** Runs `jobs` through slices; resolves with the order they ran in once the last has. */
function runAll(count: number, work: (i: number) => void = () => {}): Promise<number[]> {
  const ran: number[] = [];
  return new Promise((resolve) => {
    for (let i = 0; i < count; i++) {
      inSlice({
        run: () => {
          work(i);
          ran.push(i);
          if (ran.length === count) resolve(ran);
        },
        fail: (e) => {
          throw e;
        },
      });
    }
  });
}

Deno.test("a batch of 32 calls runs in one slice, in order, without reading the clock", async () => {
  const now = performance.now;
  let reads = 0;
  performance.now = () => (reads++, now.call(performance));
  try {
    const ran = await runAll(32);
    assertEquals(ran, Array.from({ length: 32 }, (_, i) => i));
    assertEquals(reads, 0, "clock reads for a batch of 32");
  } finally {
    performance.now = now;
  }
});

Deno.test("a long burst lets a timer due meanwhile run before its last call, and keeps its order", async () => {
  let firedAt = -1;
  let ranSoFar = 0;
  setTimeout(() => (firedAt = ranSoFar), 0);
  // 2,000 jobs of ~20 µs: ~40 ms of work, forty-odd slices' worth.
  const ran = await runAll(2000, () => {
    const end = performance.now() + 0.02;
    while (performance.now() < end) { /* busy */ }
    ranSoFar++;
  });
  assertEquals(ran, Array.from({ length: 2000 }, (_, i) => i));
  assert(firedAt >= 0 && firedAt < 2000, `the timer fired after ${firedAt} of 2,000 calls`);
});

Deno.test("a burst whose caller's own loop ran past a slice's time lets a timer in before its first call", async () => {
  let timerFired = false;
  let firedBeforeFirstJob: boolean | undefined;
  setTimeout(() => (timerFired = true), 0);
  const ran: number[] = [];
  const done = new Promise<void>((resolve) => {
    for (let i = 0; i < 100; i++) {
      inSlice({
        run: () => {
          if (i === 0) firedBeforeFirstJob = timerFired;
          ran.push(i);
          if (i === 99) resolve();
        },
        fail: (e) => {
          throw e;
        },
      });
      // The caller's loop is slow past its 33rd call (as a loop of a thousand calls is when V8's
      // fresh heap pages fault in): 2 ms before the slice's microtask can run.
      if (i === 40) {
        const end = performance.now() + 2;
        while (performance.now() < end) { /* busy */ }
      }
    }
  });
  await done;
  assertEquals(firedBeforeFirstJob, true, "the timer ran before the burst's first call");
  assertEquals(ran, Array.from({ length: 100 }, (_, i) => i));
});

Deno.test("a job that throws fails alone: the others still run", async () => {
  const failed: number[] = [];
  const ran: number[] = [];
  await new Promise<void>((resolve) => {
    for (let i = 0; i < 40; i++) {
      inSlice({
        run: () => {
          if (i % 10 === 3) throw new Error(`job ${i}`);
          ran.push(i);
          if (i === 39) resolve();
        },
        fail: () => failed.push(i),
      });
    }
  });
  assertEquals(failed, [3, 13, 23, 33]);
  assertEquals(ran.length, 36);
});
