/**
 * The kernel-side module API of the simulated vmkernel: a module is a signature from `mgmt/`,
 * its instances, a handler per kernel callback, hooks when a session opens and closes, and
 * optional background work and control ops. Like a real driver it may register more APIs at any
 * time (`kernel.registerApi`, e.g. one per controller, named at run time) and remove them.
 *
 * @example
 * ```ts
 * import { defineModule } from "./module.ts";
 * import { acmeNic } from "../mgmt/demo/acme_nic.ts";
 * export default defineModule({
 *   signature: acmeNic,
 *   instances: [{ id: 1n, name: "vmnic0" }],
 *   handlers: { triggerEvents: ({ params, kernel, session }) => {
 *     kernel.emit("linkEvent", { state: { up: 1, speedMbps: 10 } }, { session });
 *     return {};
 *   } },
 * });
 * ```
 * @module
 */
import type { Direction } from "../abi/facts.ts";
import type { Signature, SignatureDef } from "../mgmt/signature.ts";
import type {
  EventName,
  EventParams,
  InvokeParams,
  InvokeResult,
  KernelCallbackName,
} from "../mgmt/signature_types.ts";

/** A kernel instance of an API. */
export interface KernelInstance {
  /** Instance id (non-zero). */
  readonly id: bigint;
  /** Instance name, 1..31 bytes. */
  readonly name: string;
}

/** Where a kernel-to-user callback goes. */
export interface EmitOptions {
  /** Originating instance (id, name or instance); none (id 0) by default. */
  instance?: bigint | number | string | KernelInstance | null;
  /** One session id; all sessions of the API when omitted. */
  session?: number;
}

/** What a module can do with the kernel. */
export interface ModuleContext<D extends SignatureDef = SignatureDef> {
  /** The API's signature, for typed emits and the handlers' types. */
  readonly signature: Signature<D>;
  /**
   * Sends a user-location callback to one session or to all sessions of the API.
   * Returns how many sessions it was queued for; 0 means "not found" and the event is dropped.
   */
  emit<E extends EventName<D>>(
    event: E,
    params: EventParams<D["callbacks"][E]>,
    options?: EmitOptions,
  ): number;
  /** The current instances. */
  instances(): KernelInstance[];
  /** Finds an instance by id or name. */
  instance(ref: bigint | number | string): KernelInstance | undefined;
  /** Registers an instance (at most 32). */
  addInstance(id: bigint | number, name: string): KernelInstance;
  /** Unregisters an instance; later calls to it fail with ENOENT. */
  removeInstance(ref: bigint | number | string): boolean;
  /** Session ids currently connected to this API. */
  sessions(): number[];
  /**
   * Registers another API served by this module (a driver's per-controller API, named at run
   * time); APIs are unique by name and vendor. Returns its context.
   * @throws {Error} when an API of that name and vendor is registered already.
   */
  registerApi<D2 extends SignatureDef>(api: ApiDefinition<D2>): ModuleContext<D2>;
  /** Unregisters this API: its sessions are closed (their calls fail with EIO), new ones get ENODEV. */
  unregister(): boolean;
  /** This API is still registered. */
  readonly registered: boolean;
}

/** A session as the kernel-side hooks see it. */
export interface SessionRef {
  /** The simulator's session id, unique while it runs. */
  readonly id: number;
  /** The client's process id. */
  readonly pid: number;
}

/** One API a module serves: what `registerApi` takes (a module is one, plus its start and controls). */
export interface ApiDefinition<D extends SignatureDef = SignatureDef> {
  /** The API it registers. */
  readonly signature: Signature<D>;
  /** Instances registered at start. */
  readonly instances?: readonly { id: bigint | number; name: string }[];
  /** Handlers by kernel callback name; a callback without one answers zeroed outputs. */
  readonly handlers: { readonly [K in KernelCallbackName<D>]?: Handler<D, D["callbacks"][K]> };
  /**
   * Answers every call from its bytes, before any handler and without decoding (a replay of a
   * recording, `sim/replay.ts`); the handlers are not used then.
   */
  readonly answer?: (call: RawCall, kernel: ModuleContext<D>) => RawReply | Promise<RawReply>;
  /** Called when a session opens on the API (a driver's session-announce function). */
  readonly sessionOpened?: (session: SessionRef, kernel: ModuleContext<D>) => void;
  /** Called when a session on the API closes (a driver's session-cleanup function). */
  readonly sessionClosed?: (session: SessionRef, kernel: ModuleContext<D>) => void;
}

