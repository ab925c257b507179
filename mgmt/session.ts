/**
 * Sessions: `open(signature)` initialises a vmk_Mgmt handle and returns a typed session to list
 * instances, invoke kernel callbacks and receive kernel events. Every input is checked against
 * the signature before any C call; every C error becomes a {@link VmkMgmtError}.
 *
 * @example
 * ```ts ignore
 * import { open } from "./session.ts";
 * import { acmeNic } from "./demo/acme_nic.ts";
 * await using s = await open(acmeNic);
 * const { stats } = await s.invoke("getStats", { instance: "vmnic0" });
 * ```
 * @module
 */
import { type ErrorContext, VmkMgmtError } from "../ffi/errno.ts";
import {
  decodeInstances,
  encodeApiSignature,
  encodeCallbackInfos,
  encodeVectorParm,
  LAYOUT,
} from "../ffi/layout.ts";
import { type LibraryInfo, loadLibrary } from "../ffi/library.ts";
import type { VmkMgmtSymbols } from "../ffi/symbols.ts";
import { didYouMean } from "../util/suggest.ts";
import { decodeParam, encodeParam } from "./codec.ts";
import {
  EventHub,
  type EventStats,
  type EventStream,
  type Instance,
  type KernelEvent,
  type StreamOptions,
  type WaitOptions,
} from "./events.ts";
import { isVector, returnsData } from "./params.ts";
import {
  type CallbackInfo,
  type EventName,
  type EventParams,
  type InvokeParams,
  type InvokeResult,
  type KernelCallbackName,
  type Signature,
  type SignatureDef,
  toCSignature,
} from "./signature.ts";
import { ValueError } from "./types.ts";

/** How an instance may be named: its id, its name, an {@link Instance}, or null for none. */
export type InstanceRef = bigint | number | string | Instance | null;

/** Options of {@link open}. */
export interface OpenOptions {
  /** `userCookie` handed to Init (default 0). */
  cookie?: bigint;
  /** Library path; overrides discovery (`VMKMGMT_LIB`, ESXi, simulator). */
  library?: string;
  /** Where errors with no caller go (a throwing event handler…); default: console.error. */
  onError?: (error: unknown, context: string) => void;
  /**
   * While someone listens for events, check the kernel connection every this many ms (default
   * 2000; 0 never): when it is gone, iterators throw, waits reject and handlers' errors report
   * EIO instead of waiting forever.
   */
  healthCheckMs?: number;
}

/** Options of one invoke. */
export interface InvokeOptions {
  /**
   * Reject when aborted. The kernel callback may still run and complete: only the wait ends, and
   * the call keeps one of Deno's blocking threads until the kernel answers or the session closes.
   */
  signal?: AbortSignal;
  /** Reject with ETIMEDOUT after this many ms (same caveat as `signal`). */
  timeout?: number;
}

/** The first argument of `invoke` for callback definition `C`. */
export type InvokeInput<C> = { instance?: InstanceRef } & InvokeParams<C>;
/** The rest arguments of `invoke`: the input is optional when the callback takes no parameters. */
export type InvokeArgs<C> = Record<never, never> extends InvokeParams<C>
  ? [input?: InvokeInput<C>, options?: InvokeOptions]
  : [input: InvokeInput<C>, options?: InvokeOptions];

/** The callback definitions of signature definition `D`. */
export type Callbacks<D extends SignatureDef> = D["callbacks"];
/** A kernel event of signature definition `D` named `E`. */
export type EventOf<D extends SignatureDef, E extends EventName<D>> = KernelEvent<
  E,
  EventParams<Callbacks<D>[E]>
>;
/** Any kernel event of signature definition `D`. */
export type AnyEventOf<D extends SignatureDef> = { [E in EventName<D>]: EventOf<D, E> }[EventName<D>];

interface Core {
  symbols: VmkMgmtSymbols;
  handle: Deno.PointerObject;
  hub: EventHub;
  /** Instance cache by name and by id, refreshed by every GetInstances. */
  byName: Map<string, Instance>;
  byId: Map<bigint, Instance>;
  inFlight: number;
  closing?: Promise<void>;
  closed: boolean;
}

