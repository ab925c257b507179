/**
 * The work of `invoke` in slices: an invoke records its call and returns; the checking, encoding
 * and submitting run in a microtask at the end of the turn — a call alone pays nothing for it, its
 * slice runs before anything else can — about {@link SLICE_MS} of them at a time (timed from the
 * 32nd job on). What is left after a slice yields to the event loop first (a timer due by then
 * runs), so a burst of calls made at once keeps timers and I/O going; and when the caller's own
 * loop of more than 32 calls has itself run for {@link SLICE_MS} already, the burst yields before
 * its first slice too. Calls keep their order.
 *
 * What it gives up: a bad argument is found a moment later than the call (still before any C call,
 * and still as the call's rejection, as before); a burst made by a slow loop reaches the kernel a
 * turn of the event loop later (one clock read per burst of more than 32 calls decides it).
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
/**
 * When the jobs waiting for the next slice reached {@link JOBS_PER_LOOK} + 1 — the caller's own loop
 * of calls has run since about then — or 0 (fewer, or being sliced). Read only past that many, so a
 * batch of a few calls reads no clock; so while it is set, more than that many wait.
 */
let manySince = 0;

/** Runs `job` in the next slice (in order with every other). */
export function inSlice(job: SliceJob): void {
  if (jobs.push(job) === JOBS_PER_LOOK + 1) manySince = performance.now();
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
  // A burst whose caller has itself run for a slice's time already (a loop of a thousand calls takes
  // 2–4 ms where each new page of V8's heap costs a page fault, ~20–30 µs on these VMs) lets the
  // event loop in first: its slice, at the end of that same turn, would add another ~1 ms before a
  // timer due meanwhile could run (measured: ARCHITECTURE.md, "Threads and who may block").
  if (manySince > 0 && performance.now() - manySince >= SLICE_MS) {
    manySince = 0;
    setTimeout(slice, 0);
    return;
  }
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
  manySince = 0; // (also when a job's own call was the one recorded: the burst is being sliced now)
  if (jobs.length > 0) setTimeout(slice, 0);
  else scheduled = false;
}
