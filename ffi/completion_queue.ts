/**
 * The fast path to our library: its completion queue (vmkmgmt.h). A call is submitted with a plain
 * synchronous FFI call that never waits (`vmkmgmt_UserSubmit` corks the INVOKE; at the end of the
 * turn `vmkmgmt_UserFlush` sends all the turn's calls in one system call, or leaves what the socket
 * cannot take to a library thread) and completes into one queue per opened library,
 * which JavaScript drains — every entry at once — in one more synchronous call. Events come through
 * the same queue, in the order the kernel sent them. No call holds a thread of Deno's blocking pool,
 * so any number of calls can wait on kernels at once, and a stalled kernel slows no file read.
 *
 * How JavaScript hears of it: the doorbell — one byte on a Unix socket read in Deno's own event
 * loop, written by the library when the queue goes from empty to non-empty, so a burst costs one
 * wake-up and no thread stands in between; where it cannot be had (no read and write permission
 * for its directory), one `vmkmgmt_QueueWait` parked on a thread of Deno's blocking pool. And right
 * after sending, while answers have been coming back quickly, JavaScript spins for them a little
 * (`spin_policy.ts`) instead of being woken — for the calls of one session, reading them off its
 * socket itself while the library's reader is not reading (`vmkmgmt_UserPoll`), so an answer
 * costs no thread's wake-up at all but the kernel's. The reader thread only signals:
 * it never waits for JavaScript, which may be blocked in `invokeSync` waiting for a reply only the
 * reader can deliver. Measured (ARCHITECTURE.md, threads): the doorbell did more sequential calls
 * per second than the parked wait, which did more than a thread-safe callback scheduling the drain.
 *
 * What it gives up: a vendor library (ESXi's) has no queue, and keeps the blocking pool
 * (`blocking_pool.ts`); a call whose caller gave up (timeout, abort) keeps its buffers until the
 * kernel answers or the session closes — the library writes returned data into them — but no longer
 * keeps the process alive; without the doorbell, one of Deno's blocking threads is taken while
 * anything is pending; while answers come quickly, the JavaScript thread spends up to 120 µs per
 * flush spinning for them.
 *
 * @example
 * ```ts ignore
 * import { CompletionQueue } from "./completion_queue.ts";
 * const queue = CompletionQueue.of(symbols); // null: not our library
 * queue!.submit(handle, 1n, 21n, [msg], null, { done: (rc) => console.log(rc) });
 * ```
 * @module
 */
import { cString } from "../abi/c_text.ts";
import { ERRNO, QUEUE_ENTRY_KIND } from "../abi/facts.ts";
import type { RawEvent } from "./callbacks.ts";
import { LAYOUT } from "./layout.ts";
import { opRef } from "./op_ref.ts";
import { SpinPolicy } from "./spin_policy.ts";
import type { VmkMgmtSymbols } from "./symbols.ts";

/** Where a session's events and the word of its lost kernel go. */
export interface QueueSink {
  /**
   * One event. Its parameters are views of the queue's drain buffer, good only until this
   * returns (the next drain writes over them): decode or copy them before. A copy per event cost
   * about as much as the rest of delivering it (a new ArrayBuffer: ~1 µs in Deno).
   */
  event(raw: RawEvent): void;
  /** The kernel went away (after its last event); errno is EIO. */
  disconnected(errno: number): void;
}

/** Who hears a call's result code. */
export interface Completion {
  /** The call's result code, once C is done with its buffers. */
  done(rc: number): void;
}

interface Pending {
  sink: Completion | null;
  /** The C arguments, and whatever else C reaches through them, until the call completes. */
  args: readonly Uint8Array[] | null;
  keep: unknown;
  /** Its caller still waits: it keeps the process alive. */
  live: boolean;
}

/**
 * With many calls pending, a spin gathers answers: it waits (up to 60 µs after the first, within its
 * time) until it has one for every this many calls pending, at most {@link GATHER_MAX}. Through the
 * bridge answers come one by one, and taking each alone kept every stage of the ring (this thread,
 * the bridge's two, the kernel) handling one call per wake-up; gathered, the calls that follow them go
 * out together, and so do their answers. Measured (ARCHITECTURE.md, "Threads"): 32 in flight through
 * the bridge ~1.5× as fast, direct calls the same.
 */
