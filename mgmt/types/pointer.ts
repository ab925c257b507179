/**
 * Pointer fields (`void *`, 8 bytes on x86_64): a raw address, or the address of a caller buffer
 * whose direction and length the signature states (an NVMe identify page, a firmware image).
 * @module
 */
import { isCIdentifier } from "../../abi/c_text.ts";
import { type CallerBuffers, describeValue, type Type, type TypeJson } from "./type.ts";
import { ValueError } from "../errors.ts";
import { bytesFromJson } from "./bytes.ts";
import { MAX_VECTOR_BYTES } from "../../abi/facts.ts";
import { toHex } from "../../util/hex.ts";

/** Which way a caller buffer's bytes go during a call. */
export type BufferDirection = "in" | "out" | "inout";

/** What a pointer field to a caller buffer says about the buffer. */
export interface BufferSpec {
  /** `in`: the kernel reads it; `out`: the kernel writes it; `inout`: both. */
  readonly dir: BufferDirection;
  /** A fixed length in bytes (e.g. 4096 for an NVMe identify page). */
  readonly length?: number;
  /** The name of an integer member of the same struct holding the length in bytes. */
  readonly lengthFrom?: string;
}

/** A pointer type: `buffer` is set when it carries a caller buffer (then a value may be its bytes). */
export interface PointerType extends Type<bigint | Uint8Array> {
  /** The caller buffer it points to, if the signature says so. */
  readonly buffer?: BufferSpec;
}

const MAX_ADDRESS = (1n << 64n) - 1n;

/** A caller buffer in an object form — `{ length: n }` (n zero bytes), `{ bytes }` (to send) — as bytes. */
function bufferOf(o: Record<string, unknown>, path: string): Uint8Array {
  if ("bytes" in o) return o.bytes instanceof Uint8Array ? o.bytes : bytesFromJson(o.bytes, `${path}.bytes`);
  const n = o.length;
  if (typeof n !== "number" || !Number.isSafeInteger(n) || n < 1 || n > MAX_VECTOR_BYTES) {
    throw new ValueError(path, `a caller buffer is {"bytes": "hex"} or {"length": 1..${MAX_VECTOR_BYTES}}`);
  }
  return new Uint8Array(n);
}

const isForm = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === "object" && !(v instanceof Uint8Array) && !Array.isArray(v);

function pointerType(buffer?: BufferSpec): PointerType {
  const name = buffer
    ? `${buffer.dir} buffer*${
      buffer.length !== undefined ? `[${buffer.length}]` : buffer.lengthFrom ? `[${buffer.lengthFrom}]` : ""
    }`
    : "void*";
  const toAddress = (value: unknown, path: string): bigint => {
    if (typeof value === "bigint" || (typeof value === "number" && Number.isSafeInteger(value))) {
      const v = BigInt(value);
      if (v < 0n || v > MAX_ADDRESS) {
        throw new ValueError(path, `address ${v} is out of range 0..2^64-1 (${name})`);
      }
      return v;
    }
    throw new ValueError(
      path,
      buffer
        ? `expected a caller buffer — a Uint8Array, { length: n } for n zero bytes the kernel fills, or ` +
          `{ bytes } to send — or an address (a bigint; 0n for NULL) (${name}), got ${describeValue(value)}`
        : `expected an address (a bigint; 0n for NULL) (${name}), got ${describeValue(value)}`,
    );
  };
  return Object.freeze({
    kind: "pointer",
    name,
    size: 8,
    align: 8,
    ...(buffer ? { buffer: Object.freeze({ ...buffer }) } : {}),
    encode(view: DataView, offset: number, value: unknown, path: string, buffers?: CallerBuffers) {
      // The forms `call` takes work in code too: a buffer made here comes back in the result.
      if (buffer && isForm(value)) value = bufferOf(value, path);
      if (value instanceof Uint8Array && buffer) {
        if (!buffers) {
          throw new ValueError(
            path,
            "a caller buffer (Uint8Array) is pinned by invoke for the call; here give an address (a bigint) or 0n",
          );
        }
        if (buffer.length !== undefined && value.length < buffer.length) {
          throw new ValueError(
            path,
            `the buffer holds ${value.length} bytes; the kernel may copy ${buffer.length} (${name})`,
          );
        }
        // The address is written by ffi/ just before the call, while the buffer is pinned.
        view.setBigUint64(offset, 0n, true);
        buffers.list.push({ view, offset, bytes: value, path });
        return;
      }
      view.setBigUint64(offset, toAddress(value, path), true);
    },
    decode: (view: DataView, offset: number) => view.getBigUint64(offset, true),
    fromJson(json: unknown, path: string): bigint | Uint8Array {
      if (buffer && json instanceof Uint8Array) return json;
      // A caller buffer in JSON (the REPL): {"bytes": "hex"} to send, {"length": n} for n zero bytes.
      if (buffer && isForm(json)) return bufferOf(json, path);
      if (typeof json === "string" && /^(0x[0-9a-f]+|\d+)$/i.test(json.trim())) {
        return toAddress(BigInt(json.trim()), path);
      }
      return toAddress(json, path);
    },
    toJson: (
      v: bigint | Uint8Array,
    ) => (v instanceof Uint8Array ? { bytes: toHex(v) } : `0x${v.toString(16)}`),
    describe: (): TypeJson => (buffer ? { pointer: "u8", buffer: { ...buffer } } : "ptr"),
  });
}

/** `void *`: an address as a bigint (0n is NULL). */
export const ptr: Type<bigint> = pointerType() as Type<bigint>;

/**
 * A pointer field to a caller buffer: its direction and where its length comes from.
 * @throws {RangeError} a bad direction, or not exactly one of `length` and `lengthFrom`.
 */
export function bufferPointer(spec: BufferSpec): PointerType {
  if (spec === null || typeof spec !== "object") {
    throw new TypeError('t.buffer(…) needs { dir: "in"|"out"|"inout", length or lengthFrom }');
  }
  for (const k of Object.keys(spec)) {
    if (!["dir", "length", "lengthFrom"].includes(k)) {
      throw new RangeError(`t.buffer: unknown option ${k}; options are dir, length, lengthFrom`);
    }
  }
  if (spec.dir !== "in" && spec.dir !== "out" && spec.dir !== "inout") {
    throw new RangeError(`t.buffer: dir must be "in", "out" or "inout", got ${JSON.stringify(spec.dir)}`);
  }
  if ((spec.length === undefined) === (spec.lengthFrom === undefined)) {
    throw new RangeError(
      "t.buffer: give exactly one of length (bytes) and lengthFrom (a member holding the length)",
    );
  }
  if (spec.length !== undefined && (!Number.isSafeInteger(spec.length) || spec.length < 1)) {
    throw new RangeError(`t.buffer: length must be a whole number of bytes ≥ 1, got ${spec.length}`);
  }
  if (
    spec.lengthFrom !== undefined &&
    !isCIdentifier(spec.lengthFrom)
  ) {
    throw new RangeError(`t.buffer: lengthFrom must name a member, got ${JSON.stringify(spec.lengthFrom)}`);
  }
  return pointerType(spec);
}
