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
import { param, type ParamMaker } from "./params.ts";
import type { ArrayType } from "./types/array.ts";
import type { CommandType } from "./types/command.ts";
import type { EnumType } from "./types/enum.ts";
import type { IntType } from "./types/int.ts";
import type {
  AnonymousMember,
  AttributedField,
  BitField,
  FieldAttributes,
  Member,
  PadBits,
} from "./types/members.ts";
import type { BufferSpec, PointerType } from "./types/pointer.ts";
import type { RecordOptions, StructType, StructValue } from "./types/struct.ts";
import type { Type, ValueOf } from "./types/type.ts";
import type { UnionType, UnionValue } from "./types/union.ts";
import { arrayType } from "./types/array.ts";
import { bool } from "./types/bool.ts";
import { bytesType } from "./types/bytes.ts";
import { commandType } from "./types/command.ts";
import { enumType } from "./types/enum.ts";
import { f32, f64 } from "./types/float.ts";
import { i16, i32, i64, i8, u16, u32, u64, u8 } from "./types/int.ts";
import { charsType, stringType } from "./types/string.ts";
import { structType } from "./types/struct.ts";
import { alignedType } from "./types/aligned.ts";
import { anonymousMember, attributedField, bitField, padBits } from "./types/members.ts";
import { bufferPointer, ptr } from "./types/pointer.ts";
import { unionType } from "./types/union.ts";

/**
 * Value types and parameter directions. Integers up to 32 bits are numbers; 64-bit integers are
 * bigint.
 *
 * @example
 * ```ts
 * import { t } from "./t.ts";
 * const Mode = t.enumOf({ off: 0, on: 1 }, t.u8);
 * const params = { mode: t.in(Mode), status: t.out(t.i32) };
 *
 * // struct __attribute__((packed)) { vmk_uint32 status; char deviceName[10]; } — 14 bytes
 * const IfaceName = t.struct({ status: t.u32, deviceName: t.chars(10) }, { name: "IfaceName", packed: true });
 * // vmk_uint32 featureID : 8, : 24;  and a union of command layouts
 * const Cdw10 = t.struct({ featureID: t.bits(t.u32, 8), reserved: t.pad(t.u32, 24) }, "Cdw10");
 * const Cmd = t.union({ raw: t.u32, getFeatures: Cdw10 }, "Cmd");
 * ```
 */
export const t: TypeNamespace = {
  u8,
  u16,
  u32,
  u64,
  i8,
  i16,
  i32,
  i64,
  f32,
  f64,
  bool,
  string: stringType,
  chars: charsType,
  bytes: bytesType,
  array: arrayType,
  struct: structType,
  union: unionType,
  bits: bitField,
  pad: padBits,
  field: attributedField,
  anon: anonymousMember,
  aligned: alignedType,
  ptr,
  buffer: bufferPointer,
  enumOf: enumType,
  byCommand: commandType,
  in: param("in"),
  out: param("out"),
  inout: param("inout"),
  vectorIn: param("vectorIn"),
  vectorOut: param("vectorOut"),
  vectorInOut: param("vectorInOut"),
};

