/**
 * Text in a fixed `char[length]`: NUL-terminated UTF-8 (`t.string`), or as `strncpy(dst, src,
 * sizeof dst)` leaves it — NUL-terminated only when shorter, so it may be completely full
 * (`t.chars`, as real drivers' names are).
 * @module
 */
import { cString } from "../../abi/c_text.ts";
import { writeBytes, zeroBytes } from "./byte_pool.ts";
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
      if (typeof value === "string" && writeAscii(view, offset, value, capacity)) {
        zeroBytes(view, offset + value.length, length - value.length);
        return;
      }
      const bytes = check(value, path);
      writeBytes(view, offset, bytes, length);
    },
    decode(view, offset) {
      return readAscii(view, offset, length) ?? cString(bytesOf(view, offset, length));
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

// Why ASCII is written and read by hand: `TextEncoder.encode` makes a new buffer per string (~1 µs
// here, most of a driver-info struct's encoding), and text in drivers' structs is nearly always
// ASCII, whose UTF-8 is its char codes. Anything else takes the UTF-8 path, which also says what is
// wrong.

/**
 * Writes `text` at `offset` when it is ASCII without NUL and at most `capacity` characters; false
 * (some bytes may be written) otherwise.
 */
function writeAscii(view: DataView, offset: number, text: string, capacity: number): boolean {
  if (text.length > capacity) return false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0 || c > 0x7f) return false;
    view.setUint8(offset + i, c);
  }
  return true;
}

/** Past this many characters the decoder's own loop is quicker than a string built a char at a time. */
const ASCII_READ_MAX = 24;

/**
 * The text up to the first NUL in `length` bytes at `offset` when it is ASCII and short; else
 * undefined.
 */
function readAscii(view: DataView, offset: number, length: number): string | undefined {
  let text = "";
  for (let i = 0; i < length; i++) {
    const c = view.getUint8(offset + i);
    if (c === 0) return text;
    if (c > 0x7f || i === ASCII_READ_MAX) return undefined;
    text += String.fromCharCode(c);
  }
  return text;
}

/** A NUL-terminated UTF-8 string in a `char[length]` (at most length-1 bytes). */
export function stringType(length: number): Type<string> {
  return charArray(length, false);
}

/** A `char[length]` that may be completely full (no NUL); a shorter string is NUL-padded. */
export function charsType(length: number): Type<string> {
  return charArray(length, true);
}
