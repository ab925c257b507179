/**
 * Floating-point types `f32` and `f64`.
 * @module
 */
import { describeValue, type Type } from "./type.ts";
import { ValueError } from "../errors.ts";

function floatType(name: "f32" | "f64", size: 4 | 8): Type<number> {
  return {
    kind: "float",
    name,
    size,
    align: size,
    encode(view, offset, value, path) {
      if (typeof value !== "number") {
        throw new ValueError(path, `expected a number (${name}), got ${describeValue(value)}`);
      }
      if (size === 4) view.setFloat32(offset, value, true);
      else view.setFloat64(offset, value, true);
    },
    decode: (view, offset) => (size === 4 ? view.getFloat32(offset, true) : view.getFloat64(offset, true)),
    fromJson(json, path) {
      if (typeof json === "number") return json;
      if (typeof json === "string" && json.trim() !== "" && !Number.isNaN(Number(json))) return Number(json);
      throw new ValueError(path, `expected a number (${name}), got ${describeValue(json)}`);
    },
    toJson: (v) => (Number.isFinite(v) ? v : String(v)),
    describe: () => name,
  };
}

/** C `float`. */
export const f32: Type<number> = floatType("f32", 4);
/** C `double`. */
export const f64: Type<number> = floatType("f64", 8);
