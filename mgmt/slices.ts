/**
 * The work of `invoke` in slices: an invoke records its call and returns; the checking, encoding
 * and submitting run in a microtask at the end of the turn — a call alone pays nothing for it, its
 * slice runs before anything else can — about {@link SLICE_MS} of them at a time (timed from the
 * 32nd job on). What is left after a slice yields to the event loop first (a timer due by then
 * runs), so a burst of calls made at once keeps timers and I/O going. Calls keep their order.
 *
 * What it gives up: a bad argument is found a moment later than the call (still before any C call,
 * and still as the call's rejection, as before).
 *
 * @example
 * ```ts ignore
 * import { inSlice } from "./slices.ts";
 * const done = new Promise((resolve, reject) => inSlice({ run: () => resolve(work()), fail: reject }));
 * ```
 * @module
 */

/** The longest one slice of recorded calls runs before it lets the event loop in, ms. */
export const SLICE_MS = 1;

/**
 * One piece of work for a slice. An object rather than two functions: a call's own object can be
 * its job, and a burst of a thousand calls then makes no closures for it (their allocation was most
 * of what a burst cost the garbage collector).
 */
export interface SliceJob {
  /** The work; what it throws goes to {@link fail}. */
  run(): void;
  /** Hears what {@link run} threw. */
  fail(e: unknown): void;
}

const jobs: SliceJob[] = [];
let scheduled = false;

/** Runs `job` in the next slice (in order with every other). */
export function inSlice(job: SliceJob): void {
  jobs.push(job);
  if (!scheduled) {
    scheduled = true;
    queueMicrotask(slice);
  }
}

/**
 * Jobs run between looks at the clock, the first look included: a look costs ~0.1 µs in Deno, as
 * much as a small call's encoding, and 32 calls in flight made three a batch of 32.
 */
const JOBS_PER_LOOK = 32;

function slice(): void {
  // (timed from the first look: the jobs before it are a few tens of µs, not the slice's budget)
  let end = 0;
  let i = 0;
  while (i < jobs.length) {
    const job = jobs[i++];
    try {
      job.run();
    } catch (e) {
      job.fail(e);
    }
    if (i % JOBS_PER_LOOK === 0 && i < jobs.length) {
      const now = performance.now();
      if (end === 0) end = now + SLICE_MS;
      else if (now >= end) break;
    }
  }
  jobs.splice(0, i);
  if (jobs.length > 0) setTimeout(slice, 0);
  else scheduled = false;
}
