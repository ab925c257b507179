/**
 * A callback's argument list encoded into its parameter block, and its results decoded from it, by
 * code of its own, made once per callback — for the usual callback, whose parameters are all of
 * fixed size (no vector, no ioctl-style command). Why: the shared `encodeArguments` and
 * `decodeResults` (arguments.ts) serve every parameter of every callback from one call site each, so
 * V8 sees `type.encode` and `type.decode` megamorphic and inlines neither, and their result object
 * is built key by key; the code here calls each parameter's type at a site of its own, builds the
 * result as one object literal (one shape per callback), and hands back the block's own list of
 * views rather than a new array. Measured side by side on echo at 32 in flight (the queue replaced
 * by an immediate completion, four runs): the API's JavaScript over the bare call's 223–243 →
 * 182–195 ns a call.
 *
 * What it gives up: the code is made with `new Function` (names enter it only as JSON string
 * literals, and they are C identifiers, checked by `defineSignature`). It handles the usual input
 * only: anything else — not an object, a key that is not a parameter, a missing parameter, a value
 * given for an out parameter — goes to the shared `encodeArguments`, which says what is wrong in its
 * own words, so the messages are one set.
 * @module
 */
import { isCIdentifier } from "../abi/c_text.ts";
import { isVector, returnsData } from "../abi/facts.ts";
import { decodeResults, encodeArguments, inInvokeContext, placeCallerBuffers } from "./arguments.ts";
import type { ParamBlock } from "./param_blocks.ts";
import type { CallbackInfo } from "./signature.ts";
import type { CallerBuffers } from "./types/type.ts";

/** A callback's arguments to its parameter block and back. */
export interface ArgumentCodec {
  /**
   * One buffer per parameter from `input`, in `block` (see `encodeArguments`).
   * @throws {TypeError} when `input` is not an object. @throws {ValueError} naming an unknown,
   * missing or bad parameter, in the message's `invoke CALLBACK:` context.
   */
  encode(
    input: Record<string, unknown> | undefined,
    buffers: CallerBuffers | undefined,
    block: ParamBlock,
  ): readonly Uint8Array[];
  /** The values the kernel returned (see `decodeResults`). */
  decode(
    data: readonly Uint8Array[],
    buffers: CallerBuffers | undefined,
    block: ParamBlock,
    input: Readonly<Record<string, unknown>> | undefined,
  ): Record<string, unknown>;
}

/** `cb`'s argument codec: code of its own when its parameters allow, else the shared functions. */
export function argumentCodec(cb: CallbackInfo): ArgumentCodec {
  const shared: ArgumentCodec = {
    encode: (input, buffers, block) => encodeArguments(cb, input, buffers, block),
    decode: (data, buffers, block, input) => decodeResults(cb, data, buffers, block, input),
  };
  const plain = cb.params.every((p) =>
    !isVector(p.dir) && !p.commands && !p.lengthFrom && isCIdentifier(p.name) &&
    p.name !== "__proto__" && p.name !== "instance"
  );
  return plain ? generated(cb, shared) : shared;
}

function generated(cb: CallbackInfo, shared: ArgumentCodec): ArgumentCodec {
  const params = cb.params;
  const names = params.map((p) => JSON.stringify(p.name));
  const known = names.map((n) => `key !== ${n}`).join(" && ");
  const encodeBody = `
    if (typeof input !== "object" || input === null) return shared.encode(input, buffers, block);
    for (const key in input) {
      if (key !== "instance"${known ? ` && ${known}` : ""}) return shared.encode(input, buffers, block);
    }
    const dv = block.dataViews;
    let v;
    ${
    params.map((p, i) => `
    v = input[${names[i]}];
    ${
      p.dir === "out"
        ? "if (v !== undefined) return shared.encode(input, buffers, block);"
        : `if (v === undefined) return shared.encode(input, buffers, block);
    try {
      t${i}.encode(dv[${i}], 0, v, ${names[i]}, buffers);
    } catch (e) {
      throw inInvokeContext(e, cb);
    }`
    }`).join("")
  }
    return block.views;`;
  const returned = params.flatMap((p, i) =>
    returnsData(p.dir) ? [`${names[i]}: t${i}.decode(dv[${i}], 0)`] : []
  );
  const decodeBody = `
    const dv = block.dataViews;
    const out = { ${returned.join(", ")} };
    if (buffers !== undefined && buffers.list.length > 0) placeCallerBuffers(out, buffers);
    return out;`;
  const typeNames = params.map((_, i) => `t${i}`);
  const types = params.map((p) => p.type);
  const encode = new Function(
    "shared",
    "inInvokeContext",
    "cb",
    ...typeNames,
    `"use strict"; return function encode(input, buffers, block) {${encodeBody}\n};`,
  )(shared, inInvokeContext, cb, ...types) as ArgumentCodec["encode"];
  const decode = new Function(
    "placeCallerBuffers",
    ...typeNames,
    `"use strict"; return function decode(data, buffers, block, input) {${decodeBody}\n};`,
  )(placeCallerBuffers, ...types) as ArgumentCodec["decode"];
  return { encode, decode };
}
