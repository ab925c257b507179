/**
 * Reads a vmk_Mgmt trace (native/record/TRACE.md): what `libvmkmgmt-record.so` recorded of a
 * program's calls, as typed records. Every length is checked before it is used; a torn last record
 * (a recording process killed mid-write) and damage further in are reported, with what came before
 * kept.
 *
 * The whole file is read into memory and parameter bytes are views of it (no copies): a trace of
 * several GB needs as much memory.
 *
 * @example
 * ```ts
 * import { readTrace } from "./reader.ts";
 * const trace = await readTrace("/tmp/t.vmktrace");
 * for (const r of trace.records) if (r.kind === "invoke") console.log(r.callbackId, r.status);
 * if (trace.torn) console.log(`cut short at byte ${trace.torn.offset}`);
 * ```
 * @module
 */
import { cString } from "../../abi/c_text.ts";
import { type Direction, DIRECTION_BY_CODE, NAME_SIZE } from "../../abi/facts.ts";
import { crc32 } from "../../util/crc32.ts";
import {
  TRACE_ARG_FLAGS,
  TRACE_BUFFER_DIRECTIONS,
  TRACE_BUFFER_FIELD_SIZE,
  TRACE_BUFFER_SIZE,
  TRACE_CALLBACK_SIZE,
  TRACE_HEADER_SIZE,
  TRACE_INIT_FLAGS,
  TRACE_INVOKE_FLAGS,
  TRACE_KIND,
  TRACE_MARKER,
  TRACE_OPS,
  TRACE_VERSION,
} from "./format.ts";

/** What every record has: where it starts in the file and which recording (START) it belongs to. */
export interface TraceRecordBase {
  /** Byte offset of the record in the file. */
  readonly offset: number;
  /** 0 for the file's first recording, 1 for the next START, … */
  readonly run: number;
}

/** A recording begins. */
export interface TraceStart extends TraceRecordBase {
  /** What it records. */
  readonly kind: "start";
  /** The format version it was written in. */
  readonly version: number;
  /** The recording process. */
  readonly pid: number;
  /** When the recording started (milliseconds since the Unix epoch). */
  readonly wallMs: number;
  /** The program's command line. */
  readonly argv: string[];
}

/** One entry of a recorded callback table. */
export interface TraceCallback {
  /** `callbackId` as the program gave it (any 64-bit value: a recording keeps even bad tables). */
  readonly id: bigint;
  /** As the program gave it: a number when it is neither (Init then refused the table). */
  readonly location: "kernel" | "user" | number;
  /** Whether the program declared it synchronous. */
  readonly synchronous: boolean;
  /** As the program gave it (more than 4 when Init refused the table). */
  readonly numParms: number;
  /** `parmSizes[4]` as the program gave them. */
  readonly parmSizes: number[];
  /** Directions of the first `numParms` parameters (at most 4); a number where it is none. */
  readonly parmTypes: (Direction | number)[];
}

/** `vmk_MgmtUserInit` (or `vmkmgmt_UserInitWith`) returned. */
export interface TraceInit extends TraceRecordBase {
  /** What it records. */
  readonly kind: "init";
  /** The recorder's number for the handle (0 when Init failed). */
  readonly handle: number;
  /** Nanoseconds since the recording started. */
  readonly t: number;
  /** Nanoseconds Init took. */
  readonly dur: number;
  /** What the call returned (0, or an errno). */
  readonly status: number;
  /** Made with `vmkmgmt_UserInitWith`. */
  readonly initWith: boolean;
  /** The handle's events were not recorded (too many user callbacks for the recorder). */
  readonly noEvents: boolean;
  /** The handle was open before the recording began (its Init was not seen: `t` and `dur` are 0). */
  readonly openedBefore: boolean;
  /** The program's cookie. */
  readonly cookie: bigint;
  /** The signature's revision (`VMK_REVISION_FROM_NUMBERS`). */
  readonly revision: number;
  /** The API name the program asked for (refused Inits are recorded too). */
  readonly name: string;
  /** The vendor the program asked for. */
  readonly vendor: string;
  /** The callback table as the program gave it. */
  readonly callbacks: TraceCallback[];
  /** InitWith's host option, when one was given. */
  readonly host?: string;
  /** The pointer members whose caller buffers the recorder followed for this handle. */
  readonly buffers: TraceBufferField[];
}

