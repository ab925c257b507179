/**
 * The wire protocol's frame layer, as `native/PROTOCOL.md`'s "Frames" section writes it: the
 * constants, an incremental parser that refuses anything malformed before its payload arrives, a
 * builder, and the reader and writer every payload is decoded and encoded with
 * (`sim/payloads.ts`). `native/wire.h` is the C side of the same section (`test/layout_test.ts`
 * holds the constants to each other).
 *
 * @example
 * ```ts
 * import { buildFrame, FrameParser, FrameType } from "./frames.ts";
 * const parser = new FrameParser();
 * parser.push(buildFrame(FrameType.GET_INSTANCES, 3));
 * parser.next()?.type; // 5
 * ```
 * @module
 */
import { cString } from "../abi/c_text.ts";
import { MAX_VECTOR_BYTES, NAME_SIZE } from "../abi/facts.ts";

// ---------------------------------------------------------------- Frame

/** Frame magic (`V M M K`). */
export const MAGIC = 0x4b4d4d56;
/** Protocol version spoken here. */
export const VERSION = 4;
/** Header size in bytes. */
export const HEADER_SIZE = 16;
/** Largest payload accepted: the largest vector plus room for the descriptors around it. */
export const MAX_PAYLOAD = MAX_VECTOR_BYTES + 4096;

/** Frame types. */
export const FrameType = {
  HELLO: 1,
  HELLO_REPLY: 2,
  INVOKE: 3,
  INVOKE_REPLY: 4,
  GET_INSTANCES: 5,
  INSTANCES: 6,
  EVENT: 7,
  EVENT_ACK: 8,
  CONTROL: 9,
  CONTROL_REPLY: 10,
  ERROR: 12,
  EVENTS_DROPPED: 13,
  COPY_REQUEST: 14,
  COPY_REPLY: 15,
} as const;

/** A parsed frame. */
export interface Frame {
  type: number;
  /** The request id: echoed in the reply; 0 for unsolicited frames (PROTOCOL.md). */
  id: number;
  payload: Uint8Array;
}

/** The peer sent bytes that are not a valid frame. */
export class ProtocolError extends Error {
  /** Builds the error. */
  constructor(message: string) {
    super(message);
    this.name = "ProtocolError";
  }
}

/**
 * Accumulates bytes from a stream and yields whole frames, in time linear in the bytes: chunks are
 * kept as they arrive and each payload byte is copied once, when its frame is complete (copying
 * the accumulated buffer on every read made a 64 MiB frame cost seconds). A header is checked as
 * soon as it is complete, so a bad or oversized frame is refused before its payload arrives.
 */
export class FrameParser {
  /** Chunks not yet consumed; the first is consumed up to `#offset`. */
  #chunks: Uint8Array[] = [];
  #offset = 0;
  #size = 0;
  /** The header of the frame whose payload is awaited. */
  #header: { type: number; id: number; len: number } | null = null;

  /** A large payload being read straight into its own buffer (see {@link FrameParser.sink}). */
  #payload: Uint8Array | null = null;
  #filled = 0;

