/**
 * A session on one API signature: list instances, invoke kernel callbacks, receive kernel
 * events, close. Every input is checked against the signature before any C call; errors follow
 * the taxonomy of `errors.ts`. Sessions come from `open()` (`open.ts`).
 *
 * @example
 * ```ts ignore
 * import { open } from "./open.ts";
 * import { acmeNic } from "./demo/acme_nic.ts";
 * await using s = await open(acmeNic);
 * const { stats } = await s.invoke("getStats", { instance: "vmnic0" });
 * ```
 * @module
 */
import { ERRNO, NO_INSTANCE_ID, U64_MAX } from "../abi/facts.ts";
import { recordCall } from "./recording.ts";
import type { LibraryInfo } from "../ffi/library.ts";
import { didYouMean } from "../util/suggest.ts";
import { argumentCodec } from "./arguments_codegen.ts";
import { ParamBlocks } from "./param_blocks.ts";
import { CallerBuffers } from "./types/type.ts";
import { Invocation, type InvocationHost, type Plan } from "./invocation.ts";
import { Deadline } from "./cancel.ts";
import { inSlice } from "./slices.ts";
import { closedError, type ErrorContext, ValueError, VmkMgmtError } from "./errors.ts";
import type { EventStream, KernelEvent, StreamOptions, WaitOptions } from "./events.ts";
import { findInstance, type Instance, parseInstanceRef } from "./instance_ref.ts";
import { closeCore, type Core, fetchInstances } from "./session_core.ts";
import type {
  AnyEventOf,
  Callbacks,
  EventOf,
  InvokeArgs,
  InvokeOptions,
  SessionStats,
} from "./session_types.ts";
import { type CallbackInfo, CallbackLookupError, type Signature, type SignatureDef } from "./signature.ts";
import type { EventName, InvokeResult, KernelCallbackName } from "./signature_types.ts";

const registry = new FinalizationRegistry<Core>((core) => {
  if (!core.closing) core.closing = closeCore(core).catch(() => {});
});

/**
 * The functions of the promise last made with {@link takeSettlers} as its executor: one executor for
 * every call, where a closure per call would allocate a context for what it captures.
 */