/** A pointer member to a caller buffer, as the recorder was told of it (`vmkmgmt_BufferField`). */
export interface TraceBufferField {
  /** The callback whose parameter holds the pointer. */
  readonly callbackId: bigint;
  /** Which parameter (0-based) holds it. */
  readonly param: number;
  /** Offset of the pointer in the parameter (in each element of a vector). */
  readonly offset: number;
  /** Which way the buffer's bytes go. */
  readonly direction: "in" | "out" | "inout";
  /** A fixed length in bytes, or the unsigned member holding it. */
  readonly length: number | { readonly offset: number; readonly size: number };
}

/** `vmk_MgmtUserGetInstances` returned. */
export interface TraceInstances extends TraceRecordBase {
  /** What it records. */
  readonly kind: "instances";
  /** The recorder's number for the handle (1, 2, … in the order Init succeeded; 0: unknown). */
  readonly handle: number;
  /** Nanoseconds since the recording started. */
  readonly t: number;
  /** Nanoseconds the call took. */
  readonly dur: number;
  /** What the call returned (0, or an errno). */
  readonly status: number;
  /** The instances listed (none when it failed). */
  readonly instances: { id: bigint; name: string }[];
}

/** One argument of a recorded invoke. */
export interface TraceArg {
  /** The direction its callback's table gives it. */
  readonly direction: Direction;
  /** A fixed parameter's size, or a vector's element size. */
  readonly size: number;
  /** The bytes that went in (absent when none do, or they could not be read). */
  readonly in?: Uint8Array;
  /** The bytes that came out (likewise). */
  readonly out?: Uint8Array;
  /** The caller's memory could not be read. */
  readonly unreadable: boolean;
  /** A vector longer than the protocol allows: not recorded. */
  readonly tooLarge: boolean;
}

/** `vmk_MgmtUserCallbackInvokeInt` returned. */
export interface TraceInvoke extends TraceRecordBase {
  /** What it records. */
  readonly kind: "invoke";
  /** The recorder's number for the handle (1, 2, … in the order Init succeeded; 0: unknown). */
  readonly handle: number;
  /** Nanoseconds since the recording started. */
  readonly t: number;
  /** Nanoseconds the call took. */
  readonly dur: number;
  /** The instance (0: none). */
  readonly instanceId: bigint;
  /** The kernel callback invoked, by id (a signature names it: `trace show --sig`). */
  readonly callbackId: bigint;
  /** What the call returned (0, or an errno). */
  readonly status: number;
  /** The calling thread's id. */
  readonly thread: number;
  /** The argument count the program passed. */
  readonly argCount: number;
  /** Not a kernel callback of the handle's table with that many parameters: no bytes recorded. */
  readonly raw: boolean;
  /** Its arguments, as the callback table describes them (none recorded when `raw`). */
  readonly args: TraceArg[];
  /** The caller buffers its pointer members reached (of the handle's buffer fields). */
  readonly buffers: TraceBuffer[];
}

/** A caller buffer one call's pointer member reached, and its bytes. */
export interface TraceBuffer {
  /** The parameter whose member points at it. */
  readonly param: number;
  /** Where the pointer is in the parameter's bytes (a vector's: element × size + member offset). */
  readonly offset: number;
  /** Which way its bytes go. */
  readonly direction: "in" | "out" | "inout";
  /** Its bytes before the call (`in`, `inout`), when they could be read. */
  readonly in?: Uint8Array;
  /** Its bytes after the call (`out`, `inout`), when they could be read. */
  readonly out?: Uint8Array;
  /** The caller's memory there could not be read (the kernel's copy failed the same way). */
  readonly unreadable: boolean;
  /** Longer than 64 MiB (or past 256 MiB in one call): not recorded. */
  readonly tooLarge: boolean;
}

/** The library called one of the program's user callbacks. */
export interface TraceEvent extends TraceRecordBase {
  /** What it records. */
  readonly kind: "event";
  /** The recorder's number for the handle (1, 2, … in the order Init succeeded; 0: unknown). */
  readonly handle: number;
  /** Nanoseconds since the recording started. */
  readonly t: number;
  /** The instance (0: none). */
  readonly instanceId: bigint;
  /** The user callback the kernel sent, by id. */
  readonly callbackId: bigint;
  /** Each parameter's bytes (a vector's data). */
  readonly params: Uint8Array[];
}

