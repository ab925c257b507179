/**
 * Fixed arrays: exactly `length` elements of one type, laid out back to back.
 * @module
 */
import { checkLength, describeValue, type Type, type ValueOf } from "./type.ts";
import { ValueError } from "../errors.ts";

/** An array type: its element type and length. */
export interface ArrayType<V> extends Type<V> {
  /** Every element's type (C's `T x[N]`: N of them, each `element.size` bytes apart). */
  readonly element: Type<unknown>;
  /** The number of elements. */
  readonly length: number;
}

/** A fixed array of exactly `length` elements. */
export function arrayType<T extends Type<unknown>>(element: T, length: number): ArrayType<ValueOf<T>[]> {
  checkLength(length, "array");
  if (element.size % element.align !== 0) {
    // GCC refuses such arrays too: element i+1 would not be aligned.
    throw new RangeError(
      `an array of ${element.name} is impossible: its alignment ${element.align} exceeds its size ${element.size}`,
    );
  }
  return {
    kind: "array",
    name: `${element.name}[${length}]`,
    element,
    length,
    size: element.size * length,
    align: element.align,
    encode(view, offset, value, path, buffers) {
      if (!Array.isArray(value)) {
        throw new ValueError(
          path,
          `expected an array of ${length} ${element.name}, got ${describeValue(value)}`,
        );
      }
      if (value.length !== length) {
        throw new ValueError(path, `expected exactly ${length} elements, got ${value.length}`);
      }
      value.forEach((v, i) => element.encode(view, offset + i * element.size, v, `${path}[${i}]`, buffers));
    },
    decode(view, offset) {
      const out: ValueOf<T>[] = [];
      for (let i = 0; i < length; i++) {
        out.push(element.decode(view, offset + i * element.size) as ValueOf<T>);
      }
      return out;
    },
    fromJson(json, path) {
      if (!Array.isArray(json)) throw new ValueError(path, `expected a JSON array of ${length}`);
      if (json.length !== length) {
        throw new ValueError(path, `expected exactly ${length} elements, got ${json.length}`);
      }
      return json.map((j, i) => element.fromJson(j, `${path}[${i}]`) as ValueOf<T>);
    },
    toJson: (v) => v.map((e) => element.toJson(e)),
    describe: () => ({ array: element.describe(), length }),
  };
}
