/**
 * A plain struct's encoder and decoder written as code of their own: for a struct whose members are
 * all plain (no bitfield, no anonymous member, no pointer member with a buffer length to check),
 * the members are written and read by straight-line code made once per struct type, instead of by
 * the shared loop of `struct.ts`. Why: in the shared loop one call site (`type.encode`) serves every
 * member type of every struct, so V8 sees it megamorphic and inlines nothing; in code of its own,
 * each site sees one type. Measured side by side (three runs) on echo's 64-byte `msg` (a u64 and 56
 * bytes): encoding 75–124 → 35–68 ns, decoding 102–138 → 71–113 ns (most of what is left is the
 * one Uint8Array the bytes decode to); on a seven-member struct of numbers, text, an array and a bool,
 * decoding 268–519 → 48–83 ns.
 *
 * It zeroes only the bytes no member writes whole (padding, and members of kinds that may leave
 * bytes as they were), not the whole struct first: echo's msg then zeroes nothing (~10 ns of ~35).
 *
 * What it gives up: the code is made with `new Function` (names enter it only as JSON string
 * literals — and they are C identifiers, checked before). The generated encoder handles the usual
 * case only: any value it does not expect (not an object, an unknown key, a missing member that is
 * not `out` — an `out` member left out stays zero, as in the shared loop) goes to
 * the shared encoder, which says what is wrong in its own words, so the messages are one set.
 * @module
 */
import type { RecordPlan } from "./record.ts";
import { zeroBytes } from "./byte_pool.ts";
import { type CallerBuffers, type Type, writesWhole } from "./type.ts";

type Encode = Type<unknown>["encode"];
type Decode = (view: DataView, offset: number) => unknown;

/**
 * Whether `value` can be a struct's value: an object of fields, not null, an array or bytes (the
 * shared encoder's first check; the generated one hands anything else to it).
 */
export function isFieldsObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value) &&
    !(value instanceof Uint8Array);
}

/** Whether `plan`'s struct can have generated code: every group a plain member. */
function plain(plan: RecordPlan, lengthFrom: readonly (string | undefined)[]): boolean {
  // (`__proto__` as an object literal's key would set the prototype: the shared code for that name)
  return plan.groups.every((g, i) =>
    !g.anonymous && !g.field.bits && lengthFrom[i] === undefined && g.field.name !== "__proto__"
  );
}

/**
 * The byte ranges `[start, end)` of a struct of `size` that no member in `whole` writes: its
 * padding, and the members that may leave bytes as they were.
 */
function rangesToZero(size: number, whole: readonly { offset: number; size: number }[]): [number, number][] {
  const covered = new Uint8Array(size);
  for (const m of whole) covered.fill(1, m.offset, m.offset + m.size);
  const out: [number, number][] = [];
  for (let i = 0; i < size; i++) {
    if (covered[i]) continue;
    let end = i;
    while (end < size && !covered[end]) end++;
    out.push([i, end]);
    i = end;
  }
  return out;
}

/**
 * The generated encoder and decoder of `plan`'s struct, or undefined when it is not plain.
 * `general` is the shared encoder: what the generated one does not expect goes to it. `pathOf(i,
 * path)`: member `i`'s path under `path`, made once per parent (struct.ts).
 */
export function generatedCodec(
  plan: RecordPlan,
  lengthFrom: readonly (string | undefined)[],
  general: Encode,
  pathOf: (i: number, path: string) => string,
): { encode: Encode; decode: Decode } | undefined {
  if (!plain(plan, lengthFrom)) return undefined;
  const fields = plan.groups.flatMap((g) => g.anonymous ? [] : [g.field]);
  const names = fields.map((f) => JSON.stringify(f.name));
  const types = fields.map((f) => f.type);
  // Only the bytes no member writes whole are zeroed (echo's msg: none), not the whole struct.
  const whole = fields.map((f) => writesWhole(f.type));
  const zero = rangesToZero(
    plan.size,
    fields.filter((_, i) => whole[i]).map((f) => ({ offset: f.offset, size: f.type.size })),
  )
    .map(([a, b]) => `zeroBytes(view, off + ${a}, ${b - a});`).join(" ");
  // (a known key in a few comparisons; past eight, the plan's set)
  const known = names.length <= 8 ? names.map((n) => `key !== ${n}`).join(" && ") : "!byName.has(key)";
  const encodeBody = `
    if (!isFieldsObject(value)) return general(view, off, value, path, buffers);
    for (const key in value) {
      if (${known} && Object.hasOwn(value, key)) return general(view, off, value, path, buffers);
    }
    ${zero}
    let v;
    ${
    fields.map((f, i) => `
    v = value[${names[i]}];
    if (v !== undefined || ${
      names[i]
    } in value) t${i}.encode(view, off + ${f.offset}, v, pathOf(${i}, path), buffers);
    else ${
      !f.out
        ? "return general(view, off, value, path, buffers)"
        : whole[i]
        ? `zeroBytes(view, off + ${f.offset}, ${f.type.size})`
        : ""
    };`).join("")
  }`;
  const decodeBody = `return { ${
    fields.map((f, i) => `${names[i]}: t${i}.decode(view, off + ${f.offset})`).join(", ")
  } };`;
  const typeNames = types.map((_, i) => `t${i}`);
  const encode = new Function(
    "general",
    "isFieldsObject",
    "zeroBytes",
    "pathOf",
    "byName",
    ...typeNames,
    `"use strict"; return function encode(view, off, value, path, buffers) {${encodeBody}\n};`,
  )(general, isFieldsObject, zeroBytes, pathOf, plan.byName, ...types) as (
    view: DataView,
    off: number,
    value: unknown,
    path: string,
    buffers?: CallerBuffers,
  ) => void;
  const decode = new Function(
    ...typeNames,
    `"use strict"; return function decode(view, off) { ${decodeBody} };`,
  )(...types) as Decode;
  return { encode, decode };
}
