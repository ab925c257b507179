/**
 * ioctl-style payloads: the element type of a byte vector whose layout is chosen by another
 * parameter's value — `ioctl(u32 cmd, VECTOR_INOUT bytes)`, as switch and GPU drivers write it.
 * `t.vectorInOut(t.byCommand("cmd", { GET_INFO: InfoReq, 0x22: CfgReq }))`: a call whose `cmd` is
 * `GET_INFO` sends and receives an `InfoReq` value; a command the map does not name passes bytes.
 * On the wire it is bytes (one-byte elements); `defineSignature` resolves the map against the
 * command parameter, and the codec (`mgmt/codec.ts`) picks the type for each call.
 *
 * @example
 * ```ts
 * import { commandType } from "./command.ts";
 * import { u32 } from "./int.ts";
 * const payload = commandType("cmd", { 1: u32 }); // a vector of it: 4 bytes when cmd is 1
 * ```
 * @module
 */
import { isCIdentifier } from "../../abi/c_text.ts";
import { toHex } from "../../util/hex.ts";
import { ValueError } from "../errors.ts";
import { bytesFromJson } from "./bytes.ts";
import { describeValue, type Type, type ValueOf } from "./type.ts";

/** A byte vector's element whose payload layout is chosen by the value of parameter `param`. */
export interface CommandType<
  M extends Readonly<Record<string, Type<unknown>>> = Record<string, Type<unknown>>,
> extends Type<Uint8Array | ValueOf<M[keyof M]>> {
  /** Tells a command type from the other kinds. */
  readonly kind: "command";
  /** The parameter whose value chooses the layout. */
  readonly param: string;
  /**
   * The layouts by command as written: a code (`"16"`, `"0x10"`) or a name of the command
   * parameter's enum.
   */
  readonly commands: M;
}

/**
 * The element type of a byte vector whose layout is chosen by parameter `param`'s value.
 * @throws {TypeError} a `param` that is not a name, or a layout that is not a type.
 */
export function commandType<const M extends Readonly<Record<string, Type<unknown>>>>(
  param: string,
  commands: M,
): CommandType<M> {
  if (typeof param !== "string" || !isCIdentifier(param)) {
    throw new TypeError(`t.byCommand(param, …): param must name the command parameter, got ${String(param)}`);
  }
  if (commands === null || typeof commands !== "object" || Array.isArray(commands)) {
    throw new TypeError(`t.byCommand("${param}", …): expected an object of layouts by command`);
  }
  for (const [k, t] of Object.entries(commands)) {
    if (!t || typeof (t as Type<unknown>).encode !== "function") {
      throw new TypeError(
        `t.byCommand("${param}", …): command ${k} needs a type such as a t.struct, got ${String(t)}`,
      );
    }
  }
  // As an element it is one byte: what travels is the payload's bytes (the codec encodes the
  // chosen layout into them).
  return Object.freeze({
    kind: "command" as const,
    name: `u8 by ${param}`,
    size: 1,
    align: 1,
    param,
    commands: Object.freeze({ ...commands }) as M,
    encode(view: DataView, offset: number, value: unknown, path: string) {
      if (typeof value === "number" && Number.isInteger(value) && value >= 0 && value <= 255) {
        return view.setUint8(offset, value);
      }
      throw new ValueError(path, `expected a byte 0..255, got ${describeValue(value)}`);
    },
    decode: (view: DataView, offset: number) => view.getUint8(offset) as never,
    fromJson: (json: unknown, path: string) => bytesFromJson(json, path),
    toJson: (v: unknown) => (v instanceof Uint8Array ? toHex(v) : v),
    describe: () => ({
      byCommand: param,
      commands: Object.fromEntries(Object.entries(commands).map(([k, t]) => [k, t.describe()])),
    }),
  });
}
