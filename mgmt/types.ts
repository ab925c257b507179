/**
 * Parameter types of a vmk_Mgmt signature: each knows its C size and alignment, how to
 * encode a JavaScript value into C bytes (checking it first) and how to decode it back.
 *
 * @example
 * ```ts
 * import { t } from "./types.ts";
 * const NicStats = t.struct({ rxPackets: t.u64, mtu: t.u32, driver: t.string(32) }, "NicStats");
 * NicStats.size; // 48
 * ```
 * @module
 */

/** A value did not fit its declared type; `path` names the parameter or field. */
export class ValueError extends TypeError {
  /** Dotted path of the offending parameter or struct field, e.g. `stats.mtu`. */
  readonly path: string;
  /** What was wrong, without the path. */
  readonly reason: string;
  /** Builds the error; the message is `${context}${path}: ${message}`. */
  constructor(path: string, message: string, context = "") {
    super(`${context}${path ? `${path}: ` : ""}${message}`);
    this.name = "ValueError";
    this.path = path;
    this.reason = message;
  }
}

/** The JSON description of a type, as written in signature JSON files. */
export type TypeJson =
  | string
  | { string: number }
  | { bytes: number }
  | { array: TypeJson; length: number }
  | { struct: Record<string, TypeJson>; name?: string }
  | { enum: Record<string, number>; base?: string; name?: string };

/** A C type with a JavaScript value type `V`. */
export interface Type<V> {
  /** The family: `int`, `float`, `bool`, `string`, `bytes`, `array`, `struct`, `enum`. */
  readonly kind: "int" | "float" | "bool" | "string" | "bytes" | "array" | "struct" | "enum";
  /** A C-like name for people: `u32`, `char[64]`, `NicStats`. */
  readonly name: string;
  /** `sizeof` in bytes. */
  readonly size: number;
  /** `_Alignof` in bytes. */
  readonly align: number;
  /** Checks `value` and writes it at `offset`; throws {@link ValueError} naming `path`. */
  encode(view: DataView, offset: number, value: unknown, path: string): void;
  /** Reads a value from `offset`. */
  decode(view: DataView, offset: number): V;
  /** Converts a JSON value (numbers as strings allowed, bytes as hex) to a value `encode` accepts. */
  fromJson(json: unknown, path: string): V;
  /** Converts a value to lossless JSON (64-bit integers and bytes as strings). */
  toJson(value: V): unknown;
  /** The JSON description of this type. */
  describe(): TypeJson;
  /** Phantom marker carrying `V` for type inference. */
  readonly __value?: V;
}

/** The JavaScript value type of a {@link Type}. */
export type ValueOf<T> = T extends Type<infer V> ? V : never;

function describeValue(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v.length > 40 ? v.slice(0, 40) + "…" : v);
  if (typeof v === "bigint") return `${v}n`;
  if (v instanceof Uint8Array) return `Uint8Array(${v.length})`;
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (v === null) return "null";
  if (typeof v === "object") return "an object";
  return String(v);
}

function parseBigIntLike(json: unknown, path: string, name: string): bigint | number {
  if (typeof json === "bigint" || typeof json === "number") return json;
  if (typeof json === "string" && /^[+-]?(0x[0-9a-f]+|\d+)$/i.test(json.trim())) {
    const s = json.trim();
    const neg = s.startsWith("-");
    const body = s.replace(/^[+-]/, "");
    const v = BigInt(body);
    return neg ? -v : v;
  }
  throw new ValueError(
    path,
    `expected ${name} (a number or a decimal/0x string), got ${describeValue(json)}`,
  );
}

type IntName = "u8" | "u16" | "u32" | "u64" | "i8" | "i16" | "i32" | "i64";