async function closeCore(core: Core, sigName: string): Promise<void> {
  core.closed = true;
  core.hub.shutdown();
  await core.hub.settled();
  // Destroy ends delivery and joins the monitor thread; only then may the callbacks close.
  const rc = await core.symbols.vmk_MgmtUserDestroy(core.handle);
  core.hub.closeCallbacks();
  if (rc !== 0) throw new VmkMgmtError(rc, { operation: "vmk_MgmtUserDestroy", signature: sigName });
}

/** GetInstances; refreshes the cache. Lives on the core so events never reference the session. */
async function fetchInstances(core: Core, sigName: string): Promise<Instance[]> {
  const buf = new Uint8Array(LAYOUT.vmk_MgmtInstances.size);
  core.inFlight++;
  let rc: number;
  try {
    rc = await core.symbols.vmk_MgmtUserGetInstances(core.handle, buf);
  } finally {
    core.inFlight--;
  }
  if (rc !== 0) {
    throw new VmkMgmtError(rc, {
      operation: "vmk_MgmtUserGetInstances",
      signature: sigName,
      hint: core.closed ? "the session was closed while the call was waiting" : undefined,
    });
  }
  const list = decodeInstances(buf).map((e) => Object.freeze({ id: e.id, name: e.name }));
  core.byName = new Map(list.map((i) => [i.name, i]));
  core.byId = new Map(list.map((i) => [i.id, i]));
  return list;
}

/** Names the instance an event came from; an unknown id triggers a refresh for next time. */
function eventInstance(core: Core, sigName: string, id: bigint): Instance | null {
  if (id === 0n) return null;
  const known = core.byId.get(id);
  if (known) return known;
  if (!core.closed) fetchInstances(core, sigName).catch(() => {});
  return { id, name: `#${id}` };
}

/** Marks buffers as used until this point (a reference the optimiser cannot drop). */
function keepAlive(buffers: unknown): void {
  if (buffers === keepAlive) throw new Error("unreachable");
}

const registry = new FinalizationRegistry<{ core: Core; name: string }>(({ core, name }) => {
  if (!core.closing) core.closing = closeCore(core, name).catch(() => {});
});

interface Plan {
  cb: CallbackInfo;
  id: bigint;
  fn: (...args: unknown[]) => Promise<number>;
  syncFn: (...args: unknown[]) => number;
  paramNames: Set<string>;
}

/**
 * An open vmk_Mgmt session on one API signature.
 *
 * @example
 * ```ts ignore
 * await using s = await open(acmeNic);
 * const { status } = await s.invoke("setMtu", { instance: "vmnic1", mtu: 9000 });
 * const ev = await s.waitFor("linkEvent", { timeout: 5000 });
 * ```
 */
export class Session<D extends SignatureDef = SignatureDef> implements AsyncDisposable {
  /** The signature this session speaks. */
  readonly signature: Signature<D>;
  /** The library it runs on. */
  readonly library: LibraryInfo;
  readonly #core: Core;
  readonly #plans = new Map<string, Plan>();

  /** @internal use {@link open}. */
  constructor(signature: Signature<D>, library: LibraryInfo, core: Core) {
    this.signature = signature;
    this.library = library;
    this.#core = core;
    registry.register(this, { core, name: signature.name }, this);
  }

  /** True after {@link close}. */
  get closed(): boolean {
    return this.#core.closed;
  }

  /** Event delivery counters. */
  get stats(): EventStats & { inFlight: number } {
    return { ...this.#core.hub.stats, inFlight: this.#core.inFlight };
  }

  #ctx(extra: Partial<ErrorContext> & { operation: string }): ErrorContext {
    return { signature: this.signature.name, ...extra };
  }

  #assertOpen(operation: string): void {
    if (this.#core.closed) {
      throw new VmkMgmtError(9, this.#ctx({ operation, hint: "the session is closed; open a new one" }));
    }
  }

