/**
 * Fixed strings: NUL-terminated UTF-8 in a `char[length]`.
 * @module
 */
import { bytesOf, checkLength, describeValue, type Type } from "./type.ts";
import { ValueError } from "../errors.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A NUL-terminated UTF-8 string in a `char[length]` (at most length-1 bytes). */
export function stringType(length: number): Type<string> {
  checkLength(length, "string");
  return {
    kind: "string",
    name: `char[${length}]`,
    size: length,
    align: 1,
    encode(view, offset, value, path) {
      if (typeof value !== "string") {
        throw new ValueError(path, `expected a string (char[${length}]), got ${describeValue(value)}`);
      }
      const bytes = encoder.encode(value);
      if (bytes.includes(0)) throw new ValueError(path, "a string must not contain NUL characters");
      if (bytes.length > length - 1) {
        throw new ValueError(
          path,
          `string is ${bytes.length} bytes of UTF-8; char[${length}] holds at most ${length - 1} plus NUL`,
        );
      }
      const dst = bytesOf(view, offset, length);
      dst.fill(0);
      dst.set(bytes);
    },
    decode(view, offset) {
      const src = bytesOf(view, offset, length);
      const end = src.indexOf(0);
      return decoder.decode(src.subarray(0, end < 0 ? length : end));
    },
    fromJson(json, path) {
      if (typeof json !== "string") {
        throw new ValueError(path, `expected a string (char[${length}]), got ${describeValue(json)}`);
      }
      return json;
    },
    toJson: (v) => v,
    describe: () => ({ string: length }),
  };
}
