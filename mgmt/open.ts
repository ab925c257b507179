/**
 * `open(signature)`: loads the library, builds the C signature with a thread-safe callback for
 * each user-location callback, calls `vmk_MgmtUserInit` and returns a {@link Session}.
 *
 * @example
 * ```ts ignore
 * import { open } from "./open.ts";
 * import { acmeNic } from "./demo/acme_nic.ts";
 * await using s = await open(acmeNic, { healthCheckMs: 1000 });
 * ```
 * @module
 */
import { ERRNO, HOST_ENV, LOCAL_HOST, simSocketPathForMessages, U64_MAX } from "../abi/facts.ts";
import { UserCallbacks } from "../ffi/callbacks.ts";
import { CompletionQueue } from "../ffi/completion_queue.ts";
import { NativeHandle } from "../ffi/handle.ts";
import { type LibraryInfo, loadLibrary } from "../ffi/library.ts";
import type { VmkMgmtSymbols } from "../ffi/symbols.ts";
import { VmkMgmtError } from "./errors.ts";
import { EventHub, type HubHost } from "./events.ts";
import { signatureBufferFields } from "./buffer_fields.ts";
import { Session } from "./session.ts";
import { type Core, eventInstance, fetchInstances } from "./session_core.ts";
import { type RecordableHandle, recordControl, recordEvent, recordingNow, recordInit } from "./recording.ts";
import { type Signature, type SignatureDef, toCSignature } from "./signature.ts";

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
  /**
   * The host whose kernel to drive: `[user@]host[:port]` runs `vmkmgmt-bridge` there over ssh
   * (`VMKMGMT_SSH`: ssh options; `VMKMGMT_BRIDGE`: the remote command), `"@local"` runs the
   * bridge command here. Default: `VMKMGMT_HOST`, else this machine. Needs our library.
   */
  host?: string;
}

function checkOpenOptions(options: OpenOptions): number {
  if (options === null || typeof options !== "object") {
    throw new TypeError(`open: options must be an object, got ${String(options)}`);
  }
  const probeMs = options.healthCheckMs ?? 2000;
  if (typeof probeMs !== "number" || !Number.isFinite(probeMs) || probeMs < 0) {
    throw new RangeError(
      `open: healthCheckMs must be milliseconds ≥ 0 (0 disables), got ${options.healthCheckMs}`,
    );
  }
  if (options.host !== undefined && (typeof options.host !== "string" || options.host === "")) {
    throw new TypeError(
      `open: host must be "[user@]host[:port]" or "@local", got ${JSON.stringify(options.host)}`,
    );
  }
  const cookie = options.cookie;
  if (cookie !== undefined && (typeof cookie !== "bigint" || cookie < 0n || cookie > U64_MAX)) {
    throw new RangeError(`open: cookie must be a bigint 0..${U64_MAX}, got ${String(cookie)}`);
  }
  return probeMs;
}

/**
 * Opens a session: loads the library, builds the C signature (with a thread-safe callback for
 * each user-location callback), calls `vmk_MgmtUserInit` and fetches the instances.
 * @throws {TypeError} not a signature. @throws {RangeError} a bad option.
 * @throws {LibraryError} no usable library. @throws {VmkMgmtError} `ENODEV` when no kernel module
 * serves the signature, `EIO` when the kernel cannot be reached.
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
  const probeMs = checkOpenOptions(options);
  const { symbols, info } = await loadLibrary(options.library);
  const report = options.onError ?? ((e: unknown, context: string) => {
    console.error(`vmkmgmt: ${context} failed:`, e);
  });
  const c = toCSignature(signature);
  // The hub and the callbacks exist before the handle (their pointers go into its table); what
  // they do reaches the core, made once the handle is there, through `late`.
  const late: Late = { watched: false };
  const lost = () => lostKernel(signature.name, info.simulated);
  const hub = new EventHub(signature, hubHost(late, report, lost, probeMs));
  const callbacks = new UserCallbacks(
    c.callbacks,
    (raw) => {
      recordEvent(late.core!.recordable, raw);
      hub.dispatch(raw);
    },
    report,
    () => hub.kernelGone(lost()),
  );
  const buffers = signatureBufferFields(signature);
  const recordable: RecordableHandle = {
    c,
    cookie: options.cookie ?? 0n,
    ...(options.host === undefined ? {} : { host: options.host }),
    buffers,
    initWith: symbols.vmkmgmt_UserInitWith !== undefined,
    instances: () => [...(late.core?.byId.values() ?? [])],
  };
  const t = recordingNow();
  const cookie = options.cookie ?? 0n;
  const init = await NativeHandle.init(symbols, c, cookie, callbacks.pointers, {
    host: options.host,
    buffers,
  });
  recordInit(recordable, init.rc, t);
  if (init.rc !== 0 || !init.handle) {
    callbacks.close();
    throw await initFailure(init.rc, init.why, signature, symbols, info, options.host);
  }
  const handle = init.handle;
  const core: Core = {
    signature,
    c,
    library: info,
    peer: handle.peer() ?? undefined,
    native: handle,
    recordable,
    callbacks,
    hub,
    byName: new Map(),
    byId: new Map(),
    inFlight: 0,
    closed: false,
  };
  late.core = core;
  late.watched = attachToQueue(core, symbols, report, lost) ||
    handle.onDisconnect(callbacks.disconnectPointer);
  const session = new Session<D>(core);
  try {
    await session.instances();
  } catch (e) {
    await session.close().catch(() => {});
    throw e;
  }
  return session;
}

/** What the hub and the callbacks reach once the handle exists. */
interface Late {
  core?: Core;
  /** The library says when the kernel goes away (no probing needed). */
  watched: boolean;
}

