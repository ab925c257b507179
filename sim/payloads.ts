/**
 * (Longer than 400 lines on purpose: it mirrors `native/PROTOCOL.md` one-to-one, to be read beside it.)
 *
 * The simulator's side of the wire protocol's payloads, each frame type's as `native/PROTOCOL.md`
 * writes it, in its order: a typed value with its decoder or encoder. The kernel and the server deal
 * in those values; only this module and `sim/frames.ts` (the frame layer under it) know the byte
 * offsets. `native/wire.h` is the C side of the same document.
 *
 * @example
 * ```ts
 * import { buildFrame, FrameType } from "./frames.ts";
 * import { encodeHelloReply } from "./payloads.ts";
 * const frame = buildFrame(FrameType.HELLO_REPLY, 1, encodeHelloReply({ status: 0, sessionId: 7n }));
 * frame.length; // 28
 * ```
 * @module
 */
import {
  type Direction,
  DIRECTION_BY_CODE,
  DIRECTION_CODE,
  isVector,
  MAX_CALLBACK_PARMS,
  MAX_INSTANCES,
} from "../abi/facts.ts";
import { PayloadReader, PayloadWriter, ProtocolError } from "./frames.ts";

// ---------------------------------------------------------------- Frames

/** A callback of the caller's table, as HELLO carries it (its function pointer stays home). */
export interface HelloCallback {
  /** `callbackId` in the caller's table. */
  id: bigint;
  /** `vmk_MgmtCallbackLocation`: 1 kernel, 2 user. */
  location: number;
  /** The caller's table says it is synchronous. */
  sync: boolean;
  /** Its parameters: the caller's direction and the fixed or element size. */
  params: { dir: Direction; size: number }[];
}

/** A pointer member of a parameter that points to a caller buffer (what a bridge re-points). */
export interface HelloBuffer {
  /** The callback whose parameter holds the pointer. */
  callbackId: bigint;
  /** Parameter index. */
  parm: number;
  /** `in`, `out` or `inout`. */
  dir: "in" | "out" | "inout";
  /** Offset of the pointer in the parameter (in each element of a vector). */
  offset: number;
  /** A fixed length, or where the length is: an unsigned member of 1, 2, 4 or 8 bytes. */
  length: number | { offset: number; size: 1 | 2 | 4 | 8 };
}

/** HELLO (lib → kernel): a library session asks for an API, sending its whole callback table. */
export interface HelloRequest {
  /** `vmk_revnum` of the caller's signature. */
  revnum: number;
  /** The API name asked for (at most 31 bytes). */
  name: string;
  /** The vendor asked for (at most 31 bytes). */
  vendor: string;
  /** The client's process id. */
  pid: number;
  /** The caller's callback table. */
  callbacks: HelloCallback[];
  /** Pointer members that point to caller buffers. */
  buffers: HelloBuffer[];
}

/** Most callbacks, and buffer fields, a HELLO may carry. */
export const MAX_HELLO_ENTRIES = 4096;
const BUFFER_DIRS = [undefined, "in", "out", "inout"] as const;

/** Decodes a HELLO payload. @throws {ProtocolError} when it does not parse. */
export function decodeHello(payload: Uint8Array): HelloRequest {
  const r = new PayloadReader(payload);
  const head = { revnum: r.u32(), name: r.name(), vendor: r.name(), pid: r.u32() };
  const numCallbacks = r.u32();
  const numBuffers = r.u32();
  if (numCallbacks > MAX_HELLO_ENTRIES || numBuffers > MAX_HELLO_ENTRIES) {
    throw new ProtocolError(`HELLO declares ${numCallbacks} callbacks and ${numBuffers} buffer fields`);
  }
  const callbacks: HelloCallback[] = [];
  for (let i = 0; i < numCallbacks; i++) {
    const id = r.u64();
    const location = r.u8();
    const sync = r.u8();
    const numParms = r.u8();
    r.bytes(5);
    if ((location !== 1 && location !== 2) || sync > 1 || numParms > 4) {
      throw new ProtocolError(`HELLO callback ${id}: bad location, sync flag or parameter count`);
    }
    const params: { dir: Direction; size: number }[] = [];
    for (let k = 0; k < 4; k++) {
      const size = r.u32();
      const type = r.u8();
      r.bytes(3);
      if (k >= numParms) continue;
      if (type >= DIRECTION_BY_CODE.length || size === 0) {
        throw new ProtocolError(`HELLO callback ${id}: parameter ${k} has type ${type}, size ${size}`);
      }
      params.push({ dir: DIRECTION_BY_CODE[type], size });
    }
    callbacks.push({ id, location, sync: sync === 1, params });
  }
  const buffers: HelloBuffer[] = [];
  for (let i = 0; i < numBuffers; i++) {
    const callbackId = r.u64();
    const parm = r.u8();
    const dir = BUFFER_DIRS[r.u8()];
    const lengthSize = r.u8();
    r.u8();
    const offset = r.u32();
    const fixed = r.u32();
    const lengthOffset = r.u32();
    if (!dir || parm > 3 || ![0, 1, 2, 4, 8].includes(lengthSize) || (lengthSize === 0 && fixed === 0)) {
      throw new ProtocolError(`HELLO buffer field ${i} of callback ${callbackId} does not parse`);
    }
    const length = lengthSize === 0 ? fixed : { offset: lengthOffset, size: lengthSize as 1 | 2 | 4 | 8 };
    buffers.push({ callbackId, parm, dir, offset, length });
  }
  if (r.remaining !== 0) throw new ProtocolError("HELLO has trailing bytes");
  return { ...head, callbacks, buffers };
}

