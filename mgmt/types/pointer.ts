/**
 * Pointer fields (`void *`, 8 bytes on x86_64): a raw address, or the address of a caller buffer
 * whose direction and length the signature states (an NVMe identify page, a firmware image).
 * @module
 */
import { describeValue, type Type, type TypeJson } from "./type.ts";
import { ValueError } from "../errors.ts";

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

/** A pointer type: `buffer` is set when it carries a caller buffer. */
export interface PointerType extends Type<bigint> {
  /** The caller buffer it points to, if the signature says so. */
  readonly buffer?: BufferSpec;
}

const MAX_ADDRESS = (1n << 64n) - 1n;

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
    if (value instanceof Uint8Array && buffer) {
      throw new ValueError(
        path,
        "passing a Uint8Array as a caller buffer needs the kernel side of caller buffers, which this version does not have yet; give an address (a bigint) or 0n",
      );
    }
    throw new ValueError(
      path,
      `expected an address (a bigint; 0n for NULL) (${name}), got ${describeValue(value)}`,
    );
  };
  return Object.freeze({
    kind: "pointer",
    name,
    size: 8,
    align: 8,
    ...(buffer ? { buffer: Object.freeze({ ...buffer }) } : {}),
    encode(view: DataView, offset: number, value: unknown, path: string) {
      view.setBigUint64(offset, toAddress(value, path), true);
    },
    decode: (view: DataView, offset: number) => view.getBigUint64(offset, true),
    fromJson(json: unknown, path: string) {
      if (typeof json === "string" && /^(0x[0-9a-f]+|\d+)$/i.test(json.trim())) {
        return toAddress(BigInt(json.trim()), path);
      }
      return toAddress(json, path);
    },
    toJson: (v: bigint) => `0x${v.toString(16)}`,
    describe: (): TypeJson => (buffer ? { pointer: "u8", buffer: { ...buffer } } : "ptr"),
  });
}

/** `void *`: an address as a bigint (0n is NULL). */
export const ptr: PointerType = pointerType();

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
    (typeof spec.lengthFrom !== "string" || !/^[A-Za-z_]\w*$/.test(spec.lengthFrom))
  ) {
    throw new RangeError(`t.buffer: lengthFrom must name a member, got ${JSON.stringify(spec.lengthFrom)}`);
  }
  return pointerType(spec);
}
