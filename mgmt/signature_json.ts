/**
 * The JSON form of a signature, as the REPL (`--sig FILE.json`) and tools read it: named types,
 * callbacks and parameters, validated by the same rules as `defineSignature()`.
 *
 * @example
 * ```ts
 * import { signatureFromJson } from "./signature_json.ts";
 * const sig = signatureFromJson({
 *   name: "demo", vendor: "acme", version: "1.0.0.0",
 *   callbacks: { ping: { id: 16, params: { n: { dir: "inout", type: "u32" } } } },
 * });
 * sig.callbacks.ping.params[0].size; // 4
 * ```
 * @module
 */
import { DIRECTION_CODE } from "../abi/facts.ts";
import { SignatureError, ValueError } from "./errors.ts";
import type { Param } from "./params.ts";
import {
  type CallbackDef,
  defineSignature,
  type Signature,
  type SignatureJson,
  type VersionDef,
} from "./signature.ts";
import { typeFromJson } from "./types/json.ts";
import type { Type, TypeJson } from "./types/type.ts";

/**
 * Loads and validates the JSON form of a signature (as parsed by `JSON.parse`).
 * @throws {SignatureError} naming the callback, parameter or type at fault.
 */
export function signatureFromJson(json: unknown): Signature {
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    throw new SignatureError("signature JSON: expected an object with name, vendor, version, callbacks");
  }
  const j = json as Partial<SignatureJson>;
  const named: Record<string, Type<unknown>> = {};
  try {
    for (const [tname, tj] of Object.entries(j.types ?? {})) {
      const tjn = typeof tj === "object" && tj !== null && !("name" in tj) &&
          ("struct" in tj || "union" in tj || "enum" in tj)
        ? { ...tj, name: tname } as TypeJson
        : tj;
      named[tname] = typeFromJson(tjn, `types.${tname}`, named);
    }
  } catch (e) {
    if (e instanceof ValueError) throw new SignatureError(`signature JSON ${e.message}`);
    throw e;
  }
  if (j.callbacks === null || typeof j.callbacks !== "object" || Array.isArray(j.callbacks)) {
    throw new SignatureError("signature JSON callbacks: expected an object of callbacks by name");
  }
  const callbacks: Record<string, CallbackDef> = {};
  for (const [cname, c] of Object.entries(j.callbacks)) {
    if (c === null || typeof c !== "object") {
      throw new SignatureError(`callback ${cname}: expected an object`);
    }
    const params: Record<string, Param> = {};
    const rawParams = c.params ?? {};
    if (typeof rawParams !== "object" || Array.isArray(rawParams)) {
      throw new SignatureError(`callback ${cname}.params: expected an object of parameters by name`);
    }
    for (const [pname, p] of Object.entries(rawParams)) {
      const pw = `callback ${cname}.params.${pname}`;
      if (p === null || typeof p !== "object" || !(p.dir in DIRECTION_CODE)) {
        throw new SignatureError(`${pw}.dir: expected one of ${Object.keys(DIRECTION_CODE).join(", ")}`);
      }
      let type: Type<unknown>;
      try {
        type = typeFromJson(p.type, `${pw}.type`, named);
      } catch (e) {
        if (e instanceof ValueError) throw new SignatureError(e.message);
        throw e;
      }
      params[pname] = { dir: p.dir, type, lengthFrom: p.lengthFrom, doc: p.doc };
    }
    callbacks[cname] = { ...c, params };
  }
  return defineSignature({
    name: j.name as string,
    vendor: j.vendor as string,
    version: j.version as VersionDef,
    doc: j.doc,
    callbacks,
    ...(j.typeDocs === undefined ? {} : { typeDocs: j.typeDocs }),
  });
}
