/**
 * One `vmk_MgmtUserHandle` and the calls on it, in bytes and errno numbers: Init from a C
 * signature, GetInstances, Begin/End/Destroy, and invoke — which turns each parameter's bytes
 * into the pointer C expects (the value itself, or a `vmk_MgmtVectorParm` around it), picks the
 * binding for the argument count, and keeps every buffer alive until C has returned.
 *
 * Nothing here knows names, types or errors of the typed API: every function returns the
 * library's result code (0 or an errno) and leaves its meaning to `mgmt/`.
 *
 * @example
 * ```ts ignore
 * import { NativeHandle } from "./handle.ts";
 * const { rc, handle } = await NativeHandle.init(symbols, cSignature, 0n, callbacks.pointers);
 * const data = [new Uint8Array(72)];
 * const rc2 = await handle!.call(cSignature.callbacks[0]).invoke(1n, data);
 * ```
 * @module
 */
import { cString } from "../abi/c_text.ts";
import {
  DIRECTION_BY_CODE,
  ERRNO,
  isVector,
  LOCATION_CODE,
  MAX_CALLBACK_PARMS,
  U64_MAX,
} from "../abi/facts.ts";
import {
  type CBufferField,
  type CCallback,
  type CSignature,
  decodeInstances,
  encodeApiSignature,
  encodeBufferFields,
  encodeCallbackInfos,
  encodeInitOptions,
  encodeVectorParm,
  type InstanceEntry,
  LAYOUT,
} from "./layout.ts";
import { addressOf } from "./address.ts";
import { kernelWaits } from "./blocking_pool.ts";
import type { CompletionQueue, QueueSink } from "./completion_queue.ts";
import type { VmkMgmtSymbols } from "./symbols.ts";

type AsyncInvoke = (
  h: Deno.PointerObject,
  inst: bigint,
  id: bigint,
  n: number,
  ...a: Uint8Array[]
) => Promise<number>;
type SyncInvoke = (h: Deno.PointerObject, inst: bigint, id: bigint, n: number, ...a: Uint8Array[]) => number;

/** A caller buffer whose address goes into a parameter's pointer member (`view` at `offset`). */
export interface CallerPointer {
  /** The parameter buffer holding the pointer. */
  readonly view: DataView;
  /** The pointer's offset in `view`. */
  readonly offset: number;
  /** The bytes the kernel may read or write while the call runs. */
  readonly bytes: Uint8Array;
}

/**
 * Who hears how a call started with {@link NativeCall.start} ended: an object, so that a call's own
 * object can be it (no closures per call).
 */
export interface CallSink {
  /** C is done with the call's buffers: its result code. */
  done(rc: number): void;
  /** The call never reached C: the signal's reason. */
  failed(reason: unknown): void;
}

const NO_POINTERS: readonly CallerPointer[] = Object.freeze([]);

/** Marks buffers as used until this point (a reference the optimiser cannot drop). */
function keepAlive(buffers: unknown): void {
  if (buffers === keepAlive) throw new Error("unreachable");
}

/** One kernel callback of a handle, ready to invoke. */
export class NativeCall {
  readonly #handle: Deno.PointerObject;
  readonly #c: CCallback;
  readonly #vector: boolean[];
  readonly #anyVector: boolean;
  readonly #async: AsyncInvoke;
  readonly #sync: SyncInvoke;
  readonly #queue: CompletionQueue | null;

  /** @internal use {@link NativeHandle.call}. */
  constructor(
    symbols: VmkMgmtSymbols,
    handle: Deno.PointerObject,
    c: CCallback,
    queue: CompletionQueue | null,
  ) {
    if (c.numParms > MAX_CALLBACK_PARMS) {
      throw new RangeError(`${c.numParms} parameters; at most ${MAX_CALLBACK_PARMS}`);
    }
    const n = c.numParms as 0 | 1 | 2 | 3 | 4;
    this.#handle = handle;
    this.#c = c;
    this.#vector = c.parmTypes.slice(0, n).map((code) => isVector(DIRECTION_BY_CODE[code]));
    this.#anyVector = this.#vector.includes(true);
    this.#async = symbols[`invoke${n}`] as unknown as AsyncInvoke;
    this.#sync = symbols[`invokeSync${n}`] as unknown as SyncInvoke;
    this.#queue = queue;
  }

