/**
 * Kernel-to-user callbacks at the C boundary: one `Deno.UnsafeCallback.threadSafe` per
 * user-location callback of a signature, called by the library's monitor thread. Each call's
 * parameter buffers live only during the call, so their bytes are copied out (through the
 * `vmk_MgmtVectorParm` layout for vectors) before the callback returns; what happens next is the
 * caller's business.
 *
 * Facts this module is built on (`ARCHITECTURE.md`, threads): a thread-safe callback blocks the
 * monitor thread until JavaScript has run it; one that is ref'd keeps the process alive; one that
 * is closed while C may still call it crashes the process; an exception thrown inside one is
 * swallowed by Deno — so every error is caught here and reported.
 *
 * @example
 * ```ts ignore
 * import { UserCallbacks } from "./callbacks.ts";
 * const cbs = new UserCallbacks(cSignature.callbacks, (ev) => console.log(ev), console.error);
 * cbs.pointers; // one address per callback, for vmk_MgmtCallbackInfo.callback
 * ```
 * @module
 */
import { DIRECTION_BY_CODE, isVector, LOCATION_CODE, MAX_VECTOR_BYTES } from "../abi/facts.ts";
import { type CCallback, LAYOUT } from "./layout.ts";

/** A kernel-to-user callback's bytes (copied out of C, or views its receiver must not keep: QueueSink). */
export interface RawEvent {
  readonly callbackId: bigint;
  /** The originating instance (0 for none). */
  readonly instanceId: bigint;
  /** Each parameter's bytes, in C order (a vector's data, not its `vmk_MgmtVectorParm`). */
  readonly params: Uint8Array[];
  /**
   * A view of the whole buffer the parameters lie in (from its byte 0), when they share one: the
   * decoder reads through it instead of making a view per parameter.
   */
  readonly buffer?: DataView;
}

/** The thread-safe callbacks of one signature; closed with {@link UserCallbacks.close}. */
export class UserCallbacks {
  /** Function addresses for the callback table, in order (0n for kernel-location callbacks). */
  readonly pointers: readonly bigint[];
  /** The address of the `(cookie, error)` callback for `vmkmgmt_UserOnDisconnect`. */
  readonly disconnectPointer: bigint;
  readonly #callbacks: Deno.UnsafeCallback[] = [];
  #refd = false;

  /**
   * Creates one unref'd thread-safe callback per user-location entry of `callbacks`, and one for
   * the end of delivery. `deliver` receives each event; `disconnected` hears the errno when the
   * kernel went away (after the last event); `report` hears what could not be delivered (with a
   * context such as `decoding linkEvent`), since nothing else would.
   */
  constructor(
    callbacks: readonly CCallback[],
    deliver: (event: RawEvent) => void,
    report: (error: unknown, context: string) => void,
    disconnected: (errno: number) => void = () => {},
  ) {
    this.pointers = callbacks.map((c) => {
      if (c.location !== LOCATION_CODE.user) return 0n;
      const definition = {
        parameters: ["u64", "u64", ...c.parmTypes.slice(0, c.numParms).map(() => "pointer" as const)],
        result: "void",
      } as const;
      const fn = (_cookie: bigint, instanceId: bigint, ...ptrs: Deno.PointerValue[]) => {
        try {
          deliver({ callbackId: c.callbackId, instanceId, params: copyParams(c, ptrs) });
        } catch (e) {
          report(e, `decoding ${c.label ?? `callback ${c.callbackId}`}`);
        }
      };
      const uc = Deno.UnsafeCallback.threadSafe(definition as Deno.UnsafeCallbackDefinition, fn as never);
      uc.unref();
      this.#callbacks.push(uc);
      return BigInt(Deno.UnsafePointer.value(uc.pointer));
    });
    const gone = Deno.UnsafeCallback.threadSafe(
      { parameters: ["u64", "i32"], result: "void" } as const,
      (_cookie: bigint, errno: number) => {
        try {
          disconnected(errno);
        } catch (e) {
          report(e, "ending delivery after the kernel went away");
        }
      },
    );
    gone.unref();
    this.#callbacks.push(gone as unknown as Deno.UnsafeCallback);
    this.disconnectPointer = BigInt(Deno.UnsafePointer.value(gone.pointer));
  }

  /**
   * Keeps the process alive (or lets it exit) while events are wanted. Deno counts `ref()`
   * calls, so they are made only when the wish changes.
   */
  keepAlive(on: boolean): void {
    if (on === this.#refd) return;
    this.#refd = on;
    for (const uc of this.#callbacks) on ? uc.ref() : uc.unref();
  }

  /** Closes the callbacks. Only once the handle is ended or destroyed: C must never call a closed one. */
  close(): void {
    for (const uc of this.#callbacks) uc.close();
    this.#callbacks.length = 0;
  }

  /**
   * Keeps the callbacks for good, without keeping the process alive: for a handle whose Destroy
   * failed, whose library may still call them (a closed one is a SIGSEGV). A leak, on purpose, and
   * counted ({@link abandonedCallbackSets}).
   */
  abandon(): void {
    this.keepAlive(false); // (made unref'd: only keepAlive refs them)
    if (this.#callbacks.length) abandoned++;
    this.#callbacks.length = 0;
  }
}

let abandoned = 0;

/** How many sets of callbacks were kept alive for good after a failed Destroy (each a small leak). */
export function abandonedCallbackSets(): number {
  return abandoned;
}

/** Copies each parameter out of the monitor thread's buffers. */
function copyParams(c: CCallback, ptrs: Deno.PointerValue[]): Uint8Array[] {
  const V = LAYOUT.vmk_MgmtVectorParm;
  const name = c.label ?? `callback ${c.callbackId}`;
  return ptrs.map((ptr, i) => {
    const param = c.paramLabels?.[i] ?? `parameter ${i + 1}`;
    if (ptr === null) throw new Error(`${name}: ${param} arrived as a NULL pointer`);
    const view = new Deno.UnsafePointerView(ptr);
    if (!isVector(DIRECTION_BY_CODE[c.parmTypes[i]])) {
      const bytes = new Uint8Array(c.parmSizes[i]);
      view.copyInto(bytes);
      return bytes;
    }
    const length = view.getBigUint64(V.length);
    const data = view.getPointer(V.dataPtr);
    if (length > BigInt(MAX_VECTOR_BYTES) || (length > 0n && data === null)) {
      throw new Error(`${name}: vector ${param} of ${length} bytes is not plausible`);
    }
    const bytes = new Uint8Array(Number(length));
    if (data) new Deno.UnsafePointerView(data).copyInto(bytes);
    return bytes;
  });
}