/** The hub's view of its session: Begin and End (as a recording sees them), liveness, instances, probing. */
function hubHost(
  late: Late,
  report: (e: unknown, context: string) => void,
  lost: () => VmkMgmtError,
  probeMs: number,
): HubHost {
  const core = () => late.core!;
  const check = (operation: string) => (rc: number) => {
    if (rc !== 0) throw new VmkMgmtError(rc, { operation, signature: core().signature.name });
  };
  // Begin and End as a recording of this process's sessions sees them (recording.ts).
  const control = (op: "begin" | "end", run: () => Promise<number>) => () => {
    const t = recordingNow();
    return run().then((rc) => {
      recordControl(core().recordable, op, rc, t);
      return rc;
    }).then(check(op === "begin" ? "vmk_MgmtUserBegin" : "vmk_MgmtUserEnd"));
  };
  return {
    begin: control("begin", () => core().native.begin()),
    end: control("end", () => core().native.end()),
    // Through our library's completion queue, events wake JavaScript through the queue's callback.
    keepAlive: (on) => {
      if (late.core && !late.core.native.listen(on)) late.core.callbacks.keepAlive(on);
    },
    instance: (id) => eventInstance(core(), id),
    report,
    probe: async () => {
      try {
        await fetchInstances(core());
      } catch (e) {
        if (!(e instanceof VmkMgmtError) || e.errno !== ERRNO.EIO) throw e;
        throw lost();
      }
    },
    // Our library says when the kernel goes away; only a library that cannot needs probing.
    get probeMs() {
      return late.watched ? 0 : probeMs;
    },
  };
}

/** The error events end with when the kernel is gone. */
function lostKernel(signature: string, simulated: boolean): VmkMgmtError {
  return new VmkMgmtError(ERRNO.EIO, {
    operation: "event delivery",
    signature,
    hint: simulated
      ? "the connection to the simulator was lost; is `deno task sim` still running?"
      : "the connection to the kernel was lost",
  });
}

/**
 * Sends the session's calls and events through our library's completion queue (no thread per
 * call); false with another library: then the blocking pool, and the user callbacks on the
 * library's monitor thread.
 */
function attachToQueue(
  core: Core,
  symbols: VmkMgmtSymbols,
  report: (e: unknown, context: string) => void,
  lost: () => VmkMgmtError,
): boolean {
  const queue = CompletionQueue.of(symbols);
  return queue !== null && core.native.attachQueue(queue, {
    event: (raw) => {
      try {
        recordEvent(core.recordable, raw);
        core.hub.dispatch(raw);
      } catch (e) {
        report(e, `decoding ${core.signature.byId(raw.callbackId)?.name ?? `callback ${raw.callbackId}`}`);
      }
    },
    disconnected: () => core.hub.kernelGone(lost()),
  });
}

/** The error a failed Init throws, with what is known of why (ours, the kernel's, the bridge's words). */
async function initFailure(
  rc: number,
  why: string | undefined,
  signature: Signature,
  symbols: VmkMgmtSymbols,
  info: LibraryInfo,
  hostOption: string | undefined,
): Promise<VmkMgmtError> {
  // The simulator runs on this machine also behind a bridge started here ("@local").
  const host = remoteHost(hostOption);
  const local = host === undefined || host === LOCAL_HOST;
  const startSim = rc === ERRNO.EIO && info.simulated && local ? "; start it with `deno task sim`" : "";
  let hint: string | undefined;
  if (rc === ERRNO.ENODEV) {
    // Our words for what must match, then the kernel's (or the bridge's) for what did not.
    hint = `no kernel module registered ${signature.name} by ${signature.vendor} at version ${
      signature.version.split(".").slice(0, 2).join(".")
    }.x.x${why ? ` (${why})` : ""}`;
  } else if (why) {
    hint = `${why}${startSim}`;
  } else {
    // An older library of ours has no vmkmgmt_UserInitWith: ask it for the words.
    const diagnosis = rc === ERRNO.EACCES || rc === ERRNO.EIO
      ? await NativeHandle.checkKernel(symbols)
      : null;
    if (diagnosis && diagnosis.rc === rc) hint = `${diagnosis.why}${startSim}`;
    else if (startSim) {
      hint = `cannot reach the simulated vmkernel at ${simSocketPathForMessages()}${startSim}`;
    }
  }
  return new VmkMgmtError(rc, { operation: "vmk_MgmtUserInit", signature: signature.name, hint });
}

/** The host a session goes to: the option, else `VMKMGMT_HOST`; undefined for this machine. */
function remoteHost(option: string | undefined): string | undefined {
  return option ?? (Deno.env.get(HOST_ENV) || undefined);
}
