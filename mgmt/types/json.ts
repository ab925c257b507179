/**
 * Types from their JSON descriptions, as signature JSON files write them.
 * @module
 */
import { t } from "../t.ts";
import { arrayType } from "./array.ts";
import { bytesType } from "./bytes.ts";
import { enumType } from "./enum.ts";
import { stringType } from "./string.ts";
import { structType } from "./struct.ts";
import type { Type, TypeJson } from "./type.ts";
import { ValueError } from "../errors.ts";

/** The primitive types by name, as used in JSON signatures: every ready-made type of `t`. */
export const primitives: Readonly<Record<string, Type<unknown>>> = Object.fromEntries(
  (Object.entries(t) as [string, unknown][]).filter((entry): entry is [string, Type<unknown>] =>
    typeof entry[1] === "object"
  ),
);

/**
 * Builds a type from its JSON description; `named` resolves names of shared types.
 * @throws {ValueError} naming `path` for an unknown or malformed description.
 */
export function typeFromJson(
  json: TypeJson,
  path: string,
  named: Record<string, Type<unknown>> = {},
): Type<unknown> {
  if (typeof json === "string") {
    const found = primitives[json] ?? named[json];
    if (!found) {
      const known = [...Object.keys(primitives), ...Object.keys(named)].join(", ");
      throw new ValueError(path, `unknown type ${JSON.stringify(json)}; known: ${known}`);
    }
    return found;
  }
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    throw new ValueError(path, 'a type is a name such as "u32" or an object such as {"string": 32}');
  }
  const o = json as Record<string, unknown>;
  const wrap = <R>(f: () => R): R => {
    try {
      return f();
    } catch (e) {
      if (e instanceof ValueError) throw e;
      throw new ValueError(path, (e as Error).message);
    }
  };
  if ("string" in o) return wrap(() => stringType(o.string as number));
  if ("bytes" in o) return wrap(() => bytesType(o.bytes as number));
  if ("array" in o) {
    const el = typeFromJson(o.array as TypeJson, `${path}[]`, named);
    return wrap(() => arrayType(el, o.length as number));
  }
  if ("struct" in o) {
    const s = o.struct;
    if (s === null || typeof s !== "object" || Array.isArray(s)) {
      throw new ValueError(path, "struct needs an object");
    }
    const members: Record<string, Type<unknown>> = {};
    for (const [k, v] of Object.entries(s)) members[k] = typeFromJson(v as TypeJson, `${path}.${k}`, named);
    return wrap(() => structType(members, o.name as string | undefined));
  }
  if ("enum" in o) {
    const base = typeFromJson((o.base as TypeJson) ?? "u32", `${path}.base`, named);
    return wrap(() =>
      enumType(o.enum as Record<string, number>, base as Type<number>, o.name as string | undefined)
    );
  }
  throw new ValueError(path, `unknown type form with keys ${Object.keys(o).join(", ")}`);
}
