/**
 * Enums: named values stored in an integer of up to 32 bits.
 * @module
 */
import { u32 } from "./int.ts";
import { describeValue, IDENT, type Type } from "./type.ts";
import { ValueError } from "../errors.ts";

/** An enum type: values are the names, or a number when the kernel sends one with no name. */
export interface EnumType<N extends string> extends Type<N | number> {
  /** Name → number. */
  readonly values: Readonly<Record<N, number>>;
}

/** An enum of named values stored in `base` (u32 by default). */
export function enumType<const E extends Record<string, number>>(
  values: E,
  base: Type<number> = u32,
  name?: string,
): EnumType<keyof E & string> {
  type N = keyof E & string;
  const names = Object.keys(values) as N[];
  if (names.length === 0) throw new RangeError("an enum needs at least one named value");
  if (base.kind !== "int" || base.size === 8) {
    throw new RangeError("an enum's base must be u8..u32 or i8..i32");
  }
  const byNumber = new Map<number, N>();
  for (const n of names) {
    if (!IDENT.test(n)) throw new RangeError(`enum name ${JSON.stringify(n)} is not an identifier`);
    base.fromJson(values[n], `enum ${n}`);
    byNumber.set(values[n], n);
  }
  const list = names.join(", ");
  const toNumber = (value: unknown, path: string): number => {
    if (typeof value === "string" && value in values) return values[value as N];
    if (typeof value === "number" && Number.isInteger(value)) return value;
    throw new ValueError(path, `expected one of ${list}, got ${describeValue(value)}`);
  };
  return {
    kind: "enum",
    name: name ?? `enum { ${names.map((n) => `${n}=${values[n]}`).join(", ")} }`,
    size: base.size,
    align: base.align,
    values,
    encode: (view, offset, value, path) => base.encode(view, offset, toNumber(value, path), path),
    decode(view, offset) {
      const n = base.decode(view, offset);
      return byNumber.get(n) ?? n;
    },
    fromJson(json, path) {
      if (typeof json === "string" && /^-?\d+$/.test(json)) json = Number(json);
      const n = toNumber(json, path);
      base.fromJson(n, path);
      return byNumber.get(n) ?? n;
    },
    toJson: (v) => v,
    describe:
      () => (name
        ? { enum: { ...values }, base: base.name, name }
        : { enum: { ...values }, base: base.name }),
  };
}