/** Encodes a HELLO payload (what the library sends; for test clients). */
export function encodeHello(hello: HelloRequest): Uint8Array {
  const w = new PayloadWriter().u32(hello.revnum).name(hello.name).name(hello.vendor).u32(hello.pid)
    .u32(hello.callbacks.length).u32(hello.buffers.length);
  for (const c of hello.callbacks) {
    w.u64(c.id).u8(c.location).u8(c.sync ? 1 : 0).u8(c.params.length).zeros(5);
    for (let k = 0; k < 4; k++) {
      const p = c.params[k];
      w.u32(p ? p.size : 0).u8(p ? DIRECTION_BY_CODE.indexOf(p.dir) : 0).zeros(3);
    }
  }
  for (const b of hello.buffers) {
    const fixed = typeof b.length === "number";
    w.u64(b.callbackId).u8(b.parm).u8(BUFFER_DIRS.indexOf(b.dir)).u8(
      fixed ? 0 : (b.length as { size: number }).size,
    )
      .u8(0).u32(b.offset).u32(fixed ? b.length as number : 0)
      .u32(fixed ? 0 : (b.length as { offset: number }).offset);
  }
  return w.finish();
}

/** HELLO_REPLY (kernel → lib). */
export interface HelloReply {
  /** 0, or `ENODEV` when no kernel API matches. */
  status: number;
  /** The session's id (0 when refused). */
  sessionId: bigint;
  /** Who answered (and, when refused, why): at most 255 UTF-8 bytes. */
  peer?: string;
  /** Set by a bridge: the library then sends every fixed parameter's bytes. */
  bridge?: boolean;
}

/** Flag of HELLO_REPLY: a bridge answers. */
export const PEER_BRIDGE = 1;

/** Encodes a HELLO_REPLY payload. */
export function encodeHelloReply(reply: HelloReply): Uint8Array {
  let peer = new TextEncoder().encode(reply.peer ?? "");
  if (peer.length > 255) peer = peer.subarray(0, 255);
  return new PayloadWriter().i32(reply.status).u64(reply.sessionId).u8(reply.bridge ? PEER_BRIDGE : 0)
    .u8(peer.length).zeros(2).bytes(peer).finish();
}

/** One parameter of an INVOKE as the library describes it. */
export interface ParamDescriptor {
  /** The direction the caller's table gives (`vmk_MgmtParmType`). */
  dir: Direction;
  /** Fixed size, or a vector's element size. */
  size: number;
  /** Bytes: the fixed size, or a vector's length. */
  length: number;
  /** The caller's bytes, when they came with the request (its direction sends data). */
  data?: Uint8Array;
}

/** INVOKE parameter flag: the caller's bytes of this parameter follow. */
export const PARM_DATA = 1;

/** INVOKE (lib → sim): call a kernel callback. */
export interface InvokeRequest {
  /** Target instance (0 for none). */
  instanceId: bigint;
  /** The kernel callback to call, by id. */
  callbackId: bigint;
  /** The caller's table says the callback is synchronous. */
  sync: boolean;
  /** Parameters in C order. */
  params: ParamDescriptor[];
}