function intType<V extends number | bigint, N extends IntName = IntName>(
  name: N,
  size: number,
  signed: boolean,
): Type<V> & { readonly name: N } {
  const bits = BigInt(size * 8);
  const min = signed ? -(1n << (bits - 1n)) : 0n;
  const max = signed ? (1n << (bits - 1n)) - 1n : (1n << bits) - 1n;
  const wide = size === 8;
  const range = `${min}..${max}`;
  const toBig = (value: unknown, path: string): bigint => {
    if (typeof value === "bigint") return value;
    if (typeof value === "number" && Number.isInteger(value)) return BigInt(value);
    throw new ValueError(path, `expected an integer ${range} (${name}), got ${describeValue(value)}`);
  };
  const type: Type<V> & { readonly name: N } = {
    kind: "int",
    name,
    size,
    align: size,
    encode(view, offset, value, path) {
      if (!wide && typeof value === "number" && Number.isInteger(value)) {
        if (value < Number(min) || value > Number(max)) {
          throw new ValueError(path, `${value} is out of range ${range} (${name})`);
        }
        switch (name) {
          case "u8":
            return view.setUint8(offset, value);
          case "i8":
            return view.setInt8(offset, value);
          case "u16":
            return view.setUint16(offset, value, true);
          case "i16":
            return view.setInt16(offset, value, true);
          case "u32":
            return view.setUint32(offset, value, true);
          default:
            return view.setInt32(offset, value, true);
        }
      }
      const v = toBig(value, path);
      if (v < min || v > max) throw new ValueError(path, `${v} is out of range ${range} (${name})`);
      if (wide) {
        if (signed) view.setBigInt64(offset, v, true);
        else view.setBigUint64(offset, v, true);
      } else {
        type.encode(view, offset, Number(v), path);
      }
    },
    decode(view, offset) {
      switch (name) {
        case "u8":
          return view.getUint8(offset) as V;
        case "i8":
          return view.getInt8(offset) as V;
        case "u16":
          return view.getUint16(offset, true) as V;
        case "i16":
          return view.getInt16(offset, true) as V;
        case "u32":
          return view.getUint32(offset, true) as V;
        case "i32":
          return view.getInt32(offset, true) as V;
        case "u64":
          return view.getBigUint64(offset, true) as V;
        default:
          return view.getBigInt64(offset, true) as V;
      }
    },
    fromJson(json, path) {
      const v = toBig(parseBigIntLike(json, path, name), path);
      if (v < min || v > max) throw new ValueError(path, `${v} is out of range ${range} (${name})`);
      return (wide ? v : Number(v)) as V;
    },
    toJson: (value) => (wide ? String(value) : value),
    describe: () => name,
  };
  return type;
}

function floatType(name: "f32" | "f64", size: 4 | 8): Type<number> {
  return {
    kind: "float",
    name,
    size,
    align: size,
    encode(view, offset, value, path) {
      if (typeof value !== "number") {
        throw new ValueError(path, `expected a number (${name}), got ${describeValue(value)}`);
      }
      if (size === 4) view.setFloat32(offset, value, true);
      else view.setFloat64(offset, value, true);
    },
    decode: (view, offset) => (size === 4 ? view.getFloat32(offset, true) : view.getFloat64(offset, true)),
    fromJson(json, path) {
      if (typeof json === "number") return json;
      if (typeof json === "string" && json.trim() !== "" && !Number.isNaN(Number(json))) return Number(json);
      throw new ValueError(path, `expected a number (${name}), got ${describeValue(json)}`);
    },
    toJson: (v) => (Number.isFinite(v) ? v : String(v)),
    describe: () => name,
  };
}

const boolType: Type<boolean> = {
  kind: "bool",
  name: "bool",
  size: 1,
  align: 1,
  encode(view, offset, value, path) {
    if (typeof value === "boolean") return view.setUint8(offset, value ? 1 : 0);
    if (value === 0 || value === 1) return view.setUint8(offset, value);
    throw new ValueError(path, `expected true or false (bool), got ${describeValue(value)}`);
  },
  decode: (view, offset) => view.getUint8(offset) !== 0,
  fromJson(json, path) {
    if (json === true || json === "true" || json === 1 || json === "1") return true;
    if (json === false || json === "false" || json === 0 || json === "0") return false;
    throw new ValueError(path, `expected true or false (bool), got ${describeValue(json)}`);
  },
  toJson: (v) => v,
  describe: () => "bool",
};

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function bytesOf(view: DataView, offset: number, length: number): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset + offset, length);
}

function checkLength(n: number, what: string): void {
  if (!Number.isInteger(n) || n < 1 || n > 1 << 24) {
    throw new RangeError(`${what} length must be an integer 1..16777216, got ${n}`);
  }
}

