/**
 * Integer types `u8`…`u64`, `i8`…`i64`: numbers up to 32 bits, bigint for 64-bit.
 * @module
 */
import { describeValue, type Type } from "./type.ts";
import { ValueError } from "../errors.ts";

/** The integer type names. */
export type IntName = "u8" | "u16" | "u32" | "u64" | "i8" | "i16" | "i32" | "i64";

/** An integer type; its name is kept literal so vectors of `u8` can be typed as bytes. */
export type IntType<V extends number | bigint, N extends IntName = IntName> = Type<V> & { readonly name: N };

/** An integer written as JSON text (`"42"`, `"-7"`, `"0x1f"`), or undefined for any other text. */
export function parseIntText(text: string): bigint | undefined {
  const s = text.trim();
  if (!/^[+-]?(0x[0-9a-f]+|\d+)$/i.test(s)) return undefined;
  const v = BigInt(s.replace(/^[+-]/, ""));
  return s.startsWith("-") ? -v : v;
}

function parseBigIntLike(json: unknown, path: string, name: string): bigint | number {
  if (typeof json === "bigint" || typeof json === "number") return json;
  const parsed = typeof json === "string" ? parseIntText(json) : undefined;
  if (parsed !== undefined) return parsed;
  throw new ValueError(
    path,
    `expected ${name} (a number or a decimal/0x string), got ${describeValue(json)}`,
  );
}

function intType<V extends number | bigint, N extends IntName = IntName>(
  name: N,
  size: number,
  signed: boolean,
): IntType<V, N> {
  const bits = BigInt(size * 8);
  const min = signed ? -(1n << (bits - 1n)) : 0n;
  const max = signed ? (1n << (bits - 1n)) - 1n : (1n << bits) - 1n;
  const wide = size === 8;
  const range = `${min}..${max}`;
  // (bounds as numbers once: a BigInt turned into a number on every call cost more than the write)
  const minNumber = Number(min), maxNumber = Number(max);
  const toBig = (value: unknown, path: string): bigint => {
    if (typeof value === "bigint") return value;
    if (typeof value === "number" && Number.isInteger(value)) return BigInt(value);
    throw new ValueError(path, `expected an integer ${range} (${name}), got ${describeValue(value)}`);
  };
  const type: IntType<V, N> = {
    kind: "int",
    name,
    size,
    align: size,
    encode(view, offset, value, path) {
      if (!wide && typeof value === "number" && Number.isInteger(value)) {
        if (value < minNumber || value > maxNumber) {
          throw new ValueError(path, `${value} is out of range ${range} (${name})`);
        }
        switch (name) {
          case "u8":
            return view.setUint8(offset, value);
          case "i8":
            return view.setInt8(offset, value);
          case "u16":
            return view.setUint16(offset, value, true);
          case "i16":
            return view.setInt16(offset, value, true);
          case "u32":
            return view.setUint32(offset, value, true);
          default:
            return view.setInt32(offset, value, true);
        }
      }
      const v = toBig(value, path);
      if (v < min || v > max) throw new ValueError(path, `${v} is out of range ${range} (${name})`);
      if (wide) {
        if (signed) view.setBigInt64(offset, v, true);
        else view.setBigUint64(offset, v, true);
      } else {
        type.encode(view, offset, Number(v), path);
      }
    },
    decode(view, offset) {
      switch (name) {
        case "u8":
          return view.getUint8(offset) as V;
        case "i8":
          return view.getInt8(offset) as V;
        case "u16":
          return view.getUint16(offset, true) as V;
        case "i16":
          return view.getInt16(offset, true) as V;
        case "u32":
          return view.getUint32(offset, true) as V;
        case "i32":
          return view.getInt32(offset, true) as V;
        case "u64":
          return view.getBigUint64(offset, true) as V;
        default:
          return view.getBigInt64(offset, true) as V;
      }
    },
    fromJson(json, path) {
      const v = toBig(parseBigIntLike(json, path, name), path);
      if (v < min || v > max) throw new ValueError(path, `${v} is out of range ${range} (${name})`);
      return (wide ? v : Number(v)) as V;
    },
    toJson: (value) => (wide ? String(value) : value),
    describe: () => name,
  };
  return type;
}

/** `vmk_uint8`. */
export const u8: IntType<number, "u8"> = intType("u8", 1, false);
/** `vmk_uint16`. */
export const u16: IntType<number, "u16"> = intType("u16", 2, false);
/** `vmk_uint32`. */
export const u32: IntType<number, "u32"> = intType("u32", 4, false);
/** `vmk_uint64`, as bigint. */
export const u64: IntType<bigint, "u64"> = intType("u64", 8, false);
/** `vmk_int8`. */
export const i8: IntType<number, "i8"> = intType("i8", 1, true);
/** `vmk_int16`. */
export const i16: IntType<number, "i16"> = intType("i16", 2, true);
/** `vmk_int32`. */
export const i32: IntType<number, "i32"> = intType("i32", 4, true);
/** `vmk_int64`, as bigint. */
export const i64: IntType<bigint, "i64"> = intType("i64", 8, true);