/** Begin, Continue, End or Destroy returned. */
export interface TraceControl extends TraceRecordBase {
  /** What it records. */
  readonly kind: "control";
  /** The recorder's number for the handle (1, 2, … in the order Init succeeded; 0: unknown). */
  readonly handle: number;
  /** Nanoseconds since the recording started. */
  readonly t: number;
  /** Nanoseconds the call took. */
  readonly dur: number;
  /** Which call. */
  readonly op: "begin" | "continue" | "end" | "destroy";
  /** What the call returned (0, or an errno). */
  readonly status: number;
}

/** The library told the program its kernel went away. */
export interface TraceDisconnect extends TraceRecordBase {
  /** What it records. */
  readonly kind: "disconnect";
  /** The recorder's number for the handle (1, 2, … in the order Init succeeded; 0: unknown). */
  readonly handle: number;
  /** Nanoseconds since the recording started. */
  readonly t: number;
  /** The errno the library gave (EIO). */
  readonly error: number;
}

/** Records went missing before this one (totals so far). */
export interface TraceDropped extends TraceRecordBase {
  /** What it records. */
  readonly kind: "dropped";
  /** Nanoseconds since the recording started. */
  readonly t: number;
  /** Records dropped so far. */
  readonly records: number;
  /** Bytes of them. */
  readonly bytes: number;
}

/** The recording process exited normally. */
export interface TraceEnd extends TraceRecordBase {
  /** What it records. */
  readonly kind: "end";
  /** Nanoseconds since the recording started. */
  readonly t: number;
  /** Records the recorder wrote before this one. */
  readonly written: number;
  /** Records lost because the recorder's buffer was full (the program never waits on it). */
  readonly dropped: number;
  /** Bytes of the records lost. */
  readonly droppedBytes: number;
}

/** A record of a kind this reader does not know (a newer recorder's): skipped. */
export interface TraceUnknown extends TraceRecordBase {
  /** What it records. */
  readonly kind: "unknown";
  /** Its kind number. */
  readonly code: number;
  /** Its payload's length in bytes (skipped whole). */
  readonly length: number;
}

/** Any record. */
export type TraceRecord =
  | TraceStart
  | TraceInit
  | TraceInstances
  | TraceInvoke
  | TraceEvent
  | TraceControl
  | TraceDisconnect
  | TraceDropped
  | TraceEnd
  | TraceUnknown;

/** Where reading stopped early, and why. */
export interface TraceStop {
  /** Byte offset of the record that could not be read. */
  readonly offset: number;
  /** What was wrong, e.g. `its CRC does not match its bytes`. */
  readonly reason: string;
}

/** A trace, read. */
export interface Trace {
  /** Every record read, in order. */
  readonly records: TraceRecord[];
  /** The last record was cut short (the recording process was killed while writing it). */
  readonly torn?: TraceStop;
  /** A record before the last is damaged: reading stopped there; the records before it are whole. */
  readonly damaged?: TraceStop;
}

/** Not a trace this reader can read at all (no records, another format, a newer version). */
export class TraceError extends Error {
  /** Creates the error; `offset` is where in the file it was found. */
  constructor(message: string, readonly offset = 0) {
    super(message);
    this.name = "TraceError";
  }
}

/** A record's payload that does not hold together (its CRC was right: a writer's bug, or forged). */
class BadPayload extends Error {}

/** Reads fields in order from one payload, each length checked. */
class Fields {
  #at = 0;
  readonly #view: DataView;
  constructor(readonly bytes: Uint8Array) {
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  #take(n: number, what: string): number {
    if (n > this.bytes.length - this.#at) {
      throw new BadPayload(`${what} runs past the record's end (${this.bytes.length} bytes)`);
    }
    const at = this.#at;
    this.#at += n;
    return at;
  }
  u8(what: string): number {
    return this.#view.getUint8(this.#take(1, what));
  }
  u32(what: string): number {
    return this.#view.getUint32(this.#take(4, what), true);
  }
  i32(what: string): number {
    return this.#view.getInt32(this.#take(4, what), true);
  }
  u64(what: string): bigint {
    return this.#view.getBigUint64(this.#take(8, what), true);
  }
  /** A u64 that must fit a JavaScript number (times, counts, lengths). */
  num(what: string): number {
    const v = this.u64(what);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new BadPayload(`${what} ${v} is out of range`);
    return Number(v);
  }
  bytesOf(n: number, what: string): Uint8Array {
    const at = this.#take(n, what);
    return this.bytes.subarray(at, at + n);
  }
  name(what: string): string {
    return cString(this.bytesOf(NAME_SIZE, what));
  }
  end(what: string): void {
    if (this.#at !== this.bytes.length) {
      throw new BadPayload(`${what}: ${this.bytes.length - this.#at} bytes left over`);
    }
  }
}

