/**
 * Recording this process's own sessions to a trace (native/record/TRACE.md), from TypeScript:
 * `startRecording(path)` … `stopRecording()` (the REPL's `record FILE` / `record stop`). The same
 * records as the recorder's, at the same boundary — each Init with its table and buffer fields,
 * GetInstances, every call's bytes in and out and its caller buffers', every event, Begin, End,
 * Destroy — so `trace show` and `sim --replay` take either.
 *
 * Sessions opened before the recording began get an INIT record when it begins (flag 4: their Init
 * was not seen) and an INSTANCES record of what they last listed. While nothing records, a session
 * pays one test of a variable per call.
 *
 * What it gives up: calls are timed from the event loop (when JavaScript submitted the call and
 * when it heard the answer), not from the C call; every call is recorded as from one thread (0);
 * a pointer member to a caller buffer reads 0 in the bytes going in (the binding writes the
 * address just before the C call, and after it the reader thread may already write the buffers),
 * and the address in the bytes coming out — a replay and a diff leave those bytes out anyway.
 * @module
 */
import { DIRECTION_BY_CODE, isVector, returnsData, sendsData } from "../abi/facts.ts";
import type { RawEvent } from "../ffi/callbacks.ts";
import type { CBufferField, CCallback, CSignature } from "../ffi/layout.ts";
import { RecordBuilder, TraceWriter } from "./trace/writer.ts";
import {
  TRACE_BUFFER_DIRECTIONS,
  TRACE_INIT_FLAGS,
  TRACE_INVOKE_FLAGS,
  TRACE_KIND,
  TRACE_OPS,
} from "./trace/format.ts";
import type { CallerBuffer } from "./types/type.ts";

/** A recording that cannot start or stop as asked (one runs already; none runs). */
export class RecordingError extends Error {
  /** Builds it. */
  constructor(message: string) {
    super(message);
    this.name = "RecordingError";
  }
}

/** What a recording needs to know of a session's handle. */
export interface RecordableHandle {
  /** The C form of its signature. */
  readonly c: CSignature;
  /** The cookie given to Init. */
  readonly cookie: bigint;
  /** InitWith's host, when given. */
  readonly host?: string;
  /** Its pointer members to caller buffers. */
  readonly buffers: readonly CBufferField[];
  /** Made with `vmkmgmt_UserInitWith`. */
  readonly initWith: boolean;
  /** The instances it last listed (written for a handle open before the recording began). */
  instances(): readonly { id: bigint; name: string }[];
}

let writer: TraceWriter | null = null;
/** The recording's number for each handle it has written an INIT for. */
let numbers = new WeakMap<RecordableHandle, number>();
let next = 1;
/** Sessions open now (their INIT is written when a recording starts). */
const open = new Set<RecordableHandle>();

const OPS = Object.fromEntries(Object.entries(TRACE_OPS).map(([k, v]) => [v, Number(k)])) as Record<
  "begin" | "continue" | "end" | "destroy",
  number
>;

/** Where the recording goes, while one runs. */
export function recordingPath(): string | null {
  return writer?.path ?? null;
}

/**
 * Starts recording every session of this process to `path` (appended to; made 0600).
 * @throws {RecordingError} when a recording runs already.
 * @throws {Deno.errors.NotFound}, {Deno.errors.PermissionDenied} (the errors of `Deno.open`).
 * @example
 * ```ts ignore
 * import { startRecording, stopRecording } from "./recording.ts";
 * await startRecording("/tmp/mine.vmktrace");
 * // … sessions and calls …
 * const { records } = await stopRecording();
 * ```
 */
export async function startRecording(path: string): Promise<void> {
  if (writer) throw new RecordingError(`already recording to ${writer.path}; stop it first`);
  const w = await TraceWriter.create(path);
  if (writer) { // (another start won the race while the file opened)
    await w.close();
    throw new RecordingError(`already recording to ${(writer as TraceWriter).path}; stop it first`);
  }
  writer = w;
  numbers = new WeakMap();
  next = 1;
  for (const h of open) {
    writeInit(w, h, 0, 0, 0, TRACE_INIT_FLAGS.openedBefore);
    recordInstances(h, 0, h.instances(), 0);
  }
}

