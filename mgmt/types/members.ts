/**
 * What a struct or union member can be besides a plain type: a bitfield (`u32 featureID : 8`), an
 * unnamed bitfield that only pads (`u32 : 24`, `u32 : 0`), or a member with field attributes
 * (`__attribute__((packed))`, `__attribute__((aligned(n)))`). Also the bit-level reads and writes
 * bitfields need.
 * @module
 */
import { parseIntText } from "./int.ts";
import { isAlignment } from "./record_layout.ts";
import { describeValue, type MemberJsonForm, type Type } from "./type.ts";
import { ValueError } from "../errors.ts";

/**
 * Field attributes: `__attribute__((packed))` and `__attribute__((aligned(n)))` on one member, and
 * `out`, which C has no word for.
 */
export interface FieldAttributes {
  /** `__attribute__((packed))`: this member ignores its type's alignment (and may straddle, for a bitfield). */
  readonly packed?: boolean;
  /** `__attribute__((aligned(n)))`: this member is at least n-aligned (a power of two). */
  readonly aligned?: number;
  /**
   * The driver fills it in (a status, a completion dword): a value given to `invoke` may leave it
   * out — it is sent as zero — and the REPL does not ask for it. It changes no layout; a C header
   * does not say it, so a signature imported from C marks none.
   */
  readonly out?: boolean;
}

/** A named bitfield of `width` bits of declared type `base` (an integer, an enum or bool). */
export interface BitField<V = unknown> extends FieldAttributes {
  /** Tells a named bitfield from the other member kinds. */
  readonly member: "bits";
  /** The declared type: its size is the storage unit, its signedness the field's. */
  readonly base: Type<V>;
  /** Width in bits, 1..the base's bits. */
  readonly width: number;
}

/** An unnamed bitfield: `width` bits of padding (`: 0` moves to the next unit of `base`). It carries no value. */
export interface PadBits extends FieldAttributes {
  /** Tells padding bits from the other member kinds. */
  readonly member: "pad";
  /** The declared type. */
  readonly base: Type<unknown>;
  /** Width in bits, 0..the base's bits. */
  readonly width: number;
}

/** A member with field attributes. */
export interface AttributedField<T extends Type<unknown> = Type<unknown>> extends FieldAttributes {
  /** Tells an attributed member from a plain type. */
  readonly member: "field";
  /** The member's type; the attributes change only where it sits. */
  readonly type: T;
}

/**
 * An anonymous struct or union member (C11): its members are the enclosing record's, by name —
 * `struct { union { vmk_uint32 raw; struct { vmk_uint32 cns : 8, : 24; }; }; }` has members `raw` and `cns`.
 */
export interface AnonymousMember<V = unknown> {
  /** Tells an anonymous struct or union from the other member kinds. */
  readonly member: "anon";
  /** The struct or union whose members are lifted. */
  readonly type: Type<V> & { readonly kind: "struct" | "union" };
}

/** Anything a struct or union member can be. */
export type Member = Type<unknown> | BitField | PadBits | AttributedField | AnonymousMember;

/** The JavaScript value of a member (none for padding). */
export type MemberValue<M> = M extends BitField<infer V> ? V
  : M extends AttributedField<infer T> ? T extends Type<infer V> ? V : never
  : M extends Type<infer V> ? V
  : never;

/** The values an anonymous member adds to its record (an intersection of each one's value). */
export type AnonymousValues<F> = (
  {
    [K in keyof F]: F[K] extends AnonymousMember<infer V> ? (x: V) => void
      : (x: Record<never, never>) => void;
  }[
    keyof F
  ]
) extends (x: infer I) => void ? I : never;

/** The JSON form of a member that is not a plain type. */
export type MemberJson = MemberJsonForm;

function checkAttributes(attrs: FieldAttributes | undefined, what: string): FieldAttributes {
  const out: { packed?: boolean; aligned?: number; out?: boolean } = {};
  if (attrs === undefined) return out;
  if (attrs === null || typeof attrs !== "object") {
    throw new TypeError(`${what}: attributes must be an object`);
  }
  for (const k of Object.keys(attrs)) {
    if (k !== "packed" && k !== "aligned" && k !== "out") {
      throw new RangeError(`${what}: unknown attribute ${k}; attributes are packed, aligned, out`);
    }
  }
  if (attrs.out !== undefined) {
    if (typeof attrs.out !== "boolean") throw new TypeError(`${what}: out must be true or false`);
    if (attrs.out) out.out = true;
  }
  if (attrs.packed !== undefined) {
    if (typeof attrs.packed !== "boolean") throw new TypeError(`${what}: packed must be true or false`);
    if (attrs.packed) out.packed = true;
  }
  if (attrs.aligned !== undefined) {
    if (!isAlignment(attrs.aligned)) {
      throw new RangeError(`${what}: aligned(${attrs.aligned}) must be a power of two`);
    }
    out.aligned = attrs.aligned;
  }
  return out;
}