function direction(code: number, what: string): Direction {
  const d = DIRECTION_BY_CODE[code];
  if (d === undefined) throw new BadPayload(`${what}: parameter type ${code} is not one of 0..5`);
  return d;
}

function parseInit(f: Fields, base: TraceRecordBase): TraceInit {
  const handle = f.num("handle"), t = f.num("t"), dur = f.num("dur"), status = f.i32("status");
  const flags = f.u32("flags"), cookie = f.u64("cookie"), revision = f.u32("revision");
  const name = f.name("name"), vendor = f.name("vendor");
  const n = f.u32("numCallbacks");
  if (n * TRACE_CALLBACK_SIZE > f.bytes.length) {
    throw new BadPayload(`numCallbacks ${n} runs past the record`);
  }
  const callbacks: TraceCallback[] = [];
  for (let i = 0; i < n; i++) {
    const what = `callback ${i}`;
    const id = f.u64(what), loc = f.u8(what), sync = f.u8(what), numParms = f.u8(what);
    f.u8(what);
    const parmSizes = [f.u32(what), f.u32(what), f.u32(what), f.u32(what)];
    const types = [f.u8(what), f.u8(what), f.u8(what), f.u8(what)];
    f.u32(what);
    // The table as the program gave it, valid or not (a refused Init is worth as much to replay).
    callbacks.push({
      id,
      location: loc === 1 ? "kernel" : loc === 2 ? "user" : loc,
      synchronous: sync !== 0,
      numParms,
      parmSizes,
      parmTypes: types.slice(0, Math.min(numParms, 4)).map((c) => DIRECTION_BY_CODE[c] ?? c),
    });
  }
  const hostLength = f.u32("host length");
  const host = hostLength > 0 ? new TextDecoder().decode(f.bytesOf(hostLength, "host")) : undefined;
  const buffers: TraceBufferField[] = [];
  const nb = f.u32("numBuffers");
  if (nb * TRACE_BUFFER_FIELD_SIZE > f.bytes.length) {
    throw new BadPayload(`numBuffers ${nb} runs past the record`);
  }
  for (let i = 0; i < nb; i++) {
    const what = `buffer field ${i}`;
    const callbackId = f.u64(what), param = f.u32(what), offset = f.u32(what), dir = f.u32(what);
    const length = f.u32(what), lengthOffset = f.u32(what), lengthSize = f.u32(what);
    buffers.push({
      callbackId,
      param,
      offset,
      direction: bufferDirection(dir, what),
      length: lengthSize ? { offset: lengthOffset, size: lengthSize } : length,
    });
  }
  f.end("INIT");
  return {
    kind: "init",
    ...base,
    handle,
    t,
    dur,
    status,
    initWith: (flags & TRACE_INIT_FLAGS.initWith) !== 0,
    noEvents: (flags & TRACE_INIT_FLAGS.noEvents) !== 0,
    openedBefore: (flags & TRACE_INIT_FLAGS.openedBefore) !== 0,
    cookie,
    revision,
    name,
    vendor,
    callbacks,
    ...(host === undefined ? {} : { host }),
    buffers,
  };
}

function bufferDirection(code: number, what: string): "in" | "out" | "inout" {
  const d = TRACE_BUFFER_DIRECTIONS[code];
  if (d === undefined) throw new BadPayload(`${what}: direction ${code} is not one of 1..3`);
  return d;
}

/** The caller buffers' part of an INVOKE: descriptions, then the bytes in, then the bytes out. */
function parseBuffers(f: Fields): TraceBuffer[] {
  const n = f.u32("buffer count");
  f.u32("buffers' reserved");
  if (n * TRACE_BUFFER_SIZE > f.bytes.length) throw new BadPayload(`buffer count ${n} runs past the record`);
  const heads = [];
  for (let i = 0; i < n; i++) {
    const what = `buffer ${i}`;
    const param = f.u32(what), offset = f.u32(what), dir = f.u8(what), flags = f.u8(what);
    f.u8(what), f.u8(what), f.u32(what);
    const inLength = f.num(what), outLength = f.num(what);
    heads.push({ param, offset, direction: bufferDirection(dir, what), flags, inLength, outLength });
  }
  const bytes = bytesInOut(f, heads, "buffer");
  return heads.map((h, i) => ({ param: h.param, offset: h.offset, direction: h.direction, ...bytes[i] }));
}