const settlers: { resolve: (value: never) => void; reject: (reason: unknown) => void } = {
  resolve: () => {},
  reject: () => {},
};
function takeSettlers(resolve: (value: never) => void, reject: (reason: unknown) => void): void {
  settlers.resolve = resolve;
  settlers.reject = reject;
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
  /** Which library answers: its path, and whether it is the simulator's, the vendor's or a bridge's. */
  readonly library: LibraryInfo;
  readonly #core: Core;
  readonly #plans = new Map<string, Plan>();
  /** What each call's {@link Invocation} needs of this session. */
  readonly #host: InvocationHost;

  /** @internal use `open()`. */
  constructor(core: Core) {
    this.signature = core.signature as Signature<D>;
    this.library = core.library;
    this.#core = core;
    this.#host = {
      core,
      assertOpen: (operation) => this.#assertOpen(operation),
      instanceId: (ref, callback) => this.#instanceId(ref, callback),
      error: (rc, ctx) => this.#error(rc, ctx),
      instanceLabel: (id) => this.#instanceLabel(id),
    };
    registry.register(this, core, this);
  }

  /**
   * Who answers this session, as it named itself when the session opened: `"vmkmgmt simulator"`,
   * or `"vmkmgmt-bridge 1.0.0 on esxi01, /lib64/libvmkmgmt.so"` for a host reached through the
   * bridge; undefined with a library that cannot tell (ESXi's own).
   */
  get peer(): string | undefined {
    return this.#core.peer;
  }

  /** True after {@link close}. */
  get closed(): boolean {
    return this.#core.closed;
  }

  /**
   * Event delivery counters, calls in flight, and the events lost below JavaScript: dropped by the
   * kernel or the library because the session did not keep up.
   */
  get stats(): SessionStats {
    const core = this.#core;
    const drops = core.closed ? core.finalDrops ?? null : core.native.eventDrops();
    return {
      ...core.hub.stats,
      inFlight: core.inFlight,
      kernelDropped: drops?.kernel ?? null,
      libraryDropped: drops?.library ?? null,
    };
  }

  #ctx(extra: Partial<ErrorContext> & { operation: string }): ErrorContext {
    return { signature: this.signature.name, ...extra };
  }

  #assertOpen(operation: string): void {
    if (this.#core.closed) throw closedError(this.#ctx({ operation }));
  }

  /**
   * Lists the kernel instances serving this API (and refreshes the name cache).
   * @throws {VmkMgmtError} from the library (`EBADF` once closed).
   */
  async instances(): Promise<Instance[]> {
    this.#assertOpen("instances");
    try {
      return await fetchInstances(this.#core);
    } catch (e) {
      throw e instanceof VmkMgmtError ? this.#error(e.errno, { operation: e.operation }) : e;
    }
  }

  /**
   * Finds one instance by id or name, asking the kernel when it is not known yet.
   * @throws {ValueError} for a reference that cannot name an instance (none, `1.5`, `-1`, an id past 2⁶⁴−1).
   * @throws {VmkMgmtError} `ENOENT` when no instance matches (listing those there are).
   */
  async instance(ref: string | bigint | number): Promise<Instance> {
    const parsed = parseInstanceRef(ref);
    if (parsed.kind === "none") throw new ValueError("instance", "expected an instance id or name");
    const find = () => findInstance(this.#core.byId.values(), parsed);
    const found = find() ?? (await this.instances(), find());
    if (!found) throw this.#unknownInstance(String(ref), "instance");
    return found;
  }

  #unknownInstance(ref: string, operation: string, callback?: string): VmkMgmtError {
    const names = [...this.#core.byName.keys()];
    return new VmkMgmtError(
      ERRNO.ENOENT,
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
    if (this.#core.closed && (rc === ERRNO.EIO || rc === ERRNO.EINVAL)) {
      return new VmkMgmtError(
        rc,
        this.#ctx({ ...ctx, hint: "the session was closed while the call was waiting" }),
      );
    }
    let hint = ctx.hint;
    if (rc === ERRNO.EIO && this.library.simulated) {
      // EIO alone does not say which: the session or the simulator gone, or this one call failed
      // in the kernel. Tools that can ask (the REPL) say which.
      hint = "the simulator went away or dropped this session, or the call failed in the kernel (a handler " +
        "error or an injected fault: `deno task sim ctl errors` says which)";
    }
    return new VmkMgmtError(rc, this.#ctx({ ...ctx, hint }));
  }

  #plan(name: string, operation: string): Plan {
    let plan = this.#plans.get(name);
    if (plan) return plan;
    let cb: CallbackInfo;
    try {
      cb = this.signature.kernelCallback(name);
    } catch (e) {
      if (!(e instanceof CallbackLookupError)) throw e;
      const advice = e.found ? `; receive it with events("${name}") or on("${name}", …)` : "";
      throw new TypeError(`${operation}: ${e.message}${advice}`);
    }
    const c = this.#core.c.callbacks[this.signature.list.indexOf(cb)];
    plan = {
      cb,
      c,
      call: this.#core.native.call(c),
      blocks: ParamBlocks.of(cb),
      args: argumentCodec(cb),
    };
    this.#plans.set(name, plan);
    return plan;
  }

  /** The instance id an invoke addresses; every form is checked to be a `vmk_uint64`. */
  #instanceId(ref: unknown, callback: string): bigint {
    // (the common form checked here, with no parsed object made for it on every call)
    if (typeof ref === "bigint" && ref >= 0n && ref <= U64_MAX) return ref;
    let parsed;
    try {
      parsed = parseInstanceRef(ref);
    } catch (e) {
      if (e instanceof ValueError) throw new ValueError(e.path, e.reason, `invoke ${callback}: `);
      throw e;
    }
    if (parsed.kind === "none") return NO_INSTANCE_ID;
    if (parsed.kind === "id") return parsed.id;
    const inst = this.#core.byName.get(parsed.name);
    if (!inst) throw this.#unknownInstance(parsed.name, "invoke", callback);
    return inst.id;
  }

  #instanceLabel(id: bigint): string | undefined {
    if (id === NO_INSTANCE_ID) return undefined;
    const inst = this.#core.byId.get(id);
    return inst ? `${inst.name} (${id})` : String(id);
  }

  /**
   * Invokes a kernel callback and resolves with its out, inout and vector-out values (async
   * callbacks resolve with `{}` once queued). `input.instance` names the target instance.
   * Everything is checked — callback, instance, parameters, options, an already-aborted signal —
   * before any C call.
   * @throws {TypeError} an unknown callback, or a kernel event. @throws {ValueError} a bad
   * parameter or instance, naming it. @throws {RangeError} a bad `timeout`.
   * @throws {VmkMgmtError} the library's or kernel's errno; `ETIMEDOUT` on timeout; `EBADF` once
   * closed. An abort rejects with the signal's reason.
   */
  invoke<K extends KernelCallbackName<D>>(
    callback: K,
    ...args: InvokeArgs<Callbacks<D>[K]>
  ): Promise<InvokeResult<Callbacks<D>[K]>>;
  // (Plain parameters behind the typed form: a rest parameter would be an array made per call.)
  invoke(callback: string, input?: Record<string, unknown>, options?: InvokeOptions): Promise<unknown> {
    try {
      this.#assertOpen("invoke");
      const plan = this.#plan(callback, "invoke");
      if (options !== undefined) return this.#invokeWithin(plan, callback, input, options);
      this.#core.inFlight++;
      // One promise per call, settled by the call's own object (invocation.ts); checked, encoded
      // and submitted in this turn's slice (slices.ts): a burst of calls made at once lets timers
      // and I/O in between.
      const call = new Promise(takeSettlers);
      inSlice(
        new Invocation(this.#host, plan, callback, input, undefined, settlers.resolve, settlers.reject),
      );
      return call;
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * {@link invoke} with a timeout or signal. Apart, so that a call without them allocates nothing
   * for them: the deadline's error reads the invocation, and a closure over it anywhere in a
   * function gives every call of that function a context to hold it.
   */
  #invokeWithin(
    plan: Plan,
    callback: string,
    input: Record<string, unknown> | undefined,
    options: InvokeOptions,
  ): Promise<unknown> {
    // (the error is built only when the timer fires, after `invocation` below exists)
    const limit = Deadline.of(options, () =>
      new VmkMgmtError(
        ERRNO.ETIMEDOUT,
        this.#ctx({
          operation: "invoke",
          callback,
          instance: invocation.instance === undefined ? undefined : this.#instanceLabel(invocation.instance),
          hint: `no reply within ${options.timeout} ms (the kernel callback may still complete)`,
        }),
      ));
    if (limit.signal.aborted) return Promise.reject(limit.signal.reason);
    this.#core.inFlight++;
    const call = new Promise(takeSettlers);
    const invocation = new Invocation(
      this.#host,
      plan,
      callback,
      input,
      limit === Deadline.none ? undefined : limit.signal,
      settlers.resolve,
      settlers.reject,
    );
    inSlice(invocation);
    return limit.race(call);
  }

  /**
   * Like {@link invoke}, but blocks the event loop until the kernel answers — for tight loops
   * that accept that. Timers, I/O and event handlers do not run meanwhile; do not use it while
   * the same process serves the kernel (an in-process simulator would deadlock).
   * @throws the same errors as {@link invoke}, synchronously.
   */
  invokeSync<K extends KernelCallbackName<D>>(
    callback: K,
    ...[input]: InvokeArgs<Callbacks<D>[K]>
  ): InvokeResult<Callbacks<D>[K]> {
    this.#assertOpen("invokeSync");
    const plan = this.#plan(callback, "invokeSync");
    const inst = this.#instanceId((input as { instance?: unknown } | undefined)?.instance, callback);
    const pinned = new CallerBuffers();
    const block = plan.blocks.take();
    try {
      const data = plan.args.encode(input as Record<string, unknown>, pinned, block);
      const recorded = recordCall(this.#core.recordable, plan.c, inst, data, pinned.list);
      const rc = plan.call.invokeSync(inst, data, pinned.list);
      recorded?.end(rc);
      if (rc !== 0) {
        throw this.#error(rc, { operation: "invokeSync", callback, instance: this.#instanceLabel(inst) });
      }
      return plan.args.decode(data, pinned, block, input as Record<string, unknown>) as InvokeResult<
        Callbacks<D>[K]
      >;
    } finally {
      // The call has returned: C no longer touches the buffers.
      plan.blocks.give(block);
    }
  }

  /**
   * Async iterator of one kernel event's deliveries. Leaving the loop unsubscribes.
   * @throws {TypeError} an unknown event. @throws {RangeError} a bad `buffer`.
   * @throws {VmkMgmtError} `EBADF` once closed; while iterating, `EIO` when the kernel is gone.
   */
  events<E extends EventName<D>>(name: E, options?: StreamOptions): EventStream<EventOf<D, E>>;
  /** Async iterator of every kernel event of the session. Leaving the loop unsubscribes. */
  events(name?: null, options?: StreamOptions): EventStream<AnyEventOf<D>>;
  events(name: string | null = null, options?: StreamOptions): EventStream<KernelEvent> {
    return this.#core.hub.stream(name, options);
  }

  /**
   * Calls `handler` for every event of `name`; returns a function that unsubscribes.
   * @throws {TypeError} an unknown event or a handler that is not a function.
   * @throws {VmkMgmtError} `EBADF` once closed.
   */
  on<E extends EventName<D>>(name: E, handler: (event: EventOf<D, E>) => unknown): () => void;
  /** Calls `handler` for every event of the session; returns a function that unsubscribes. */
  on(name: "*", handler: (event: AnyEventOf<D>) => unknown): () => void;
  on(name: string, handler: (event: never) => unknown): () => void {
    return this.#core.hub.on(name === "*" ? null : name, handler as (e: KernelEvent) => unknown);
  }

  /**
   * Resolves with the next event of `name` that passes `filter`.
   * @throws {TypeError} an unknown event or filter. @throws {RangeError} a bad `timeout`.
   * @throws {VmkMgmtError} `ETIMEDOUT` on timeout, `EBADF` when the session is or gets closed,
   * `EIO` when the kernel is gone. An abort rejects with the signal's reason.
   */
  waitFor<E extends EventName<D>>(name: E, options?: WaitOptions<EventOf<D, E>>): Promise<EventOf<D, E>> {
    return this.#core.hub.waitFor(name, options as WaitOptions<KernelEvent>) as Promise<EventOf<D, E>>;
  }

  /**
   * Ends event delivery, destroys the handle, then closes the callbacks. Idempotent.
   * @throws {VmkMgmtError} when `vmk_MgmtUserDestroy` fails.
   */
  close(): Promise<void> {
    if (!this.#core.closing) {
      registry.unregister(this);
      this.#core.closing = closeCore(this.#core);
    }
    return this.#core.closing;
  }

  /** `await using` support. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