function checkBitBase(base: Type<unknown>, what: string): void {
  if (!base || typeof base.encode !== "function") {
    throw new TypeError(`${what}: the declared type must be a type such as t.u32`);
  }
  if (base.kind !== "int" && base.kind !== "enum" && base.kind !== "bool") {
    throw new TypeError(`${what}: a bitfield's type must be an integer, an enum or bool, not ${base.name}`);
  }
}

/**
 * A named bitfield: `t.bits(t.u32, 8)` is `vmk_uint32 x : 8`.
 * @throws {RangeError} a width of 0 (use {@link padBits}) or wider than the type. @throws {TypeError} a type that is not an integer, enum or bool.
 */
export function bitField<V>(base: Type<V>, width: number, attrs?: FieldAttributes): BitField<V> {
  const what = `bitfield ${base?.name ?? String(base)} : ${width}`;
  checkBitBase(base, what);
  if (!Number.isInteger(width) || width < 1 || width > bitsOf(base)) {
    throw new RangeError(
      `${what}: a named bitfield's width must be 1..${bitsOf(base)} (${base.name} has ${bitsOf(base)} bits)${
        width === 0 ? "; a : 0 field has no name (t.pad)" : ""
      }`,
    );
  }
  return Object.freeze({ member: "bits", base, width, ...checkAttributes(attrs, what) });
}

/**
 * An unnamed bitfield: `t.pad(t.u32, 24)` is `vmk_uint32 : 24`, `t.pad(t.u32, 0)` is `vmk_uint32 : 0`.
 * @throws {RangeError} a width wider than the type. @throws {TypeError} a type that is not an integer, enum or bool.
 */
export function padBits(base: Type<unknown>, width: number, attrs?: FieldAttributes): PadBits {
  const what = `unnamed bitfield ${base?.name ?? String(base)} : ${width}`;
  checkBitBase(base, what);
  if (!Number.isInteger(width) || width < 0 || width > bitsOf(base)) {
    throw new RangeError(
      `${what}: the width must be 0..${bitsOf(base)} (${base.name} has ${bitsOf(base)} bits)`,
    );
  }
  return Object.freeze({ member: "pad", base, width, ...checkAttributes(attrs, what) });
}

/**
 * An anonymous struct or union member: `t.anon(t.union({ raw: t.u32, … }))`. Its key only labels
 * it. (C gives an anonymous member no field attributes: one written after its `}` is the type's, so
 * use the record's own options, e.g. `t.union({…}, { aligned: 8 })`.)
 * @throws {TypeError} not a struct or union.
 */
export function anonymousMember<V>(type: Type<V>): AnonymousMember<V> {
  if (!type || (type.kind !== "struct" && type.kind !== "union")) {
    throw new TypeError(`t.anon(…) needs a t.struct or t.union, got ${type?.name ?? String(type)}`);
  }
  return Object.freeze({ member: "anon", type: type as AnonymousMember<V>["type"] });
}

/**
 * A member with field attributes: `t.field(t.u64, { aligned: 8 })` is `vmk_uint64 x __attribute__((aligned(8)))`.
 * @throws {TypeError} not a type, or bad attributes. @throws {RangeError} an alignment that is not a power of two.
 */
export function attributedField<T extends Type<unknown>>(
  type: T,
  attrs: FieldAttributes,
): AttributedField<T> {
  if (!type || typeof type.encode !== "function") {
    throw new TypeError(`t.field(…) needs a type such as t.u32, got ${String(type)}`);
  }
  return Object.freeze({ member: "field", type, ...checkAttributes(attrs, `field ${type.name}`) });
}

/** True for a bitfield, padding, attributed or anonymous member; false for a plain type. */
export function isMemberSpec(m: unknown): m is BitField | PadBits | AttributedField | AnonymousMember {
  return typeof m === "object" && m !== null && "member" in m;
}

/** How many bits a bitfield of declared type `base` may have: a `_Bool` has 1, others their size. */
export function bitsOf(base: Type<unknown>): number {
  return base.kind === "bool" ? 1 : base.size * 8;
}

/** Whether integers of `base` are signed (`i8`…`i64`, or an enum stored in one). */
function isSigned(base: Type<unknown>): boolean {
  if (base.kind === "int") return base.name.startsWith("i");
  if (base.kind === "enum") return /^i/.test((base.describe() as { base?: string }).base ?? "u32");
  return false;
}

