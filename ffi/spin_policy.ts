/**
 * When the JavaScript thread spins for answers it has just sent for, rather than going back to the
 * event loop to be woken by the doorbell. A thread woken on another CPU costs ~60 µs on these
 * machines (ARCHITECTURE.md, "Threads and who may block"): when answers come back sooner than
 * that, spinning a little for them is cheaper than sleeping — the same bet `vmkmgmt_QueueWait`
 * makes, and the C client's thread makes by blocking.
 *
 * It learns from each spin: an answer that came within {@link SPIN_MAX_US} is worth spinning for
 * next time (twice as long as it took); a spin that ran out, or a longer wait, stops it. While it
 * does not spin it tries once every {@link PROBE_FIRST} flushes (a spin of the longest), backing off
 * to every {@link PROBE_MAX} while tries fail. It never learns from an answer that came through the
 * doorbell: that one took a wake-up more (the cost spinning saves), so learning from it stopped
 * spinning after every turn of the event loop, and waiting for a quick one to restart it never
 * ended — measured, sequential calls then went at a third of the rate.
 * And it gives the event loop its turn: once calls answered by spinning have gone on for
 * {@link SPIN_TURN_MS} since the doorbell last woke the loop, an answer taken by spinning is left
 * for the loop's next turn (`turnOver`) — the queue rings its doorbell at once — so timers and I/O
 * run in between; waiting for the reader's ring instead cost two wake-ups every millisecond.
 *
 * What it gives up: up to {@link SPIN_MAX_US} of the JavaScript thread's time per flush while
 * answers come quickly (and a CPU busy meanwhile); while they do not, one such spin every
 * {@link PROBE_MAX} flushes at most.
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

/** While not spinning, a try every this many flushes at first. */
export const PROBE_FIRST = 8;

/** And every this many at most, doubling from {@link PROBE_FIRST} while tries fail. */
export const PROBE_MAX = 256;

/** The spin decisions of one completion queue (times in ms, as `performance.now()` gives them). */
export class SpinPolicy {
  #spinUs = 0;
  #flushedAt = 0;
  #turnAt = -Infinity;
  #probeEvery = PROBE_FIRST;
  #sinceSpin = PROBE_FIRST - 1; // (nothing learnt yet: the first flush tries)
  #probing = false;
  #spun = false;

  /** The event loop woke the queue's reader: a turn of its own, spinning may go on from here. */
  turn(now: number): void {
    this.#turnAt = now;
  }

  /**
   * Whether calls answered by spinning have gone on for {@link SPIN_TURN_MS} since the event loop's
   * last turn: then the answers are drained in its next turn (the queue's doorbell, rung at once), so
   * timers and I/O run in between.
   */
  turnOver(now: number): boolean {
    return now - this.#turnAt > SPIN_TURN_MS;
  }

  /** Calls went out at `now`: how long to spin for their answers, µs (0: not at all). */
  flushed(now: number): number {
    this.#flushedAt = now;
    this.#probing = this.#spun = false;
    if (this.#turnAt === -Infinity) return 0; // (no doorbell has woken the loop yet: none to give a turn with)
    let us = this.#spinUs;
    if (us === 0) {
      if (++this.#sinceSpin < this.#probeEvery) return 0;
      this.#sinceSpin = 0;
      this.#probing = true;
      us = SPIN_MAX_US;
    }
    this.#spun = true;
    return us;
  }

  /** A spin ran out: answers are slow now; no spinning until a try finds a quick one. */
  missed(): void {
    if (this.#probing) this.#probeEvery = Math.min(PROBE_MAX, this.#probeEvery * 2);
    this.#probing = this.#spun = false;
    this.#spinUs = 0;
  }

  /**
   * Answers were taken at `now`: learns how long the last flush's took — only from a spin. An answer
   * that came through the doorbell (the turn was over, or it did not spin) took a wake-up longer,
   * the very cost spinning saves: learning from it stopped spinning after every turn.
   */
  answered(now: number): void {
    if (!this.#spun) return;
    this.#spun = false;
    const waited = (now - this.#flushedAt) * 1000;
    const quick = waited < SPIN_MAX_US;
    if (quick) this.#probeEvery = PROBE_FIRST;
    this.#probing = false;
    this.#spinUs = quick ? Math.min(SPIN_MAX_US, Math.max(1, Math.round(2 * waited))) : 0;
  }
}
