/**
 * Replaying a trace (`deno task sim --replay TRACE`): the simulator plays the kernel a recording
 * saw. Every API the recorded program opened is registered with its recorded table (parameters as
 * bytes of their sizes) and instances; each INVOKE is matched to a recorded call of the session's
 * recorded handle and answered with the recorded status and bytes; recorded events are sent after
 * the call that preceded them.
 *
 * Sessions map to recorded handles in the order they open, per API (the second session of an API
 * plays the second handle the program made of it). Strict: a session's calls must come in the
 * recorded order, each with the same callback, instance and bytes going in — where the recording
 * tells an order: calls that overlapped in time (threads, calls in flight together) may come in
 * either. Loose: a call may match
 * any recorded call of its handle not used yet with the same callback, instance and bytes. A call
 * that matches nothing fails with the errno chosen (EIO by default) and a line naming it and its
 * first differing byte against the nearest recorded call.
 *
 * Caller buffers behind pointer members (where the recording followed them: TRACE.md): the
 * pointers' own bytes are left out of the comparison (addresses differ run to run), the bytes a
 * buffer held going in are part of the call (read from the caller, compared), and the bytes the
 * kernel left in a buffer are written to the caller's buffer before the answer.
 *
 * What it gives up: a pointer member the recording did not follow replays as plain bytes (its
 * address must then be the same, and its buffer is not written); an `out` buffer gets all the
 * bytes it held after the recorded call, also those the kernel did not write; an API whose
 * instances changed during the recording serves every instance it ever listed.
 * @module
 */
import { ERRNO, isVector, MAX_INSTANCES, returnsData } from "../abi/facts.ts";
import { defineSignature, type Signature, type SignatureDef } from "../mgmt/signature.ts";
import { t } from "../mgmt/t.ts";
import {
  bufferName,
  pointerBytes,
  type Trace,
  type TraceBufferField,
  type TraceEvent,
  type TraceInit,
  type TraceInvoke,
} from "../mgmt/trace/mod.ts";
import { KernelError, type KernelModule, type ModuleContext, type RawCall, type RawReply } from "./module.ts";
import { MAX_PAYLOAD } from "./frames.ts";
import { replyPayloadSize } from "./payloads.ts";
import { firstDifference, hexByte } from "../util/hex.ts";

/** How a replay matches calls and answers the ones that match nothing. */
export interface ReplayOptions {
  /** Calls in the recorded order (default), or any unused recorded call that is the same. */
  readonly strict?: boolean;
  /** The errno of a call that matches nothing (default EIO). */
  readonly errno?: number;
  /** Where the lines about unmatched calls go (stderr by default). */
  readonly log?: (line: string) => void;
  /**
   * Events at their recorded offsets: as long after the call that caused them arrives (or the
   * session opens) as they came after it in the recording; by default as soon as their place
   * among the calls allows.
   */
  readonly timing?: boolean;
}

/** What a replay did. */
export interface ReplaySummary {
  /** Calls answered from the recording. */
  readonly matched: number;
  /** Calls that matched no recorded call. */
  readonly unmatched: number;
  /** Recorded calls no session made. */
  readonly unused: number;
  /** Every call matched and every recorded call made. */
  readonly exact: boolean;
}

/** One handle the program made, as recorded. */
interface RecordedHandle {
  readonly init: TraceInit;
  readonly calls: TraceInvoke[];
  /** Which of `calls` a session used. */
  readonly used: boolean[];
  /** Events sent when the session opens (none of the program's calls came before them). */
  readonly atOpen: TraceEvent[];
  /** Indexes of `calls` by when each began. */
  readonly byStart: number[];
  /** Indexes of `calls` by the thread that made them, in order. */
  readonly threads: Map<number, number[]>;
  /** Threads whose calls overlapped in time with another thread's (the program ran them at once). */
  readonly concurrent: Set<number>;
  /** The pointer members the recorder followed, by callback. */
  readonly pointers: Map<bigint, TraceBufferField[]>;
}