/**
 * Stops the recording: END, and every record on disk.
 * @throws {RecordingError} when nothing records.
 * @throws {Error} the write that failed during the recording (it stopped there).
 */
export async function stopRecording(): Promise<{ path: string; records: number }> {
  const w = writer;
  if (!w) throw new RecordingError("nothing is being recorded");
  writer = null;
  return { path: w.path, ...(await w.close()) };
}

/** A write of the recording failed: it has stopped, and this says why (once). */
export function recordingFailure(): Error | undefined {
  return writer?.error;
}

function writeInit(
  w: TraceWriter,
  h: RecordableHandle,
  status: number,
  t: number,
  dur: number,
  extraFlags = 0,
): void {
  const n = status === 0 ? next++ : 0;
  if (status === 0) numbers.set(h, n);
  const host = h.host === undefined ? new Uint8Array(0) : new TextEncoder().encode(h.host);
  const b = new RecordBuilder().u64(n).u64(t).u64(dur).u32(status)
    .u32((h.initWith ? TRACE_INIT_FLAGS.initWith : 0) | extraFlags).u64(h.cookie).u32(h.c.version)
    .name(h.c.name).name(h.c.vendor).u32(h.c.callbacks.length);
  for (const c of h.c.callbacks) {
    b.u64(c.callbackId).u8(c.location).u8(c.synchronous).u8(c.numParms).u8(0);
    for (let k = 0; k < 4; k++) b.u32(c.parmSizes[k] ?? 0);
    for (let k = 0; k < 4; k++) b.u8(c.parmTypes[k] ?? 0);
    b.u32(0);
  }
  b.u32(host.length).bytes(host).u32(h.buffers.length);
  for (const f of h.buffers) {
    const fixed = typeof f.length === "number";
    b.u64(f.callbackId).u32(f.parm).u32(f.offset).u32(f.direction)
      .u32(fixed ? f.length as number : 0)
      .u32(fixed ? 0 : (f.length as { offset: number }).offset)
      .u32(fixed ? 0 : (f.length as { size: number }).size);
  }
  w.add(b.frame(TRACE_KIND.init));
}

/** The clock of the recording that runs (ns), for a call about to start; undefined when none does. */
export function recordingNow(): number | undefined {
  return writer?.now();
}

/** A session's Init returned: `status` 0 opened `h` (from now on in every recording). */
export function recordInit(h: RecordableHandle, status: number, t: number | undefined): void {
  if (status === 0) open.add(h);
  if (writer && t !== undefined) writeInit(writer, h, status, t, writer.now() - t);
}

/** GetInstances returned. */
export function recordInstances(
  h: RecordableHandle,
  status: number,
  instances: readonly { id: bigint; name: string }[],
  t: number | undefined,
): void {
  const w = writer;
  if (!w || t === undefined) return;
  const b = new RecordBuilder().u64(numbers.get(h) ?? 0).u64(t).u64(w.now() - t).u32(status)
    .u32(instances.length);
  for (const i of instances) b.u64(i.id).name(i.name);
  w.add(b.frame(TRACE_KIND.instances));
}

/** Begin, Continue, End or Destroy returned; after a Destroy, `h` is no longer open (if it failed, its session is given up all the same). */
export function recordControl(
  h: RecordableHandle,
  op: "begin" | "continue" | "end" | "destroy",
  status: number,
  t: number | undefined,
): void {
  if (op === "destroy") open.delete(h);
  const w = writer;
  if (!w || t === undefined) return;
  w.add(
    new RecordBuilder().u64(numbers.get(h) ?? 0).u64(t).u64(w.now() - t).u32(OPS[op]).u32(status)
      .frame(TRACE_KIND.control),
  );
}

/** An event reached the session (its bytes are copied now: `raw`'s views are not kept). */
export function recordEvent(h: RecordableHandle, raw: RawEvent): void {
  const w = writer;
  if (!w) return;
  const b = new RecordBuilder().u64(numbers.get(h) ?? 0).u64(w.now()).u64(raw.instanceId).u64(raw.callbackId)
    .u32(raw.params.length).u32(0);
  for (const p of raw.params) b.u64(p.length);
  for (const p of raw.params) b.bytes(p);
  w.add(b.frame(TRACE_KIND.event));
}

