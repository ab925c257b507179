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
import type { CommandType } from "./types/command.ts";
import type { EnumType } from "./types/enum.ts";
import type { CallerBuffers, Type } from "./types/type.ts";

/**
 * True when vectors of this element type are Uint8Array on the JavaScript side (`u8`, and
 * `t.byCommand(…)` payloads, whose commands with a layout take typed values too).
 */
export function isByteElement(type: Type<unknown>): boolean {
  return (type.kind === "int" && type.name === "u8") || type.kind === "command";
}

/** The command an ioctl-style payload is sent or received with: its name, and its layout if it has one. */
export interface CommandChoice {
  /** The command's enum name, else its code (`0x30`). */
  readonly name: string;
  /** Its layout; none for a command the map does not name (bytes). */
  readonly type?: Type<unknown>;
}

/**
 * For a vector of `t.byCommand(…)`: the command in `values` (the call's or event's other
 * parameters, by name) and the layout it chooses; undefined when none is given, or for any other
 * parameter.
 */
export function commandChoice(
  p: ParamInfo,
  params: readonly ParamInfo[],
  values: Readonly<Record<string, unknown>> | undefined,
): CommandChoice | undefined {
  if (!p.commands) return undefined;
  const code = commandCode(p, params, values);
  if (code === undefined) return undefined;
  const known = p.commands.get(code);
  const cmd = params.find((q) => q.name === (p.type as CommandType).param);
  const named = cmd?.type.kind === "enum"
    ? Object.entries((cmd.type as EnumType<string>).values).find(([, v]) => BigInt(v) === code)?.[0]
    : undefined;
  return { name: known?.name ?? named ?? `0x${code.toString(16)}`, type: known?.type };
}

/** The layout {@link commandChoice} finds, if any. */
export function commandLayout(
  p: ParamInfo,
  params: readonly ParamInfo[],
  values: Readonly<Record<string, unknown>> | undefined,
): Type<unknown> | undefined {
  return commandChoice(p, params, values)?.type;
}

/** The command code in `values` for a `t.byCommand(…)` vector `p`: from a number, or an enum name. */
export function commandCode(
  p: ParamInfo,
  params: readonly ParamInfo[],
  values: Readonly<Record<string, unknown>> | undefined,
): bigint | undefined {
  const param = (p.type as CommandType).param;
  const v = values?.[param];
  if (typeof v === "bigint") return v;
  if (typeof v === "number" && Number.isInteger(v)) return BigInt(v);
  if (typeof v === "string" && /^(0x[0-9a-f]+|\d+)$/i.test(v)) return BigInt(v); // (as typed in the REPL)
  const cmd = params.find((q) => q.name === param);
  if (typeof v === "string" && cmd?.type.kind === "enum") {
    const code = (cmd.type as EnumType<string>).values[v];
    return code === undefined ? undefined : BigInt(code);
  }
  return undefined;
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
  choice?: CommandChoice,
): Uint8Array {
  if (p.commands) {
    const layout = choice?.type;
    // An ioctl-style payload: the chosen command's layout, else bytes as given.
    // Left out, a payload the kernel fills is its layout zeroed (a GET-style command).
    if (p.dir !== "vectorIn" && value === undefined && layout) return new Uint8Array(layout.size);
    if (p.dir !== "vectorOut" && !(value instanceof Uint8Array) && !Array.isArray(value)) {
      if (!layout) {
        const withLayout = [...p.commands.values()].map((c) => c.name).join(", ");
        throw new ValueError(
          path,
          choice
            ? `command ${choice.name} has no layout here (${withLayout} have one): give its payload as bytes (a Uint8Array)`
            : `a typed payload needs the command first (${(p.type as CommandType).param}: ${withLayout}…), ` +
              "or give bytes (a Uint8Array)",
        );
      }
      const out = new Uint8Array(layout.size);
      layout.encode(new DataView(out.buffer), 0, value, path, buffers);
      return out;
    }
  }
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
 * the result may keep. `whole`, a view of all of `bytes.buffer`, saves making one for `bytes`
 * (one costs about as much as decoding a small struct); it is used only where every byte read
 * lies within `bytes`.
 */
export function decodeParam(
  p: ParamInfo,
  bytes: Uint8Array,
  layout?: Type<unknown>,
  whole?: DataView,
): unknown {
  // An ioctl-style payload: typed when its command has a layout and the bytes are exactly one
  // (any other length comes back as bytes: nothing of it is dropped).
  if (p.commands && !(layout && bytes.length === layout.size)) return bytes;
  const vector = !p.commands && isVector(p.dir);
  if (vector && isByteElement(p.type)) return bytes;
  // A fixed parameter shorter than its size must fail as its own view would, not read on.
  const shared = whole !== undefined && whole.buffer === bytes.buffer &&
    (vector || p.commands !== undefined || bytes.length >= p.size);
  const view = shared ? whole : new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const at = shared ? bytes.byteOffset : 0;
  if (p.commands) return layout!.decode(view, at);
  if (vector) {
    const n = Math.floor(bytes.length / p.size);
    const out: unknown[] = new Array(n);
    for (let i = 0; i < n; i++) out[i] = p.type.decode(view, at + i * p.size);
    return out;
  }
  return p.type.decode(view, at);
}

/** Converts a JSON-form value of a parameter (as the REPL and control commands take it) to a value. */
export function paramFromJson(
  p: ParamInfo,
  json: unknown,
  path: string = p.name,
  layout?: Type<unknown>,
): unknown {
  if (
    p.commands && p.dir !== "vectorOut" && layout && json !== null && typeof json === "object" &&
    !Array.isArray(json) && !(json instanceof Uint8Array)
  ) {
    return layout.fromJson(json, path);
  }
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
export function paramToJson(p: ParamInfo, value: unknown, layout?: Type<unknown>): unknown {
  if (isVector(p.dir)) {
    if (value instanceof Uint8Array) return toHex(value);
    if (p.commands) return layout ? layout.toJson(value) : value;
    return (value as unknown[]).map((v) => p.type.toJson(v));
  }
  return p.type.toJson(value);
}