  /** Lists the kernel instances serving this API (and refreshes the name cache). */
  async instances(): Promise<Instance[]> {
    this.#assertOpen("instances");
    try {
      return await fetchInstances(this.#core, this.signature.name);
    } catch (e) {
      throw e instanceof VmkMgmtError ? this.#error(e.errno, { operation: e.operation }) : e;
    }
  }

  /** Finds one instance by name or id (asking the kernel when it is not known yet). */
  async instance(ref: string | bigint | number): Promise<Instance> {
    const find = () =>
      typeof ref === "string" && !/^\d+$/.test(ref)
        ? this.#core.byName.get(ref)
        : this.#core.byId.get(BigInt(ref));
    const found = find() ?? (await this.instances(), find());
    if (!found) throw this.#unknownInstance(String(ref), "instance");
    return found;
  }

  #unknownInstance(ref: string, operation: string, callback?: string): VmkMgmtError {
    const names = [...this.#core.byName.keys()];
    return new VmkMgmtError(
      2,
      this.#ctx({
        operation,
        callback,
        instance: ref,
        hint: `no such instance${didYouMean(ref, names)}${
          names.length ? ` (instances: ${names.join(", ")})` : ""
        }`,
      }),
    );
  }

  #error(rc: number, ctx: Partial<ErrorContext> & { operation: string }): VmkMgmtError {
    if (this.#core.closed && (rc === 5 || rc === 22)) {
      return new VmkMgmtError(
        rc,
        this.#ctx({ ...ctx, hint: "the session was closed while the call was waiting" }),
      );
    }
    let hint = ctx.hint;
    if (rc === 5 && this.library.simulated) {
      hint = "the simulator went away or dropped this session; is `deno task sim` still running?";
    }
    return new VmkMgmtError(rc, this.#ctx({ ...ctx, hint }));
  }

  #plan(name: string, operation: string): Plan {
    let plan = this.#plans.get(name);
    if (plan) return plan;
    const cb = (this.signature.callbacks as Record<string, CallbackInfo>)[name];
    if (!cb || typeof cb !== "object" || !Object.hasOwn(this.signature.callbacks, name)) {
      const names = this.signature.list.filter((c) => c.location === "kernel").map((c) => c.name);
      throw new TypeError(
        `${operation}: ${this.signature.name} has no callback ${name}${didYouMean(name, names)} (callbacks: ${
          names.join(", ")
        })`,
      );
    }
    if (cb.location !== "kernel") {
      throw new TypeError(
        `${operation}: ${name} is a user-location callback (a kernel event); receive it with events("${name}") or on("${name}", …)`,
      );
    }
    const n = cb.params.length as 0 | 1 | 2 | 3 | 4;
    const s = this.#core.symbols;
    plan = {
      cb,
      id: BigInt(cb.id),
      fn: s[`invoke${n}`] as unknown as Plan["fn"],
      syncFn: s[`invokeSync${n}`] as unknown as Plan["syncFn"],
      paramNames: new Set(cb.params.map((p) => p.name)),
    };
    this.#plans.set(name, plan);
    return plan;
  }

  #resolveInstance(ref: unknown, callback: string): bigint {
    if (ref === undefined || ref === null) return 0n;
    if (typeof ref === "bigint") {
      if (ref < 0n || ref >= 1n << 64n) throw new ValueError("instance", `${ref} is not a u64 instance id`);
      return ref;
    }
    if (typeof ref === "number") {
      if (!Number.isSafeInteger(ref) || ref < 0) {
        throw new ValueError("instance", `${ref} is not an instance id`);
      }
      return BigInt(ref);
    }
    if (typeof ref === "string") {
      if (/^\d+$/.test(ref)) return BigInt(ref);
      const inst = this.#core.byName.get(ref);
      if (inst) return inst.id;
      throw this.#unknownInstance(ref, "invoke", callback);
    }
    if (typeof ref === "object" && typeof (ref as Instance).id === "bigint") return (ref as Instance).id;
    throw new ValueError("instance", `expected an instance id, name or instance object, got ${typeof ref}`);
  }

  /** Builds the C arguments; returns them with the buffers to decode afterwards. */
  #prepare(plan: Plan, input: Record<string, unknown> | undefined) {
    const cb = plan.cb;
    const given = input ?? {};
    if (typeof given !== "object") {
      throw new TypeError(`invoke ${cb.name}: the input must be an object of parameters`);
    }
    for (const key in given) {
      if (key === "instance" || plan.paramNames.has(key)) continue;
      const names = cb.params.map((p) => p.name);
      throw new ValueError(
        key,
        `unknown parameter${didYouMean(key, names)} (parameters: ${names.join(", ") || "none"})`,
        `invoke ${cb.name}: `,
      );
    }
    const args: Uint8Array[] = new Array(cb.params.length);
    const data: Uint8Array[] = new Array(cb.params.length);
    for (let i = 0; i < cb.params.length; i++) {
      const p = cb.params[i];
      const value = given[p.name];
      let buf: Uint8Array;
      if (p.dir === "out") {
        if (value !== undefined) {
          throw new ValueError(p.name, "an out parameter is returned, not given", `invoke ${cb.name}: `);
        }
        buf = new Uint8Array(p.size);
      } else {
        if (value === undefined) {
          const what = p.dir === "vectorOut"
            ? `capacity in elements (e.g. ${p.name}: 4096)`
            : `${isVector(p.dir) ? "vector of " : ""}${p.type.name}`;
          throw new ValueError(p.name, `missing parameter (${what})`, `invoke ${cb.name}: `);
        }
        try {
          buf = encodeParam(p, value);
        } catch (e) {
          if (e instanceof ValueError) throw new ValueError(e.path, e.reason, `invoke ${cb.name}: `);
          throw e;
        }
      }
      data[i] = buf;
      args[i] = isVector(p.dir)
        ? encodeVectorParm(
          buf.length,
          BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(buf as Uint8Array<ArrayBuffer>))),
        )
        : buf;
    }
    return { args, data };
  }

  #decode(plan: Plan, data: Uint8Array[]): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    const params = plan.cb.params;
    for (let i = 0; i < params.length; i++) {
      const p = params[i];
      if (returnsData(p.dir)) out[p.name] = decodeParam(p, data[i]);
    }
    for (const p of params) {
      if (!p.lengthFrom) continue;
      const n = Number(out[p.lengthFrom]);
      const v = out[p.name] as Uint8Array | unknown[];
      if (Number.isFinite(n) && n >= 0 && n < v.length) out[p.name] = v.slice(0, n);
    }
    return out;
  }

  /**
   * Invokes a kernel callback and resolves with its out, inout and vector-out values (async
   * callbacks resolve with `{}` once queued). `input.instance` names the target instance.
   */
  invoke<K extends KernelCallbackName<D>>(
    callback: K,
    ...[input, options]: InvokeArgs<Callbacks<D>[K]>
  ): Promise<InvokeResult<Callbacks<D>[K]>> {
    try {
      this.#assertOpen("invoke");
      const plan = this.#plan(callback, "invoke");
      const inst = this.#resolveInstance((input as { instance?: unknown } | undefined)?.instance, callback);
      const { args, data } = this.#prepare(plan, input as Record<string, unknown>);
      this.#core.inFlight++;
      const call = plan.fn(this.#core.handle, inst, plan.id, args.length, ...args).then(
        (rc) => {
          // Deno hands C raw pointers into `args` and `data`: this closure keeps them alive
          // (unreachable otherwise once invoke returns) until the call has finished with them —
          // also after a timeout or abort gave up waiting, since the chain lives until C returns.
          keepAlive(args);
          this.#core.inFlight--;
          if (rc !== 0) {
            throw this.#error(rc, { operation: "invoke", callback, instance: this.#instanceLabel(inst) });
          }
          return this.#decode(plan, data) as InvokeResult<Callbacks<D>[K]>;
        },
        (e) => {
          this.#core.inFlight--;
          throw e;
        },
      );
      return options && (options.signal || options.timeout !== undefined)
        ? this.#bounded(call, options, callback, inst)
        : call;
    } catch (e) {
      return Promise.reject(e);
    }
  }

  #bounded<T>(
    call: Promise<T>,
    options: InvokeOptions,
    callback: string,
    inst: bigint,
  ): Promise<T> {
    const { signal, timeout } = options;
    if (timeout !== undefined && !(Number.isFinite(timeout) && timeout >= 0)) {
      return Promise.reject(new RangeError(`timeout: expected milliseconds ≥ 0, got ${timeout}`));
    }
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<T>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
      };
      const onAbort = () => {
        done();
        reject(signal!.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      if (timeout !== undefined) {
        timer = setTimeout(() => {
          done();
          reject(
            new VmkMgmtError(
              110,
              this.#ctx({
                operation: "invoke",
                callback,
                instance: this.#instanceLabel(inst),
                hint: `no reply within ${timeout} ms (the kernel callback may still complete)`,
              }),
            ),
          );
        }, timeout);
      }
      call.then((v) => (done(), resolve(v)), (e) => (done(), reject(e)));
    });
  }

  /**
   * Like {@link invoke}, but blocks the event loop until the kernel answers — for tight loops
   * that accept that. Timers, I/O and event handlers do not run meanwhile; do not use it while
   * the same process serves the kernel (an in-process simulator would deadlock).
   */
  invokeSync<K extends KernelCallbackName<D>>(
    callback: K,
    ...[input]: InvokeArgs<Callbacks<D>[K]>
  ): InvokeResult<Callbacks<D>[K]> {
    this.#assertOpen("invokeSync");
    const plan = this.#plan(callback, "invokeSync");
    const inst = this.#resolveInstance((input as { instance?: unknown } | undefined)?.instance, callback);
    const { args, data } = this.#prepare(plan, input as Record<string, unknown>);
    const rc = plan.syncFn(this.#core.handle, inst, plan.id, args.length, ...args);
    if (rc !== 0) {
      throw this.#error(rc, { operation: "invokeSync", callback, instance: this.#instanceLabel(inst) });
    }
    return this.#decode(plan, data) as InvokeResult<Callbacks<D>[K]>;
  }

  #instanceLabel(id: bigint): string | undefined {
    if (id === 0n) return undefined;
    const inst = this.#core.byId.get(id);
    return inst ? `${inst.name} (${id})` : String(id);
  }

  /** Async iterator of one kernel event's deliveries. Leaving the loop unsubscribes. */
  events<E extends EventName<D>>(name: E, options?: StreamOptions): EventStream<EventOf<D, E>>;
  /** Async iterator of every kernel event of the session. Leaving the loop unsubscribes. */
  events(name?: null, options?: StreamOptions): EventStream<AnyEventOf<D>>;
  events(name: string | null = null, options?: StreamOptions): EventStream<KernelEvent> {
    return this.#core.hub.stream(name, options);
  }

  /** Calls `handler` for every event of `name`; returns a function that unsubscribes. */
  on<E extends EventName<D>>(name: E, handler: (event: EventOf<D, E>) => unknown): () => void;
  /** Calls `handler` for every event of the session; returns a function that unsubscribes. */
  on(name: "*", handler: (event: AnyEventOf<D>) => unknown): () => void;
  on(name: string, handler: (event: never) => unknown): () => void {
    return this.#core.hub.on(name === "*" ? null : name, handler as (e: KernelEvent) => unknown);
  }

  /** Resolves with the next event of `name` that passes `filter`; rejects on timeout or abort. */
  waitFor<E extends EventName<D>>(name: E, options?: WaitOptions<EventOf<D, E>>): Promise<EventOf<D, E>> {
    return this.#core.hub.waitFor(name, options as WaitOptions<KernelEvent>) as Promise<EventOf<D, E>>;
  }

  /** Ends event delivery, destroys the handle, then closes the callbacks. Idempotent. */
  close(): Promise<void> {
    if (!this.#core.closing) {
      registry.unregister(this);
      this.#core.closing = closeCore(this.#core, this.signature.name);
    }
    return this.#core.closing;
  }

  /** `await using` support. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * Opens a session: loads the library, builds the C signature (with a thread-safe callback for
 * each user-location callback), calls `vmk_MgmtUserInit` and fetches the instances.
 */
