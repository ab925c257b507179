/**
 * What structs and unions share: checking their members and options, laying them out
 * (`record_layout.ts`), each member's reader and writer, and their JSON description.
 * @module
 */
import { isCIdentifier } from "../../abi/c_text.ts";
import { SignatureError } from "../errors.ts";
import { layoutRecord, type RecordAttributes } from "./record_layout.ts";
import {
  type BitCodec,
  bitCodec,
  type FieldAttributes,
  isMemberSpec,
  type Member,
  type MemberJson,
} from "./members.ts";
import type { CallerBuffers, Type, TypeJson } from "./type.ts";
import { isAlignment } from "./record_layout.ts";

/** Options of a struct or union: its name and the attributes it is declared with. */
export interface RecordOptions {
  /** The name shown to people (`NicStats`). */
  readonly name?: string;
  /** `__attribute__((packed))`: no padding, every member 1-aligned (VMware wants this for payloads). */
  readonly packed?: boolean;
  /**
   * `#pragma pack(n)` in effect where it is declared: members at most n-aligned. (An anonymous
   * member defined inside such a record is in the same region: give it the same `pack`.)
   */
  readonly pack?: number;
  /** `__attribute__((aligned(n)))` on the record: at least n-aligned, size rounded up to it. */
  readonly aligned?: number;
}

/** A member of a struct or union, placed. */
export interface Field {
  /** Member name (for unnamed padding: the key it was given). */
  readonly name: string;
  /** The member's type (for a bitfield, its declared type: `u32`, an enum, `bool`). */
  readonly type: Type<unknown>;
  /** Byte offset inside the record (for a bitfield, of the byte holding its first bit). */
  readonly offset: number;
  /** Bitfields: the first bit, counted from the start of the record (little-endian bit order). */
  readonly bitOffset?: number;
  /** Bitfields: the width in bits. */
  readonly bitWidth?: number;
  /** Unnamed bitfield: padding that carries no value. */
  readonly unnamed?: boolean;
  /** An anonymous struct or union member (in `members`): its own members are in `fields`, by name. */
  readonly anonymous?: boolean;
  /** C field attributes it was declared with (`packed`, `aligned`). */
  readonly attributes?: FieldAttributes;
  /** The driver fills it in: a value may leave it out (sent as zero); see {@link FieldAttributes.out}. */
  readonly out?: boolean;
}

/** A struct or union type. */
export interface RecordType<V> extends Type<V> {
  /** Members that carry values, in declaration order. */
  readonly fields: readonly Field[];
  /** Every member in declaration order, unnamed padding included. */
  readonly members: readonly Field[];
  /** The attributes it was declared with. */
  readonly attributes: RecordAttributes;
}

/** True for a struct or a union. */
export function isRecord(type: Type<unknown> | undefined): type is RecordType<unknown> {
  return type?.kind === "struct" || type?.kind === "union";
}

/** A placed member with its reader and writer. */
export interface PlacedField extends Field {
  /** Reads and writes the bits of a bitfield. */
  readonly bits?: BitCodec;
}

/** The value-carrying parts of a record in order: a member, or an anonymous member and the names it adds. */
export type ValueGroup =
  | { readonly field: PlacedField; readonly anonymous?: undefined }
  | {
    readonly anonymous: PlacedField & { readonly type: RecordType<unknown> };
    readonly keys: readonly string[];
  };

/** The result of {@link planRecord}. */
export interface RecordPlan {
  /** Every member, placed. */
  readonly members: readonly PlacedField[];
  /** Members with values, those of anonymous members included (at their offsets in this record). */
  readonly fields: readonly PlacedField[];
  /** What carries values, in order: encode and decode walk these. */
  readonly groups: readonly ValueGroup[];
  /** `sizeof`. */
  readonly size: number;
  /** `_Alignof`. */
  readonly align: number;
  /** The attributes, checked. */
  readonly attributes: RecordAttributes;
  /** `struct NAME`/`union NAME` or a C-like spelling of the members. */
  readonly displayName: string;
  /** The name given in the options, if any. */
  readonly name?: string;
  /** Members with values by name. */
  readonly byName: ReadonlyMap<string, PlacedField>;
  /** Their names, for messages (`a, b, c`). */
  readonly nameList: string;
}