  /** Adds bytes and returns the frames now complete; throws {@link ProtocolError} on bad input. */
  push(chunk: Uint8Array): Frame[] {
    if (this.#payload && chunk.length > 0) {
      const k = Math.min(chunk.length, this.#payload.length - this.#filled);
      this.#payload.set(chunk.subarray(0, k), this.#filled);
      this.#filled += k;
      chunk = chunk.subarray(k);
    }
    if (chunk.length > 0) {
      this.#chunks.push(chunk);
      this.#size += chunk.length;
    }
    const frames: Frame[] = [];
    for (;;) {
      if (this.#payload) {
        if (this.#filled < this.#payload.length) break;
        frames.push({ type: this.#header!.type, id: this.#header!.id, payload: this.#payload });
        this.#payload = null;
        this.#header = null;
        continue;
      }
      if (!this.#header) {
        if (this.#size < HEADER_SIZE) break;
        this.#header = parseHeader(this.#take(HEADER_SIZE));
      }
      if (this.#size < this.#header.len) break;
      const { type, id, len } = this.#header;
      this.#header = null;
      frames.push({ type, id, payload: this.#take(len) });
    }
    return frames;
  }

  /**
   * Where a reader may put the rest of a large payload (≥ 64 KiB, once an eighth of it has arrived)
   * directly — the payload's own buffer, so those bytes are written once, by the read — or null.
   * After reading `n` bytes into it, call {@link FrameParser.filled}.
   */
  sink(): Uint8Array | null {
    if (!this.#header || this.#header.len < DIRECT_READ_MIN) return null;
    // Only once an eighth of the payload is here: a header alone must not make us allocate 64 MiB
    // (the buffer is committed as it is written, so this bounds the address space, not RSS).
    if (!this.#payload && this.#size * 8 < this.#header.len) return null;
    if (!this.#payload) {
      this.#payload = new Uint8Array(this.#header.len);
      this.#filled = this.#size; // the frame is incomplete, so every held byte is its payload
      if (this.#size > 0) this.#payload.set(this.#take(this.#size));
    }
    return this.#payload.subarray(this.#filled);
  }

  /** `n` bytes landed in {@link FrameParser.sink}'s buffer: the frames now complete. */
  filled(n: number): Frame[] {
    if (!this.#payload || n < 0 || this.#filled + n > this.#payload.length) {
      throw new RangeError(`filled(${n}): no sink has room for that`);
    }
    this.#filled += n;
    return this.push(new Uint8Array(0));
  }

  /** Removes `n` bytes (≤ size) from the front: a view when they lie in one chunk, else one copy. */
  #take(n: number): Uint8Array {
    const first = this.#chunks[0];
    this.#size -= n;
    if (n === 0) return new Uint8Array(0);
    if (first.length - this.#offset >= n) {
      const out = first.subarray(this.#offset, this.#offset + n);
      this.#offset += n;
      if (this.#offset === first.length) {
        this.#chunks.shift();
        this.#offset = 0;
      }
      return out;
    }
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      const c = this.#chunks[0];
      const k = Math.min(n - filled, c.length - this.#offset);
      out.set(c.subarray(this.#offset, this.#offset + k), filled);
      filled += k;
      this.#offset += k;
      if (this.#offset === c.length) {
        this.#chunks.shift();
        this.#offset = 0;
      }
    }
    return out;
  }

  /** Bytes held for an incomplete frame. */
  get pending(): number {
    return this.#size + this.#filled * (this.#payload ? 1 : 0) + (this.#header ? HEADER_SIZE : 0);
  }
}

/** Payloads at least this large are read straight into their own buffer. */
const DIRECT_READ_MIN = 64 * 1024;

function parseHeader(h: Uint8Array): { type: number; id: number; len: number } {
  const v = new DataView(h.buffer, h.byteOffset, HEADER_SIZE);
  if (v.getUint32(0, true) !== MAGIC) throw new ProtocolError("bad magic");
  if (v.getUint16(4, true) !== VERSION) {
    throw new ProtocolError(
      `unsupported protocol version ${v.getUint16(4, true)}; this simulator speaks ${VERSION}`,
    );
  }
  const len = v.getUint32(12, true);
  if (len > MAX_PAYLOAD) throw new ProtocolError(`payload of ${len} bytes exceeds ${MAX_PAYLOAD}`);
  return { type: v.getUint16(6, true), id: v.getUint32(8, true), len };
}

/** Builds a frame from a type, request id and payload. */
export function buildFrame(type: number, id: number, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  const out = new Uint8Array(HEADER_SIZE + payload.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, MAGIC, true);
  v.setUint16(4, VERSION, true);
  v.setUint16(6, type, true);
  v.setUint32(8, id, true);
  v.setUint32(12, payload.length, true);
  out.set(payload, HEADER_SIZE);
  return out;
}

/** A little-endian reader over a payload that throws {@link ProtocolError} when it runs short. */
export class PayloadReader {
  #view: DataView;
  #bytes: Uint8Array;
  offset = 0;

  /** Wraps a payload. */
  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  #need(n: number): void {
    if (this.offset + n > this.#bytes.length) throw new ProtocolError("truncated payload");
  }

  /** Reads a u8. */
  u8(): number {
    this.#need(1);
    return this.#view.getUint8(this.offset++);
  }

  /** Reads a u16. */
  u16(): number {
    this.#need(2);
    const v = this.#view.getUint16(this.offset, true);
    this.offset += 2;
    return v;
  }

  /** Reads a u32. */
  u32(): number {
    this.#need(4);
    const v = this.#view.getUint32(this.offset, true);
    this.offset += 4;
    return v;
  }

  /** Reads a u64. */
  u64(): bigint {
    this.#need(8);
    const v = this.#view.getBigUint64(this.offset, true);
    this.offset += 8;
    return v;
  }

  /** Reads `n` bytes (a copy). */
  bytes(n: number): Uint8Array {
    this.#need(n);
    // A view: a payload belongs to its frame, and copying a 64 MiB vector costs more than the call.
    const out = this.#bytes.subarray(this.offset, this.offset + n);
    this.offset += n;
    return out;
  }

  /** Reads a NUL-terminated name from a fixed `char[n]`. */
  name(n = NAME_SIZE): string {
    return cString(this.bytes(n));
  }

  /** Bytes left. */
  get remaining(): number {
    return this.#bytes.length - this.offset;
  }
}

/** A little-endian payload builder (`finish()` gives the payload). */
export { ByteBuilder as PayloadWriter } from "../util/bytes.ts";
