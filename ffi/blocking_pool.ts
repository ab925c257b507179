/**
 * How many calls that may wait on the kernel one process puts on Deno's blocking pool. Each
 * pending `nonblocking` call holds one of the pool's 32 threads, which Deno's own file I/O shares:
 * 32 calls stalled in a kernel would freeze every file read and every other session. So at most
 * {@link MAX_KERNEL_WAITS} run at once; the rest wait here, in JavaScript, in order — and a call
 * whose caller gave up while it waited here never reaches the kernel.
 *
 * A call that is already in C cannot be taken back; when its caller gives up (timeout, abort),
 * the call stops keeping the process alive, so a script whose work is done can exit. That uses
 * Deno's internal `core.unrefOpPromise` (`op_ref.ts`); where it is missing, such a call keeps the
 * process alive until the kernel answers or the session is closed.
 *
 * @example
 * ```ts ignore
 * import { kernelWaits } from "./blocking_pool.ts";
 * const rc = await kernelWaits.run(() => symbols.invoke1(h, 1n, 16n, 1, buf), signal);
 * ```
 * @module
 */
import { opRef } from "./op_ref.ts";

/** Calls that may wait on the kernel running at once in one process (Deno's pool has 32 threads). */
export const MAX_KERNEL_WAITS = 24;

/** Whether a call its caller gave up on can stop keeping the process alive here. */
export const CAN_RELEASE_ABANDONED_CALLS: boolean = opRef !== undefined;

interface Waiting {
  start: () => void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

/** The process-wide queue of calls that may wait on the kernel. */
export class KernelWaits {
  readonly #limit: number;
  #running = 0;
  readonly #queue: Waiting[] = [];

  /** A queue that lets `limit` calls run at once. */
  constructor(limit: number = MAX_KERNEL_WAITS) {
    this.#limit = limit;
  }

  /** Calls in C now. */
  get running(): number {
    return this.#running;
  }

  /** Calls waiting for a slot. */
  get queued(): number {
    return this.#queue.length;
  }

  /**
   * Runs `call` (a `nonblocking` FFI call: it must return the FFI's own promise) once a slot is
   * free. If `signal` aborts while it waits, it is dropped — C is never called — and rejects with
   * the signal's reason; if it aborts while in C, the call goes on (holding its slot until C
   * returns) but no longer keeps the process alive.
   */
  run<T>(call: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<T>((resolve, reject) => {
      const entry: Waiting = {
        signal,
        start: () => {
          if (entry.onAbort) signal!.removeEventListener("abort", entry.onAbort);
          this.#running++;
          let op: Promise<T>;
          try {
            op = call();
          } catch (e) {
            this.#done();
            return reject(e);
          }
          if (signal && opRef) {
            const release = () => opRef!.unref(op);
            signal.addEventListener("abort", release, { once: true });
            op.finally(() => signal.removeEventListener("abort", release)).catch(() => {});
          }
          op.then(resolve, reject).finally(() => this.#done());
        },
      };
      if (this.#running < this.#limit) return entry.start();
      if (signal) {
        entry.onAbort = () => {
          const i = this.#queue.indexOf(entry);
          if (i >= 0) this.#queue.splice(i, 1);
          reject(signal.reason);
        };
        signal.addEventListener("abort", entry.onAbort, { once: true });
      }
      this.#queue.push(entry);
    });
  }

  #done(): void {
    this.#running--;
    this.#queue.shift()?.start();
  }
}

/** The one queue of this process: every session's kernel calls share Deno's one pool. */
export const kernelWaits: KernelWaits = new KernelWaits();
