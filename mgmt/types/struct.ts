/**
 * Structs laid out as GCC does on x86_64: natural alignment and padding, or `packed`, `pack(n)`,
 * `aligned(n)`; members may be bitfields, unnamed padding bits, or carry field attributes.
 * @module
 */
import type { AnonymousMember, AnonymousValues, Member, MemberValue, PadBits } from "./members.ts";
import {
  childPath,
  type Field,
  fieldFromJson,
  planRecord,
  readField,
  recordJson,
  type RecordOptions,
  type RecordPlan,
  recordToJson,
  type RecordType,
  writeField,
} from "./record.ts";
import { zeroBytes } from "./byte_pool.ts";
import { generatedCodec, isFieldsObject } from "./struct_codegen.ts";
import { ValueError } from "../errors.ts";
import type { PointerType } from "./pointer.ts";
import type { Type } from "./type.ts";

export type { Field, RecordOptions };

/** A struct type; `fields` lists the members with values in declaration order, with offsets. */
export type StructType<V> = RecordType<V>;

/** The value of a struct with members `F`: every named member (padding bits carry none). */
export type StructValue<F> =
  & { [K in keyof F as F[K] extends PadBits | AnonymousMember ? never : K]: MemberValue<F[K]> }
  & AnonymousValues<F>;

/**
 * A struct laid out as GCC does on x86_64. The second argument is its name, or options:
 * `{ name, packed, pack, aligned }`.
 * @throws {SignatureError} no named member, a name that is not an identifier, a name twice.
 * @throws {TypeError} a member that is not a type, an unknown option. @throws {RangeError} an option
 * out of range.
 */
export function structType<F extends Record<string, Member>>(
  members: F,
  options?: string | RecordOptions,
): StructType<StructValue<F>> {
  type V = StructValue<F>;
  const plan = planRecord("struct", members, options);
  const { fields, size, byName, nameList: list, name } = plan;
  const codec = structCodec(plan);
  return {
    kind: "struct",
    name: plan.displayName,
    size,
    align: plan.align,
    fields,
    members: plan.members,
    attributes: plan.attributes,
    encode: codec.encode,
    decode: codec.decode as StructType<V>["decode"],
    fromJson(json, path) {
      if (json === null || typeof json !== "object" || Array.isArray(json)) {
        throw new ValueError(path, `expected a JSON object with fields ${list}`);
      }
      const obj = json as Record<string, unknown>;
      for (const key of Object.keys(obj)) {
        if (!byName.has(key)) throw new ValueError(path, `unknown field ${key}; fields are ${list}`);
      }
      const out: Record<string, unknown> = {};
      for (const g of plan.groups) {
        if (g.anonymous) {
          Object.assign(out, g.anonymous.type.fromJson(pick(obj, g.keys), path));
          continue;
        }
        const f = g.field;
        const p = childPath(path, f.name);
        if (!(f.name in obj)) {
          if (f.out) continue; // (the driver fills it in; encode sends zero)
          throw new ValueError(p, `missing field (${fieldTypeName(f)})`);
        }
        out[f.name] = fieldFromJson(f, obj[f.name], p);
      }
      return out as V;
    },
    toJson: (v) => recordToJson(fields, v),
    describe: () => recordJson("struct", plan, name),
  };
}

/**
 * The encoder and decoder of a struct laid out by `plan`: for a plain struct the generated ones
 * (struct_codegen.ts), with the shared encoder behind them; else the shared ones. Per group, made
 * once: the length member a pointer member's buffer is checked against, and the path of the member
 * under the last parent path seen (a call's paths are the same strings each time, so a call builds
 * none: the concatenations cost more than writing the members).
 */
function structCodec(
  plan: RecordPlan,
): { encode: Type<unknown>["encode"]; decode: (view: DataView, off: number) => unknown } {
  const { size, byName, nameList: list } = plan;
  const groups = plan.groups;
  const lengthFrom = groups.map((g) =>
    g.anonymous ? undefined : (g.field.type as PointerType).buffer?.lengthFrom
  );
  const parents: (string | undefined)[] = groups.map(() => undefined);
  const children: string[] = groups.map(() => "");
  const names = groups.map((g) => g.anonymous ? "" : g.field.name);
  const pathOf = (i: number, path: string): string => {
    if (parents[i] !== path) {
      parents[i] = path;
      children[i] = childPath(path, names[i]);
    }
    return children[i];
  };
  const general: Type<unknown>["encode"] = (view, off, value, path, buffers) => {
    if (!isFieldsObject(value)) throw new ValueError(path, `expected an object with fields ${list}`);
    const obj = value as Record<string, unknown>;
    for (const key in obj) {
      // (a known key needs no own-property check: the cheap test first)
      if (!byName.has(key) && Object.hasOwn(obj, key)) {
        throw new ValueError(path, `unknown field ${key}; fields are ${list}`);
      }
    }
    zeroBytes(view, off, size);
    for (let i = 0; i < groups.length; i++) {
      const g = groups[i];
      if (g.anonymous) {
        g.anonymous.type.encode(view, off + g.anonymous.offset, pick(obj, g.keys), path, buffers);
        continue;
      }
      const f = g.field;
      const v = obj[f.name];
      if (v === undefined && !(f.name in obj)) {
        if (f.out) continue; // (the driver fills it in: zero, as the bytes already are)
        throw new ValueError(pathOf(i, path), `missing field (${fieldTypeName(f)})`);
      }
      const p = pathOf(i, path);
      writeField(f, view, off, v, p, buffers);
      const from = lengthFrom[i];
      if (from === undefined) continue;
      // (the buffer pinned for this member: given, or made from { length } / { bytes })
      const pinned = buffers?.list.at(-1);
      if (pinned?.path === p) {
        // The kernel copies as many bytes as the length member says: never more than the buffer holds.
        const said = Number(obj[from]);
        const held = pinned.bytes.length;
        if (!(said <= held)) {
          throw new ValueError(
            p,
            `${from} says ${
              obj[from]
            } bytes but the buffer holds ${held}: the kernel would copy past its end`,
          );
        }
      }
    }
  };
  const decode = (view: DataView, off: number): unknown => {
    const out: Record<string, unknown> = {};
    for (const g of groups) {
      if (g.anonymous) Object.assign(out, g.anonymous.type.decode(view, off + g.anonymous.offset));
      else out[g.field.name] = readField(g.field, view, off);
    }
    return out;
  };
  return generatedCodec(plan, lengthFrom, general, pathOf) ?? { encode: general, decode };
}

/** The entries of `obj` named in `keys` (an anonymous member's share of a value). */
export function pick(obj: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of keys) if (k in obj) out[k] = obj[k];
  return out;
}

/** `u32 : 8` for a bitfield, the type's name otherwise. */
export function fieldTypeName(f: Field): string {
  return f.bitWidth === undefined ? f.type.name : `${f.type.name} : ${f.bitWidth}`;
}
