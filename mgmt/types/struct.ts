/**
 * Structs laid out with C's natural alignment and padding (x86_64).
 * @module
 */
import { IDENT, type Type, type TypeJson, type ValueOf } from "./type.ts";
import { ValueError } from "../errors.ts";

/** A struct field with its byte offset. */
export interface Field {
  /** Field name. */
  readonly name: string;
  /** Field type. */
  readonly type: Type<unknown>;
  /** Byte offset inside the struct (C alignment rules). */
  readonly offset: number;
}

/** A struct type; `fields` lists members in declaration order with offsets. */
export interface StructType<V> extends Type<V> {
  /** Members in declaration order. */
  readonly fields: readonly Field[];
}

/** A struct laid out with C alignment and padding; `name` is shown to people. */
export function structType<F extends Record<string, Type<unknown>>>(
  members: F,
  name?: string,
): StructType<{ [K in keyof F]: ValueOf<F[K]> }> {
  type V = { [K in keyof F]: ValueOf<F[K]> };
  const entries = Object.entries(members);
  if (entries.length === 0) {
    throw new RangeError(`struct ${name ?? ""} needs at least one field`.replace("  ", " "));
  }
  const fields: Field[] = [];
  let offset = 0;
  let align = 1;
  for (const [fname, type] of entries) {
    if (!IDENT.test(fname)) {
      throw new RangeError(`struct field name ${JSON.stringify(fname)} is not an identifier`);
    }
    if (!type || typeof type.encode !== "function") {
      throw new TypeError(`struct field ${fname}: not a type (use t.u32, t.string(n), …)`);
    }
    offset = Math.ceil(offset / type.align) * type.align;
    fields.push({ name: fname, type, offset });
    offset += type.size;
    align = Math.max(align, type.align);
  }
  const size = Math.ceil(offset / align) * align;
  const byName = new Map(fields.map((f) => [f.name, f]));
  const list = fields.map((f) => f.name).join(", ");
  const child = (path: string, field: string) => (path ? `${path}.${field}` : field);
  return {
    kind: "struct",
    name: name ?? `struct { ${fields.map((f) => `${f.type.name} ${f.name}`).join("; ")} }`,
    size,
    align,
    fields,
    encode(view, off, value, path) {
      if (
        value === null || typeof value !== "object" || Array.isArray(value) || value instanceof Uint8Array
      ) {
        throw new ValueError(path, `expected an object with fields ${list}`);
      }
      const obj = value as Record<string, unknown>;
      for (const key of Object.keys(obj)) {
        if (!byName.has(key)) throw new ValueError(path, `unknown field ${key}; fields are ${list}`);
      }
      new Uint8Array(view.buffer, view.byteOffset + off, size).fill(0);
      for (const f of fields) {
        const p = child(path, f.name);
        if (!(f.name in obj)) throw new ValueError(p, `missing field (${f.type.name})`);
        f.type.encode(view, off + f.offset, obj[f.name], p);
      }
    },
    decode(view, off) {
      const out: Record<string, unknown> = {};
      for (const f of fields) out[f.name] = f.type.decode(view, off + f.offset);
      return out as V;
    },
    fromJson(json, path) {
      if (json === null || typeof json !== "object" || Array.isArray(json)) {
        throw new ValueError(path, `expected a JSON object with fields ${list}`);
      }
      const obj = json as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      for (const key of Object.keys(obj)) {
        const f = byName.get(key);
        if (!f) throw new ValueError(path, `unknown field ${key}; fields are ${list}`);
        out[key] = f.type.fromJson(obj[key], child(path, key));
      }
      for (const f of fields) {
        if (!(f.name in obj)) throw new ValueError(child(path, f.name), `missing field (${f.type.name})`);
      }
      return out as V;
    },
    toJson(v) {
      const out: Record<string, unknown> = {};
      for (const f of fields) out[f.name] = f.type.toJson((v as Record<string, unknown>)[f.name]);
      return out;
    },
    describe() {
      const s: Record<string, TypeJson> = {};
      for (const f of fields) s[f.name] = f.type.describe();
      return name ? { struct: s, name } : { struct: s };
    },
  };
}
