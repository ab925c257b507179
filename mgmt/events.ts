/**
 * Kernel events (user-location callbacks) of one session, routed to handlers, async iterators
 * and `waitFor` waiters. `ffi/callbacks.ts` copies each event's bytes out of C; the hub decodes
 * them by the signature and hands them on.
 *
 * Delivery is started (`vmk_MgmtUserBegin`) when the first listener subscribes and ended when
 * the last one leaves; meanwhile events wait in the kernel's per-session queue, as on ESXi. The
 * callbacks keep the process alive only while someone listens, so an idle script exits by itself.
 *
 * Overflow policy of iterators: each keeps at most `buffer` events (default 1024); when a new
 * event arrives at a full iterator the oldest is dropped and counted (`iterator.dropped`,
 * `session.stats.eventsDropped`). Handlers are called synchronously and never drop.
 * @module
 */
import type { RawEvent } from "../ffi/callbacks.ts";
import { ERRNO } from "../abi/facts.ts";
import { Deadline } from "./cancel.ts";
import { commandLayout, decodeParam } from "./codec.ts";
import { closedError, VmkMgmtError } from "./errors.ts";
import type { Instance } from "./instance_ref.ts";
import { CallbackLookupError, type ParamInfo, type Signature } from "./signature.ts";
import type { Type } from "./types/type.ts";

/** A kernel-to-user callback as delivered to JavaScript. */
export interface KernelEvent<N extends string = string, P = Record<string, unknown>> {
  /** The user-location callback's name in the signature. */
  readonly name: N;
  /** Its `callbackId` in the signature (16 and up). */
  readonly id: number;
  /** Originating instance, or null for `VMK_MGMT_NO_INSTANCE_ID`. */
  readonly instance: Instance | null;
  /** Decoded payload. */
  readonly params: P;
  /** `Date.now()` when it reached JavaScript. */
  readonly time: number;
}

/** An async iterator of events with its drop counter. */
export interface EventStream<E> extends AsyncIterableIterator<E> {
  /** Events dropped because this iterator's buffer was full. */
  readonly dropped: number;
}

/** Counters of a session's event delivery. */
export interface EventStats {
  /** Events that reached JavaScript. */
  eventsDelivered: number;
  /** Events dropped: full iterator buffers, or events arriving while no one listened. */
  eventsDropped: number;
  /** Handlers that threw or rejected. */
  handlerErrors: number;
}

/** Options of `events()`. */
export interface StreamOptions {
  /** Events kept for a slow consumer (default 1024); the oldest is dropped beyond it. */
  buffer?: number;
  /** Ends the iteration when aborted. */
  signal?: AbortSignal;
}

/** Options of `waitFor()`. */
export interface WaitOptions<E> {
  /** Only an event for which this returns true resolves the wait. */
  filter?: (event: E) => boolean;
  /** Milliseconds before rejecting with a {@link VmkMgmtError} `ETIMEDOUT`. */
  timeout?: number;
  /** Rejects with the signal's reason when aborted. */
  signal?: AbortSignal;
}

interface Listener {
  name: string | null;
  deliver(event: KernelEvent): void;
  fail(error: Error): void;
  finish(): void;
}

/** What the hub needs from its session. */
export interface HubHost {
  /** Starts delivery (vmk_MgmtUserBegin). */
  begin(): Promise<void>;
  /** Stops delivery (vmk_MgmtUserEnd). */
  end(): Promise<void>;
  /** Keeps the process alive while someone listens (ref/unref of the C callbacks). */
  keepAlive(on: boolean): void;
  /** Resolves an instance id to its instance (null for id 0). */
  instance(id: bigint): Instance | null;
  /** Reports an error that has no caller to reject (a throwing handler…). */
  report(error: unknown, context: string): void;
  /**
   * Checks that the kernel connection is alive while delivery runs, for a library that cannot say
   * it died (ESXi's own; ours calls {@link EventHub.kernelGone}); rejects with a
   * {@link VmkMgmtError} `EIO` when it is gone.
   */
  probe(): Promise<void>;
  /** Milliseconds between probes while someone listens (0: never). */
  readonly probeMs: number;
}

/**
 * Decodes one parameter of an event into memory of its own: a byte vector decodes to its bytes
 * themselves (views of the queue's buffer), the one value that needs a copy.
 */
function decodeOwned(p: ParamInfo, bytes: Uint8Array, whole?: DataView, layout?: Type<unknown>): unknown {
  const value = decodeParam(p, bytes, layout, whole);
  return value === bytes ? bytes.slice() : value;
}

/** Routes one session's kernel-to-user callbacks to its listeners. */
export class EventHub {
  readonly #sig: Signature;
  readonly #host: HubHost;
  readonly #listeners = new Set<Listener>();
  #active = false; // monitor begun
  #transition: Promise<void> | null = null;
  #probeTimer: ReturnType<typeof setInterval> | undefined;
  #closed = false;
  /** Delivery counters. */
  readonly stats: EventStats = { eventsDelivered: 0, eventsDropped: 0, handlerErrors: 0 };

