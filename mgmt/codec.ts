/**
 * Parameter codec shared by the user side (ffi) and the simulated kernel: one payload parameter
 * between its JavaScript value and the C bytes that travel.
 *
 * @example
 * ```ts
 * import { decodeParam, encodeParam } from "./codec.ts";
 * import { acmeNic } from "./demo/acme_nic.ts";
 * const p = acmeNic.callbacks.setMtu.params[0];
 * decodeParam(p, encodeParam(p, 9000)); // 9000
 * ```
 * @module
 */
import type { ParamInfo } from "./signature.ts";
import { parseHex, toHex, type Type, ValueError } from "./types.ts";

/** True when vectors of this element type are Uint8Array on the JavaScript side. */
export function isByteElement(type: Type<unknown>): boolean {
  return type.kind === "int" && type.name === "u8";
}

/** Largest vector accepted, in bytes (the wire limit). */
export const MAX_VECTOR_BYTES = 64 * 1024 * 1024;

/**
 * Encodes the value of an `in`/`inout` parameter, or the elements of a `vectorIn`/`vectorInOut`
 * one. For `vectorOut`, `value` is the capacity in elements and a zeroed buffer is returned.
 * Throws {@link ValueError} naming `path` (the parameter name by default).
 */
export function encodeParam(p: ParamInfo, value: unknown, path: string = p.name): Uint8Array {
  if (p.dir === "vectorOut") {
    if (typeof value !== "number" || !Number.isInteger(value) || value < 1) {
      throw new ValueError(
        path,
        `vectorOut capacity: expected a whole number of elements ≥ 1, got ${String(value)}`,
      );
    }
    if (value * p.size > MAX_VECTOR_BYTES) {
      throw new ValueError(path, `capacity ${value} × ${p.size} bytes exceeds ${MAX_VECTOR_BYTES} bytes`);
    }
    return new Uint8Array(value * p.size);
  }
  if (p.dir === "vectorIn" || p.dir === "vectorInOut") {
    let elements: ArrayLike<unknown>;
    if (value instanceof Uint8Array && isByteElement(p.type)) {
      if (value.length === 0) {
        throw new ValueError(path, "a vector needs at least one element (the ABI refuses length 0)");
      }
      if (value.length > MAX_VECTOR_BYTES) {
        throw new ValueError(path, `${value.length} bytes exceed ${MAX_VECTOR_BYTES}`);
      }
      return value.slice();
    } else if (Array.isArray(value)) elements = value;
    else {
      throw new ValueError(
        path,
        `expected a vector (${isByteElement(p.type) ? "Uint8Array or " : ""}array of ${p.type.name}), got ${
          value === null ? "null" : typeof value
        }`,
      );
    }
    if (elements.length === 0) {
      throw new ValueError(path, "a vector needs at least one element (the ABI refuses length 0)");
    }
    if (elements.length * p.size > MAX_VECTOR_BYTES) {
      throw new ValueError(path, `${elements.length} elements exceed ${MAX_VECTOR_BYTES} bytes`);
    }
    const out = new Uint8Array(elements.length * p.size);
    const view = new DataView(out.buffer);
    for (let i = 0; i < elements.length; i++) p.type.encode(view, i * p.size, elements[i], `${path}[${i}]`);
    return out;
  }
  const out = new Uint8Array(p.size);
  p.type.encode(new DataView(out.buffer), 0, value, path);
  return out;
}

/** Decodes one parameter's bytes; vectors become Uint8Array (u8) or an array of elements. */
export function decodeParam(p: ParamInfo, bytes: Uint8Array): unknown {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (p.dir.startsWith("vector")) {
    if (isByteElement(p.type)) return bytes.slice();
    const n = Math.floor(bytes.length / p.size);
    const out: unknown[] = new Array(n);
    for (let i = 0; i < n; i++) out[i] = p.type.decode(view, i * p.size);
    return out;
  }
  return p.type.decode(view, 0);
}

/** Converts a JSON-form value of a parameter (as the REPL and control commands take it) to a value. */
export function paramFromJson(p: ParamInfo, json: unknown, path: string = p.name): unknown {
  if (p.dir === "vectorOut") {
    const n = typeof json === "string" ? Number(json) : json;
    if (typeof n !== "number" || !Number.isInteger(n) || n < 1) {
      throw new ValueError(
        path,
        `vectorOut capacity: expected a whole number of elements ≥ 1, got ${JSON.stringify(json)}`,
      );
    }
    return n;
  }
  if (p.dir === "vectorIn" || p.dir === "vectorInOut") {
    if (isByteElement(p.type)) return bytesFromJson(json, path);
    if (!Array.isArray(json)) throw new ValueError(path, `expected a JSON array of ${p.type.name}`);
    return json.map((j, i) => p.type.fromJson(j, `${path}[${i}]`));
  }
  return p.type.fromJson(json, path);
}

function bytesFromJson(json: unknown, path: string): Uint8Array {
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
    `expected bytes as hex ("0a0b…") or an array of 0..255, got ${JSON.stringify(json)}`,
  );
}

/** Converts a decoded parameter value to lossless JSON (bigint as string, bytes as hex). */
export function paramToJson(p: ParamInfo, value: unknown): unknown {
  if (p.dir.startsWith("vector")) {
    if (value instanceof Uint8Array) return toHex(value);
    return (value as unknown[]).map((v) => p.type.toJson(v));
  }
  return p.type.toJson(value);
}