/** Parses hex (`0x0a0b`, `0a 0b`, `0a:0b`) into bytes; `null` when it is not hex. */
export function parseHex(text: string): Uint8Array | null {
  const clean = text.trim().replace(/^0x/i, "").replace(/[\s:]/g, "");
  if (clean.length % 2 !== 0 || !/^[0-9a-f]*$/i.test(clean)) return null;
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** Formats bytes as lowercase hex without separators. */
export function toHex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

function stringType(length: number): Type<string> {
  checkLength(length, "string");
  return {
    kind: "string",
    name: `char[${length}]`,
    size: length,
    align: 1,
    encode(view, offset, value, path) {
      if (typeof value !== "string") {
        throw new ValueError(path, `expected a string (char[${length}]), got ${describeValue(value)}`);
      }
      const bytes = encoder.encode(value);
      if (bytes.includes(0)) throw new ValueError(path, "a string must not contain NUL characters");
      if (bytes.length > length - 1) {
        throw new ValueError(
          path,
          `string is ${bytes.length} bytes of UTF-8; char[${length}] holds at most ${length - 1} plus NUL`,
        );
      }
      const dst = bytesOf(view, offset, length);
      dst.fill(0);
      dst.set(bytes);
    },
    decode(view, offset) {
      const src = bytesOf(view, offset, length);
      const end = src.indexOf(0);
      return decoder.decode(src.subarray(0, end < 0 ? length : end));
    },
    fromJson(json, path) {
      if (typeof json !== "string") {
        throw new ValueError(path, `expected a string (char[${length}]), got ${describeValue(json)}`);
      }
      return json;
    },
    toJson: (v) => v,
    describe: () => ({ string: length }),
  };
}

function bytesType(length: number): Type<Uint8Array> {
  checkLength(length, "bytes");
  return {
    kind: "bytes",
    name: `u8[${length}]`,
    size: length,
    align: 1,
    encode(view, offset, value, path) {
      let src: ArrayLike<number>;
      if (value instanceof Uint8Array) src = value;
      else if (Array.isArray(value) && value.every((b) => Number.isInteger(b) && b >= 0 && b <= 255)) {
        src = value;
      } else {throw new ValueError(
          path,
          `expected bytes (Uint8Array, up to ${length}), got ${describeValue(value)}`,
        );}
      if (src.length > length) {
        throw new ValueError(path, `${src.length} bytes do not fit u8[${length}]`);
      }
      const dst = bytesOf(view, offset, length);
      dst.fill(0);
      dst.set(src);
    },
    decode: (view, offset) => bytesOf(view, offset, length).slice(),
    fromJson(json, path) {
      if (json instanceof Uint8Array) return json;
      if (typeof json === "string") {
        const hex = parseHex(json);
        if (hex) return hex;
        throw new ValueError(path, `expected hex bytes such as "0a0b", got ${describeValue(json)}`);
      }
      if (Array.isArray(json)) {
        const out = new Uint8Array(json.length);
        json.forEach((b, i) => {
          if (!Number.isInteger(b) || b < 0 || b > 255) {
            throw new ValueError(`${path}[${i}]`, "expected a byte 0..255");
          }
          out[i] = b;
        });
        return out;
      }
      throw new ValueError(path, `expected hex bytes, got ${describeValue(json)}`);
    },
    toJson: (v) => toHex(v),
    describe: () => ({ bytes: length }),
  };
}

function arrayType<T extends Type<unknown>>(element: T, length: number): Type<ValueOf<T>[]> {
  checkLength(length, "array");
  return {
    kind: "array",
    name: `${element.name}[${length}]`,
    size: element.size * length,
    align: element.align,
    encode(view, offset, value, path) {
      if (!Array.isArray(value)) {
        throw new ValueError(
          path,
          `expected an array of ${length} ${element.name}, got ${describeValue(value)}`,
        );
      }
      if (value.length !== length) {
        throw new ValueError(path, `expected exactly ${length} elements, got ${value.length}`);
      }
      value.forEach((v, i) => element.encode(view, offset + i * element.size, v, `${path}[${i}]`));
    },
    decode(view, offset) {
      const out: ValueOf<T>[] = [];
      for (let i = 0; i < length; i++) {
        out.push(element.decode(view, offset + i * element.size) as ValueOf<T>);
      }
      return out;
    },
    fromJson(json, path) {
      if (!Array.isArray(json)) throw new ValueError(path, `expected a JSON array of ${length}`);
      if (json.length !== length) {
        throw new ValueError(path, `expected exactly ${length} elements, got ${json.length}`);
      }
      return json.map((j, i) => element.fromJson(j, `${path}[${i}]`) as ValueOf<T>);
    },
    toJson: (v) => v.map((e) => element.toJson(e)),
    describe: () => ({ array: element.describe(), length }),
  };
}

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

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

function structType<F extends Record<string, Type<unknown>>>(
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
        throw new ValueError(path, `expected an object with fields ${fields.map((f) => f.name).join(", ")}`);
      }
      const obj = value as Record<string, unknown>;
      for (const key of Object.keys(obj)) {
        if (!fields.some((f) => f.name === key)) {
          throw new ValueError(
            path,
            `unknown field ${key}; fields are ${fields.map((f) => f.name).join(", ")}`,
          );
        }
      }
      new Uint8Array(view.buffer, view.byteOffset + off, size).fill(0);
      for (const f of fields) {
        const p = path ? `${path}.${f.name}` : f.name;
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
        throw new ValueError(
          path,
          `expected a JSON object with fields ${fields.map((f) => f.name).join(", ")}`,
        );
      }
      const obj = json as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      for (const key of Object.keys(obj)) {
        const f = fields.find((f) => f.name === key);
        if (!f) {
          throw new ValueError(
            path,
            `unknown field ${key}; fields are ${fields.map((f) => f.name).join(", ")}`,
          );
        }
        out[key] = f.type.fromJson(obj[key], path ? `${path}.${key}` : key);
      }
      for (const f of fields) {
        if (!(f.name in obj)) {
          throw new ValueError(path ? `${path}.${f.name}` : f.name, `missing field (${f.type.name})`);
        }
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

/** An enum type: values are the names, or a number when the kernel sends one with no name. */
export interface EnumType<N extends string> extends Type<N | number> {
  /** Name → number. */
  readonly values: Readonly<Record<N, number>>;
}

function enumType<const E extends Record<string, number>>(
  values: E,
  base: Type<number> = u32,
  name?: string,
): EnumType<keyof E & string> {
  type N = keyof E & string;
  const names = Object.keys(values) as N[];
  if (names.length === 0) throw new RangeError("an enum needs at least one named value");
  if (base.kind !== "int" || base.size === 8) {
    throw new RangeError("an enum's base must be u8..u32 or i8..i32");
  }
  const byNumber = new Map<number, N>();
  for (const n of names) {
    if (!IDENT.test(n)) throw new RangeError(`enum name ${JSON.stringify(n)} is not an identifier`);
    base.fromJson(values[n], `enum ${n}`);
    byNumber.set(values[n], n);
  }
  const list = names.join(", ");
  const toNumber = (value: unknown, path: string): number => {
    if (typeof value === "string" && value in values) return values[value as N];
    if (typeof value === "number" && Number.isInteger(value)) return value;
    throw new ValueError(path, `expected one of ${list}, got ${describeValue(value)}`);
  };
  return {
    kind: "enum",
    name: name ?? `enum { ${names.map((n) => `${n}=${values[n]}`).join(", ")} }`,
    size: base.size,
    align: base.align,
    values,
    encode: (view, offset, value, path) => base.encode(view, offset, toNumber(value, path), path),
    decode(view, offset) {
      const n = base.decode(view, offset);
      return byNumber.get(n) ?? n;
    },
    fromJson(json, path) {
      if (typeof json === "string" && /^-?\d+$/.test(json)) json = Number(json);
      const n = toNumber(json, path);
      base.fromJson(n, path);
      return byNumber.get(n) ?? n;
    },
    toJson: (v) => v,
    describe:
      () => (name
        ? { enum: { ...values }, base: base.name, name }
        : { enum: { ...values }, base: base.name }),
  };
}

const u8 = intType<number, "u8">("u8", 1, false);
const u16 = intType<number>("u16", 2, false);
const u32 = intType<number>("u32", 4, false);
const u64 = intType<bigint>("u64", 8, false);
const i8 = intType<number>("i8", 1, true);
const i16 = intType<number>("i16", 2, true);
const i32 = intType<number>("i32", 4, true);
const i64 = intType<bigint>("i64", 8, true);
const f32 = floatType("f32", 4);
const f64 = floatType("f64", 8);

const scalars = { u8, u16, u32, u64, i8, i16, i32, i64, f32, f64, bool: boolType };

/** The primitive types by name, as used in JSON signatures. */
export const primitives: Readonly<Record<string, Type<unknown>>> = scalars;

/**
 * Type constructors. Integers up to 32 bits are numbers; 64-bit integers are bigint.
 *
 * @example
 * ```ts
 * import { t } from "./types.ts";
 * const LinkState = t.struct({ up: t.u32, speedMbps: t.u32 }, "LinkState");
 * const Mode = t.enumOf({ off: 0, on: 1 });
 * ```
 */
export const t = {
  ...scalars,
  /** A NUL-terminated UTF-8 string in a `char[length]` (at most length-1 bytes). */
  string: stringType,
  /** A fixed block of `length` bytes (`u8[length]`), as a Uint8Array; shorter input is zero-padded. */
  bytes: bytesType,
  /** A fixed array of exactly `length` elements. */
  array: arrayType,
  /** A struct laid out with C alignment and padding; `name` is shown to people. */
  struct: structType,
  /** An enum of named values stored in `base` (u32 by default). */
  enumOf: enumType,
};

/** Builds a type from its JSON description; `named` resolves names of shared types. */
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