/** What {@link t} holds: every value type and parameter direction, each described here. */
export interface TypeNamespace {
  /** `vmk_uint8` (a number). */
  u8: IntType<number, "u8">;
  /** `vmk_uint16` (a number). */
  u16: IntType<number, "u16">;
  /** `vmk_uint32` (a number). */
  u32: IntType<number, "u32">;
  /** `vmk_uint64` (a bigint). */
  u64: IntType<bigint, "u64">;
  /** `vmk_int8` (a number). */
  i8: IntType<number, "i8">;
  /** `vmk_int16` (a number). */
  i16: IntType<number, "i16">;
  /** `vmk_int32` (a number). */
  i32: IntType<number, "i32">;
  /** `vmk_int64` (a bigint). */
  i64: IntType<bigint, "i64">;
  /** C `float`. */
  f32: Type<number>;
  /** C `double`. */
  f64: Type<number>;
  /** `vmk_Bool`: one byte, true or false. */
  bool: Type<boolean>;
  /** A NUL-terminated UTF-8 string in a `char[length]` (at most length-1 bytes). @throws {RangeError} a bad length. */
  string: (length: number) => Type<string>;
  /**
   * A `char[length]` as `strncpy` fills it: up to `length` bytes of UTF-8, NUL-terminated only when shorter.
   * @throws {RangeError} a bad length.
   */
  chars: (length: number) => Type<string>;
  /**
   * A fixed block of `length` bytes (`u8[length]`), as a Uint8Array; shorter input is zero-padded.
   * @throws {RangeError} a bad length.
   */
  bytes: (length: number) => Type<Uint8Array>;
  /** A fixed array of exactly `length` elements. @throws {RangeError} a bad length. */
  array: <T extends Type<unknown>>(element: T, length: number) => ArrayType<ValueOf<T>[]>;
  /**
   * A struct laid out as GCC does on x86_64. The second argument is its name, or
   * `{ name, packed, pack, aligned }`: `packed` is `__attribute__((packed))` (VMware requires it of
   * payload structs), `pack` is `#pragma pack(n)`, `aligned` is `__attribute__((aligned(n)))`.
   * Members are types, bitfields (`t.bits`), unnamed padding bits (`t.pad`) or members with field
   * attributes (`t.field`).
   * @throws {RangeError} no named member, a name that is not an identifier, bad options. @throws {TypeError} a member that is not a type.
   */
  struct: <F extends Record<string, Member>>(
    members: F,
    options?: string | RecordOptions,
  ) => StructType<StructValue<F>>;
  /**
   * A union (GCC x86_64): size and alignment of its largest member. A value sets one member;
   * a decoded value shows every member's view. Options as for `struct`.
   * @throws {RangeError} no member, a name that is not an identifier, bad options. @throws {TypeError} a member that is not a type.
   */
  union: <F extends Record<string, Member>>(
    members: F,
    options?: string | RecordOptions,
  ) => UnionType<UnionValue<F>>;
  /**
   * A bitfield member: `t.bits(t.u32, 8)` is `vmk_uint32 x : 8` (signed for `i8`…`i64`; an enum or
   * bool works too). Optional field attributes `{ packed, aligned }`.
   * @throws {RangeError} a width outside 1..the type's bits. @throws {TypeError} a type that is not an integer, enum or bool.
   */
  bits: <V>(base: Type<V>, width: number, attrs?: FieldAttributes) => BitField<V>;
  /**
   * An unnamed bitfield member that only pads: `t.pad(t.u32, 24)` is `vmk_uint32 : 24`;
   * `t.pad(t.u32, 0)` is `vmk_uint32 : 0`. Its key names it in `describe` only.
   * @throws {RangeError} a width outside 0..the type's bits. @throws {TypeError} a type that is not an integer, enum or bool.
   */
  pad: (base: Type<unknown>, width: number, attrs?: FieldAttributes) => PadBits;
  /**
   * A member with field attributes: `t.field(t.u64, { aligned: 8 })` is
   * `vmk_uint64 x __attribute__((aligned(8)))`; `{ packed: true }` drops its alignment; `{ out: true }`
   * says the driver fills it in (a status): a value may leave it out, and the REPL does not ask for it
   * (`t.bits` takes it too).
   * @throws {TypeError} not a type. @throws {RangeError} an alignment that is not a power of two.
   */
  field: <T extends Type<unknown>>(type: T, attrs: FieldAttributes) => AttributedField<T>;
  /**
   * An anonymous struct or union member (C11): `t.anon(t.union({ raw: t.u32, word: Cdw10 }))` — its
   * members are the enclosing record's, by name; the key only labels it.
   * @throws {TypeError} not a struct or union.
   */
  anon: <V>(type: Type<V>) => AnonymousMember<V>;
  /**
   * A type with another alignment, as `typedef T name __attribute__((aligned(n)))` (which may
   * raise or lower it); its size does not change.
   * @throws {TypeError} not a type. @throws {RangeError} an alignment that is not a power of two.
   */
  aligned: <V>(type: Type<V>, n: number) => Type<V> & { readonly inner: Type<V> };
  /** `void *` (8 bytes): an address as a bigint, 0n for NULL. */
  ptr: Type<bigint>;
  /**
   * A pointer member to a caller buffer: `t.buffer({ dir: "out", length: 4096 })`, or
   * `{ dir: "in", lengthFrom: "size" }` naming an integer member of the same struct holding the
   * length in bytes. 8 bytes; its value is the buffer's address.
   * @throws {RangeError} a bad direction, or not exactly one of `length` and `lengthFrom`.
   */
  buffer: (spec: BufferSpec) => PointerType;
  /**
   * An enum of named values stored in `base` (u32 by default).
   * @throws {RangeError} no value, a name that is not an identifier, a value that does not fit `base`.
   */
  enumOf: <const E extends Record<string, number>>(
    values: E,
    base?: Type<number> | Type<bigint>,
    name?: string,
  ) => EnumType<keyof E & string>;
  /**
   * The element type of an ioctl-style byte vector whose layout parameter `param` chooses:
   * `t.vectorInOut(t.byCommand("cmd", { GET_INFO: InfoReq, 0x22: CfgReq }))` — keys are codes or
   * names of the command parameter's enum; a command not named passes bytes.
   * @throws {TypeError} a `param` that is not a name, or a layout that is not a type.
   */
  byCommand: <const M extends Readonly<Record<string, Type<unknown>>>>(
    param: string,
    commands: M,
  ) => CommandType<M>;
  /** IN: copied to the kernel. @throws {TypeError} when given no type. */
  in: ParamMaker<"in">;
  /** OUT: filled by the kernel (sync kernel callbacks only). @throws {TypeError} when given no type. */
  out: ParamMaker<"out">;
  /** INOUT: copied to the kernel and back (sync kernel callbacks only). @throws {TypeError} when given no type. */
  inout: ParamMaker<"inout">;
  /** VECTOR_IN: a variable-length vector of `type` elements, copied to the kernel. @throws {TypeError} when given no type. */
  vectorIn: ParamMaker<"vectorIn">;
  /** VECTOR_OUT: a caller-sized vector the kernel fills (sync kernel callbacks only). @throws {TypeError} when given no type. */
  vectorOut: ParamMaker<"vectorOut">;
  /** VECTOR_INOUT: a vector copied to the kernel and back (sync kernel callbacks only). @throws {TypeError} when given no type. */
  vectorInOut: ParamMaker<"vectorInOut">;
}
