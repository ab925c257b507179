/**
 * When the JavaScript thread spins for answers it has just sent for, rather than going back to the
 * event loop to be woken by the doorbell. A thread woken on another CPU costs ~60 µs on these
 * machines (ARCHITECTURE.md, "Threads and who may block"): when answers come back sooner than
 * that, spinning a little for them is cheaper than sleeping — the same bet `vmkmgmt_QueueWait`
 * makes, and the C client's thread makes by blocking.
 *
 * It learns from each wait: an answer that came within {@link SPIN_MAX_US} is worth spinning for
 * next time (twice as long as it took); a spin that ran out, or a longer wait, stops it until a
 * quick answer comes again. And it gives the event loop its turn: calls answered by spinning go on
 * for at most {@link SPIN_TURN_MS} after the doorbell last woke the loop; then it waits to be woken,
 * so timers and I/O run.
 *
 * What it gives up: up to {@link SPIN_MAX_US} of the JavaScript thread's time per flush while
 * answers come quickly (and a CPU busy meanwhile).
 *
 * @example
 * ```ts
 * import { SpinPolicy } from "./spin_policy.ts";
 * const policy = new SpinPolicy();
 * policy.turn(0);
 * policy.flushed(0); // 0: nothing learnt yet
 * policy.answered(0.04); // the answer took 40 µs
 * policy.flushed(0.05); // 80: spin up to 80 µs for the next one
 * ```
 * @module
 */

/** The longest the JavaScript thread spins for answers after sending calls, µs. */
export const SPIN_MAX_US = 120;

/** How long calls answered by spinning go on after the event loop's last turn, ms. */
export const SPIN_TURN_MS = 1;

/** The spin decisions of one completion queue (times in ms, as `performance.now()` gives them). */
export class SpinPolicy {
  #spinUs = 0;
  #flushedAt = 0;
  #turnAt = -Infinity;

  /** The event loop woke the queue's reader: a turn of its own, spinning may go on from here. */
  turn(now: number): void {
    this.#turnAt = now;
  }

  /** Calls went out at `now`: how long to spin for their answers, µs (0: not at all). */
  flushed(now: number): number {
    this.#flushedAt = now;
    return now - this.#turnAt > SPIN_TURN_MS ? 0 : this.#spinUs;
  }

  /** A spin ran out: answers are slow now; no spinning until a quick one comes. */
  missed(): void {
    this.#spinUs = 0;
  }

  /** Answers were taken at `now`: learns how long the last flush's took. */
  answered(now: number): void {
    const waited = (now - this.#flushedAt) * 1000;
    this.#spinUs = waited < SPIN_MAX_US ? Math.min(SPIN_MAX_US, Math.max(1, Math.round(2 * waited))) : 0;
  }
}