const PENDING_PER_GATHERED = 8;

/** The most answers a spin gathers. */
const GATHER_MAX = 8;

/** Drains in one turn of the event loop before yielding to other work. */
const DRAINS_PER_TURN = 8;

const E = LAYOUT.vmkmgmt_QueueEntry;

const queues = new WeakMap<VmkMgmtSymbols, CompletionQueue | null>();

/** The completion queue of one opened library (one per process and library). */
export class CompletionQueue {
  readonly #symbols: VmkMgmtSymbols;
  readonly #queue: Deno.PointerObject;
  /**
   * Calls in flight by token. Keyed by number, not BigInt: an add and a delete, with the BigInts
   * they took, cost ~112 ns and ~120 bytes of garbage in a microbenchmark, against ~53 ns and ~57
   * bytes; a completion's token is read back without a new BigInt. Tokens count up from 1 and are
   * never used twice (2^53 of them: centuries of calls); C is handed each as a BigInt (a u64).
   */
  readonly #pending = new Map<number, Pending>();
  readonly #sinks = new Map<bigint, QueueSink>();
  readonly #listening = new Set<bigint>();
  readonly #unflushed = new Set<Deno.PointerObject>();
  #flushing = false;
  #nextToken = 1;
  #nextKey = 1n;
  #wait: Promise<number> | null = null;
  /** A drain of what the last one left, due in a later turn. */
  #later: ReturnType<typeof setTimeout> | undefined;
  /** The doorbell: undefined until first needed, null while it is (or cannot be) connected. */
  #bell: Deno.UnixConn | null | undefined = undefined;
  #bellRefd = false;
  #waitRefd = false;
  #alive = 0;
  #strays = 0;
  readonly #spin = new SpinPolicy();
  #buffer = new Uint8Array(1 << 20);
  #view = new DataView(this.#buffer.buffer);
  readonly #keys = new RepeatedU64();
  readonly #instances = new RepeatedU64();
  readonly #callbacks = new RepeatedU64();
  readonly #used = new BigUint64Array(1);
  readonly #entries = new Uint32Array(1);

  private constructor(symbols: VmkMgmtSymbols, queue: Deno.PointerObject) {
    this.#symbols = symbols;
    this.#queue = queue;
  }

  /**
   * The queue of a library, created on first use; null when the library has no completion queue
   * (a vendor's), or it could not be created (then calls take the blocking pool).
   */
  static of(symbols: VmkMgmtSymbols): CompletionQueue | null {
    if (queues.has(symbols)) return queues.get(symbols)!;
    let made: CompletionQueue | null = null;
    const s = symbols;
    if (
      s.vmkmgmt_QueueCreate && s.vmkmgmt_UserAttachQueue && s.vmkmgmt_UserSubmit && s.vmkmgmt_UserFlush &&
      s.vmkmgmt_QueueDrain &&
      s.vmkmgmt_QueueWait && s.vmkmgmt_QueueWake && s.vmkmgmt_QueueAbandon
    ) {
      const out = new BigUint64Array(1);
      const rc = s.vmkmgmt_QueueCreate(new Uint8Array(out.buffer));
      const pointer = rc === 0 ? Deno.UnsafePointer.create(out[0]) : null;
      // (never destroyed: the library stays loaded for the life of the process, ffi/keep_mapped.ts)
      if (pointer) {
        made = new CompletionQueue(symbols, pointer);
        // At exit V8 frees the buffers of calls still in flight, which the reader threads would
        // write into: from then on they touch none (a call given up on has no one to tell).
        globalThis.addEventListener("unload", () => s.vmkmgmt_QueueAbandon!(pointer));
      }
    }
    queues.set(symbols, made);
    return made;
  }

  /** Calls submitted and not yet completed (their callers may have given up). */
  get pending(): number {
    return this.#pending.size;
  }

  /** Completions for no pending call (a token completed twice, or never submitted): 0, always. */
  get strays(): number {
    return this.#strays;
  }

