/**
 * The state of one session apart from its JavaScript object — handle, callbacks, event hub,
 * instance cache — and what can be done to it without the object: list instances, name an
 * event's instance, close. A `FinalizationRegistry` holds this, so a session dropped without
 * `close()` is still closed and its callbacks released.
 * @module
 */
import { NO_INSTANCE_ID } from "../abi/facts.ts";
import type { UserCallbacks } from "../ffi/callbacks.ts";
import type { NativeHandle } from "../ffi/handle.ts";
import type { CSignature } from "../ffi/layout.ts";
import type { LibraryInfo } from "../ffi/library.ts";
import { VmkMgmtError } from "./errors.ts";
import type { EventHub } from "./events.ts";
import type { Instance } from "./instance_ref.ts";
import type { Signature } from "./signature.ts";
import { type RecordableHandle, recordControl, recordingNow, recordInstances } from "./recording.ts";

/** Everything a session holds except its JavaScript object, so the finaliser can close it. */
export interface Core {
  signature: Signature;
  /** The C form of the signature, in the order of `signature.list`. */
  c: CSignature;
  library: LibraryInfo;
  /** Who answers the session (the simulator, or a bridge with its host and library), when the library says. */
  peer?: string;
  native: NativeHandle;
  /** The handle as a recording of this process's sessions sees it. */
  recordable: RecordableHandle;
  /** The thread-safe callbacks of the user-location callbacks. */
  callbacks: UserCallbacks;
  /** Event routing. */
  hub: EventHub;
  /** Instance cache by name, refreshed by every GetInstances. */
  byName: Map<string, Instance>;
  /** Instance cache by id, refreshed by every GetInstances. */
  byId: Map<bigint, Instance>;
  /** Calls waiting on C. */
  inFlight: number;
  /** Set once closing began. */
  closing?: Promise<void>;
  /** True once closing began. */
  closed: boolean;
  /** The library's drop counters as they were when the session closed. */
  finalDrops?: { kernel: number; library: number } | null;
}

/**
 * Ends delivery, destroys the handle, then closes the callbacks — unless Destroy failed: then the
 * library may still call them, and they are kept (unref'd, counted: `abandonedCallbackSets`).
 */
export async function closeCore(core: Core): Promise<void> {
  core.finalDrops = core.native.eventDrops();
  core.closed = true;
  core.hub.shutdown();
  await core.hub.settled();
  // Destroy ends delivery and joins the monitor thread; only then may the callbacks close.
  const t = recordingNow();
  const rc = await core.native.destroy();
  recordControl(core.recordable, "destroy", rc, t);
  if (rc === 0) return core.callbacks.close();
  // The library may still call them (and `destroy` has stopped the handle keeping the process alive).
  core.callbacks.abandon();
  throw new VmkMgmtError(rc, { operation: "vmk_MgmtUserDestroy", signature: core.signature.name });
}

/** GetInstances; refreshes the cache. Lives on the core so events never reference the session. */
export async function fetchInstances(core: Core): Promise<Instance[]> {
  core.inFlight++;
  let result: Awaited<ReturnType<NativeHandle["instances"]>>;
  const t = recordingNow();
  try {
    result = await core.native.instances();
  } finally {
    core.inFlight--;
  }
  recordInstances(core.recordable, result.rc, result.instances, t);
  if (result.rc !== 0) {
    throw new VmkMgmtError(result.rc, {
      operation: "vmk_MgmtUserGetInstances",
      signature: core.signature.name,
      hint: core.closed ? "the session was closed while the call was waiting" : undefined,
    });
  }
  const list = result.instances.map((e) => Object.freeze({ id: e.id, name: e.name }));
  core.byName = new Map(list.map((i) => [i.name, i]));
  core.byId = new Map(list.map((i) => [i.id, i]));
  return list;
}

/** Names the instance an event came from; an unknown id triggers a refresh for next time. */
export function eventInstance(core: Core, id: bigint): Instance | null {
  if (id === NO_INSTANCE_ID) return null;
  const known = core.byId.get(id);
  if (known) return known;
  if (!core.closed) fetchInstances(core).catch(() => {});
  return { id, name: `#${id}` };
}
