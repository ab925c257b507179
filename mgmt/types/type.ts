/**
 * What every parameter type is: a C type with a size, an alignment, and the conversions between
 * a JavaScript value, the C bytes and lossless JSON. Shared helpers of the type families.
 * @module
 */

/** The JSON description of a type, as written in signature JSON files. */
export type TypeJson =
  | string
  | { string: number }
  | { chars: number }
  | { bytes: number }
  | { array: TypeJson; length: number }
  | {
    struct: Record<string, TypeJson | MemberJsonForm>;
    name?: string;
    packed?: boolean;
    pack?: number;
    aligned?: number;
  }
  | {
    union: Record<string, TypeJson | MemberJsonForm>;
    name?: string;
    packed?: boolean;
    pack?: number;
    aligned?: number;
  }
  | { enum: Record<string, number>; base?: string; name?: string }
  | { byCommand: string; commands: Record<string, TypeJson> }
  | { aligned: number; type: TypeJson }
  | {
    pointer: TypeJson | "void";
    buffer?: { dir: "in" | "out" | "inout"; length?: number; lengthFrom?: string };
  };

/** A struct or union member that is not a plain type: a bitfield, unnamed padding bits, or a member with attributes. */
export type MemberJsonForm =
  | { bits: TypeJson; width: number; packed?: boolean; aligned?: number; out?: boolean }
  | { pad: TypeJson; width: number; packed?: boolean; aligned?: number }
  | { field: TypeJson; packed?: boolean; aligned?: number; out?: boolean }
  | { anon: TypeJson };

/** The type families. */
export type TypeKind =
  | "int"
  | "float"
  | "bool"
  | "string"
  | "chars"
  | "bytes"
  | "array"
  | "struct"
  | "union"
  | "enum"
  | "pointer"
  | "command";

/** A C type with a JavaScript value type `V`. */
export interface Type<V> {
  /** The family: `int`, `float`, `bool`, `string`, `chars`, `bytes`, `array`, `struct`, `union`, `enum`, `pointer`. */
  readonly kind: TypeKind;
  /** A C-like name for people: `u32`, `char[64]`, `NicStats`. */
  readonly name: string;
  /** `sizeof` in bytes. */
  readonly size: number;
  /** `_Alignof` in bytes. */
  readonly align: number;
  /**
   * Checks `value` and writes it at `offset`; throws a `ValueError` naming `path`. `buffers`
   * collects the caller buffers given for pointer members (`t.buffer`), whose addresses are
   * written just before the call; without it such a member takes only an address.
   */
  encode(view: DataView, offset: number, value: unknown, path: string, buffers?: CallerBuffers): void;
  /**
   * Reads a value from `offset`. The value must not share `view`'s memory (copy bytes out):
   * parameter buffers are used again by later calls (mgmt/param_blocks.ts).
   */
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

/** A caller buffer given for a pointer member: where its address goes, and the bytes. */
export interface CallerBuffer {
  /** The parameter buffer holding the pointer. */
  readonly view: DataView;
  /** The pointer's offset in `view`. */
  readonly offset: number;
  /** The buffer the kernel reads or writes during the call. */
  readonly bytes: Uint8Array;
  /** Where the pointer is in the parameter's value (`cmd.addr`), to give the buffer back in the result. */
  readonly path: string;
}

/**
 * The kinds whose encoder writes every byte of the type's size (text and bytes pad with zeros, a
 * struct zeroes its own padding): a value of one needs no zeroing first — not a struct's member
 * (struct_codegen.ts), nor a parameter in a block used before (param_blocks.ts). A union writes
 * only its arm, a command only its layout's bytes.
 */
const WRITES_WHOLE: ReadonlySet<TypeKind> = new Set<TypeKind>([
  "int",
  "float",
  "bool",
  "enum",
  "bytes",
  "string",
  "chars",
  "pointer",
  "struct",
]);

/** Whether `type`'s encoder writes every byte of its size (an array when its element does). */
export function writesWhole(type: Type<unknown>): boolean {
  const element = (type as { element?: Type<unknown> }).element;
  if (type.kind === "array") return element !== undefined && writesWhole(element);
  return WRITES_WHOLE.has(type.kind);
}

/** The caller buffers of one call, collected while its parameters are encoded. */
export class CallerBuffers {
  /** In the order they were met. */
  readonly list: CallerBuffer[] = [];
}

/** The JavaScript value type of a {@link Type}. */
export type ValueOf<T> = T extends Type<infer V> ? V : never;

/** A short description of a value for error messages. */
export function describeValue(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v.length > 40 ? v.slice(0, 40) + "…" : v);
  if (typeof v === "bigint") return `${v}n`;
  if (v instanceof Uint8Array) return `Uint8Array(${v.length})`;
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (v === null) return "null";
  if (typeof v === "object") return "an object";
  return String(v);
}

/** Largest length of a string, byte block or array type. */
export const MAX_TYPE_LENGTH = 1 << 24;

/** Checks the length of a fixed-size type; throws a RangeError naming `what`. */
export function checkLength(n: number, what: string): void {
  if (!Number.isInteger(n) || n < 1 || n > MAX_TYPE_LENGTH) {
    throw new RangeError(`${what} length must be an integer 1..${MAX_TYPE_LENGTH}, got ${n}`);
  }
}

/** A view of `length` bytes at `offset` (no copy). */
export function bytesOf(view: DataView, offset: number, length: number): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset + offset, length);
}

/**
 * The value `type` reads from `bytes` at `offset`: bytes a kernel wrote into a caller buffer (an
 * NVMe identify page) read as the struct they hold, its fields by name.
 * @throws {RangeError} when the bytes end before the type does, naming both sizes.
 * @throws {TypeError} when `bytes` is not a Uint8Array (an address, say).
 * @example
 * ```ts ignore
 * const page = new Uint8Array(4096);
 * await ctrl.invoke("identify", { request: { cns: 1, nsid: 0, page, status: 0 } });
 * decodeBytes(IdentifyController, page).mn; // "ACME NVMe 7450 PRO …"
 * ```
 */
export function decodeBytes<V>(type: Type<V>, bytes: Uint8Array, offset = 0): V {
  if (!(bytes instanceof Uint8Array)) {
    throw new TypeError(
      `decodeBytes: expected a Uint8Array (the bytes to read), got ${describeValue(bytes)}`,
    );
  }
  if (!Number.isInteger(offset) || offset < 0 || offset + type.size > bytes.length) {
    throw new RangeError(
      `${type.name} is ${type.size} bytes; ${bytes.length} bytes from offset ${offset} do not hold it`,
    );
  }
  return type.decode(new DataView(bytes.buffer, bytes.byteOffset, bytes.length), offset);
}