/** The path of member `field` of the value at `path` (`cmd` → `cmd.cdw10`). */
export function childPath(path: string, field: string): string {
  return path ? `${path}.${field}` : field;
}

function checkOptions(kind: "struct" | "union", options: string | RecordOptions | undefined): RecordOptions {
  if (options === undefined) return {};
  if (typeof options === "string") return { name: options };
  if (options === null || typeof options !== "object") {
    throw new TypeError(`${kind}: the second argument is a name or options { name, packed, pack, aligned }`);
  }
  const known = ["name", "packed", "pack", "aligned"];
  for (const k of Object.keys(options)) {
    if (!known.includes(k)) {
      throw new TypeError(
        `${kind} ${options.name ?? ""}: unknown option ${k}; options are ${known.join(", ")}`.replace(
          "  ",
          " ",
        ),
      );
    }
  }
  const what = `${kind}${options.name ? ` ${options.name}` : ""}`;
  if (options.name !== undefined && (typeof options.name !== "string" || options.name === "")) {
    throw new TypeError(`${what}: name must be a non-empty string`);
  }
  if (options.packed !== undefined && typeof options.packed !== "boolean") {
    throw new TypeError(`${what}: packed must be true or false`);
  }
  for (const k of ["pack", "aligned"] as const) {
    if (options[k] !== undefined && !isAlignment(options[k])) {
      throw new RangeError(`${what}: ${k}(${options[k]}) must be a power of two`);
    }
  }
  return options;
}

/** The field attributes of a member spec (an anonymous member has none). */
function fieldAttributes(m: Member | undefined): FieldAttributes | undefined {
  return m && isMemberSpec(m) && m.member !== "anon" ? m : undefined;
}

/**
 * Checks and lays out the members of a struct or union.
 * @throws {SignatureError} no named member, a name that is not an identifier, a name declared twice, a
 * `lengthFrom` that names no integer member. @throws {TypeError} a member that is not a type, an unknown
 * option. @throws {RangeError} an option out of range (`pack`, `aligned`).
 */
export function planRecord(
  kind: "struct" | "union",
  members: Record<string, Member>,
  optionsIn: string | RecordOptions | undefined,
): RecordPlan {
  const options = checkOptions(kind, optionsIn);
  const what = `${kind}${options.name ? ` ${options.name}` : ""}`;
  const specs = memberSpecs(kind, what, members);
  const attributes: RecordAttributes = {
    ...(kind === "union" ? { union: true } : {}),
    ...(options.packed ? { packed: true } : {}),
    ...(options.pack !== undefined ? { pack: options.pack } : {}),
    ...(options.aligned !== undefined ? { aligned: options.aligned } : {}),
  };
  const layout = layoutRecord(
    specs.map((s) => ({
      size: s.type.size,
      align: s.type.align,
      width: s.width,
      named: s.named,
      packed: fieldAttributes(s.attrs)?.packed,
      aligned: fieldAttributes(s.attrs)?.aligned,
    })),
    attributes,
  );
  const placed = specs.map((s, i) => placeMember(s, layout.bitOffsets[i]));
  const display = options.name ??
    `${kind} { ${
      placed.map((f) =>
        `${f.type.name}${f.unnamed ? "" : ` ${f.name}`}${f.bitWidth !== undefined ? ` : ${f.bitWidth}` : ""}`
      ).join("; ")
    } }`;
  const { fields, groups } = valueGroups(what, placed);
  return {
    members: placed,
    fields,
    groups,
    size: layout.size,
    align: layout.align,
    attributes,
    displayName: display,
    ...(options.name !== undefined ? { name: options.name } : {}),
    byName: new Map(fields.map((f) => [f.name, f])),
    nameList: fields.map((f) => f.name).join(", "),
  };
}

/** One member as declared, checked: its name, type, bit width, whether it has a value, its attributes. */
interface MemberSpec {
  name: string;
  type: Type<unknown>;
  width: number | undefined;
  /** False for unnamed padding bits (`t.pad`). */
  named: boolean;
  attrs: Member | undefined;
  /** An anonymous struct or union (`t.anon`). */
  anon: boolean;
}

