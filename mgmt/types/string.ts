/**
 * Text in a fixed `char[length]`: NUL-terminated UTF-8 (`t.string`), or as `strncpy(dst, src,
 * sizeof dst)` leaves it — NUL-terminated only when shorter, so it may be completely full
 * (`t.chars`, as real drivers' names are).
 * @module
 */
import { cString } from "../../abi/c_text.ts";
import { writeBytes } from "./byte_pool.ts";
import { bytesOf, checkLength, describeValue, type Type } from "./type.ts";
import { ValueError } from "../errors.ts";

const encoder = new TextEncoder();

function charArray(length: number, full: boolean): Type<string> {
  const kind = full ? "chars" : "string";
  checkLength(length, kind);
  const capacity = full ? length : length - 1;
  const check = (value: unknown, path: string): Uint8Array => {
    if (typeof value !== "string") {
      throw new ValueError(path, `expected a string (char[${length}]), got ${describeValue(value)}`);
    }
    const bytes = encoder.encode(value);
    if (bytes.includes(0)) throw new ValueError(path, "a string must not contain NUL characters");
    if (bytes.length > capacity) {
      throw new ValueError(
        path,
        `string is ${bytes.length} bytes of UTF-8; char[${length}] holds at most ${capacity} ${
          full ? "(no NUL needed)" : "plus NUL"
        }`,
      );
    }
    return bytes;
  };
  return {
    kind,
    name: `char[${length}]`,
    size: length,
    align: 1,
    encode(view, offset, value, path) {
      const bytes = check(value, path);
      writeBytes(view, offset, bytes, length);
    },
    decode(view, offset) {
      return cString(bytesOf(view, offset, length));
    },
    fromJson(json, path) {
      // A string's JSON form is itself; `t.chars` checks its length here too, so a value too long
      // is refused where it is read.
      if (full) return (check(json, path), json as string);
      if (typeof json !== "string") {
        throw new ValueError(path, `expected a string (char[${length}]), got ${describeValue(json)}`);
      }
      return json;
    },
    toJson: (v) => v,
    describe: () => (full ? { chars: length } : { string: length }),
  };
}

/** A NUL-terminated UTF-8 string in a `char[length]` (at most length-1 bytes). */
export function stringType(length: number): Type<string> {
  return charArray(length, false);
}

/** A `char[length]` that may be completely full (no NUL); a shorter string is NUL-padded. */
export function charsType(length: number): Type<string> {
  return charArray(length, true);
}