  /**
   * The C arguments for `data` (one buffer per parameter, already the right size), with the
   * address of each caller buffer written into its pointer member.
   */
  #args(
    instanceId: bigint,
    data: readonly Uint8Array[],
    pinned: readonly CallerPointer[],
  ): readonly Uint8Array[] {
    // Deno wraps a u64 silently: an id out of range would address another instance.
    if (typeof instanceId !== "bigint" || instanceId < 0n || instanceId > U64_MAX) {
      throw new RangeError(`instance id ${instanceId} is not a vmk_uint64`);
    }
    if (data.length !== this.#c.numParms) {
      throw new RangeError(`${data.length} parameter buffers for ${this.#c.numParms} parameters`);
    }
    for (const b of pinned) b.view.setBigUint64(b.offset, addressOf(b.bytes), true);
    if (!this.#anyVector) return data;
    return data.map((buf, i) => (this.#vector[i] ? encodeVectorParm(buf.length, addressOf(buf)) : buf));
  }

  /**
   * `vmk_MgmtUserCallbackInvoke` without waiting: submitted to our library's completion queue, or,
   * with a library that has none, on the blocking pool (through {@link kernelWaits}). Out data
   * lands in `data`. Exactly one of `sink.done` (the result code, once C is done with the buffers)
   * and `sink.failed` (the signal's reason, for a call that never reached C) is called, and `sink`
   * is kept until then. `signal`: a call whose signal has already aborted reaches no C; once it
   * aborts, the call no longer keeps the process alive; on the pool, a call aborted while queued
   * never reaches C (`KernelWaits.run`). The buffers stay alive until C is done with them, also
   * when the caller stopped waiting.
   * @throws {RangeError} an instance id that is not a `vmk_uint64`, or the wrong number of buffers.
   */
  start(
    instanceId: bigint,
    data: readonly Uint8Array[],
    sink: CallSink,
    signal?: AbortSignal,
    pinned: readonly CallerPointer[] = NO_POINTERS,
  ): void {
    const args = this.#args(instanceId, data, pinned);
    if (signal?.aborted) return sink.failed(signal.reason);
    if (this.#queue) {
      this.#queue.submit(
        this.#handle,
        instanceId,
        this.#c.callbackId,
        args,
        pinned.length ? [data, pinned] : data,
        sink,
        signal,
      );
      return;
    }
    const call = () => this.#async(this.#handle, instanceId, this.#c.callbackId, args.length, ...args);
    kernelWaits.run(call, signal).then((rc) => {
      // Deno hands C raw pointers into `args` and `data`: this closure keeps them reachable until
      // the call has finished with them.
      keepAlive([args, data, pinned]);
      sink.done(rc);
    }, (reason) => sink.failed(reason));
  }

  /**
   * {@link start} as a promise of the result code. A call whose signal has already aborted
   * rejects with its reason and reaches no C.
   */
  invoke(
    instanceId: bigint,
    data: readonly Uint8Array[],
    signal?: AbortSignal,
    pinned: readonly CallerPointer[] = NO_POINTERS,
  ): Promise<number> {
    return new Promise((done, failed) => this.start(instanceId, data, { done, failed }, signal, pinned));
  }

  /** The same, blocking the JavaScript thread until the kernel answers. */
  invokeSync(
    instanceId: bigint,
    data: readonly Uint8Array[],
    pinned: readonly CallerPointer[] = NO_POINTERS,
  ): number {
    const args = this.#args(instanceId, data, pinned);
    const rc = this.#sync(this.#handle, instanceId, this.#c.callbackId, args.length, ...args);
    keepAlive([args, data, pinned]);
    return rc;
  }
}

/** An initialised `vmk_MgmtUserHandle`. */
export class NativeHandle {
  readonly #symbols: VmkMgmtSymbols;
  readonly #handle: Deno.PointerObject;
  #queue: CompletionQueue | null = null;
  #queueKey = 0n;

  private constructor(symbols: VmkMgmtSymbols, handle: Deno.PointerObject) {
    this.#symbols = symbols;
    this.#handle = handle;
  }

  /**
   * Sends this handle's calls through `queue` (and, once begun, its events to `sink` instead of the
   * user callbacks of its table). Before Begin, once; false when the library refused.
   */
  attachQueue(queue: CompletionQueue, sink: QueueSink): boolean {
    const { rc, key } = queue.attach(this.#handle, sink);
    if (rc !== 0) return false;
    this.#queue = queue;
    this.#queueKey = key!;
    return true;
  }

  /** The completion queue this handle's calls go through, if any. */
  get queue(): CompletionQueue | null {
    return this.#queue;
  }

  /**
   * Keeps the process alive while this handle's events are wanted (through its completion queue);
   * false when it has none (the user callbacks then do it).
   */
  listen(on: boolean): boolean {
    if (!this.#queue) return false;
    this.#queue.listen(this.#queueKey, on);
    return true;
  }

  /**
   * `vmk_MgmtUserInit` with the C form of a signature; `pointers[i]` is the user callback of
   * entry i (0n for kernel callbacks). With `options` (a host, buffer fields) it is our library's
   * `vmkmgmt_UserInitWith`, which also says why it failed. Resolves with the result code, the
   * reason in words when the library gave one, and, on 0, the handle.
   */
  static async init(
    symbols: VmkMgmtSymbols,
    sig: CSignature,
    cookie: bigint,
    pointers: readonly bigint[],
    options: { host?: string; buffers?: readonly CBufferField[] } = {},
  ): Promise<{ rc: number; why?: string; handle?: NativeHandle }> {
    const table = encodeCallbackInfos(sig.callbacks, pointers);
    const sigBytes = encodeApiSignature(sig, sig.callbacks.length ? addressOf(table) : 0n);
    const out = new Uint8Array(8);
    const initWith = symbols.vmkmgmt_UserInitWith;
    if (!initWith) {
      if (options.host !== undefined) {
        return {
          rc: ERRNO.EINVAL,
          why: "this library cannot reach another host (it has no vmkmgmt_UserInitWith)",
        };
      }
      const rc = await kernelWaits.run(() => symbols.vmk_MgmtUserInit(sigBytes, cookie, out));
      keepAlive([table, sigBytes]);
      return NativeHandle.#made(symbols, rc, out);
    }
    const buffers = encodeBufferFields(options.buffers ?? []);
    const host = options.host === undefined ? undefined : new TextEncoder().encode(`${options.host}\0`);
    const why = new Uint8Array(512);
    const opts = encodeInitOptions({
      host: host ? addressOf(host) : 0n,
      buffers: options.buffers?.length ? addressOf(buffers) : 0n,
      numBuffers: options.buffers?.length ?? 0,
      why: addressOf(why),
      whyLen: why.length,
    });
    const rc = await kernelWaits.run(() => initWith(sigBytes, cookie, opts, out));
    keepAlive([table, sigBytes, buffers, host, why, opts]);
    const text = cString(why);
    return { ...NativeHandle.#made(symbols, rc, out), ...(rc !== 0 && text ? { why: text } : {}) };
  }

  static #made(symbols: VmkMgmtSymbols, rc: number, out: Uint8Array): { rc: number; handle?: NativeHandle } {
    if (rc !== 0) return { rc };
    const handle = Deno.UnsafePointer.create(new DataView(out.buffer).getBigUint64(0, true));
    // A library that reports success without a handle is broken: treat it as a transport failure.
    if (handle === null) return { rc: ERRNO.EIO };
    return { rc, handle: new NativeHandle(symbols, handle) };
  }

  /** Who answers this handle (`vmkmgmt_UserPeer`: the simulator, a bridge and its host); null when the library cannot tell. */
  peer(): string | null {
    const get = this.#symbols.vmkmgmt_UserPeer;
    if (!get) return null;
    const buf = new Uint8Array(256);
    if (get(this.#handle, buf, BigInt(buf.length)) !== 0) return null;
    return cString(buf) || null;
  }

  /**
   * Asks the library who runs the kernel it would connect to, and why it is (not) trusted
   * (`vmkmgmt_CheckKernel`): the result code (0, EACCES, EIO, EINVAL) and the reason in words;
   * null when the library has no such extension (ESXi's own).
   */
  static async checkKernel(symbols: VmkMgmtSymbols): Promise<{ rc: number; why: string } | null> {
    if (!symbols.vmkmgmt_CheckKernel) return null;
    const buf = new Uint8Array(512);
    const rc = await symbols.vmkmgmt_CheckKernel(buf, BigInt(buf.length));
    return { rc, why: cString(buf) };
  }

  /**
   * Registers the function the library's monitor thread calls once the kernel has gone away while
   * delivery runs (`vmkmgmt_UserOnDisconnect`): the address of a thread-safe callback `(u64, i32)`.
   * Returns false when the library has no such extension (then only probing can tell).
   */
  onDisconnect(callback: bigint): boolean {
    const set = this.#symbols.vmkmgmt_UserOnDisconnect;
    if (!set) return false;
    return set(this.#handle, Deno.UnsafePointer.create(callback)) === 0;
  }

  /**
   * Events lost below JavaScript so far (`vmkmgmt_UserEventStats`, never blocks): dropped by the
   * kernel, and by the library; null when the library cannot tell.
   */
  eventDrops(): { kernel: number; library: number } | null {
    const get = this.#symbols.vmkmgmt_UserEventStats;
    if (!get) return null;
    const out = new BigUint64Array(2);
    const bytes = new Uint8Array(out.buffer);
    if (get(this.#handle, bytes.subarray(0, 8), bytes.subarray(8)) !== 0) return null;
    return { kernel: Number(out[0]), library: Number(out[1]) };
  }

  /** `vmk_MgmtUserGetInstances`: the result code and, on 0, the instances. */
  async instances(): Promise<{ rc: number; instances: InstanceEntry[] }> {
    const buf = new Uint8Array(LAYOUT.vmk_MgmtInstances.size);
    const rc = await kernelWaits.run(() => this.#symbols.vmk_MgmtUserGetInstances(this.#handle, buf));
    return { rc, instances: rc === 0 ? decodeInstances(buf) : [] };
  }

  /** `vmk_MgmtUserBegin`: starts the monitor thread. */
  begin(): Promise<number> {
    return this.#symbols.vmk_MgmtUserBegin(this.#handle);
  }

  /** `vmk_MgmtUserEnd`: stops and joins the monitor thread. */
  end(): Promise<number> {
    return this.#symbols.vmk_MgmtUserEnd(this.#handle);
  }

  /**
   * `vmk_MgmtUserDestroy`: ends delivery and releases the handle; it must not be used again. Every
   * call submitted on it has completed into the queue by then. When it fails, the handle is given
   * up all the same: the library may still queue its events, but they no longer keep the process
   * alive (its delivery may still be begun: a session closed while Begin ran).
   */
  async destroy(): Promise<number> {
    const rc = await this.#symbols.vmk_MgmtUserDestroy(this.#handle);
    if (!this.#queue) return rc;
    if (rc === 0) this.#queue.detach(this.#queueKey);
    else this.#queue.listen(this.#queueKey, false);
    return rc;
  }

  /** A kernel callback of this handle's signature, ready to invoke. */
  call(c: CCallback): NativeCall {
    if (c.location !== LOCATION_CODE.kernel) {
      throw new RangeError("only kernel-location callbacks are invoked");
    }
    return new NativeCall(this.#symbols, this.#handle, c, this.#queue);
  }
}