  /**
   * Sends a handle's completions and, once begun, its events here; returns the key its events
   * carry, or the library's error code.
   */
  attach(handle: Deno.PointerObject, sink: QueueSink): { rc: number; key?: bigint } {
    const key = this.#nextKey++;
    const rc = this.#symbols.vmkmgmt_UserAttachQueue!(handle, this.#queue, key);
    if (rc !== 0) return { rc };
    this.#sinks.set(key, sink);
    return { rc, key };
  }

  /** Forgets a handle's sink (after Destroy: nothing of it is queued any more). */
  detach(key: bigint): void {
    this.#sinks.delete(key);
    this.listen(key, false);
  }

  /**
   * Submits one invoke: `args` are the C arguments (each parameter's buffer, or its
   * `vmk_MgmtVectorParm`), `keep` whatever else C reaches through them (the vectors' data, caller
   * buffers). `sink.done` hears the call's result code exactly once — at once, before this returns,
   * for a call the library refused — and `args`, `keep` and `sink` stay alive until then. Once
   * `signal` aborts, the call no longer keeps the process alive (it still completes, and its buffers
   * stay until then).
   *
   * A sink rather than a promise: a call's completion then costs one method call, and the caller
   * makes the one promise its own caller awaits — an object rather than a function, so the caller's
   * own object for the call can be it.
   */
  submit(
    handle: Deno.PointerObject,
    instanceId: bigint,
    callbackId: bigint,
    args: readonly Uint8Array[],
    keep: unknown,
    sink: Completion,
    signal?: AbortSignal,
  ): void {
    const token = this.#nextToken++;
    const [a, b, c, d] = args;
    const rc = this.#symbols.vmkmgmt_UserSubmit!(
      handle,
      BigInt(token),
      instanceId,
      callbackId,
      args.length,
      a ?? null,
      b ?? null,
      c ?? null,
      d ?? null,
    );
    if (rc !== 0) return sink.done(rc);
    // Corked until the end of this turn: the calls submitted together go out in one system call.
    this.#unflushed.add(handle);
    if (!this.#flushing) {
      this.#flushing = true;
      queueMicrotask(this.#flushNow);
    }
    const entry: Pending = { sink, args, keep, live: true };
    this.#pending.set(token, entry);
    this.#hold(1);
    if (signal) {
      const abandon = () => {
        if (!entry.live) return;
        entry.live = false;
        this.#hold(-1);
      };
      if (signal.aborted) abandon();
      else signal.addEventListener("abort", abandon, { once: true });
    }
  }

  readonly #flushNow = () => this.#flush();