export async function open<D extends SignatureDef>(
  signature: Signature<D>,
  options: OpenOptions = {},
): Promise<Session<D>> {
  if (!signature || typeof signature !== "object" || !Array.isArray(signature.list)) {
    throw new TypeError(
      "open(signature): expected a signature from defineSignature() or signatureFromJson()",
    );
  }
  const probeMs = options.healthCheckMs ?? 2000;
  if (!Number.isFinite(probeMs) || probeMs < 0) {
    throw new RangeError(
      `open: healthCheckMs must be milliseconds ≥ 0 (0 disables), got ${options.healthCheckMs}`,
    );
  }
  const { symbols, info } = await loadLibrary(options.library);
  const report = options.onError ?? ((e: unknown, context: string) => {
    console.error(`vmkmgmt: ${context} failed:`, e);
  });
  let handle: Deno.PointerObject | null = null;
  const core = {
    symbols,
    closed: false,
    byName: new Map(),
    byId: new Map(),
    inFlight: 0,
  } as Partial<Core> as Core;
  const hub = new EventHub(signature, {
    begin: async () => {
      const rc = await symbols.vmk_MgmtUserBegin(handle);
      if (rc !== 0) throw new VmkMgmtError(rc, { operation: "vmk_MgmtUserBegin", signature: signature.name });
    },
    end: async () => {
      const rc = await symbols.vmk_MgmtUserEnd(handle);
      if (rc !== 0) throw new VmkMgmtError(rc, { operation: "vmk_MgmtUserEnd", signature: signature.name });
    },
    instance: (id) => eventInstance(core, signature.name, id),
    report,
    probe: async () => {
      try {
        await fetchInstances(core, signature.name);
      } catch (e) {
        if (!(e instanceof VmkMgmtError) || e.errno !== 5) throw e;
        throw new VmkMgmtError(5, {
          operation: "event delivery",
          signature: signature.name,
          hint: info.simulated
            ? "the connection to the simulator was lost; is `deno task sim` still running?"
            : "the connection to the kernel was lost",
        });
      }
    },
    probeMs,
  });
  core.hub = hub;
  const cs = toCSignature(signature);
  const table = encodeCallbackInfos(cs.callbacks, signature.list.map((c) => hub.pointerFor(c)));
  const sigBytes = encodeApiSignature(
    { ...cs, numCallbacks: cs.callbacks.length },
    cs.callbacks.length ? BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(table))) : 0n,
  );
  const out = new Uint8Array(8);
  const rc = await symbols.vmk_MgmtUserInit(sigBytes, options.cookie ?? 0n, out);
  if (rc !== 0) {
    hub.closeCallbacks();
    let hint: string | undefined;
    if (rc === 19) {
      hint = `no kernel module registered ${signature.name} by ${signature.vendor} at version ${
        signature.version.split(".").slice(0, 2).join(".")
      }.x.x`;
    } else if (rc === 5 && info.simulated) {
      hint = `cannot reach the simulated vmkernel at ${
        Deno.env.get("VMKMGMT_SIM_SOCKET") ?? "/tmp/vmkmgmt-<uid>/sim.sock"
      }; start it with \`deno task sim\``;
    }
    throw new VmkMgmtError(rc, { operation: "vmk_MgmtUserInit", signature: signature.name, hint });
  }
  handle = Deno.UnsafePointer.create(new DataView(out.buffer).getBigUint64(0, true));
  if (handle === null) {
    throw new VmkMgmtError(5, { operation: "vmk_MgmtUserInit", signature: signature.name });
  }
  core.handle = handle;
  const session = new Session(signature, info, core);
  try {
    await session.instances();
  } catch (e) {
    await session.close().catch(() => {});
    throw e;
  }
  return session;
}
