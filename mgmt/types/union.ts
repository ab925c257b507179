/**
 * Unions: every member at offset 0; size and alignment of the largest (GCC x86_64, `packed`, `pack(n)` and
 * `aligned(n)` allowed). A value sets one member; decoding shows every member's view of the bytes.
 * @module
 */
import type { AnonymousMember, AnonymousValues, Member, MemberValue } from "./members.ts";
import {
  childPath,
  fieldFromJson,
  markBits,
  type PlacedField,
  planRecord,
  readField,
  recordJson,
  type RecordOptions,
  type RecordPlan,
  recordToJson,
  type RecordType,
  significantBits,
  writeField,
} from "./record.ts";
import { pick } from "./struct.ts";
import { ValueError } from "../errors.ts";
import { CallerBuffers, type Type } from "./type.ts";

/** A union type. */
export type UnionType<V> = RecordType<V>;

/** The value of a union with members `F`: the member it sets (decoded values carry every member's view). */
export type UnionValue<F> =
  & { [K in keyof F as F[K] extends AnonymousMember ? never : K]?: MemberValue<F[K]> }
  & Partial<AnonymousValues<F>>;

/**
 * A union laid out as GCC does on x86_64. The second argument is its name, or options:
 * `{ name, packed, pack, aligned }`.
 *
 * To encode, a value names the member it sets. A value naming several members (such as a
 * decoded one, which has every view) is accepted only when they describe the same bytes: each is
 * encoded alone and they must agree on every bit both carry (padding and unnamed bits carry none);
 * the bits each carries are written.
 * @throws {SignatureError} no named member, a name that is not an identifier, a name twice.
 * @throws {TypeError} a member that is not a type, an unknown option. @throws {RangeError} an option
 * out of range.
 */
export function unionType<F extends Record<string, Member>>(
  members: F,
  options?: string | RecordOptions,
): UnionType<UnionValue<F>> {
  type V = UnionValue<F>;
  const plan = planRecord("union", members, options);
  const { fields, size, byName, nameList: list, name } = plan;
  const alternatives = alternativesOf(plan);
  /** The alternatives `value` sets, in declaration order. */
  const chosen = (value: unknown, path: string) => {
    if (value === null || typeof value !== "object" || Array.isArray(value) || value instanceof Uint8Array) {
      throw new ValueError(path, `expected an object naming the member it sets: one of ${list}`);
    }
    const keys = Object.keys(value);
    for (const key of keys) {
      if (!byName.has(key)) throw new ValueError(path, `unknown member ${key}; members are ${list}`);
    }
    if (keys.length === 0) throw new ValueError(path, `a union value sets one member: one of ${list}`);
    return alternatives.filter((a) => a.keys.some((k) => k in value));
  };
  const label = (a: Alternative, obj: Record<string, unknown>) =>
    a.field ? a.field.name : a.keys.filter((k) => k in obj).join("/");
  const encodeOne = (
    a: Alternative,
    obj: Record<string, unknown>,
    path: string,
    buffers: CallerBuffers | undefined,
  ) => {
    const bytes = new Uint8Array(size);
    const view = new DataView(bytes.buffer);
    const f = a.field;
    if (!f) a.type.encode(view, 0, pick(obj, a.keys), path, buffers);
    else writeField(f, view, 0, obj[f.name], childPath(path, f.name), buffers);
    return bytes;
  };
  return {
    kind: "union",
    name: plan.displayName,
    size,
    align: plan.align,
    fields,
    members: plan.members,
    attributes: plan.attributes,
    encode(view, off, value, path, buffers) {
      const obj = value as Record<string, unknown>;
      const out = new Uint8Array(size);
      // Caller buffers are met while each member is encoded alone: they are moved to the real place.
      const scratch = buffers ? new CallerBuffers() : undefined;
      const given: Given[] = [];
      for (const a of chosen(value, path)) {
        const key = label(a, obj);
        const bytes = encodeOne(a, obj, path, scratch);
        merge(out, given, { key, bytes, mask: a.mask }, path);
      }
      new Uint8Array(view.buffer, view.byteOffset + off, size).set(out);
      for (const b of scratch?.list ?? []) buffers!.list.push({ ...b, view, offset: off + b.offset });
    },
    decode(view, off) {
      const out: Record<string, unknown> = {};
      for (const a of alternatives) {
        const f = a.field;
        if (!f) Object.assign(out, a.type.decode(view, off));
        else out[f.name] = readField(f, view, off);
      }
      return out as V;
    },
    fromJson(json, path) {
      const obj = json as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      for (const a of chosen(json, path)) {
        const f = a.field;
        if (!f) Object.assign(out, a.type.fromJson(pick(obj, a.keys), path));
        else out[f.name] = fieldFromJson(f, obj[f.name], childPath(path, f.name));
      }
      return out as V;
    },
    toJson: (v) => recordToJson(fields, v),
    describe: () => recordJson("union", plan, name),
  };
}

/** One way to set a union: a member, or an anonymous member with the names it brings. */
interface Alternative {
  /** The value's keys that choose it. */
  keys: readonly string[];
  /** The bits it carries (padding and unnamed bits carry none). */
  mask: Uint8Array;
  type: Type<unknown>;
  /** The member; none for an anonymous one. */
  field?: PlacedField;
}

/** A union's alternatives, in declaration order. */
function alternativesOf(plan: RecordPlan): Alternative[] {
  return plan.groups.map((g) => {
    const mask = new Uint8Array(plan.size);
    if (g.anonymous) {
      mask.set(significantBits(g.anonymous.type));
      return { keys: g.keys, mask, type: g.anonymous.type };
    }
    const f = g.field;
    if (f.bitWidth === undefined) mask.set(significantBits(f.type));
    else markBits(mask, f.bitOffset!, f.bitWidth);
    return { keys: [f.name], mask, type: f.type, field: f };
  });
}

/** A member given in a value, encoded alone. */
interface Given {
  key: string;
  bytes: Uint8Array;
  mask: Uint8Array;
}

/**
 * Writes the bits `one` carries into `out`, once it agrees with every member given before it on
 * every bit both carry; then it is one of them.
 * @throws {ValueError} naming `path`, the two members and the first byte they disagree at.
 */
function merge(out: Uint8Array, given: Given[], one: Given, path: string): void {
  const { key, bytes, mask } = one;
  for (const other of given) {
    for (let i = 0; i < out.length; i++) {
      if (((bytes[i] ^ other.bytes[i]) & mask[i] & other.mask[i]) === 0) continue;
      const hex = (b: number) => `0x${b.toString(16).padStart(2, "0")}`;
      throw new ValueError(
        path,
        `a union value sets one member; ${other.key} and ${key} were both given and disagree at byte ${i} (${
          hex(other.bytes[i])
        } vs ${hex(bytes[i])}): give only the member you mean`,
      );
    }
  }
  for (let i = 0; i < out.length; i++) out[i] = (out[i] & ~mask[i]) | (bytes[i] & mask[i]);
  given.push(one);
}
