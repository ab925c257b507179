/**
 * Fixed char arrays as drivers fill them with `strncpy(dst, src, sizeof dst)`: up to `length`
 * bytes of UTF-8, NUL-terminated only when shorter.
 * @module
 */
import { bytesOf, checkLength, describeValue, type Type } from "./type.ts";
import { ValueError } from "../errors.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A `char[length]` that may be completely full (no NUL); a shorter string is NUL-padded. */
export function charsType(length: number): Type<string> {
  checkLength(length, "chars");
  const check = (value: unknown, path: string): Uint8Array => {
    if (typeof value !== "string") {
      throw new ValueError(path, `expected a string (char[${length}]), got ${describeValue(value)}`);
    }
    const bytes = encoder.encode(value);
    if (bytes.includes(0)) throw new ValueError(path, "a string must not contain NUL characters");
    if (bytes.length > length) {
      throw new ValueError(
        path,
        `string is ${bytes.length} bytes of UTF-8; char[${length}] holds at most ${length} (no NUL needed)`,
      );
    }
    return bytes;
  };
  return {
    kind: "chars",
    name: `char[${length}]`,
    size: length,
    align: 1,
    encode(view, offset, value, path) {
      const bytes = check(value, path);
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
      check(json, path);
      return json as string;
    },
    toJson: (v) => v,
    describe: () => ({ chars: length }),
  };
}