  /** Creates the hub of one session; nothing is delivered until someone listens. */
  constructor(sig: Signature, host: HubHost) {
    this.#sig = sig;
    this.#host = host;
  }

  /**
   * Decodes one event and hands it to every listener that wants it. Nothing delivered shares
   * `raw`'s memory (the completion queue's are views it writes over next).
   */
  dispatch(raw: RawEvent): void {
    const cb = this.#sig.byId(raw.callbackId);
    if (!cb || cb.location !== "user") throw new Error(`no user-location callback has id ${raw.callbackId}`);
    const params: Record<string, unknown> = {};
    const list = cb.params;
    // ioctl-style payloads last, by the event's command (mgmt/types/command.ts); their places kept.
    let commands = false;
    for (let i = 0; i < list.length; i++) {
      if (list[i].commands) {
        params[list[i].name] = undefined;
        commands = true;
      } else {
        params[list[i].name] = decodeOwned(list[i], raw.params[i], raw.buffer);
      }
    }
    if (commands) {
      const values = { ...params };
      for (let i = 0; i < list.length; i++) {
        if (list[i].commands) {
          const layout = commandLayout(list[i], list, values);
          params[list[i].name] = decodeOwned(list[i], raw.params[i], raw.buffer, layout);
        }
      }
    }
    const event: KernelEvent = {
      name: cb.name,
      id: cb.id,
      instance: this.#host.instance(raw.instanceId),
      params,
      time: Date.now(),
    };
    let reached = false;
    for (const l of this.#listeners) {
      if (l.name === null || l.name === cb.name) {
        reached = true;
        l.deliver(event);
      }
    }
    if (reached) this.stats.eventsDelivered++;
    else this.stats.eventsDropped++;
  }

  #check(name: string | null, operation: string): void {
    if (this.#closed) throw closedError({ operation, signature: this.#sig.name });
    if (name === null) return;
    try {
      this.#sig.event(name);
    } catch (e) {
      if (e instanceof CallbackLookupError) throw new TypeError(`${operation}: ${e.message}`);
      throw e;
    }
  }

  #add(l: Listener): () => void {
    this.#listeners.add(l);
    this.#reconcile();
    return () => {
      if (this.#listeners.delete(l)) this.#reconcile();
    };
  }