/** One session of the replay: the recorded handle it plays, and how far it has come. */
interface Playing {
  readonly handle: RecordedHandle;
  /** Where the calls not made yet begin: in `calls` (the order they ended), in `byStart`. */
  firstUnused: number;
  firstUnstarted: number;
  /** Per concurrent thread: how many of its calls are made. */
  readonly made: Map<number, number>;
}

const apiKey = (name: string, vendor: string) => `${name}\0${vendor}`;
const callbackName = (id: bigint) => `cb${id}`;
const paramName = (i: number) => `p${i}`;

/** The recorded table as a signature: each parameter bytes of its size (a vector's elements too). */
function signatureOf(init: TraceInit, revision: number): Signature {
  const callbacks: SignatureDef["callbacks"] = {};
  for (const cb of init.callbacks) {
    const params: Record<string, unknown> = {};
    cb.parmTypes.forEach((dir, i) => {
      if (typeof dir === "number") throw new Error(`callback ${cb.id}: parameter type ${dir}`);
      const size = cb.parmSizes[i];
      const element = isVector(dir) && size === 1 ? t.u8 : t.bytes(size);
      params[paramName(i)] = t[dir](element as never);
    });
    (callbacks as Record<string, unknown>)[callbackName(cb.id)] = {
      id: Number(cb.id),
      location: cb.location,
      sync: cb.synchronous,
      params,
    };
  }
  const v = revision;
  return defineSignature({
    name: init.name,
    vendor: init.vendor,
    version: [v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff],
    callbacks,
  } as SignatureDef);
}

/**
 * Whether the library sent a recorded call to its kernel. It refuses some itself before sending
 * (native/invoke.c, `measure`: a callback not in its table or with another count, a missing
 * pointer, an empty, ragged or too long vector, a reply no frame could carry); the replayed
 * program's library refuses them again, so the kernel never sees them.
 */
function reachedKernel(r: TraceInvoke): boolean {
  if (r.raw || r.args.some((a) => a.unreadable || a.tooLarge)) return false;
  const params = r.args.map((a) => ({
    dir: a.direction,
    size: a.size,
    length: isVector(a.direction) ? Math.max(a.in?.length ?? 0, a.out?.length ?? 0) : a.size,
  }));
  if (params.some((p) => isVector(p.dir) && (p.length === 0 || p.length % p.size !== 0))) return false;
  return replyPayloadSize(params) <= MAX_PAYLOAD;
}

/** Sorts a handle's calls by start, by thread, and finds the threads that ran at once. */
function order(h: RecordedHandle): void {
  h.byStart.sort((a, b) => h.calls[a].t - h.calls[b].t || a - b);
  h.calls.forEach((c, i) => {
    if (!h.threads.has(c.thread)) h.threads.set(c.thread, []);
    h.threads.get(c.thread)!.push(i);
  });
  // A sweep by start: a call that begins before another thread's call has ended overlaps it.
  let open: TraceInvoke | undefined;
  for (const i of h.byStart) {
    const c = h.calls[i];
    if (open && c.t < open.t + open.dur && c.thread !== open.thread) {
      h.concurrent.add(c.thread);
      h.concurrent.add(open.thread);
    }
    if (!open || c.t + c.dur > open.t + open.dur) open = c;
  }
}

const EMPTY = new Uint8Array(0);

/** The address a call's pointer member holds (undefined when its bytes did not come). */
function addressIn(data: Uint8Array | undefined, offset: number): bigint | undefined {
  if (!data || offset + 8 > data.length) return undefined;
  return new DataView(data.buffer, data.byteOffset, data.byteLength).getBigUint64(offset, true);
}

/** A recording, played as a kernel. */
export class Replay {
  readonly #strict: boolean;
  readonly #errno: number;
  readonly #timing: boolean;
  readonly #log: (line: string) => void;
  readonly #handles = new Map<string, RecordedHandle[]>();
  readonly #inits = new Map<string, TraceInit>();
  readonly #instances = new Map<string, Map<bigint, string>>();
  /** Events a call caused, by its record's offset: sent before its answer, and after. */
  readonly #caused = new Map<number, { before: TraceEvent[]; after: TraceEvent[] }>();
  /** Each event's recorded handle: the session it goes to plays it. */
  readonly #eventHandle = new Map<TraceEvent, RecordedHandle>();
  /** Recorded handle → its playing session, once one plays it. */
  readonly #sessions = new Map<RecordedHandle, number>();
  readonly #playing = new Map<number, Playing>();
  #opened = new Map<string, number>();
  #closed = 0;
  #matched = 0;
  #unmatched = 0;
  readonly #done = Promise.withResolvers<void>();