/** The members of a struct or union `what`, checked one by one and then together (`lengthFrom`). */
function memberSpecs(kind: "struct" | "union", what: string, members: Record<string, Member>): MemberSpec[] {
  if (members === null || typeof members !== "object" || Array.isArray(members)) {
    throw new TypeError(`${what}: members must be an object of name: type`);
  }
  const specs = Object.entries(members).map(([name, m]): MemberSpec => {
    if (!isCIdentifier(name)) {
      throw new SignatureError(`${what}: member name ${JSON.stringify(name)} is not an identifier`);
    }
    if (isMemberSpec(m)) {
      if (m.member === "field") {
        return { name, type: m.type, width: undefined, named: true, attrs: m, anon: false };
      }
      if (m.member === "anon") {
        return { name, type: m.type as Type<unknown>, width: undefined, named: true, attrs: m, anon: true };
      }
      if (kind === "union" && m.member === "pad") {
        throw new TypeError(`${what}.${name}: a union cannot hold unnamed bitfields`);
      }
      return { name, type: m.base, width: m.width, named: m.member === "bits", attrs: m, anon: false };
    }
    if (!m || typeof (m as Type<unknown>).encode !== "function") {
      throw new TypeError(`${what}.${name}: not a type (use t.u32, t.chars(n), t.bits(t.u32, 8), …)`);
    }
    return { name, type: m as Type<unknown>, width: undefined, named: true, attrs: undefined, anon: false };
  });
  if (!specs.some((s) => s.named)) throw new SignatureError(`${what} needs at least one named member`);
  for (const s of specs) {
    const from = (s.type as { buffer?: { lengthFrom?: string } }).buffer?.lengthFrom;
    if (from === undefined) continue;
    const source = specs.find((o) => o.name === from && o.named);
    if (!source || source.type.kind !== "int") {
      throw new SignatureError(
        `${what}.${s.name}: lengthFrom ${
          JSON.stringify(from)
        } must name an integer member of the same ${kind}`,
      );
    }
  }
  return specs;
}

/** A member at the bit offset the layout gave it. */
function placeMember(s: MemberSpec, bitOffset: number): PlacedField {
  const given = fieldAttributes(s.attrs);
  const attrs = given && (given.packed || given.aligned !== undefined)
    ? {
      ...(given.packed ? { packed: true } : {}),
      ...(given.aligned ? { aligned: given.aligned } : {}),
    }
    : undefined;
  const base = {
    name: s.name,
    type: s.type,
    offset: Math.floor(bitOffset / 8),
    attributes: attrs,
    ...(given?.out ? { out: true } : {}),
    ...(s.anon ? { anonymous: true } : {}),
  };
  if (s.width === undefined) return base;
  return {
    ...base,
    bitOffset,
    bitWidth: s.width,
    ...(s.named ? { bits: bitCodec(s.type, s.width, bitOffset) } : { unnamed: true }),
  };
}

/**
 * The members that carry values (an anonymous member's own members lifted to its offset) and how a
 * value's keys group into them.
 * @throws {SignatureError} a name declared twice.
 */
function valueGroups(
  what: string,
  placed: readonly PlacedField[],
): { fields: PlacedField[]; groups: ValueGroup[] } {
  const fields: PlacedField[] = [];
  const groups: ValueGroup[] = [];
  for (const f of placed) {
    if (f.unnamed) continue;
    if (!f.anonymous) {
      fields.push(f);
      groups.push({ field: f });
      continue;
    }
    // An anonymous member's members are ours, at its offset.
    const inner = f.type as RecordType<unknown>;
    const lifted = inner.fields.map((g): PlacedField => {
      if (g.bitWidth === undefined) return { ...g, offset: f.offset + g.offset };
      const bitOffset = f.offset * 8 + g.bitOffset!;
      return {
        ...g,
        offset: Math.floor(bitOffset / 8),
        bitOffset,
        bits: bitCodec(g.type, g.bitWidth, bitOffset),
      };
    });
    fields.push(...lifted);
    groups.push({
      anonymous: f as PlacedField & { type: RecordType<unknown> },
      keys: lifted.map((g) => g.name),
    });
  }
  const seen = new Set<string>();
  for (const f of fields) {
    if (seen.has(f.name)) {
      throw new SignatureError(
        `${what}: member ${f.name} is declared twice (an anonymous member brings its names along)`,
      );
    }
    seen.add(f.name);
  }
  return { fields, groups };
}

