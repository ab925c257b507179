/**
 * Enums: named values stored in an integer of up to 32 bits.
 * @module
 */
import { isCIdentifier } from "../../abi/c_text.ts";
import { u32 } from "./int.ts";
import { describeValue, type Type } from "./type.ts";
import { SignatureError, ValueError } from "../errors.ts";

/** An enum type: values are the names, or a number (a bigint in a 64-bit base) when the kernel sends one with no name. */
export interface EnumType<N extends string> extends Type<N | number> {
  /** Name → number. */
  readonly values: Readonly<Record<N, number>>;
}

/**
 * An enum of named values stored in `base` (u32, a C enum's size, by default; any integer type,
 * as drivers keep enum constants in `vmk_uint8` or `vmk_uint64` fields).
 * @throws {SignatureError} no named value, or a name that is not an identifier.
 * @throws {TypeError} a base that is not an integer type. @throws {RangeError} a value that is not a whole
 * number.
 */
export function enumType<const E extends Record<string, number>>(
  values: E,
  base: Type<number> | Type<bigint> = u32,
  name?: string,
): EnumType<keyof E & string> {
  type N = keyof E & string;
  const names = Object.keys(values) as N[];
  if (names.length === 0) throw new SignatureError("an enum needs at least one named value");
  if (!base || base.kind !== "int") {
    throw new TypeError("an enum's base must be an integer type (u8…u64, i8…i64)");
  }
  const byNumber = new Map<number, N>();
  for (const n of names) {
    if (!isCIdentifier(n)) throw new SignatureError(`enum name ${JSON.stringify(n)} is not an identifier`);
    if (!Number.isSafeInteger(values[n])) {
      throw new RangeError(`enum ${n}: ${values[n]} is not a whole number`);
    }
    base.fromJson(values[n], `enum ${n}`);
    byNumber.set(values[n], n);
  }
  const list = names.join(", ");
  const wide = base.size === 8;
  const toNumber = (value: unknown, path: string): number | bigint => {
    if (typeof value === "string" && Object.hasOwn(values, value)) return values[value as N];
    if (typeof value === "number" && Number.isInteger(value)) return value;
    if (typeof value === "bigint" && wide) return value;
    throw new ValueError(path, `expected one of ${list}, got ${describeValue(value)}`);
  };
  const named = (n: number | bigint): N | number => {
    const found = byNumber.get(Number(n));
    if (found !== undefined && BigInt(values[found]) === BigInt(n)) return found;
    return n as number;
  };
  const encodeBase = base as Type<unknown>;
  return {
    kind: "enum",
    name: name ?? `enum { ${names.map((n) => `${n}=${values[n]}`).join(", ")} }`,
    size: base.size,
    align: base.align,
    values,
    encode: (view, offset, value, path) => encodeBase.encode(view, offset, toNumber(value, path), path),
    decode: (view, offset) => named(base.decode(view, offset)),
    fromJson(json, path) {
      if (typeof json === "string" && /^-?\d+$/.test(json)) json = wide ? BigInt(json) : Number(json);
      const n = toNumber(json, path);
      encodeBase.fromJson(n, path);
      return named(n);
    },
    toJson: (v) => (typeof v === "bigint" ? String(v) : v),
    describe:
      () => (name
        ? { enum: { ...values }, base: base.name, name }
        : { enum: { ...values }, base: base.name }),
  };
}