/** What follows the heads of a call's arguments or buffers: each one's bytes in, then each one's out. */
interface BytesHead {
  inLength: number;
  outLength: number;
  /** `TRACE_ARG_FLAGS`. */
  flags: number;
}

/** The bytes in and out after `heads` (all the ins, then all the outs), and what each head's flags say. */
function bytesInOut(f: Fields, heads: readonly BytesHead[], what: string) {
  const ins = heads.map((h, i) =>
    h.inLength > 0 ? f.bytesOf(h.inLength, `${what} ${i}'s bytes in`) : undefined
  );
  const outs = heads.map((h, i) =>
    h.outLength > 0 ? f.bytesOf(h.outLength, `${what} ${i}'s bytes out`) : undefined
  );
  return heads.map((h, i) => ({
    ...(ins[i] ? { in: ins[i] } : {}),
    ...(outs[i] ? { out: outs[i] } : {}),
    unreadable: (h.flags & TRACE_ARG_FLAGS.unreadable) !== 0,
    tooLarge: (h.flags & TRACE_ARG_FLAGS.tooLarge) !== 0,
  }));
}

function parseInvoke(f: Fields, base: TraceRecordBase): TraceInvoke {
  const handle = f.num("handle"), t = f.num("t"), dur = f.num("dur");
  const instanceId = f.u64("instanceId"), callbackId = f.u64("callbackId");
  const status = f.i32("status"), thread = f.u32("thread"), argCount = f.u32("argCount");
  const flags = f.u32("flags");
  if (argCount > 4) throw new BadPayload(`argCount ${argCount} is more than 4`);
  const heads = [];
  for (let i = 0; i < argCount; i++) {
    const what = `argument ${i}`;
    const type = f.u8(what), aflags = f.u8(what);
    f.u8(what);
    f.u8(what);
    const size = f.u32(what), inLength = f.num(what), outLength = f.num(what);
    heads.push({ direction: direction(type, what), flags: aflags, size, inLength, outLength });
  }
  const bytes = bytesInOut(f, heads, "argument");
  const buffers = (flags & TRACE_INVOKE_FLAGS.buffers) !== 0 ? parseBuffers(f) : [];
  f.end("INVOKE");
  return {
    kind: "invoke",
    ...base,
    handle,
    t,
    dur,
    instanceId,
    callbackId,
    status,
    thread,
    argCount,
    raw: (flags & TRACE_INVOKE_FLAGS.raw) !== 0,
    args: heads.map((h, i) => ({ direction: h.direction, size: h.size, ...bytes[i] })),
    buffers,
  };
}

function parsePayload(kind: number, f: Fields, base: TraceRecordBase): TraceRecord {
  switch (kind) {
    case TRACE_KIND.start: {
      const version = f.u32("version"), pid = f.u32("pid"), wall = f.u64("wall");
      f.u64("reserved");
      const n = f.u32("program length");
      const argv = new TextDecoder().decode(f.bytesOf(n, "program")).split("\0").filter((w) => w !== "");
      f.end("START");
      return { kind: "start", ...base, version, pid, wallMs: Number(wall / 1_000_000n), argv };
    }
    case TRACE_KIND.init:
      return parseInit(f, base);
    case TRACE_KIND.instances: {
      const handle = f.num("handle"), t = f.num("t"), dur = f.num("dur"), status = f.i32("status");
      const count = f.u32("count");
      if (count > 32) throw new BadPayload(`count ${count} is more than 32 instances`);
      const instances = [];
      for (let i = 0; i < count; i++) {
        instances.push({ id: f.u64(`instance ${i}`), name: f.name(`instance ${i}`) });
      }
      f.end("INSTANCES");
      return { kind: "instances", ...base, handle, t, dur, status, instances };
    }
    case TRACE_KIND.invoke:
      return parseInvoke(f, base);
    case TRACE_KIND.event: {
      const handle = f.num("handle"), t = f.num("t");
      const instanceId = f.u64("instanceId"), callbackId = f.u64("callbackId"), n = f.u32("n");
      f.u32("reserved");
      if (n > 4) throw new BadPayload(`n ${n} is more than 4 parameters`);
      const lengths = Array.from({ length: n }, (_, i) => f.num(`parameter ${i}'s length`));
      const params = lengths.map((l, i) => f.bytesOf(l, `parameter ${i}`));
      f.end("EVENT");
      return { kind: "event", ...base, handle, t, instanceId, callbackId, params };
    }
    case TRACE_KIND.control: {
      const handle = f.num("handle"), t = f.num("t"), dur = f.num("dur"), code = f.u32("op");
      const status = f.i32("status");
      f.end("CONTROL");
      const op = TRACE_OPS[code];
      if (!op) throw new BadPayload(`op ${code} is not one of 1..4`);
      return { kind: "control", ...base, handle, t, dur, op, status };
    }
    case TRACE_KIND.disconnect: {
      const handle = f.num("handle"), t = f.num("t"), error = f.i32("error");
      f.u32("reserved");
      f.end("DISCONNECT");
      return { kind: "disconnect", ...base, handle, t, error };
    }
    case TRACE_KIND.dropped: {
      const t = f.num("t"), records = f.num("records"), bytes = f.num("bytes");
      f.end("DROPPED");
      return { kind: "dropped", ...base, t, records, bytes };
    }
    case TRACE_KIND.end: {
      const t = f.num("t"), written = f.num("written"), dropped = f.num("dropped");
      const droppedBytes = f.num("dropped bytes");
      f.end("END");
      return { kind: "end", ...base, t, written, dropped, droppedBytes };
    }
    default:
      return { kind: "unknown", ...base, code: kind, length: f.bytes.length };
  }
}