/** One caller buffer of a call: where its pointer is, and its bytes going in. */
interface BufferTaken {
  readonly param: number;
  readonly offset: number;
  readonly direction: number;
  readonly bytes: Uint8Array;
  readonly length: number;
  readonly in?: Uint8Array;
}

/** A call being recorded: {@link recordCall} took its bytes going in; `end` records it. */
export interface CallRecording {
  /** The call returned `status` (its buffers now hold what came out). */
  end(status: number): void;
}

const sends = (code: number) => sendsData(DIRECTION_BY_CODE[code]);
const returns = (code: number) => returnsData(DIRECTION_BY_CODE[code]);

function lengthOf(f: CBufferField, param: Uint8Array, element: number): number {
  if (typeof f.length === "number") return f.length;
  const v = new DataView(param.buffer, param.byteOffset, param.byteLength);
  const at = element + f.length.offset;
  if (at + f.length.size > param.length) return 0;
  switch (f.length.size) {
    case 1:
      return v.getUint8(at);
    case 2:
      return v.getUint16(at, true);
    case 4:
      return v.getUint32(at, true);
    default:
      return Number(v.getBigUint64(at, true));
  }
}

/**
 * A call is about to be submitted with `data` (its parameters' bytes) and `pinned` (its caller
 * buffers): their bytes going in are taken now. Undefined when nothing records.
 */
export function recordCall(
  h: RecordableHandle,
  c: CCallback,
  instanceId: bigint,
  data: readonly Uint8Array[],
  pinned: readonly CallerBuffer[],
): CallRecording | undefined {
  const w = writer;
  if (!w) return undefined;
  const t = w.now();
  const ins = data.map((d, i) => (sends(c.parmTypes[i]) ? d.slice() : undefined));
  const buffers: BufferTaken[] = [];
  for (const p of pinned) {
    const at = p.view.byteOffset + p.offset;
    const i = data.findIndex((d) =>
      d.buffer === p.view.buffer && at >= d.byteOffset && at + 8 <= d.byteOffset + d.length
    );
    if (i < 0) continue;
    const offset = at - data[i].byteOffset;
    const size = c.parmSizes[i] || 1;
    const element = isVector(DIRECTION_BY_CODE[c.parmTypes[i]]) ? offset - (offset % size) : 0;
    const f = h.buffers.find((x) =>
      x.callbackId === c.callbackId && x.parm === i && x.offset === offset - element
    );
    if (!f) continue;
    const length = Math.min(p.bytes.length, lengthOf(f, data[i], element));
    if (length === 0) continue;
    buffers.push({
      param: i,
      offset,
      direction: f.direction,
      bytes: p.bytes,
      length,
      ...(TRACE_BUFFER_DIRECTIONS[f.direction] !== "out" ? { in: p.bytes.slice(0, length) } : {}),
    });
  }
  return {
    end(status) {
      const now = w.now();
      // (what the buffers hold whatever the status, as the recorder takes it)
      const outs = data.map((d, i) => (returns(c.parmTypes[i]) ? d : undefined));
      const b = new RecordBuilder().u64(numbers.get(h) ?? 0).u64(t).u64(now - t).u64(instanceId)
        .u64(c.callbackId).u32(status).u32(0).u32(data.length).u32(
          buffers.length ? TRACE_INVOKE_FLAGS.buffers : 0,
        );
      data.forEach((_, i) => {
        b.u8(c.parmTypes[i]).u8(0).u16(0).u32(c.parmSizes[i]).u64(ins[i]?.length ?? 0)
          .u64(outs[i]?.length ?? 0);
      });
      for (const x of ins) if (x) b.bytes(x);
      for (const x of outs) if (x) b.bytes(x);
      if (buffers.length) {
        const out = buffers.map((x) =>
          TRACE_BUFFER_DIRECTIONS[x.direction] !== "in" ? x.bytes.subarray(0, x.length) : undefined
        );
        b.u32(buffers.length).u32(0);
        buffers.forEach((x, k) => {
          b.u32(x.param).u32(x.offset).u8(x.direction).u8(0).u16(0).u32(0).u64(x.in?.length ?? 0)
            .u64(out[k]?.length ?? 0);
        });
        for (const x of buffers) if (x.in) b.bytes(x.in);
        for (const x of out) if (x) b.bytes(x);
      }
      w.add(b.frame(TRACE_KIND.invoke));
    },
  };
}
