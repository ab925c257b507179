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
import { isVector, MAX_VECTOR_BYTES } from "../abi/facts.ts";
import { toHex } from "../util/hex.ts";
import { ValueError } from "./errors.ts";
import type { ParamInfo } from "./signature.ts";
import { bytesFromJson } from "./types/bytes.ts";
import type { CallerBuffers, Type } from "./types/type.ts";

/** True when vectors of this element type are Uint8Array on the JavaScript side. */
export function isByteElement(type: Type<unknown>): boolean {
  return type.kind === "int" && type.name === "u8";
}

/**
 * Encodes the value of an `in`/`inout` parameter, or the elements of a `vectorIn`/`vectorInOut`
 * one. For `vectorOut`, `value` is the capacity in elements and a zeroed buffer is returned.
 * Throws {@link ValueError} naming `path` (the parameter name by default). `buffers` collects the
 * caller buffers given for pointer members, to be pinned for the call.
 */
export function encodeParam(
  p: ParamInfo,
  value: unknown,
  path: string = p.name,
  buffers?: CallerBuffers,
): Uint8Array {
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
    for (let i = 0; i < elements.length; i++) {
      p.type.encode(view, i * p.size, elements[i], `${path}[${i}]`, buffers);
    }
    return out;
  }
  const out = new Uint8Array(p.size);
  p.type.encode(new DataView(out.buffer), 0, value, path, buffers);
  return out;
}

/**
 * Decodes one parameter's bytes; vectors become Uint8Array (u8) or an array of elements. A byte
 * vector is `bytes` itself, not a copy (a 64 MiB one would cost more than the call): pass bytes
 * the result may keep.
 */
export function decodeParam(p: ParamInfo, bytes: Uint8Array): unknown {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (isVector(p.dir)) {
    if (isByteElement(p.type)) return bytes;
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

/** Converts a decoded parameter value to lossless JSON (bigint as string, bytes as hex). */
export function paramToJson(p: ParamInfo, value: unknown): unknown {
  if (isVector(p.dir)) {
    if (value instanceof Uint8Array) return toHex(value);
    return (value as unknown[]).map((v) => p.type.toJson(v));
  }
  return p.type.toJson(value);
}