  /**
   * Reads a recording for replay.
   * @throws {Error} when the trace holds no successful Init (nothing to replay), or a recorded
   * table that cannot be a signature.
   */
  constructor(trace: Trace, options: ReplayOptions = {}) {
    this.#strict = options.strict ?? true;
    this.#errno = options.errno ?? ERRNO.EIO;
    this.#timing = options.timing ?? false;
    this.#log = options.log ?? ((line) => console.error(line));
    const byHandle = new Map<string, RecordedHandle>();
    const calls: TraceInvoke[] = [];
    const events: { event: TraceEvent; handle: RecordedHandle }[] = [];
    for (const r of trace.records) {
      const key = "handle" in r ? `${r.run}/${r.handle}` : "";
      if (r.kind === "init" && r.status === 0) {
        const api = apiKey(r.name, r.vendor);
        const h: RecordedHandle = {
          init: r,
          calls: [],
          used: [],
          atOpen: [],
          byStart: [],
          threads: new Map(),
          concurrent: new Set(),
          pointers: new Map(),
        };
        for (const f of r.buffers) {
          if (!h.pointers.has(f.callbackId)) h.pointers.set(f.callbackId, []);
          h.pointers.get(f.callbackId)!.push(f);
        }
        byHandle.set(key, h);
        if (!this.#handles.has(api)) {
          this.#handles.set(api, []), this.#inits.set(api, r), this.#instances.set(api, new Map());
        }
        this.#handles.get(api)!.push(h);
      } else if (r.kind === "instances" && r.status === 0) {
        const h = byHandle.get(key);
        const list = h && this.#instances.get(apiKey(h.init.name, h.init.vendor));
        for (const i of r.instances) list?.set(i.id, i.name);
      } else if (r.kind === "invoke" && reachedKernel(r)) {
        const h = byHandle.get(key);
        if (h) h.calls.push(r), h.used.push(false), h.byStart.push(h.calls.length - 1);
        calls.push(r);
      } else if (r.kind === "event") {
        const h = byHandle.get(key);
        if (h) events.push({ event: r, handle: h });
      }
    }
    this.#attach(calls, events);
    for (const list of this.#handles.values()) for (const h of list) order(h);
    if (this.#handles.size === 0) {
      throw new Error("the trace holds no successful vmk_MgmtUserInit: nothing to replay");
    }
  }

  /**
   * Gives each event the call that caused it, as far as a trace can tell: the call (of any handle
   * of its recording) that began last before the event reached the program. One delivered before
   * that call returned was sent before its answer (a sync call's kernel sends, then answers); the
   * others after. An event no call came before is sent when its session opens.
   */
  #attach(calls: TraceInvoke[], events: { event: TraceEvent; handle: RecordedHandle }[]): void {
    const byStart = calls.slice().sort((a, b) => a.run - b.run || a.t - b.t);
    for (const { event, handle } of events) {
      this.#eventHandle.set(event, handle);
      // The last call of the same run that began at or before the event (binary search).
      let lo = 0, hi = byStart.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        const c = byStart[mid];
        if (c.run < event.run || (c.run === event.run && c.t <= event.t)) lo = mid + 1;
        else hi = mid;
      }
      const cause = lo > 0 && byStart[lo - 1].run === event.run ? byStart[lo - 1] : undefined;
      if (!cause) {
        handle.atOpen.push(event);
        continue;
      }
      if (!this.#caused.has(cause.offset)) this.#caused.set(cause.offset, { before: [], after: [] });
      const lists = this.#caused.get(cause.offset)!;
      (event.t < cause.t + cause.dur ? lists.before : lists.after).push(event);
    }
  }

