/**
 * `vmk_Bool`: one byte, true = 1.
 * @module
 */
import { describeValue, type Type } from "./type.ts";
import { ValueError } from "../errors.ts";

/** `vmk_Bool`. */
export const bool: Type<boolean> = {
  kind: "bool",
  name: "bool",
  size: 1,
  align: 1,
  encode(view, offset, value, path) {
    if (typeof value === "boolean") return view.setUint8(offset, value ? 1 : 0);
    if (value === 0 || value === 1) return view.setUint8(offset, value);
    throw new ValueError(path, `expected true or false (bool), got ${describeValue(value)}`);
  },
  decode: (view, offset) => view.getUint8(offset) !== 0,
  fromJson(json, path) {
    if (json === true || json === "true" || json === 1 || json === "1") return true;
    if (json === false || json === "false" || json === 0 || json === "0") return false;
    throw new ValueError(path, `expected true or false (bool), got ${describeValue(json)}`);
  },
  toJson: (v) => v,
  describe: () => "bool",
};