  /** Starts or stops delivery to match whether anyone listens; one transition at a time. */
  #reconcile(): void {
    const want = this.#listeners.size > 0 && !this.#closed;
    // Alive until delivery has really ended: a process that exited while End ran could be torn
    // down while the monitor thread is inside a callback (SIGSEGV at exit, about 1 run in 20).
    this.#host.keepAlive(want || this.#active || this.#transition !== null);
    if (this.#transition || want === this.#active || this.#closed) return;
    this.#transition = (want ? this.#host.begin() : this.#host.end()).then(
      () => {
        this.#active = want;
        this.#transition = null;
        this.#reconcile();
      },
      (e) => {
        this.#transition = null;
        if (want) this.#failAll(e); // nobody will ever be called: fail every listener, never leave it waiting
        else this.#host.report(e, "ending event delivery");
      },
    );
    this.#transition.finally(() => this.#probing(this.#active && !this.#closed));
  }

  /**
   * The kernel went away while delivery ran (the library said so after the last event): every
   * listener fails with `error` now, instead of waiting for events that will never come.
   */
  kernelGone(error: Error): void {
    if (this.#listeners.size > 0) this.#failAll(error);
  }

  #failAll(e: unknown): void {
    for (const l of [...this.#listeners]) l.fail(e as Error);
    this.#listeners.clear();
    this.#host.keepAlive(false);
    this.#reconcile();
  }

  /** While delivery runs, probe the connection so listeners learn of a dead kernel. */
  #probing(on: boolean): void {
    if (!on || this.#host.probeMs <= 0) {
      clearInterval(this.#probeTimer);
      this.#probeTimer = undefined;
      return;
    }
    if (this.#probeTimer !== undefined) return;
    let busy = false;
    this.#probeTimer = setInterval(() => {
      if (busy || this.#listeners.size === 0) return;
      busy = true;
      this.#host.probe().then(
        () => (busy = false),
        (e) => {
          busy = false;
          if (e instanceof VmkMgmtError && e.code === "EIO") this.#failAll(e);
        },
      );
    }, this.#host.probeMs);
    // The listeners' callbacks keep the process alive when that is wanted; the probe never does.
    Deno.unrefTimer(this.#probeTimer as unknown as number);
  }

  /** Calls `handler` for each event (`name` null: every event); returns the unsubscribe function. */
  on(name: string | null, handler: (event: KernelEvent) => unknown): () => void {
    this.#check(name, "on");
    if (typeof handler !== "function") throw new TypeError("on(name, handler): handler must be a function");
    const report = (e: unknown) => {
      this.stats.handlerErrors++;
      this.#host.report(e, `handler for ${name ?? "events"}`);
    };
    return this.#add({
      name,
      deliver: (ev) => {
        try {
          const r = handler(ev) as Promise<unknown> | undefined;
          if (r && typeof r.then === "function") r.then(undefined, report);
        } catch (e) {
          report(e);
        }
      },
      fail: (e) => report(e),
      finish: () => {},
    });
  }

  /** An async iterator of events; leaving the loop (or `return()`) unsubscribes. */
  stream(name: string | null, options: StreamOptions = {}): EventStream<KernelEvent> {
    this.#check(name, "events");
    const cap = options.buffer ?? 1024;
    if (!Number.isInteger(cap) || cap < 1) {
      throw new RangeError(`buffer: expected a whole number ≥ 1, got ${cap}`);
    }
    const limit = Deadline.of({ signal: options.signal }, () => new Error("unreachable: no timeout"));
    const queue: KernelEvent[] = [];
    let waiting: PromiseWithResolvers<IteratorResult<KernelEvent>> | undefined;
    let done = false;
    let failure: Error | undefined;
    let dropped = 0;
    const stats = this.stats;
    // Every ending — finished, given up, or failed — lets go of the hub, the caller's signal and
    // the deadline: a long-lived signal must not collect one listener per failed stream.
    const release = () => {
      done = true;
      unsubscribe();
      limit.signal.removeEventListener("abort", finish);
      limit[Symbol.dispose]();
    };
    const finish = () => {
      if (done) return;
      release();
      waiting?.resolve({ value: undefined, done: true });
      waiting = undefined;
    };
    const unsubscribe = this.#add({
      name,
      deliver: (ev) => {
        if (waiting) {
          const w = waiting;
          waiting = undefined;
          w.resolve({ value: ev, done: false });
        } else {
          if (queue.length >= cap) {
            queue.shift();
            dropped++;
            stats.eventsDropped++;
          }
          queue.push(ev);
        }
      },
      fail: (e) => {
        if (done) return;
        failure = e;
        release();
        if (waiting) {
          waiting.reject(e);
          waiting = undefined;
        }
      },
      finish,
    });
    if (limit.signal.aborted) finish();
    else limit.signal.addEventListener("abort", finish, { once: true });
    const it: EventStream<KernelEvent> = {
      get dropped() {
        return dropped;
      },
      next() {
        if (queue.length > 0) return Promise.resolve({ value: queue.shift()!, done: false });
        if (failure) {
          const f = failure;
          failure = undefined;
          return Promise.reject(f);
        }
        if (done) return Promise.resolve({ value: undefined, done: true });
        waiting = Promise.withResolvers();
        return waiting.promise;
      },
      return() {
        finish();
        queue.length = 0;
        return Promise.resolve({ value: undefined, done: true });
      },
      [Symbol.asyncIterator]() {
        return it;
      },
    };
    return it;
  }

  /** Resolves with the first matching event; rejects on timeout (`ETIMEDOUT`), abort or close (`EBADF`). */
  waitFor(name: string | null, options: WaitOptions<KernelEvent> = {}): Promise<KernelEvent> {
    this.#check(name, "waitFor");
    const { filter, timeout } = options;
    if (filter !== undefined && typeof filter !== "function") {
      throw new TypeError(`waitFor: filter must be a function, got ${typeof filter}`);
    }
    const what = `${name ?? "event"}${filter ? " matching the filter" : ""}`;
    const limit = Deadline.of(options, () =>
      new VmkMgmtError(ERRNO.ETIMEDOUT, {
        operation: "waitFor",
        signature: this.#sig.name,
        callback: name ?? undefined,
        hint: `no ${what} within ${timeout} ms`,
      }));
    if (limit.signal.aborted) return Promise.reject(limit.signal.reason);
    const { promise, resolve, reject } = Promise.withResolvers<KernelEvent>();
    const cleanup = () => {
      unsubscribe();
      limit.signal.removeEventListener("abort", onAbort);
      limit[Symbol.dispose]();
    };
    const onAbort = () => {
      cleanup();
      reject(limit.signal.reason);
    };
    const unsubscribe = this.#add({
      name,
      deliver: (ev) => {
        let match: boolean;
        try {
          match = filter ? filter(ev) : true;
        } catch (e) {
          cleanup();
          reject(e);
          return;
        }
        if (match) {
          cleanup();
          resolve(ev);
        }
      },
      fail: (e) => {
        cleanup();
        reject(e);
      },
      finish: () => {
        cleanup();
        reject(closedError({
          operation: "waitFor",
          signature: this.#sig.name,
          callback: name ?? undefined,
          hint: `the session ${this.#sig.name} closed while waiting for ${name ?? "an event"}`,
        }));
      },
    });
    limit.signal.addEventListener("abort", onAbort, { once: true });
    return promise;
  }

  /** True while delivery is begun. */
  get active(): boolean {
    return this.#active;
  }

  /** Ends every listener (iterators finish, waits reject); call before End/Destroy. */
  shutdown(): void {
    this.#closed = true;
    this.#probing(false);
    for (const l of [...this.#listeners]) l.finish();
    this.#listeners.clear();
    this.#host.keepAlive(false);
  }

  /** Waits until no Begin/End is in flight. */
  async settled(): Promise<void> {
    while (this.#transition) await this.#transition;
  }
}