/** Decodes and validates an INVOKE payload. @throws {ProtocolError} when it does not parse. */
export function decodeInvoke(payload: Uint8Array): InvokeRequest {
  const r = new PayloadReader(payload);
  const instanceId = r.u64();
  const callbackId = r.u64();
  const sync = r.u8();
  const numParms = r.u8();
  r.bytes(6);
  if (numParms > MAX_CALLBACK_PARMS || sync > 1) {
    throw new ProtocolError("INVOKE: bad sync flag or parameter count");
  }
  const params: ParamDescriptor[] = [];
  const withData: boolean[] = [];
  for (let i = 0; i < numParms; i++) {
    const type = r.u8();
    const flags = r.u8();
    r.bytes(2);
    const size = r.u32();
    const length = r.u64();
    // A length too large to be a number is malformed; one too large for a frame is the kernel's to
    // refuse with EINVAL (sim/invoke.ts), before anything is allocated for it.
    if (
      type >= DIRECTION_BY_CODE.length || (flags & ~PARM_DATA) !== 0 || size === 0 ||
      length > BigInt(Number.MAX_SAFE_INTEGER)
    ) {
      throw new ProtocolError("INVOKE: bad parameter descriptor");
    }
    const dir = DIRECTION_BY_CODE[type];
    const len = Number(length);
    const vector = isVector(dir);
    if ((!vector && len !== size) || (vector && (len === 0 || len % size !== 0))) {
      throw new ProtocolError("INVOKE: parameter length does not fit its size");
    }
    params.push({ dir, size, length: len });
    withData.push((flags & PARM_DATA) !== 0);
  }
  params.forEach((p, i) => {
    if (withData[i]) p.data = r.bytes(p.length);
  });
  if (r.remaining !== 0) throw new ProtocolError("INVOKE: trailing bytes");
  return { instanceId, callbackId, sync: sync === 1, params };
}

/** The largest INVOKE_REPLY payload a request can get (status, count, mask, lengths, every parameter back). */
export function replyPayloadSize(params: readonly ParamDescriptor[]): number {
  // i32 status, u32 count, u32 returned, u32 (WIRE_REPLY_LENGTHS), a u64 length per parameter, the
  // bytes: the kernel's table may return any parameter.
  const fixed = REPLY_LENGTHS + 8 * params.length;
  return params.reduce((n, p) => n + p.length, fixed);
}

/** Where an INVOKE_REPLY's lengths start. */
export const REPLY_LENGTHS = 16;

/** Encodes an INVOKE payload (what the library sends; for test clients). */
export function encodeInvoke(req: InvokeRequest): Uint8Array {
  const w = new PayloadWriter().u64(req.instanceId).u64(req.callbackId).u8(req.sync ? 1 : 0)
    .u8(req.params.length).zeros(6);
  for (const p of req.params) {
    w.u8(DIRECTION_CODE[p.dir]).u8(p.data ? PARM_DATA : 0).zeros(2).u32(p.size).u64(p.length);
  }
  for (const p of req.params) if (p.data) w.bytes(p.data);
  return w.finish();
}

/** INVOKE_REPLY (sim → lib). */
export interface InvokeReply {
  /** 0, or an errno. */
  status: number;
  /**
   * On status 0: each parameter's length (as sent), and the bytes of every parameter the
   * kernel's table returns, each exactly that long. Empty for an error.
   */
  params: { length: number; data?: Uint8Array }[];
}

/** Encodes an INVOKE_REPLY payload. */
export function encodeInvokeReply(reply: InvokeReply): Uint8Array {
  const returned = reply.params.reduce((mask, p, i) => (p.data ? mask | (1 << i) : mask), 0);
  const w = new PayloadWriter().i32(reply.status).u32(reply.params.length).u32(returned).u32(0);
  for (const p of reply.params) w.u64(p.length);
  for (const p of reply.params) if (p.data) w.bytes(p.data);
  return w.finish();
}

/** What a COPY_REQUEST asks: read (`from`) or write (`to`) the caller's memory. */
export const CopyOp = { FROM_USER: 1, TO_USER: 2 } as const;
/** Where a COPY_REQUEST points: an address in the caller's process, or a parameter of the call. */
export const CopyTarget = { ADDRESS: 0, PARAMETER: 1 } as const;
/** Size of a COPY_REQUEST before a write's bytes. */
export const COPY_REQUEST_SIZE = 24;

/** COPY_REQUEST (sim → lib, with the INVOKE's request id): vmk_CopyFromUser / vmk_CopyToUser. */
export interface CopyRequest {
  /** Matches the reply. */
  copyId: number;
  /** Read or write. */
  op: (typeof CopyOp)[keyof typeof CopyOp];
  /** An address or a parameter index. */
  target: (typeof CopyTarget)[keyof typeof CopyTarget];
  /** The address, or the parameter's index. */
  where: bigint;
  /** Bytes to read (a write's length is its data's). */
  length: number;
  /** A write's bytes. */
  data?: Uint8Array;
}

