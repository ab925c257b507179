/**
 * A seeded generator of random type definitions in the JSON form: structs and unions, packed or
 * not, `pack(n)`, `aligned(n)` on records, members and typedefs, bitfields (`: 0`, unnamed,
 * signed, straddling, up to 64 bits, enum and bool ones), nested records and arrays, every integer
 * and float kind, char arrays full or not, byte blocks, pointers.
 */
import type { TypeJson } from "../../mgmt/types/type.ts";

const INTS = ["u8", "u16", "u32", "u64", "i8", "i16", "i32", "i64"] as const;
const BITS: Record<string, number> = { u8: 8, u16: 16, u32: 32, u64: 64, i8: 8, i16: 16, i32: 32, i64: 64 };

/** Makes random type definitions from `random` (a seeded generator). */
export function randomTypeJson(
  random: () => number,
  depth = 0,
  prefix = "",
  anonymousIn?: { pack: number | undefined },
): TypeJson {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)];
  const chance = (p: number) => random() < p;
  const union = depth > 0 ? chance(0.25) : chance(0.15);
  // An anonymous record is defined inside its parent: the parent's #pragma pack is its own.
  const pack = anonymousIn ? anonymousIn.pack : chance(0.15) ? pick([1, 2, 4, 8]) : undefined;
  const members: Record<string, unknown> = {};
  const n = 1 + Math.floor(random() * (depth === 0 ? 9 : 5));
  let named = 0;
  for (let i = 0; i < n; i++) {
    const name = `${prefix}m${i}`;
    const roll = random();
    if (roll < 0.3) {
      // A bitfield: an integer, sometimes an enum or a bool; sometimes unnamed padding.
      const base = pick(INTS);
      const bits = BITS[base];
      const width = chance(0.15) ? bits : 1 + Math.floor(random() * Math.min(bits, chance(0.7) ? 12 : bits));
      const attrs = chance(0.08) ? { packed: true } : chance(0.05) ? { aligned: pick([2, 4, 8]) } : {};
      if (!union && chance(0.2)) {
        members[name] = { pad: base, width: chance(0.4) ? 0 : width, ...attrs };
        continue;
      }
      if (chance(0.08)) members[name] = { bits: "bool", width: 1, ...attrs };
      else if (chance(0.1)) {
        members[name] = { bits: { enum: { A: 0, B: 1, C: 2 }, base }, width: Math.max(width, 2), ...attrs };
      } else members[name] = { bits: base, width, ...attrs };
      named++;
      continue;
    }
    named++;
    let type: TypeJson;
    if (roll < 0.55) type = pick(INTS);
    else if (roll < 0.6) type = pick(["f32", "f64"]);
    else if (roll < 0.63) type = "bool";
    else if (roll < 0.68) type = { chars: 1 + Math.floor(random() * 12) };
    else if (roll < 0.71) type = { string: 2 + Math.floor(random() * 8) };
    else if (roll < 0.74) type = { bytes: 1 + Math.floor(random() * 9) };
    else if (roll < 0.77) type = "ptr";
    else if (roll < 0.8) type = { enum: { X: 1, Y: 7 }, base: pick(INTS) };
    else if (roll < 0.87) {
      const element: TypeJson = depth < 1 && chance(0.3) ? randomTypeJson(random, depth + 1) : pick(INTS);
      type = { array: element, length: 1 + Math.floor(random() * 4) };
    } else if (roll < 0.9 && depth < 2) type = randomTypeJson(random, depth + 1);
    else if (roll < 0.95 && depth < 2) {
      // An anonymous struct or union, defined inline: its members join this record's (names kept
      // unique by a prefix).
      members[name] = { anon: randomTypeJson(random, depth + 1, `${name}_`, { pack }) };
      continue;
    } else type = { aligned: pick([1, 2, 4, 8, 16]), type: pick(INTS) };
    if (chance(0.1)) {
      members[name] = { field: type, ...(chance(0.5) ? { packed: true } : { aligned: pick([2, 4, 8, 16]) }) };
    } else members[name] = type;
  }
  if (named === 0) members[`${prefix}m${n}`] = pick(INTS);
  const out: Record<string, unknown> = union ? { union: members } : { struct: members };
  if (chance(0.4)) out.packed = true;
  if (pack !== undefined) out.pack = pack;
  if (chance(0.1)) out.aligned = pick([2, 4, 8, 16, 32]);
  return out as TypeJson;
}
