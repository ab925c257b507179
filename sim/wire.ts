/**
 * The simulator's side of the wire protocol (`native/PROTOCOL.md`): frame constants, an
 * incremental frame parser that refuses anything malformed, and frame builders.
 * @module
 */

/** Frame magic (`V M M K`). */
export const MAGIC = 0x4b4d4d56;
/** Protocol version spoken here. */
export const VERSION = 1;
/** Header size in bytes. */
export const HEADER_SIZE = 16;
/** Largest payload accepted. */
export const MAX_PAYLOAD = 64 * 1024 * 1024 + 4096;

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
} as const;

/** A parsed frame. */
export interface Frame {
  /** Frame type. */
  type: number;
  /** Request id. */
  id: number;
  /** Payload bytes. */
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

/** Accumulates bytes from a stream and yields whole frames. */
export class FrameParser {
  #buf: Uint8Array = new Uint8Array(0);

  /** Adds bytes and returns the frames now complete; throws {@link ProtocolError} on bad input. */
  push(chunk: Uint8Array): Frame[] {
    if (this.#buf.length === 0) this.#buf = chunk;
    else {
      const merged = new Uint8Array(this.#buf.length + chunk.length);
      merged.set(this.#buf);
      merged.set(chunk, this.#buf.length);
      this.#buf = merged;
    }
    const frames: Frame[] = [];
    let off = 0;
    while (this.#buf.length - off >= HEADER_SIZE) {
      const v = new DataView(this.#buf.buffer, this.#buf.byteOffset + off, HEADER_SIZE);
      if (v.getUint32(0, true) !== MAGIC) throw new ProtocolError("bad magic");
      if (v.getUint16(4, true) !== VERSION) {
        throw new ProtocolError(
          `unsupported protocol version ${v.getUint16(4, true)}; this simulator speaks ${VERSION}`,
        );
      }
      const type = v.getUint16(6, true);
      const id = v.getUint32(8, true);
      const len = v.getUint32(12, true);
      if (len > MAX_PAYLOAD) throw new ProtocolError(`payload of ${len} bytes exceeds ${MAX_PAYLOAD}`);
      if (this.#buf.length - off - HEADER_SIZE < len) break;
      const start = off + HEADER_SIZE;
      frames.push({ type, id, payload: this.#buf.slice(start, start + len) });
      off = start + len;
    }
    this.#buf = off === this.#buf.length ? new Uint8Array(0) : this.#buf.slice(off);
    return frames;
  }

  /** Bytes held for an incomplete frame. */
  get pending(): number {
    return this.#buf.length;
  }
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
  /** Current offset. */
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
    const out = this.#bytes.slice(this.offset, this.offset + n);
    this.offset += n;
    return out;
  }

  /** Reads a NUL-terminated name from a fixed `char[n]`. */
  name(n = 32): string {
    const b = this.bytes(n);
    const end = b.indexOf(0);
    return new TextDecoder().decode(b.subarray(0, end < 0 ? n : end));
  }

  /** Bytes left. */
  get remaining(): number {
    return this.#bytes.length - this.offset;
  }
}

/** A little-endian payload builder. */
export class PayloadWriter {
  #parts: Uint8Array[] = [];
  #size = 0;

  #push(b: Uint8Array): this {
    this.#parts.push(b);
    this.#size += b.length;
    return this;
  }

  /** Appends a u32. */
  u32(v: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v >>> 0, true);
    return this.#push(b);
  }

  /** Appends an i32. */
  i32(v: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setInt32(0, v, true);
    return this.#push(b);
  }

  /** Appends a u64. */
  u64(v: bigint | number): this {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt(v), true);
    return this.#push(b);
  }

  /** Appends a name as a zero-padded `char[n]` (cut to n-1 bytes). */
  name(s: string, n = 32): this {
    const b = new Uint8Array(n);
    b.set(new TextEncoder().encode(s).subarray(0, n - 1));
    return this.#push(b);
  }

  /** Appends raw bytes. */
  bytes(b: Uint8Array): this {
    return this.#push(b);
  }

  /** The payload. */
  finish(): Uint8Array {
    const out = new Uint8Array(this.#size);
    let off = 0;
    for (const p of this.#parts) {
      out.set(p, off);
      off += p.length;
    }
    return out;
  }
}