/** Encodes a COPY_REQUEST payload. */
export function encodeCopyRequest(req: CopyRequest): Uint8Array {
  const length = req.data ? req.data.length : req.length;
  const w = new PayloadWriter().u32(req.copyId).u8(req.op).u8(req.target).zeros(2).u64(req.where).u64(length);
  if (req.data) w.bytes(req.data);
  return w.finish();
}

/** COPY_REPLY (lib → sim): the status, and a read's bytes. */
export interface CopyReply {
  /** Matches the request. */
  copyId: number;
  /** 0, `EFAULT` (a bad address), `EINVAL` (no such call in flight, or a bad target). */
  status: number;
  /** A successful read's bytes. */
  data: Uint8Array;
}

/** Decodes a COPY_REPLY payload. @throws {ProtocolError} when it does not parse. */
export function decodeCopyReply(payload: Uint8Array): CopyReply {
  // The reader checks each length before it reads (a 4-byte payload is a ProtocolError, so the
  // simulator answers with the ERROR frame PROTOCOL.md promises, not a DataView RangeError).
  const r = new PayloadReader(payload);
  const copyId = r.u32();
  const status = r.u32() | 0;
  return { copyId, status, data: r.bytes(r.remaining) };
}

/** INSTANCES (sim → lib): the answer to GET_INSTANCES. */
export interface InstanceList {
  /** 0, or an errno. */
  status: number;
  /** At most `VMK_MGMT_MAX_INSTANCES`. */
  instances: readonly { readonly id: bigint; readonly name: string }[];
}

/** Encodes an INSTANCES payload. */
export function encodeInstances(list: InstanceList): Uint8Array {
  const shown = list.instances.slice(0, MAX_INSTANCES);
  const w = new PayloadWriter().i32(list.status).u32(shown.length);
  for (const i of shown) w.u64(i.id).name(i.name);
  return w.finish();
}

/** EVENT (sim → lib): a kernel-to-user callback. */
export interface EventMessage {
  /** Originating instance (0 for none). */
  readonly instanceId: bigint;
  /** The user-location callback's id. */
  readonly callbackId: bigint;
  /** Each parameter's bytes, in C order. */
  readonly params: readonly Uint8Array[];
}

/** Encodes an EVENT payload. */
export function encodeEvent(event: EventMessage): Uint8Array {
  const w = new PayloadWriter().u64(event.instanceId).u64(event.callbackId).u32(event.params.length);
  for (const b of event.params) w.u64(b.length);
  for (const b of event.params) w.bytes(b);
  return w.finish();
}

/** Decodes an EVENT_ACK payload: how many events the library is done with. */
export function decodeEventAck(payload: Uint8Array): number {
  const r = new PayloadReader(payload);
  const n = r.u32();
  if (r.remaining !== 0) throw new ProtocolError("EVENT_ACK has trailing bytes");
  return n;
}

/** Encodes an EVENT_ACK payload (what the library sends; for test clients). */
export function encodeEventAck(count: number): Uint8Array {
  return new PayloadWriter().u32(count).finish();
}

// ---------------------------------------------------------------- EVENTS_DROPPED

/** Encodes an EVENTS_DROPPED payload: the session's dropped events so far. */
export function encodeEventsDropped(total: number): Uint8Array {
  return new PayloadWriter().u64(BigInt(total)).finish();
}

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

/** Decodes a CONTROL (or CONTROL_REPLY) payload: UTF-8 JSON. @throws {SyntaxError} bad JSON. */
export function decodeJsonPayload(payload: Uint8Array): unknown {
  return JSON.parse(fromUtf8.decode(payload));
}

/** Encodes a CONTROL or CONTROL_REPLY payload: JSON with bigint as decimal text, Infinity as `"inf"`. */
export function encodeJsonPayload(value: unknown): Uint8Array {
  return utf8.encode(
    JSON.stringify(value, (_, v) => (typeof v === "bigint" ? String(v) : v === Infinity ? "inf" : v)),
  );
}

/** Encodes an ERROR payload: UTF-8 text; the connection is closed after it. */
export function encodeErrorText(text: string): Uint8Array {
  return utf8.encode(text);
}

/** Decodes an ERROR payload. */
export function decodeErrorText(payload: Uint8Array): string {
  return fromUtf8.decode(payload);
}
