/**
 * Kernel-to-user callbacks: each user-location callback of a signature becomes a
 * `Deno.UnsafeCallback.threadSafe` that the library's monitor thread calls. The payload is
 * decoded before the callback returns (its buffers live only during the call), then handed to
 * handlers, async iterators and `waitFor` waiters.
 *
 * Delivery is started (`vmk_MgmtUserBegin`) when the first listener subscribes and ended when
 * the last one leaves; meanwhile events wait in the kernel's per-session queue, as on ESXi. The
 * callbacks are ref'd only while someone listens, so an idle script exits by itself.
 *
 * Overflow policy of iterators: each keeps at most `buffer` events (default 1024); when a new
 * event arrives at a full iterator the oldest is dropped and counted (`iterator.dropped`,
 * `session.stats.eventsDropped`). Handlers are called synchronously and never drop.
 * @module
 */
import { decodeParam } from "./codec.ts";
import type { CallbackInfo, Signature } from "./signature.ts";

/** An instance of the API: its kernel id and name. */
export interface Instance {
  /** Kernel instance id. */
  readonly id: bigint;
  /** Instance name. */
  readonly name: string;
}

/** A kernel-to-user callback as delivered to JavaScript. */
export interface KernelEvent<N extends string = string, P = Record<string, unknown>> {
  /** Callback name. */
  readonly name: N;
  /** Callback id. */
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
  /** Milliseconds before rejecting with a `TimeoutError`. */
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
  /** Resolves an instance id to its instance (null for id 0). */
  instance(id: bigint): Instance | null;
  /** Reports an error that has no caller to reject (a throwing handler…). */
  report(error: unknown, context: string): void;
  /**
   * Checks that the kernel connection is alive while delivery runs (the library has no way to say
   * it died); rejects with an Error carrying `errno` 5 when it is gone.
   */
  probe(): Promise<void>;
  /** Milliseconds between probes while someone listens (0: never). */
  readonly probeMs: number;
}

const MAX_VECTOR = 64 * 1024 * 1024;

/** Routes one session's kernel-to-user callbacks to its listeners. */
export class EventHub {
  readonly #sig: Signature;
  readonly #host: HubHost;
  readonly #callbacks = new Map<number, Deno.UnsafeCallback>();
  readonly #listeners = new Set<Listener>();
  #active = false; // monitor begun
  #transition: Promise<void> | null = null;
  #refd = false;
  #probeTimer: ReturnType<typeof setInterval> | undefined;
  #closed = false;
  /** Delivery counters. */
  readonly stats: EventStats = { eventsDelivered: 0, eventsDropped: 0, handlerErrors: 0 };

  /** Creates the thread-safe callbacks of every user-location callback (unref'd). */
  constructor(sig: Signature, host: HubHost) {
    this.#sig = sig;
    this.#host = host;
    for (const cb of sig.list) {
      if (cb.location !== "user") continue;
      const def = {
        parameters: ["u64", "u64", ...cb.params.map(() => "pointer" as const)],
        result: "void",
      } as const;
      const fn = (_cookie: bigint, instanceId: bigint, ...ptrs: Deno.PointerValue[]) => {
        // Exceptions here would be swallowed by Deno with a generic line: report them ourselves.
        try {
          this.#dispatch(cb, instanceId, ptrs);
        } catch (e) {
          this.#host.report(e, `decoding ${cb.name}`);
        }
      };
      const uc = Deno.UnsafeCallback.threadSafe(def as Deno.UnsafeCallbackDefinition, fn as never);
      uc.unref();
      this.#callbacks.set(cb.id, uc);
    }
  }

  /** The address of the user callback for the C signature table (0n for kernel callbacks). */
  pointerFor(cb: CallbackInfo): bigint {
    const uc = this.#callbacks.get(cb.id);
    return uc && cb.location === "user" ? BigInt(Deno.UnsafePointer.value(uc.pointer)) : 0n;
  }