/** The JSON form of a record's members and options. */
export function recordJson(kind: "struct" | "union", plan: RecordPlan, name: string | undefined): TypeJson {
  const members: Record<string, TypeJson | MemberJson> = {};
  for (const f of plan.members) {
    const attrs = {
      ...(f.attributes?.packed ? { packed: true } : {}),
      ...(f.attributes?.aligned !== undefined ? { aligned: f.attributes.aligned } : {}),
      ...(f.out ? { out: true } : {}),
    };
    if (f.bitWidth !== undefined) {
      members[f.name] = f.unnamed
        ? { pad: f.type.describe(), width: f.bitWidth, ...attrs }
        : { bits: f.type.describe(), width: f.bitWidth, ...attrs };
    } else if (f.anonymous) members[f.name] = { anon: f.type.describe() };
    else if (f.attributes || f.out) members[f.name] = { field: f.type.describe(), ...attrs };
    else members[f.name] = f.type.describe();
  }
  const a = plan.attributes;
  const head = kind === "struct" ? { struct: members } : { union: members };
  return {
    ...head,
    ...(name ? { name } : {}),
    ...(a.packed ? { packed: true } : {}),
    ...(a.pack !== undefined ? { pack: a.pack } : {}),
    ...(a.aligned !== undefined ? { aligned: a.aligned } : {}),
  } as TypeJson;
}

/** Sets bits `first`..`first + width - 1` of `mask` (little-endian bit order, as GCC places bitfields). */
export function markBits(mask: Uint8Array, first: number, width: number): void {
  for (let b = first; b < first + width; b++) mask[b >> 3] |= 1 << (b & 7);
}

/**
 * Which bits of a value of `type` carry data: padding, unnamed bitfields and bits no member
 * covers are 0. One mask byte per byte of the type. (Strings count whole: their bytes after the
 * NUL are not kept by a decode, so two views of them can disagree there.)
 */
export function significantBits(type: Type<unknown>): Uint8Array {
  const mask = new Uint8Array(type.size);
  const inner = (type as { inner?: Type<unknown> }).inner;
  if (inner) return significantBits(inner);
  if (isRecord(type)) {
    for (const f of type.fields) {
      if (f.bitWidth !== undefined) {
        markBits(mask, f.bitOffset!, f.bitWidth);
      } else {
        const sub = significantBits(f.type);
        for (let i = 0; i < sub.length; i++) mask[f.offset + i] |= sub[i];
      }
    }
    return mask;
  }
  const element = (type as { element?: Type<unknown> }).element;
  if (type.kind === "array" && element) {
    const sub = significantBits(element);
    for (let at = 0; at + element.size <= type.size; at += element.size) mask.set(sub, at);
    return mask;
  }
  return mask.fill(0xff);
}

/** Reads member `f` of the record at `recordOffset`. */
export function readField(f: PlacedField, view: DataView, recordOffset: number): unknown {
  return f.bits ? f.bits.read(view, recordOffset) : f.type.decode(view, recordOffset + f.offset);
}

/** Writes member `f` of the record at `recordOffset`; throws a `ValueError` naming `path`. */
export function writeField(
  f: PlacedField,
  view: DataView,
  recordOffset: number,
  value: unknown,
  path: string,
  buffers?: CallerBuffers,
): void {
  if (f.bits) f.bits.write(view, recordOffset, value, path);
  else f.type.encode(view, recordOffset + f.offset, value, path, buffers);
}

/** Member `f`'s value from its JSON form; throws a `ValueError` naming `path`. */
export function fieldFromJson(f: PlacedField, json: unknown, path: string): unknown {
  return f.bits ? f.bits.fromJson(json, path) : f.type.fromJson(json, path);
}

/** The JSON form of a record's value: each member it has (an anonymous union's unset members are absent). */
export function recordToJson(fields: readonly Field[], value: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of fields) {
    const v = (value as Record<string, unknown>)[f.name];
    if (v !== undefined) out[f.name] = f.type.toJson(v);
  }
  return out;
}
