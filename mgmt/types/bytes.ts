/**
 * Fixed byte blocks: `u8[length]` as a Uint8Array, hex in JSON.
 * @module
 */
import { parseHex, toHex } from "../../util/hex.ts";
import { copyOut, writeBytes } from "./byte_pool.ts";
import { checkLength, describeValue, type Type } from "./type.ts";
import { ValueError } from "../errors.ts";

/**
 * A fixed block of `length` bytes (`u8[length]`), as a Uint8Array; shorter input is zero-padded.
 * A decoded one of up to 512 bytes is a view of a shared slab (byte_pool.ts): `.slice()` it for a
 * buffer of its own.
 */
export function bytesType(length: number): Type<Uint8Array> {
  checkLength(length, "bytes");
  return {
    kind: "bytes",
    name: `u8[${length}]`,
    size: length,
    align: 1,
    encode(view, offset, value, path) {
      let src: ArrayLike<number>;
      if (value instanceof Uint8Array) src = value;
      else if (Array.isArray(value) && value.every((b) => Number.isInteger(b) && b >= 0 && b <= 255)) {
        src = value;
      } else {
        throw new ValueError(
          path,
          `expected bytes (Uint8Array, up to ${length}), got ${describeValue(value)}`,
        );
      }
      if (src.length > length) {
        throw new ValueError(path, `${src.length} bytes do not fit u8[${length}]`);
      }
      writeBytes(view, offset, src, length);
    },
    decode: (view, offset) => copyOut(view, offset, length),
    fromJson: (json, path) => bytesFromJson(json, path),
    toJson: (v) => toHex(v),
    describe: () => ({ bytes: length }),
  };
}

/**
 * Bytes from their JSON forms: hex text (`"0a0b"`), an array of 0..255, or a Uint8Array.
 * @throws {ValueError} naming `path` for anything else.
 */
export function bytesFromJson(json: unknown, path: string): Uint8Array {
  if (json instanceof Uint8Array) return json;
  if (Array.isArray(json)) {
    return Uint8Array.from(json, (b, i) => {
      if (!Number.isInteger(b) || b < 0 || b > 255) {
        throw new ValueError(`${path}[${i}]`, "expected a byte 0..255");
      }
      return b;
    });
  }
  if (typeof json === "string") {
    const hex = parseHex(json);
    if (hex) return hex;
  }
  throw new ValueError(
    path,
    `expected hex bytes such as "0a0b" or an array of 0..255, got ${
      typeof json === "string" ? describeValue(json) : JSON.stringify(json) ?? String(json)
    }`,
  );
}