  /** Handles recorded, over all APIs. */
  get recordedHandles(): number {
    return [...this.#handles.values()].reduce((n, l) => n + l.length, 0);
  }

  /** Resolves once as many sessions have opened and closed as the program made handles. */
  get done(): Promise<void> {
    return this.#done.promise;
  }

  /** The kernel modules that play the recorded APIs. */
  modules(): KernelModule[] {
    return [...this.#inits.entries()].map(([api, init]) => {
      // The revision most of the program's handles asked for (a kernel serves one; any other of the
      // same major.minor is served alike).
      const counts = new Map<number, number>();
      for (const h of this.#handles.get(api)!) {
        counts.set(h.init.revision, (counts.get(h.init.revision) ?? 0) + 1);
      }
      const revision = [...counts].reduce((a, b) => (b[1] > a[1] ? b : a))[0];
      const signature = signatureOf(init, revision);
      const instances = [...this.#instances.get(api)!].slice(0, MAX_INSTANCES).map(([id, name]) => ({
        id,
        name,
      }));
      return {
        signature,
        instances,
        handlers: {},
        answer: (call: RawCall, kernel: ModuleContext) => this.#answer(call, kernel),
        sessionOpened: (s, kernel) => this.#open(api, s.id, kernel),
        sessionClosed: () => {
          if (++this.#closed >= this.recordedHandles) this.#done.resolve();
        },
      } as KernelModule;
    });
  }

  #open(api: string, session: number, kernel: ModuleContext): void {
    const n = this.#opened.get(api) ?? 0;
    this.#opened.set(api, n + 1);
    const handle = this.#handles.get(api)?.[n];
    if (!handle) {
      this.#log(`replay: session ${session} of ${api.split("\0")[0]} is one more than the recording made`);
      return;
    }
    this.#playing.set(session, { handle, firstUnused: 0, firstUnstarted: 0, made: new Map() });
    this.#sessions.set(handle, session);
    if (this.#timing) this.#later(handle.atOpen, handle.init.t + handle.init.dur, kernel);
    else for (const e of handle.atOpen) this.#send(e, kernel);
  }

  #send(e: TraceEvent, kernel: ModuleContext): void {
    const handle = this.#eventHandle.get(e);
    const session = handle && this.#sessions.get(handle);
    if (session === undefined) return;
    const cb = kernel.signature.byId(e.callbackId);
    if (!cb) return;
    const params: Record<string, unknown> = {};
    cb.params.forEach((p, i) => {
      const bytes = e.params[i] ?? EMPTY;
      // A vector of elements wider than a byte is a list of them.
      params[p.name] = isVector(p.dir) && p.size !== 1
        ? Array.from(
          { length: Math.floor(bytes.length / p.size) },
          (_, k) => bytes.slice(k * p.size, (k + 1) * p.size),
        )
        : bytes.slice();
    });
    kernel.emit(cb.name as never, params as never, {
      session,
      instance: e.instanceId === 0n ? null : e.instanceId,
    });
  }

  /** Sends events as long after now as they came after `since` (ns) in the recording, in order. */
  #later(events: readonly TraceEvent[], since: number, kernel: ModuleContext): void {
    for (const e of events) {
      setTimeout(() => this.#send(e, kernel), Math.max(0, (e.t - since) / 1e6));
    }
  }

  /**
   * Whether a recorded call is the same call: callback, instance, and every byte going in but the
   * pointers' own (`skip`).
   */
  #same(r: TraceInvoke, call: RawCall, skip: Set<number>[]): boolean {
    if (r.callbackId !== call.callbackId || r.instanceId !== call.instanceId) return false;
    return call.params.every((p, i) =>
      firstDifference(p.data ?? EMPTY, r.args[i]?.in ?? EMPTY, skip[i]) === -1
    );
  }

  /**
   * Where the caller buffers going in differ from the recorded call's, in words; undefined:
   * nowhere. What was read of the caller is kept in `read` (by address and length), so the
   * candidates of one call read each buffer once.
   */
  async #buffersDiffer(
    r: TraceInvoke,
    call: RawCall,
    read: Map<string, Promise<Uint8Array>>,
  ): Promise<string | undefined> {
    for (const b of r.buffers) {
      if (!b.in) continue;
      const where = bufferName(b);
      const address = addressIn(call.params[b.param]?.data, b.offset);
      if (!address) return `${where} is NULL here; ${b.in.length} bytes were recorded`;
      const key = `${address}:${b.in.length}`;
      if (!read.has(key)) read.set(key, call.copyFromUser(address, b.in.length));
      let here: Uint8Array;
      try {
        here = await read.get(key)!;
      } catch (e) {
        if (e instanceof KernelError) return `${where} cannot be read here (errno ${e.errno})`;
        throw e;
      }
      const d = firstDifference(here, b.in);
      if (d >= 0) {
        return `${where} differs at byte ${d}: ${hexByte(here[d])} here, ${hexByte(b.in[d])} recorded`;
      }
    }
    return undefined;
  }

  /** What the kernel left in the recorded call's buffers goes into this call's. */
  async #fillBuffers(r: TraceInvoke, call: RawCall): Promise<void> {
    for (const b of r.buffers) {
      const address = addressIn(call.params[b.param]?.data, b.offset);
      if (!b.out || !address) continue;
      try {
        await call.copyToUser(address, b.out);
      } catch (e) {
        if (!(e instanceof KernelError)) throw e;
        this.#log(
          `replay: ${this.#describe(call)}: the recorded ${b.out.length} bytes for ${
            bufferName(b)
          } could not be written (errno ${e.errno})`,
        );
      }
    }
  }

  async #answer(call: RawCall, kernel: ModuleContext): Promise<RawReply> {
    const playing = this.#playing.get(call.session);
    const h = playing?.handle;
    const skip = pointerBytes(h?.pointers.get(call.callbackId), call.params);
    let index = -1;
    let buffersDiffer: string | undefined;
    const read = new Map<string, Promise<Uint8Array>>();
    if (h && playing) {
      const candidates = this.#strict
        ? this.#inOrder(playing)
        : h.calls.map((_, i) => i).filter((i) => !h.used[i]);
      for (const i of candidates) {
        if (!this.#same(h.calls[i], call, skip)) continue;
        const differs = h.calls[i].buffers.length
          ? await this.#buffersDiffer(h.calls[i], call, read)
          : undefined;
        // (another call of the session may have taken it while its buffers were read)
        if (differs === undefined && !h.used[i]) {
          index = i;
          break;
        }
        buffersDiffer ??= differs;
      }
    }
    if (!h || !playing || index < 0) {
      this.#unmatched++;
      this.#log(
        `replay: unmatched ${this.#describe(call)}: ${
          buffersDiffer ? `as recorded but for ${buffersDiffer}` : this.#nearest(call, playing, skip)
        }`,
      );
      return { status: this.#errno };
    }
    h.used[index] = true;
    while (playing.firstUnused < h.calls.length && h.used[playing.firstUnused]) playing.firstUnused++;
    while (playing.firstUnstarted < h.calls.length && h.used[h.byStart[playing.firstUnstarted]]) {
      playing.firstUnstarted++;
    }
    const thread = h.calls[index].thread;
    if (h.concurrent.has(thread)) {
      const list = h.threads.get(thread)!;
      let made = playing.made.get(thread) ?? 0;
      while (made < list.length && h.used[list[made]]) made++;
      playing.made.set(thread, made);
    }
    this.#matched++;
    const r = h.calls[index];
    const caused = this.#caused.get(r.offset);
    if (caused) {
      if (this.#timing) {
        this.#later([...caused.before, ...caused.after], r.t, kernel);
      } else {
        for (const e of caused.before) this.#send(e, kernel);
        setTimeout(() => caused.after.forEach((e) => this.#send(e, kernel)), 0);
      }
    }
    if (r.status !== 0 || !call.sync) return { status: r.status };
    await this.#fillBuffers(r, call);
    return {
      status: 0,
      data: call.params.map((p, i) => {
        if (!returnsData(p.kernelDir)) return undefined;
        const out = new Uint8Array(p.length);
        const recorded = r.args[i]?.out ?? EMPTY, here = p.data ?? EMPTY;
        out.set(recorded.subarray(0, p.length));
        // A pointer member in the answer is this caller's address, not the recording's.
        for (const k of skip[i]) if (k < out.length && k < here.length) out[k] = here[k];
        return out;
      }),
    };
  }

  /**
   * The recorded calls a strict replay may take next: those not made yet that began before the
   * first of them to end had ended (a call that began after another ended came after it in the
   * program; calls that overlapped may come in either order), and the next call of each thread
   * the program ran at once with another.
   */
  #inOrder(playing: Playing): number[] {
    const h = playing.handle;
    // Records are written as calls end: the earliest end is among the first few not made yet.
    let firstEnd = Infinity;
    for (let i = playing.firstUnused, seen = 0; i < h.calls.length && seen < 64; i++) {
      if (h.used[i]) continue;
      seen++;
      firstEnd = Math.min(firstEnd, h.calls[i].t + h.calls[i].dur);
    }
    const out = new Set<number>();
    for (let k = playing.firstUnstarted; k < h.byStart.length; k++) {
      const i = h.byStart[k];
      if (h.calls[i].t > firstEnd) break;
      if (!h.used[i]) out.add(i);
    }
    // Threads the program ran at once keep only their own order: how they interleave is the
    // scheduler's, and differs run to run.
    for (const tid of h.concurrent) {
      const list = h.threads.get(tid)!;
      const made = playing.made.get(tid) ?? 0;
      if (made < list.length) out.add(list[made]);
    }
    return [...out].sort((a, b) => a - b);
  }

  #describe(call: RawCall): string {
    const lengths = call.params.map((p) => p.data?.length ?? 0).join(", ");
    return `session ${call.session} callback ${call.callbackId} instance ${call.instanceId} (bytes in: ${lengths})`;
  }

  /** The nearest recorded call, and where this one differs from it. */
  #nearest(call: RawCall, playing: Playing | undefined, skip: Set<number>[]): string {
    if (!playing) return "its session plays no recorded handle";
    const h = playing.handle;
    const open = h.calls.map((r, i) => ({ r, i })).filter(({ i }) => !h.used[i]);
    const next = new Set(this.#inOrder(playing));
    const candidates = this.#strict ? open.filter(({ i }) => next.has(i)) : open;
    const sameCallback = candidates.filter(({ r }) => r.callbackId === call.callbackId);
    const pick = sameCallback.find(({ r }) => r.instanceId === call.instanceId) ?? sameCallback[0] ??
      candidates[0];
    if (!pick) return "the recording has no call left for this handle";
    const { r, i } = pick;
    const where = `recorded call ${
      i + 1
    } of handle ${h.init.handle} (callback ${r.callbackId}, instance ${r.instanceId}, at ${
      (r.t / 1e6).toFixed(3)
    } ms)`;
    if (r.callbackId !== call.callbackId) return `the recording has ${where} next`;
    if (r.instanceId !== call.instanceId) return `${where} was on instance ${r.instanceId}`;
    for (let k = 0; k < call.params.length; k++) {
      const here = call.params[k].data ?? EMPTY, then = r.args[k]?.in ?? EMPTY;
      const d = firstDifference(here, then, skip[k]);
      if (d >= 0) {
        return `${where} differs in parameter ${k} at byte ${d}: ${hexByte(here[d])} here, ${
          hexByte(then[d])
        } recorded`;
      }
    }
    return where;
  }

  /** What the replay did so far. */
  summary(): ReplaySummary {
    const unused = [...this.#handles.values()].flat().reduce(
      (n, h) => n + h.used.filter((u) => !u).length,
      0,
    );
    return {
      matched: this.#matched,
      unmatched: this.#unmatched,
      unused,
      exact: this.#unmatched === 0 && unused === 0,
    };
  }
}

/** The errno a user names (`EIO`, `eio` or 5) for unmatched calls. */
export function parseErrno(text: string): number {
  if (/^\d+$/.test(text)) {
    const n = Number(text);
    if (n >= 1 && n <= 0x7fffffff) return n;
    throw new Error(`--unmatched ${text}: an unmatched call must fail: an errno from 1 (or EIO, ENOENT, …)`);
  }
  const code = (ERRNO as Record<string, number>)[text.toUpperCase()];
  if (code === undefined) {
    throw new Error(`--unmatched ${text}: not an errno name (EIO, ENOENT, …) or number`);
  }
  return code;
}