/** Reads and writes one bitfield at a bit offset of a record. */
export interface BitCodec {
  /** Writes `value` (checked against the width), leaving the other bits alone. */
  write(view: DataView, recordOffset: number, value: unknown, path: string): void;
  /** Reads the field's value. */
  read(view: DataView, recordOffset: number): unknown;
  /** Converts a JSON value to a value `write` takes. */
  fromJson(json: unknown, path: string): unknown;
}

/** The codec of a bitfield of `width` bits of `base`, `bitOffset` bits into its record. */
export function bitCodec(base: Type<unknown>, width: number, bitOffset: number): BitCodec {
  const signed = isSigned(base);
  const w = BigInt(width);
  const mask = (1n << w) - 1n;
  const min = signed ? -(1n << (w - 1n)) : 0n;
  const max = signed ? (1n << (w - 1n)) - 1n : mask;
  const first = Math.floor(bitOffset / 8);
  const span = Math.floor((bitOffset + width - 1) / 8) - first + 1;
  const shift = BigInt(bitOffset % 8);
  const wide = base.size === 8;
  const values = base.kind === "enum"
    ? (base as unknown as { values: Record<string, number> }).values
    : undefined;
  const byNumber = values ? new Map(Object.entries(values).map(([k, v]) => [v, k])) : undefined;
  const what = `${base.name} : ${width}`;
  const toBig = (value: unknown, path: string): bigint => {
    if (base.kind === "bool" && typeof value === "boolean") return value ? 1n : 0n;
    if (values && typeof value === "string") {
      if (!Object.hasOwn(values, value)) {
        throw new ValueError(
          path,
          `expected one of ${Object.keys(values).join(", ")}, got ${describeValue(value)}`,
        );
      }
      return BigInt(values[value]);
    }
    if (typeof value === "bigint") return value;
    if (typeof value === "number" && Number.isInteger(value)) return BigInt(value);
    const wants = base.kind === "bool" ? "true or false" : `an integer ${min}..${max}`;
    throw new ValueError(path, `expected ${wants} (${what}), got ${describeValue(value)}`);
  };
  const toValue = (v: bigint | number): unknown => {
    if (base.kind === "bool") return v != 0;
    if (wide) return BigInt(v);
    const n = Number(v);
    return byNumber?.get(n) ?? n;
  };
  // Most bitfields sit within 32 bits from their first byte: plain numbers are exact there and
  // several times faster than bigint.
  const small = (bitOffset % 8) + width <= 32;
  const unit = 2 ** (bitOffset % 8);
  const range = 2 ** width;
  const minN = Number(min);
  const maxN = Number(max);
  const readWord = (view: DataView, at: number): number => {
    let word = 0;
    for (let i = span - 1; i >= 0; i--) word = word * 256 + view.getUint8(at + i);
    return word;
  };
  return {
    write(view, recordOffset, value, path) {
      const at = recordOffset + first;
      if (small && typeof value === "number" && Number.isInteger(value)) {
        if (value < minN || value > maxN) {
          throw new ValueError(path, `${value} does not fit ${width} bits (${min}..${max}, ${what})`);
        }
        let word = readWord(view, at);
        const low = word % unit;
        const high = Math.floor(word / (unit * range));
        word = (high * range + (value < 0 ? value + range : value)) * unit + low;
        for (let i = 0; i < span; i++, word = Math.floor(word / 256)) view.setUint8(at + i, word % 256);
        return;
      }
      const v = toBig(value, path);
      if (v < min || v > max) {
        throw new ValueError(path, `${v} does not fit ${width} bits (${min}..${max}, ${what})`);
      }
      if (small) return this.write(view, recordOffset, Number(v), path);
      let word = 0n;
      for (let i = span - 1; i >= 0; i--) word = (word << 8n) | BigInt(view.getUint8(at + i));
      word = (word & ~(mask << shift)) | ((v & mask) << shift);
      for (let i = 0; i < span; i++) view.setUint8(at + i, Number((word >> BigInt(8 * i)) & 0xffn));
    },
    read(view, recordOffset) {
      const at = recordOffset + first;
      if (small) {
        let v = Math.floor(readWord(view, at) / unit) % range;
        if (signed && v > maxN) v -= range;
        return toValue(v);
      }
      let word = 0n;
      for (let i = span - 1; i >= 0; i--) word = (word << 8n) | BigInt(view.getUint8(at + i));
      let v = (word >> shift) & mask;
      if (signed && v > max) v -= 1n << w;
      return toValue(v);
    },
    fromJson(json, path) {
      if (base.kind === "bool" || values) return base.fromJson(json, path);
      const v = (typeof json === "string" ? parseIntText(json) : undefined) ?? toBig(json, path);
      if (v < min || v > max) {
        throw new ValueError(path, `${v} does not fit ${width} bits (${min}..${max}, ${what})`);
      }
      return wide ? v : Number(v);
    },
  };
}