/** A call as bytes, for {@link ApiDefinition.answer}. */
export interface RawCall {
  /** The calling session. */
  readonly session: number;
  /** The instance invoked (0: none). */
  readonly instanceId: bigint;
  /** The kernel callback called, by id (undecoded: `answer` works from bytes). */
  readonly callbackId: bigint;
  /** Whether the caller waits for the answer (a sync callback). */
  readonly sync: boolean;
  /** Each parameter: its direction by the kernel's table, size, length, and the bytes that came. */
  readonly params: readonly {
    readonly kernelDir: Direction;
    readonly size: number;
    readonly length: number;
    readonly data?: Uint8Array;
  }[];
  /**
   * Reads the caller's memory (a sync call's, while it runs; EFAULT as a {@link KernelError} for an
   * address it cannot read).
   */
  readonly copyFromUser: (address: bigint, length: number) => Promise<Uint8Array>;
  /** Writes the caller's memory (likewise). */
  readonly copyToUser: (address: bigint, data: Uint8Array) => Promise<void>;
}

/** The answer to a {@link RawCall}: a status, and on 0 the bytes each returning parameter gets. */
export interface RawReply {
  /** 0, or the errno the call fails with. */
  readonly status: number;
  /** By parameter: exactly its length, for the parameters the kernel's table returns. */
  readonly data?: readonly (Uint8Array | undefined)[];
}

/** What a kernel callback handler receives. */
export interface CallContext<D extends SignatureDef, C> {
  /** The instance invoked, or null for `VMK_MGMT_NO_INSTANCE_ID`. */
  readonly instance: KernelInstance | null;
  /** The calling session's id. */
  readonly session: number;
  /**
   * Decoded in/inout/vector parameters; for vectorOut, the capacity in elements. Every one is
   * there (a caller may leave out an ioctl-style payload the kernel fills; the kernel still gets it).
   */
  readonly params: Required<InvokeParams<C>>;
  /** The kernel, for emitting events and managing instances. */
  readonly kernel: ModuleContext<D>;
  /**
   * `vmk_CopyFromUser`: reads `length` bytes (at most 64 MiB) at `address` in the calling process —
   * a buffer whose address the caller put in a payload struct. Only during a sync call.
   * @throws {KernelError} `EFAULT` for a bad or unmapped address, or outside a sync call (a driver
   * then reports an error status, as a real one does).
   */
  copyFromUser(address: bigint, length: number): Promise<Uint8Array>;
  /**
   * `vmk_CopyToUser`: writes `data` (at most 64 MiB) at `address` in the calling process. Only
   * during a sync call.
   * @throws {KernelError} `EFAULT` for a bad or unmapped address, or outside a sync call.
   */
  copyToUser(address: bigint, data: Uint8Array): Promise<void>;
}

/** A kernel callback handler: returns the out/inout/vectorOut values (missing ones are zero). */
export type Handler<D extends SignatureDef, C> = (
  call: CallContext<D, C>,
) => Partial<InvokeResult<C>> | void | Promise<Partial<InvokeResult<C>> | void>;

/** A kernel-side module: the API it registers first, its background work and control ops. */
export interface KernelModule<D extends SignatureDef = SignatureDef> extends ApiDefinition<D> {
  /** Background work (periodic events…); returns a function that stops it. */
  readonly start?: (kernel: ModuleContext<D>) => void | (() => void);
  /** Module-specific control operations (`deno task sim ctl OP …`), taking JSON arguments. */
  readonly controls?: Readonly<
    Record<string, { doc: string; run: (kernel: ModuleContext<D>, args: Record<string, unknown>) => unknown }>
  >;
}

/** A handler may throw this to make the call fail with an errno (a simulator convenience). */
export class KernelError extends Error {
  /** The errno the call returns. */
  readonly errno: number;
  /** Builds the error. */
  constructor(errno: number, message = `kernel error ${errno}`) {
    super(message);
    this.name = "KernelError";
    this.errno = errno;
  }
}

/** Declares a module with its types checked against the signature. */
export function defineModule<D extends SignatureDef>(module: KernelModule<D>): KernelModule<D> {
  return module;
}