/**
 * Reads a trace held in memory.
 * @throws {TraceError} when `bytes` is not a trace (no record marker at its start, or a recording
 * of a newer version than this reader's).
 */
export function parseTrace(bytes: Uint8Array): Trace {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const records: TraceRecord[] = [];
  if (bytes.length < 4 || view.getUint32(0, true) !== TRACE_MARKER) {
    throw new TraceError("not a vmk_Mgmt trace: no record marker (VKTR) at byte 0");
  }
  let run = -1;
  let at = 0;
  while (at < bytes.length) {
    const left = bytes.length - at;
    // A record that does not fit in what is left can only be the last one, cut short.
    if (left < TRACE_HEADER_SIZE) {
      return { records, torn: { offset: at, reason: `${left} bytes of a record's 16-byte header` } };
    }
    if (view.getUint32(at, true) !== TRACE_MARKER) {
      return { records, damaged: { offset: at, reason: "no record marker (VKTR) here" } };
    }
    const kind = view.getUint16(at + 4, true);
    const length = view.getUint32(at + 8, true);
    const crc = view.getUint32(at + 12, true);
    if (length > left - TRACE_HEADER_SIZE) {
      return {
        records,
        torn: {
          offset: at,
          reason: `a record of ${length} bytes with ${left - TRACE_HEADER_SIZE} left in the file`,
        },
      };
    }
    const payload = bytes.subarray(at + TRACE_HEADER_SIZE, at + TRACE_HEADER_SIZE + length);
    const last = at + TRACE_HEADER_SIZE + length === bytes.length;
    if (crc32(payload) !== crc) {
      const stop = { offset: at, reason: "its CRC does not match its bytes" };
      return last ? { records, torn: stop } : { records, damaged: stop };
    }
    if (kind === TRACE_KIND.start) run++;
    if (run < 0) throw new TraceError("not a vmk_Mgmt trace: it does not begin with a START record", at);
    let record: TraceRecord;
    try {
      record = parsePayload(kind, new Fields(payload), { offset: at, run });
    } catch (e) {
      if (!(e instanceof BadPayload)) throw e;
      return { records, damaged: { offset: at, reason: `kind ${kind}: ${e.message}` } };
    }
    if (record.kind === "start" && record.version > TRACE_VERSION) {
      throw new TraceError(
        `this trace is format version ${record.version}; this reader reads version ${TRACE_VERSION} (update vmkmgmt)`,
        at,
      );
    }
    records.push(record);
    at += TRACE_HEADER_SIZE + length;
  }
  return { records };
}

/**
 * Reads a trace file.
 * @throws {TraceError} when the file is not a trace (see {@link parseTrace}).
 * @throws {Deno.errors.NotFound} and the other errors of `Deno.readFile`.
 */
export async function readTrace(path: string | URL): Promise<Trace> {
  return parseTrace(await Deno.readFile(path));
}
