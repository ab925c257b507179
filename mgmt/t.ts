/**
 * `t`: every value type and every parameter direction of a signature, in one namespace.
 *
 * @example
 * ```ts
 * import { t } from "./t.ts";
 * const LinkState = t.struct({ up: t.u32, speedMbps: t.u32 }, "LinkState");
 * const params = { mtu: t.in(t.u32), state: t.out(LinkState), log: t.vectorOut(t.u8, { lengthFrom: "n" }) };
 * ```
 * @module
 */
import { param } from "./params.ts";
import { arrayType } from "./types/array.ts";
import { bool } from "./types/bool.ts";
import { bytesType } from "./types/bytes.ts";
import { enumType } from "./types/enum.ts";
import { f32, f64 } from "./types/float.ts";
import { i16, i32, i64, i8, u16, u32, u64, u8 } from "./types/int.ts";
import { stringType } from "./types/string.ts";
import { structType } from "./types/struct.ts";

/**
 * Value types and parameter directions. Integers up to 32 bits are numbers; 64-bit integers are
 * bigint.
 *
 * @example
 * ```ts
 * import { t } from "./t.ts";
 * const Mode = t.enumOf({ off: 0, on: 1 }, t.u8);
 * const params = { mode: t.in(Mode), status: t.out(t.i32) };
 * ```
 */
export const t = {
  /** `vmk_uint8` (a number). */
  u8,
  /** `vmk_uint16` (a number). */
  u16,
  /** `vmk_uint32` (a number). */
  u32,
  /** `vmk_uint64` (a bigint). */
  u64,
  /** `vmk_int8` (a number). */
  i8,
  /** `vmk_int16` (a number). */
  i16,
  /** `vmk_int32` (a number). */
  i32,
  /** `vmk_int64` (a bigint). */
  i64,
  /** C `float`. */
  f32,
  /** C `double`. */
  f64,
  /** `vmk_Bool`: one byte, true or false. */
  bool,
  /** A NUL-terminated UTF-8 string in a `char[length]` (at most length-1 bytes). @throws {RangeError} a bad length. */
  string: stringType,
  /**
   * A fixed block of `length` bytes (`u8[length]`), as a Uint8Array; shorter input is zero-padded.
   * @throws {RangeError} a bad length.
   */
  bytes: bytesType,
  /** A fixed array of exactly `length` elements. @throws {RangeError} a bad length. */
  array: arrayType,
  /**
   * A struct laid out with C alignment and padding; `name` is shown to people.
   * @throws {RangeError} no field, or a field name that is not an identifier. @throws {TypeError} a field that is not a type.
   */
  struct: structType,
  /**
   * An enum of named values stored in `base` (u32 by default).
   * @throws {RangeError} no value, a name that is not an identifier, a value that does not fit `base`.
   */
  enumOf: enumType,
  /** IN: copied to the kernel. @throws {TypeError} when given no type. */
  in: param("in"),
  /** OUT: filled by the kernel (sync kernel callbacks only). @throws {TypeError} when given no type. */
  out: param("out"),
  /** INOUT: copied to the kernel and back (sync kernel callbacks only). @throws {TypeError} when given no type. */
  inout: param("inout"),
  /** VECTOR_IN: a variable-length vector of `type` elements, copied to the kernel. @throws {TypeError} when given no type. */
  vectorIn: param("vectorIn"),
  /** VECTOR_OUT: a caller-sized vector the kernel fills (sync kernel callbacks only). @throws {TypeError} when given no type. */
  vectorOut: param("vectorOut"),
  /** VECTOR_INOUT: a vector copied to the kernel and back (sync kernel callbacks only). @throws {TypeError} when given no type. */
  vectorInOut: param("vectorInOut"),
};
