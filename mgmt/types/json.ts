/**
 * Types from their JSON descriptions, as signature JSON files write them.
 * @module
 */
import { t } from "../t.ts";
import { arrayType } from "./array.ts";
import { commandType } from "./command.ts";
import { bytesType } from "./bytes.ts";
import { enumType } from "./enum.ts";
import { charsType, stringType } from "./string.ts";
import { structType } from "./struct.ts";
import type { Type, TypeJson } from "./type.ts";
import { ValueError } from "../errors.ts";
import { alignedType } from "./aligned.ts";
import {
  anonymousMember,
  attributedField,
  bitField,
  type FieldAttributes,
  type Member,
  padBits,
} from "./members.ts";
import { bufferPointer } from "./pointer.ts";
import type { RecordOptions } from "./record.ts";
import { unionType } from "./union.ts";

/** The primitive types by name, as used in JSON signatures: every ready-made type of `t`. */
export const primitives: Readonly<Record<string, Type<unknown>>> = Object.fromEntries(
  (Object.entries(t) as [string, unknown][]).filter((entry): entry is [string, Type<unknown>] =>
    typeof entry[1] === "object"
  ),
);

/** Runs `f`, turning what a type constructor throws into a `ValueError` naming `path`. */
function at<R>(path: string, f: () => R): R {
  try {
    return f();
  } catch (e) {
    if (e instanceof ValueError) throw e;
    throw new ValueError(path, (e as Error).message);
  }
}

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
  const wrap = <R>(f: () => R): R => at(path, f);
  if ("string" in o) return wrap(() => stringType(o.string as number));
  if ("bytes" in o) return wrap(() => bytesType(o.bytes as number));
  if ("byCommand" in o) {
    const c = o.commands;
    if (c === null || typeof c !== "object" || Array.isArray(c)) {
      throw new ValueError(path, "byCommand needs commands: an object of layouts by command");
    }
    const layouts = Object.fromEntries(
      Object.entries(c).map(([k, tj]) => [k, typeFromJson(tj as TypeJson, `${path}.commands.${k}`, named)]),
    );
    return wrap(() => commandType(o.byCommand as string, layouts));
  }
  if ("array" in o) {
    const el = typeFromJson(o.array as TypeJson, `${path}[]`, named);
    return wrap(() => arrayType(el, o.length as number));
  }
  if ("struct" in o || "union" in o) {
    const kind = "struct" in o ? "struct" : "union";
    const s = o[kind];
    if (s === null || typeof s !== "object" || Array.isArray(s)) {
      throw new ValueError(path, `${kind} needs an object of members`);
    }
    const allowed = [kind, "name", "packed", "pack", "aligned"];
    for (const k of Object.keys(o)) {
      if (!allowed.includes(k)) {
        throw new ValueError(path, `unknown ${kind} key ${k}; keys are ${allowed.join(", ")}`);
      }
    }
    const members: Record<string, Member> = {};
    for (const [k, v] of Object.entries(s)) members[k] = memberFromJson(v, `${path}.${k}`, named);
    const options = { name: o.name, packed: o.packed, pack: o.pack, aligned: o.aligned } as RecordOptions;
    for (const k of Object.keys(options) as (keyof RecordOptions)[]) {
      if (options[k] === undefined) delete (options as Record<string, unknown>)[k];
    }
    return wrap(() => kind === "struct" ? structType(members, options) : unionType(members, options));
  }
  if ("chars" in o) return wrap(() => charsType(o.chars as number));
  if ("aligned" in o && "type" in o) {
    const inner = typeFromJson(o.type as TypeJson, `${path}.type`, named);
    return wrap(() => alignedType(inner, o.aligned as number));
  }
  if ("pointer" in o) {
    if (o.buffer === undefined) {
      if (o.pointer === "void" || o.pointer === "u8") return primitives.ptr;
      throw new ValueError(
        path,
        'a pointer is "ptr", or {"pointer": "u8", "buffer": {dir, length | lengthFrom}}',
      );
    }
    return wrap(() => bufferPointer(o.buffer as Parameters<typeof bufferPointer>[0]));
  }
  if ("enum" in o) {
    const base = typeFromJson((o.base as TypeJson) ?? "u32", `${path}.base`, named);
    return wrap(() =>
      enumType(o.enum as Record<string, number>, base as Type<number>, o.name as string | undefined)
    );
  }
  throw new ValueError(path, `unknown type form with keys ${Object.keys(o).join(", ")}`);
}

/** A struct or union member from its JSON form: a type, `{bits, width}`, `{pad, width}` or `{field}`. */
function memberFromJson(json: unknown, path: string, named: Record<string, Type<unknown>>): Member {
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    return typeFromJson(json as TypeJson, path, named);
  }
  const o = json as Record<string, unknown>;
  const attrs = (): FieldAttributes => {
    const a: { packed?: boolean; aligned?: number; out?: boolean } = {};
    if (o.packed !== undefined) a.packed = o.packed as boolean;
    if (o.aligned !== undefined) a.aligned = o.aligned as number;
    if (o.out !== undefined) a.out = o.out as boolean;
    return a;
  };
  const wrap = <R>(f: () => R): R => at(path, f);
  const onlyKeys = (keys: string[]) => {
    for (const k of Object.keys(o)) {
      if (!keys.includes(k)) {
        throw new ValueError(path, `unknown member key ${k}; keys are ${keys.join(", ")}`);
      }
    }
  };
  if ("bits" in o || "pad" in o) {
    const key = "bits" in o ? "bits" : "pad";
    onlyKeys(
      key === "bits" ? [key, "width", "packed", "aligned", "out"] : [key, "width", "packed", "aligned"],
    );
    const base = typeFromJson(o[key] as TypeJson, `${path}.${key}`, named);
    return wrap(() =>
      key === "bits" ? bitField(base, o.width as number, attrs()) : padBits(base, o.width as number, attrs())
    );
  }
  if ("anon" in o) {
    onlyKeys(["anon"]);
    const type = typeFromJson(o.anon as TypeJson, `${path}.anon`, named);
    return wrap(() => anonymousMember(type));
  }
  if ("field" in o) {
    onlyKeys(["field", "packed", "aligned", "out"]);
    const type = typeFromJson(o.field as TypeJson, `${path}.field`, named);
    return wrap(() => attributedField(type, attrs()));
  }
  return typeFromJson(json as TypeJson, path, named);
}
