/**
 * The one way a wait is bounded: an optional `timeout` in milliseconds and an optional
 * `AbortSignal`, combined into one signal that aborts with the caller's reason or with the
 * timeout error the operation chose. `invoke`, `waitFor`, event iterators and the simulator's
 * control client all use it, so they validate, time out and clean up alike.
 *
 * Why not `AbortSignal.timeout()`: in Deno its timer keeps the process alive until it fires and
 * cannot be cancelled, so a script that finished a call with `timeout: 60_000` would sit idle for
 * a minute before exiting. A {@link Deadline} clears its timer as soon as the wait is over.
 *
 * @example
 * ```ts
 * import { Deadline } from "./cancel.ts";
 * const limit = Deadline.of({ timeout: 1000 }, () => new Error("too slow"));
 * const value = await limit.race(Promise.resolve(42)); // 42; the timer is gone
 * ```
 * @module
 */

/** How long a wait may last and who may end it early. */
export interface WaitLimits {
  /** Milliseconds before the wait fails with the operation's timeout error. */
  timeout?: number;
  /** Ends the wait with the signal's reason when aborted. */
  signal?: AbortSignal;
}

/**
 * Checks the limits of one call before any work starts.
 * @throws {RangeError} `timeout` is not a number of milliseconds ≥ 0.
 * @throws {TypeError} `signal` is not an AbortSignal.
 */
export function checkLimits(limits: WaitLimits | undefined): void {
  if (limits === undefined) return;
  if (limits === null || typeof limits !== "object") {
    throw new TypeError(`options: expected an object such as { timeout, signal }, got ${String(limits)}`);
  }
  const { timeout, signal } = limits;
  if (timeout !== undefined && !(typeof timeout === "number" && Number.isFinite(timeout) && timeout >= 0)) {
    throw new RangeError(`timeout: expected milliseconds ≥ 0, got ${String(timeout)}`);
  }
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new TypeError(`signal: expected an AbortSignal, got ${typeof signal}`);
  }
}

const NEVER = new AbortController().signal;

/** The deadline of one wait; dispose it (or let {@link Deadline.race} do it) when the wait is over. */
export class Deadline implements Disposable {
  /** Aborts with the caller's reason or the timeout error. */
  readonly signal: AbortSignal;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #cleanup: (() => void) | undefined;

  private constructor(signal: AbortSignal) {
    this.signal = signal;
  }

  /** The deadline of a wait without limits: it never aborts, and costs nothing. */
  static get none(): Deadline {
    return UNLIMITED;
  }

  /**
   * The deadline for `limits` (validated first); `onTimeout` builds the error a timeout rejects
   * with. Without a timeout or signal this costs nothing and never aborts.
   * @throws {RangeError} a bad `timeout`. @throws {TypeError} a bad `signal`.
   */
  static of(limits: WaitLimits | undefined, onTimeout: () => Error): Deadline {
    checkLimits(limits);
    if (!limits || (limits.timeout === undefined && limits.signal === undefined)) return UNLIMITED;
    const controller = new AbortController();
    const d = new Deadline(controller.signal);
    const outer = limits.signal;
    if (outer?.aborted) {
      controller.abort(outer.reason);
      return d;
    }
    const onAbort = () => controller.abort(outer!.reason);
    outer?.addEventListener("abort", onAbort, { once: true });
    if (limits.timeout !== undefined) {
      d.#timer = setTimeout(() => controller.abort(onTimeout()), limits.timeout);
    }
    d.#cleanup = () => {
      clearTimeout(d.#timer);
      outer?.removeEventListener("abort", onAbort);
    };
    return d;
  }

  /** Settles as `work` does, or rejects with the signal's reason if it aborts first; then disposes. */
  race<T>(work: Promise<T>): Promise<T> {
    if (this.signal === NEVER) return work;
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => {
        this[Symbol.dispose]();
        reject(this.signal.reason);
      };
      if (this.signal.aborted) return onAbort();
      this.signal.addEventListener("abort", onAbort, { once: true });
      work.then(
        (v) => (this.signal.removeEventListener("abort", onAbort), this[Symbol.dispose](), resolve(v)),
        (e) => (this.signal.removeEventListener("abort", onAbort), this[Symbol.dispose](), reject(e)),
      );
    });
  }

  /** Clears the timer and stops listening to the caller's signal. */
  [Symbol.dispose](): void {
    this.#cleanup?.();
    this.#cleanup = undefined;
  }
}

/** The deadline of a wait with neither timeout nor signal: shared, since it holds nothing. */
const UNLIMITED: Deadline = Reflect.construct(Deadline, [NEVER]) as Deadline;
