/**
 * A kernel callback's whole argument list: from `invoke`'s input object to one buffer per
 * parameter (the bytes C reads, or a zeroed buffer C fills), and from those buffers back to the
 * result object (out, inout and vector-out values, vectors cut to their `lengthFrom`).
 *
 * @example
 * ```ts
 * import { decodeResults, encodeArguments } from "./arguments.ts";
 * import { acmeNic } from "./demo/acme_nic.ts";
 * const cb = acmeNic.callbacks.setMtu;
 * const buffers = encodeArguments(cb, { instance: 1, mtu: 9000 }); // [u32 9000, i32 status]
 * decodeResults(cb, buffers); // { status: 0 }
 * ```
 * @module
 */
import { isVector, returnsData } from "../abi/facts.ts";
import { didYouMean } from "../util/suggest.ts";
import { commandChoice, commandLayout, decodeParam, encodeParam } from "./codec.ts";
import { ValueError } from "./errors.ts";
import type { ParamBlock } from "./param_blocks.ts";
import type { CommandType } from "./types/command.ts";
import type { CallbackInfo, ParamInfo } from "./signature.ts";
import type { CallerBuffers } from "./types/type.ts";

/**
 * One buffer per parameter of `cb` from `input` (its `instance` key is not a parameter): the
 * fixed-size ones in `block` when one is given, else each in a new buffer.
 * @throws {TypeError} when `input` is not an object. @throws {ValueError} naming an unknown,
 * missing or bad parameter, in the message's `invoke CALLBACK:` context.
 */
export function encodeArguments(
  cb: CallbackInfo,
  input: Record<string, unknown> | undefined,
  buffers?: CallerBuffers,
  block?: ParamBlock,
): Uint8Array[] {
  const given = input ?? {};
  if (typeof given !== "object" || given === null) {
    throw new TypeError(`invoke ${cb.name}: the input must be an object of parameters`);
  }
  const params = cb.params;
  for (const key in given) {
    if (key === "instance" || isParam(params, key)) continue;
    const names = params.map((p) => p.name);
    throw new ValueError(
      key,
      `unknown parameter${didYouMean(key, names)} (parameters: ${names.join(", ") || "none"})`,
      `invoke ${cb.name}: `,
    );
  }
  // (loops, not map and some: a call's closures cost more than the rest of a small call's checks)
  const out: Uint8Array[] = new Array(params.length);
  for (let i = 0; i < params.length; i++) out[i] = encodeArgument(cb, i, given, buffers, block);
  return out;
}

function isParam(params: readonly ParamInfo[], key: string): boolean {
  for (let i = 0; i < params.length; i++) if (params[i].name === key) return true;
  return false;
}

/** Parameter `i` of `cb`'s call, from `given`: {@link encodeArguments}'s work for one. */
function encodeArgument(
  cb: CallbackInfo,
  i: number,
  given: Record<string, unknown>,
  buffers: CallerBuffers | undefined,
  block: ParamBlock | undefined,
): Uint8Array {
  const p = cb.params[i];
  const value = given[p.name];
  // An ioctl-style payload's layout, by the command given (mgmt/types/command.ts).
  const choice = p.commands ? commandChoice(p, cb.params, given) : undefined;
  const layout = choice?.type;
  if (p.dir === "out") {
    if (value !== undefined) {
      throw new ValueError(p.name, "an out parameter is returned, not given", `invoke ${cb.name}: `);
    }
    return block ? block.views[i]! : new Uint8Array(p.size);
  }
  if (value === undefined && !(layout && p.dir !== "vectorIn")) {
    const what = p.commands
      ? choice
        ? `command ${choice.name} has no layout: its payload as bytes, e.g. a Uint8Array`
        : `a payload: typed by ${(p.type as CommandType).param} (${
          [...p.commands.values()].map((c) => c.name).join(", ")
        }), else bytes`
      : p.dir === "vectorOut"
      ? `capacity in elements (e.g. ${p.name}: 4096)`
      : `${isVector(p.dir) ? "vector of " : ""}${p.type.name}`;
    throw new ValueError(p.name, `missing parameter (${what})`, `invoke ${cb.name}: `);
  }
  try {
    const view = block?.dataViews[i];
    if (!view) return encodeParam(p, value, p.name, buffers, choice);
    p.type.encode(view, 0, value, p.name, buffers);
    return block!.views[i]!;
  } catch (e) {
    throw inInvokeContext(e, cb);
  }
}

/** What encoding a parameter of `cb` threw, a `ValueError` in the message's `invoke CALLBACK:` context. */
export function inInvokeContext(e: unknown, cb: CallbackInfo): unknown {
  return e instanceof ValueError ? new ValueError(e.path, e.reason, `invoke ${cb.name}: `) : e;
}

/**
 * The values the kernel returned in `buffers` (as filled by C), by parameter name. A pointer
 * member that carried a caller buffer gives back that buffer (what the kernel wrote there), not
 * its address. `block`: the one `buffers` were encoded in, if any. `input`: what the call was
 * given (an ioctl-style payload decodes by its command: the one returned, else the one given).
 */
export function decodeResults(
  cb: CallbackInfo,
  buffers: readonly Uint8Array[],
  callerBuffers?: CallerBuffers,
  block?: ParamBlock,
  input?: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const params = cb.params;
  let commands = false;
  for (let i = 0; i < params.length; i++) {
    const p = params[i];
    if (!returnsData(p.dir)) continue;
    if (p.commands) {
      commands = true;
      out[p.name] = undefined; // (its place kept: it decodes once the command is known)
      continue;
    }
    const view = block?.dataViews[i];
    out[p.name] = view ? p.type.decode(view, 0) : decodeParam(p, buffers[i]);
  }
  if (commands) {
    const values = { ...input, ...out };
    for (let i = 0; i < params.length; i++) {
      const p = params[i];
      if (p.commands && returnsData(p.dir)) {
        out[p.name] = decodeParam(p, buffers[i], commandLayout(p, params, values));
      }
    }
  }
  if (callerBuffers) placeCallerBuffers(out, callerBuffers);
  for (let i = 0; i < params.length; i++) {
    const p = params[i];
    if (!p.lengthFrom) continue;
    const n = Number(out[p.lengthFrom]);
    const v = out[p.name] as Uint8Array | unknown[];
    if (Number.isFinite(n) && n >= 0 && n < v.length) out[p.name] = v.slice(0, n);
  }
  return out;
}

/**
 * Puts each caller buffer of a call where its pointer was in the results `out` (what the kernel
 * wrote there, not its address).
 */
export function placeCallerBuffers(out: Record<string, unknown>, callerBuffers: CallerBuffers): void {
  const given = callerBuffers.list;
  for (let i = 0; i < given.length; i++) placeAt(out, given[i].path, given[i].bytes);
}

/** Puts `value` at `path` (`cmd.addr`, `list[2].page`) in `tree`, where the path exists. */
function placeAt(tree: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.match(/[A-Za-z_]\w*|\[\d+\]/g) ?? [];
  let node: unknown = tree;
  for (let i = 0; i < parts.length - 1; i++) {
    const k = parts[i].startsWith("[") ? Number(parts[i].slice(1, -1)) : parts[i];
    node = (node as Record<string | number, unknown> | undefined)?.[k];
    if (node === null || typeof node !== "object") return;
  }
  const last = parts[parts.length - 1];
  if (last !== undefined && !last.startsWith("[")) (node as Record<string, unknown>)[last] = value;
  else if (last !== undefined) (node as unknown[])[Number(last.slice(1, -1))] = value;
}