  #dispatch(cb: CallbackInfo, instanceId: bigint, ptrs: Deno.PointerValue[]): void {
    const params: Record<string, unknown> = {};
    cb.params.forEach((p, i) => {
      const ptr = ptrs[i];
      if (ptr === null) throw new Error(`${cb.name}: parameter ${p.name} arrived as a NULL pointer`);
      let bytes: Uint8Array;
      if (p.dir === "vectorIn") {
        const vp = new Deno.UnsafePointerView(ptr);
        const length = vp.getBigUint64(0);
        const data = vp.getPointer(8);
        if (length > BigInt(MAX_VECTOR) || (length > 0n && data === null)) {
          throw new Error(`${cb.name}: vector ${p.name} of ${length} bytes is not plausible`);
        }
        bytes = new Uint8Array(Number(length));
        if (data) new Deno.UnsafePointerView(data).copyInto(bytes);
      } else {
        bytes = new Uint8Array(p.size);
        new Deno.UnsafePointerView(ptr).copyInto(bytes);
      }
      params[p.name] = decodeParam(p, bytes);
    });
    const event: KernelEvent = {
      name: cb.name,
      id: cb.id,
      instance: this.#host.instance(instanceId),
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

  #check(name: string | null): void {
    if (this.#closed) throw new Error(`session ${this.#sig.name} is closed`);
    if (name === null) return;
    const cb = this.#sig.list.find((c) => c.name === name);
    if (!cb || cb.location !== "user") {
      const events = this.#sig.list.filter((c) => c.location === "user").map((c) => c.name);
      throw new TypeError(
        `${this.#sig.name} has no kernel event ${name}; events (user-location callbacks) are: ${
          events.join(", ") || "none"
        }`,
      );
    }
  }

  #add(l: Listener): () => void {
    this.#listeners.add(l);
    this.#reconcile();
    return () => {
      if (this.#listeners.delete(l)) this.#reconcile();
    };
  }

  /** ref()/unref() are counted by Deno: call them only when the wish changes. */
  #keepAlive(on: boolean): void {
    if (on === this.#refd) return;
    this.#refd = on;
    for (const uc of this.#callbacks.values()) on ? uc.ref() : uc.unref();
  }

  /** Starts or stops delivery to match whether anyone listens; one transition at a time. */
  #reconcile(): void {
    const want = this.#listeners.size > 0 && !this.#closed;
    this.#keepAlive(want);
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

  #failAll(e: unknown): void {
    for (const l of [...this.#listeners]) l.fail(e as Error);
    this.#listeners.clear();
    this.#keepAlive(false);
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
          if ((e as { errno?: number }).errno === 5) this.#failAll(e);
        },
      );
    }, this.#host.probeMs);
    // The listeners' callbacks keep the process alive when that is wanted; the probe never does.
    Deno.unrefTimer(this.#probeTimer as unknown as number);
  }

  /** Calls `handler` for each event (`name` null: every event); returns the unsubscribe function. */
  on(name: string | null, handler: (event: KernelEvent) => unknown): () => void {
    this.#check(name);
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
    this.#check(name);
    const cap = options.buffer ?? 1024;
    if (!Number.isInteger(cap) || cap < 1) {
      throw new RangeError(`buffer: expected a whole number ≥ 1, got ${cap}`);
    }
    const queue: KernelEvent[] = [];
    let waiting: PromiseWithResolvers<IteratorResult<KernelEvent>> | undefined;
    let done = false;
    let failure: Error | undefined;
    let dropped = 0;
    const stats = this.stats;
    const finish = () => {
      if (done) return;
      done = true;
      unsubscribe();
      options.signal?.removeEventListener("abort", finish);
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
        failure = e;
        if (waiting) {
          waiting.reject(e);
          waiting = undefined;
        }
        done = true;
      },
      finish,
    });
    if (options.signal?.aborted) finish();
    options.signal?.addEventListener("abort", finish, { once: true });
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

  /** Resolves with the first matching event; rejects on timeout, abort or close. */
  waitFor(name: string | null, options: WaitOptions<KernelEvent> = {}): Promise<KernelEvent> {
    this.#check(name);
    const { filter, timeout, signal } = options;
    if (timeout !== undefined && !(Number.isFinite(timeout) && timeout >= 0)) {
      throw new RangeError(`timeout: expected milliseconds ≥ 0, got ${timeout}`);
    }
    if (signal?.aborted) return Promise.reject(signal.reason);
    const { promise, resolve, reject } = Promise.withResolvers<KernelEvent>();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const cleanup = () => {
      unsubscribe();
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    };
    const onAbort = () => {
      cleanup();
      reject(signal!.reason);
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
        reject(new Error(`session ${this.#sig.name} closed while waiting for ${name ?? "an event"}`));
      },
    });
    if (timeout !== undefined) {
      timer = setTimeout(() => {
        cleanup();
        const e = new Error(
          `no ${name ?? "event"}${filter ? " matching the filter" : ""} within ${timeout} ms`,
        );
        e.name = "TimeoutError";
        reject(e);
      }, timeout);
    }
    signal?.addEventListener("abort", onAbort, { once: true });
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
    this.#keepAlive(false);
  }

  /** Waits until no Begin/End is in flight. */
  async settled(): Promise<void> {
    while (this.#transition) await this.#transition;
  }

  /** Closes the callbacks. Only after End/Destroy returned: C must never call a closed one. */
  closeCallbacks(): void {
    for (const uc of this.#callbacks.values()) uc.close();
    this.#callbacks.clear();
  }
}