  /** Sends what this turn submitted, handle by handle (a destroyed handle's calls completed with EIO). */
  #flush(): void {
    this.#flushing = false;
    const only = this.#unflushed.size === 1 ? this.#unflushed.values().next().value! : null;
    for (const handle of this.#unflushed) this.#symbols.vmkmgmt_UserFlush!(handle);
    this.#unflushed.clear();
    // Answers that come quickly are taken by spinning for them (spin_policy.ts) — calls of one
    // handle by reading its socket here, so not even the library's reader is woken for them.
    const us = this.#spin.flushed(performance.now());
    const s = this.#symbols;
    if (us === 0 || !s.vmkmgmt_QueuePoll || this.#pending.size === 0) return;
    const gather = Math.min(GATHER_MAX, Math.floor(this.#pending.size / PENDING_PER_GATHERED));
    const rc = only && s.vmkmgmt_UserPoll
      ? s.vmkmgmt_UserPoll(only, us, gather)
      : s.vmkmgmt_QueuePoll(this.#queue, us);
    const now = performance.now();
    if (rc !== 0) return this.#spin.missed();
    this.#spin.answered(now);
    // The event loop's turn is due: the answers wait for it (the doorbell rings now).
    if (this.#spin.turnOver(now) && this.#bell && s.vmkmgmt_QueueRing?.(this.#queue) === 0) return;
    this.#drain();
    this.#update();
  }

  /** Keeps the process alive while the session of `key` listens for events (repeats change nothing). */
  listen(key: bigint, on: boolean): void {
    if (on === this.#listening.has(key)) return;
    if (on) this.#listening.add(key);
    else this.#listening.delete(key);
    this.#hold(on ? 1 : -1);
  }

  /** Counts what keeps the process alive (live calls, listening sessions). */
  #hold(delta: number): void {
    this.#alive += delta;
    this.#update();
  }

  /**
   * Makes sure JavaScript hears of what completes while anything may (pending calls, listening
   * sessions), and that this keeps the process alive only while something wants it (live calls,
   * listening); a call given up on is still drained when it completes, so its buffers go.
   *
   * With the doorbell (a socket read in Deno's own event loop) a read is always pending, ref'd or
   * not. Until it is connected — or where it cannot be (no read and write permission for the
   * temporary directory) — one wait is parked on the queue instead; without Deno's op ref/unref it
   * is parked only while something wants it, and a given-up call is drained with the next batch.
   */
  #update(): void {
    const needed = this.#pending.size > 0 || this.#listening.size > 0;
    const wanted = this.#alive > 0;
    if (this.#bell === undefined && needed) this.#connectBell();
    if (this.#bell) {
      if (wanted !== this.#bellRefd) {
        this.#bellRefd = wanted;
        wanted ? this.#bell.ref() : this.#bell.unref();
      }
      return;
    }
    if (!this.#wait && (opRef ? needed : wanted)) this.#park();
    if (!this.#wait) return;
    if (!(opRef ? needed : wanted)) {
      this.#symbols.vmkmgmt_QueueWake!(this.#queue); // it returns, and is not parked again
    } else if (opRef && wanted !== this.#waitRefd) {
      this.#waitRefd = wanted;
      wanted ? opRef.ref(this.#wait) : opRef.unref(this.#wait);
    }
  }

  /** Parks one wait on the queue; when it returns, drains, and parks again while needed. */
  #park(): void {
    const wait = this.#symbols.vmkmgmt_QueueWait!(this.#queue, -1);
    this.#wait = wait;
    this.#waitRefd = true;
    wait.then(() => {
      this.#wait = null;
      this.#drain();
      if (!this.#bell) this.#update();
    });
  }

  /**
   * Connects the doorbell: one byte arrives on it, in Deno's own event loop, each time the queue
   * goes from empty to non-empty — one wake-up per batch, no thread in between. Only when Deno may
   * already read and write there (it would otherwise ask the user, or refuse).
   */
  #connectBell(): void {
    this.#bell = null; // (being connected; the parked wait serves meanwhile)
    const ring = this.#symbols.vmkmgmt_QueueDoorbell;
    const accept = this.#symbols.vmkmgmt_QueueDoorbellAccept;
    if (!ring || !accept) return;
    const out = new Uint8Array(108);
    if (ring(this.#queue, out, BigInt(out.length)) !== 0) return;
    const path = cString(out);
    const granted = (name: "read" | "write") =>
      Deno.permissions.querySync({ name, path }).state === "granted";
    if (!granted("read") || !granted("write")) {
      accept(this.#queue); // (EAGAIN, and the listening socket goes)
      return;
    }
    Deno.connect({ transport: "unix", path }).then((conn) => {
      if (accept(this.#queue) !== 0) return conn.close();
      this.#bell = conn;
      this.#bellRefd = true;
      this.#listen(conn);
      this.#update();
      // The parked wait is no longer needed: let it go.
      if (this.#wait) this.#symbols.vmkmgmt_QueueWake!(this.#queue);
    }, () => {
      accept(this.#queue);
    });
  }

  /** Reads the doorbell for the life of the process; each ring drains the queue. */
  async #listen(conn: Deno.UnixConn): Promise<void> {
    const bytes = new Uint8Array(64);
    while ((await conn.read(bytes)) !== null) {
      this.#spin.turn(performance.now());
      this.#drain();
      this.#update();
    }
  }

  /**
   * Drains the queue until it is empty, or for a few batches: then the rest in a later turn (the
   * doorbell rings only when the queue goes from empty to non-empty, and a poll's answers ring it
   * not at all, so what is left would otherwise wait for the next call).
   */
  #drain(): void {
    if (this.#drainRounds()) return;
    if (this.#later) return;
    this.#later = setTimeout(() => {
      this.#later = undefined;
      this.#drain();
    }, 0);
  }

  /** Up to {@link DRAINS_PER_TURN} drains; true once the queue was found empty (or failed). */
  #drainRounds(): boolean {
    for (let round = 0; round < DRAINS_PER_TURN; round++) {
      const rc = this.#symbols.vmkmgmt_QueueDrain!(
        this.#queue,
        this.#buffer,
        BigInt(this.#buffer.length),
        new Uint8Array(this.#used.buffer),
        new Uint8Array(this.#entries.buffer),
      );
      if (rc === ERRNO.ENOSPC) {
        // One entry (a large event) needs more room than there is.
        this.#buffer = new Uint8Array(Number(this.#used[0]));
        this.#view = new DataView(this.#buffer.buffer);
        continue;
      }
      const count = this.#entries[0];
      if (rc !== 0 || count === 0) return true;
      this.#dispatch(count);
    }
    return false;
  }

  #dispatch(count: number): void {
    const v = this.#view;
    let at = 0;
    for (let i = 0; i < count; i++) {
      const kind = v.getUint32(at + E.kind, true);
      const length = v.getUint32(at + E.length, true);
      const status = v.getInt32(at + E.status, true);
      if (kind === QUEUE_ENTRY_KIND.completion) {
        const token = u64Number(v, at + E.key);
        const p = this.#pending.get(token);
        if (p) {
          this.#pending.delete(token);
          if (p.live) this.#alive--;
          const sink = p.sink!;
          // An entry that lived through two scavenges sits in V8's old space until the next full
          // collection: cut from what the call held, it keeps none of that alive meanwhile.
          p.sink = p.args = p.keep = null;
          try {
            sink.done(status);
          } catch (e) {
            // Not this loop's to handle, and it must not cost the other entries their completion.
            queueMicrotask(() => {
              throw e;
            });
          }
        } else {
          this.#strays++;
        }
      } else {
        // (an event's key is its session's, the same entry after entry: read without a new BigInt)
        const key = this.#keys.read(v, at + E.key);
        if (kind === QUEUE_ENTRY_KIND.event) this.#sinks.get(key)?.event(this.#event(at + E.size));
        else if (kind === QUEUE_ENTRY_KIND.disconnect) this.#sinks.get(key)?.disconnected(status);
      }
      at += length;
    }
  }

  /** An event's parts (after the entry's head): instance, callback, count, lengths, padded bytes (views). */
  #event(at: number): RawEvent {
    const v = this.#view;
    const instanceId = this.#instances.read(v, at);
    const callbackId = this.#callbacks.read(v, at + 8);
    const n = u64Number(v, at + 16);
    let data = at + 24 + 8 * n;
    const params: Uint8Array[] = new Array(n);
    const bytes = this.#buffer.buffer; // (the buffer's own: its views start at 0)
    for (let i = 0; i < n; i++) {
      const len = u64Number(v, at + 24 + 8 * i);
      // (the constructor, not subarray, whose species lookup V8 does not inline)
      params[i] = new Uint8Array(bytes, data, len);
      data += (len + 7) & ~7;
    }
    return { callbackId, instanceId, params, buffer: v };
  }
}

/**
 * Reads u64s that mostly repeat (an event's session key, instance, callback) as BigInts, handing
 * back the one made last time while the value is the same: each BigInt is an allocation, three an
 * event, for the collector to find.
 */
class RepeatedU64 {
  #lo = -1;
  #hi = -1;
  #value = 0n;

  /** The u64 at `at` of `v` (little-endian). */
  read(v: DataView, at: number): bigint {
    const lo = v.getUint32(at, true);
    const hi = v.getUint32(at + 4, true);
    if (lo !== this.#lo || hi !== this.#hi) {
      this.#value = v.getBigUint64(at, true);
      this.#lo = lo;
      this.#hi = hi;
    }
    return this.#value;
  }
}

/**
 * A u64 that is a count or a length (below 2^53) as a number, without the BigInt `getBigUint64`
 * would allocate for every event parameter (each allocation costs the event loop; the saving was
 * below what these noisy machines can measure on its own).
 */
function u64Number(v: DataView, at: number): number {
  return v.getUint32(at, true) + v.getUint32(at + 4, true) * 2 ** 32;
}
