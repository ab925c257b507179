/**
 * Holds our types to the C compiler. For each case (a C type name and our type for it) it writes a
 * C function that prints sizeof, _Alignof, the offset of every member (offsetof) and the bits of
 * every bitfield (set to all ones in a zeroed object), the bytes of a random value assigned leaf by
 * leaf, and every leaf read back from random bytes; then compiles them all with the system
 * compiler, runs them and compares each figure with ours. Also writes C declarations for our
 * types (`declareC`), for generated cases.
 */
import { cString } from "../abi/c_text.ts";
import type { Type } from "../mgmt/types/type.ts";
import { isRecord, type RecordType } from "../mgmt/types/record.ts";
import type { EnumType } from "../mgmt/types/enum.ts";

/** A seeded pseudo-random generator (mulberry32): the same seed gives the same cases. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One type to hold to C. */
export interface ProbeCase {
  /** The C type name (`struct foo`, `foo_t`). */
  readonly cType: string;
  /** Our type for it. */
  readonly type: Type<unknown>;
  /** A label for failures (the seed and case number, or the struct's name). */
  readonly label: string;
}

const C_INT: Record<string, string> = {
  u8: "uint8_t",
  u16: "uint16_t",
  u32: "uint32_t",
  u64: "uint64_t",
  i8: "int8_t",
  i16: "int16_t",
  i32: "int32_t",
  i64: "int64_t",
};

function baseIntName(type: Type<unknown>): string {
  if (type.kind === "int") return type.name;
  if (type.kind === "enum") return (type.describe() as { base?: string }).base ?? "u32";
  if (type.kind === "pointer") return "u64";
  return "u8"; // bool
}

/** C declarations for our types (for generated cases): records, typedefs for aligned types. */
export class CDeclarations {
  #lines: string[] = [];
  #names = new Map<Type<unknown>, string>();
  #count = 0;
  constructor(readonly prefix: string) {}

  /** All declarations so far. */
  get text(): string {
    return this.#lines.join("\n");
  }

  /** `TYPE name[n]…` for a member or variable of `type`. */
  declarator(type: Type<unknown>, name: string): string {
    let suffix = "";
    let t = type;
    while (t.kind === "array" || t.kind === "chars" || t.kind === "string" || t.kind === "bytes") {
      const d = t.describe() as Record<string, unknown>;
      if (t.kind === "array") {
        suffix += `[${d.length}]`;
        t = (t as unknown as { element?: Type<unknown> }).element ?? elementOf(t);
      } else {
        suffix += `[${t.size}]`;
        return `${t.kind === "bytes" ? "uint8_t" : "char"} ${name}${suffix}`;
      }
    }
    return `${this.typeName(t)} ${name}${suffix}`;
  }

  /** The C name of a non-array type, declaring it first when needed. */
  typeName(type: Type<unknown>): string {
    const known = this.#names.get(type);
    if (known) return known;
    let name: string;
    const d = type.describe();
    if (typeof d === "object" && "aligned" in d && "type" in d) {
      const inner = this.declarator(innerOf(type), `${this.prefix}_a${this.#count++}`);
      name = inner.slice(inner.lastIndexOf(" ") + 1);
      this.#lines.push(`typedef ${inner} __attribute__((aligned(${d.aligned})));`);
    } else if (isRecord(type)) {
      name = this.#record(type);
    } else if (type.kind === "int" || type.kind === "enum") name = C_INT[baseIntName(type)];
    else if (type.kind === "float") name = type.size === 4 ? "float" : "double";
    else if (type.kind === "bool") name = "char";
    else if (type.kind === "pointer") name = "void *";
    else throw new Error(`no C name for ${type.name}`);
    this.#names.set(type, name);
    return name;
  }

  #record(type: RecordType<unknown>): string {
    const tag = `${this.prefix}_r${this.#count++}`;
    const { head, body } = this.#body(type);
    const text = `${head} ${tag} ${body};`;
    const pack = type.attributes.pack;
    this.#lines.push(pack !== undefined ? `#pragma pack(push, ${pack})\n${text}\n#pragma pack(pop)` : text);
    return `${type.kind} ${tag}`;
  }

  /** `struct __attribute__((…))` and `{ members }` of a record (anonymous members written inline). */
  #body(type: RecordType<unknown>): { head: string; body: string } {
    const members = type.members.map((f) => {
      const attrs = [
        f.attributes?.packed ? "packed" : "",
        f.attributes?.aligned !== undefined ? `aligned(${f.attributes.aligned})` : "",
      ].filter(Boolean);
      const attr = attrs.length ? ` __attribute__((${attrs.join(", ")}))` : "";
      if (f.anonymous) {
        const inner = this.#body(f.type as RecordType<unknown>);
        return `  ${inner.head} ${inner.body}${attr};`;
      }
      if (f.bitWidth !== undefined) {
        const base = f.type.kind === "bool" ? "_Bool" : C_INT[baseIntName(f.type)];
        return `  ${base} ${f.unnamed ? "" : f.name} : ${f.bitWidth}${attr};`;
      }
      return `  ${this.declarator(f.type, f.name)}${attr};`;
    });
    const a = type.attributes;
    const attrs = [a.packed ? "packed" : "", a.aligned !== undefined ? `aligned(${a.aligned})` : ""].filter(
      Boolean,
    );
    return {
      head: `${type.kind}${attrs.length ? ` __attribute__((${attrs.join(", ")}))` : ""}`,
      body: `{\n${members.join("\n")}\n}`,
    };
  }
}

function elementOf(type: Type<unknown>): Type<unknown> {
  const e = (type as unknown as { element?: Type<unknown> }).element;
  if (!e) throw new Error(`array type ${type.name} does not expose its element`);
  return e;
}

function innerOf(type: Type<unknown>): Type<unknown> {
  const e = (type as unknown as { inner?: Type<unknown> }).inner;
  if (!e) throw new Error(`aligned type ${type.name} does not expose its inner type`);
  return e;
}

/** A leaf or node of a type: where it is and how C names it. */
interface Node {
  /** Our path (`a.b[2].c`), also the C member path. */
  readonly path: string;
  readonly type: Type<unknown>;
  /** Byte offset from the start of the case's type (our computation). */
  readonly offset: number;
  /** Bitfields: the absolute first bit and the width (our computation). */
  readonly bits?: { first: number; width: number };
}

/** Every node of `type` (records, arrays, leaves); union members all included. */
function nodes(type: Type<unknown>, path = "", offset = 0, out: Node[] = []): Node[] {
  if (path) out.push({ path, type, offset });
  if (isRecord(type)) {
    for (const f of type.fields) {
      const p = path ? `${path}.${f.name}` : f.name;
      if (f.bitWidth !== undefined) {
        out.push({
          path: p,
          type: f.type,
          offset,
          bits: { first: offset * 8 + f.bitOffset!, width: f.bitWidth },
        });
      } else nodes(f.type, p, offset + f.offset, out);
    }
  } else if (type.kind === "array") {
    const e = elementOf(type);
    const n = (type.describe() as { length: number }).length;
    for (let i = 0; i < n; i++) nodes(e, `${path}[${i}]`, offset + i * e.size, out);
  }
  return out;
}

const isLeaf = (n: Node) => n.bits !== undefined || (!isRecord(n.type) && n.type.kind !== "array");

/** A random value and the C statements that assign it to `v` leaf by leaf. */
interface RandomValue {
  value: unknown;
  assigns: string[];
}

/** `v.PATH`, the C lvalue of the value at `path`. */
const lvalue = (p: string) => (p ? `v.${p}` : "v");

/** A random integer of `bits` (signed when `name` starts with i), often 0 or all ones, and its C literal. */
function randomInt(name: string, bits: number, random: () => number): { v: bigint; c: string } {
  const signed = name.startsWith("i");
  let v = 0n;
  for (let i = 0; i < bits; i += 16) v = (v << 16n) | BigInt(Math.floor(random() * 65536));
  v &= (1n << BigInt(bits)) - 1n;
  if (random() < 0.2) v = random() < 0.5 ? 0n : (1n << BigInt(bits)) - 1n;
  if (signed && v >= 1n << BigInt(bits - 1)) v -= 1n << BigInt(bits);
  const c = signed ? `(int64_t)(${v < 0n ? `-${-v - 1n}LL - 1` : `${v}LL`})` : `(uint64_t)${v}ULL`;
  return { v, c };
}

/** An enum's name for `v`, else the number itself. */
function enumOr(type: Type<unknown>, v: bigint, value: unknown): unknown {
  if (type.kind !== "enum") return value;
  const found = Object.entries((type as EnumType<string>).values).find(([, n]) => BigInt(n) === v);
  return found ? found[0] : value;
}

/** A random value of `type` and the C statements that assign it to `v` leaf by leaf. */
export function randomValue(type: Type<unknown>, random: () => number, path = ""): RandomValue {
  if (isRecord(type)) return randomRecord(type, random, path);
  const at = lvalue(path);
  switch (type.kind) {
    case "array": {
      const e = elementOf(type);
      const n = (type.describe() as { length: number }).length;
      const value: unknown[] = [];
      const assigns: string[] = [];
      for (let i = 0; i < n; i++) {
        const r = randomValue(e, random, `${path}[${i}]`);
        value.push(r.value);
        assigns.push(...r.assigns);
      }
      return { value, assigns };
    }
    case "int":
    case "enum":
    case "pointer": {
      const { v, c } = randomInt(baseIntName(type), type.size * 8, random);
      const value = enumOr(type, v, type.size === 8 ? v : Number(v));
      // A pointer member may be declared void * or an integer (drivers use vmk_uint64): copy its bytes.
      const assign = type.kind === "pointer"
        ? `{ uint64_t a = ${c}; memcpy(&${at}, &a, 8); }`
        : `${at} = ${c};`;
      return { value, assigns: [assign] };
    }
    case "float": {
      const bytes = new Uint8Array(8);
      const view = new DataView(bytes.buffer);
      const x = (random() - 0.5) * 10 ** Math.floor(random() * 12 - 4);
      if (type.size === 4) view.setFloat32(0, x, true);
      else view.setFloat64(0, x, true);
      const value = type.size === 4 ? view.getFloat32(0, true) : view.getFloat64(0, true);
      const bits = type.size === 4 ? `${view.getUint32(0, true)}U` : `${view.getBigUint64(0, true)}ULL`;
      const cType = type.size === 4 ? "uint32_t" : "uint64_t";
      return { value, assigns: [`{ ${cType} b = ${bits}; memcpy(&${at}, &b, sizeof b); }`] };
    }
    case "bool": {
      const b = random() < 0.5;
      return { value: b, assigns: [`${at} = ${b ? 1 : 0};`] };
    }
    case "chars":
    case "string": {
      const max = type.kind === "chars" ? type.size : type.size - 1;
      const len = random() < 0.3 ? max : Math.floor(random() * (max + 1));
      let s = "";
      for (let i = 0; i < len; i++) {
        s += String.fromCharCode(0x21 + Math.floor(random() * 90)).replace(/["\\?]/, "x");
      }
      return { value: s, assigns: len ? [`memcpy(&${at}, "${s}", ${len});`] : [] };
    }
    case "bytes": {
      const b = Uint8Array.from(
        { length: Math.floor(random() * (type.size + 1)) },
        () => Math.floor(random() * 256),
      );
      const lit = [...b].map((x) => `\\x${x.toString(16).padStart(2, "0")}`).join("");
      return { value: b, assigns: b.length ? [`memcpy(&${at}, "${lit}", ${b.length});`] : [] };
    }
  }
  throw new Error(`no random value for ${type.name}`);
}

/** A struct's value member by member (a union's: one of its alternatives), bitfields included. */
function randomRecord(type: RecordType<unknown>, random: () => number, path: string): RandomValue {
  // Anonymous members add their members to this value.
  const named = type.members.filter((f) => !f.unnamed);
  const chosen = type.kind === "union" ? [named[Math.floor(random() * named.length)]] : named;
  const value: Record<string, unknown> = {};
  const assigns: string[] = [];
  for (const f of chosen) {
    const p = path ? `${path}.${f.name}` : f.name;
    if (f.anonymous) {
      const r = randomValue(f.type, random, path);
      Object.assign(value, r.value);
      assigns.push(...r.assigns);
    } else if (f.bitWidth !== undefined && f.type.kind === "bool") {
      const b = random() < 0.5;
      value[f.name] = b;
      assigns.push(`${lvalue(p)} = ${b ? 1 : 0};`);
    } else if (f.bitWidth !== undefined) {
      const { v, c } = randomInt(baseIntName(f.type).startsWith("i") ? "i" : "u", f.bitWidth, random);
      value[f.name] = enumOr(f.type, v, f.type.size === 8 ? v : Number(v));
      assigns.push(`${lvalue(p)} = ${c};`);
    } else {
      const r = randomValue(f.type, random, p);
      value[f.name] = r.value;
      assigns.push(...r.assigns);
    }
  }
  return { value, assigns };
}

/** What the comparison found wrong, one line per difference. */
export interface ProbeResult {
  /** How many cases ran. */
  readonly cases: number;
  /** How many figures were compared. */
  readonly compared: number;
  /** Differences, each naming the case, the member and both figures. */
  readonly failures: string[];
}

const hex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join("");

/**
 * Compiles (with `cc`) and runs the probes of `cases` (declared in `header`, plus `extraFlags`) and compares
 * every figure with our types.
 */
export async function probe(
  header: string,
  cases: readonly ProbeCase[],
  seed: number,
  extraFlags: string[] = [],
  cc = "cc",
): Promise<ProbeResult> {
  const random = rng(seed ^ 0x5bd1e995);
  const plans = cases.map((c) => {
    const all = nodes(c.type);
    const value = randomValue(c.type, random);
    const blob = Uint8Array.from({ length: c.type.size }, () => Math.floor(random() * 256));
    return { c, all, value, blob };
  });
  const fns = plans.map((plan, i) => caseFunction(plan, i));
  const source = [
    "#include <stddef.h>",
    "#include <stdint.h>",
    "#include <stdio.h>",
    "#include <string.h>",
    header,
    'static void hexdump(const void *p, size_t n) { for (size_t i = 0; i < n; i++) printf("%02x", ((const unsigned char *)p)[i]); }',
    "static void bitrange(const void *p, size_t n, const char *sep, const char *path) {",
    "  const unsigned char *b = p; long first = -1, count = 0;",
    "  for (size_t i = 0; i < n * 8; i++) if (b[i / 8] >> (i % 8) & 1) { if (first < 0) first = (long)i; count++; }",
    '  printf("%s\\"%s\\": [%ld, %ld]", sep, path, first, count);',
    "}",
    ...fns,
    "int main(void) {",
    ...plans.map((_, i) => `  case_${i}();`),
    "  return 0;",
    "}",
  ].join("\n");
  return compare(plans, await compileAndRun(source, seed, extraFlags, cc));
}

/** The C function that prints one case's figures: size, alignment, offsets, bits, our value as C encodes it, C's decoding of random bytes. */
function caseFunction({ c, all, value, blob }: Plan, i: number): string {
  const lines: string[] = [];
  const out = (s: string) => lines.push(`  fputs(${JSON.stringify(s)}, stdout);`);
  lines.push(
    `static void case_${i}(void) {`,
    `  ${c.cType} v;`,
    `  const unsigned char blob[] = { ${[...blob, 0].join(", ")} };`,
  );
  lines.push(
    `  printf("{\\"size\\": %zu, \\"align\\": %zu, \\"off\\": {", sizeof v, _Alignof(${c.cType}));`,
  );
  const plain = all.filter((n) => !n.bits);
  plain.forEach((n, k) =>
    lines.push(`  printf("${k ? ", " : ""}\\"%s\\": %zu", "${n.path}", offsetof(${c.cType}, ${n.path}));`)
  );
  out(`}, "bits": {`);
  all.filter((n) => n.bits).forEach((n, k) => {
    const ones = n.type.kind === "bool" ? "1" : "~0ULL";
    lines.push(
      `  memset(&v, 0, sizeof v); v.${n.path} = ${ones}; bitrange(&v, sizeof v, "${
        k ? ", " : ""
      }", "${n.path}");`,
    );
  });
  out(`}, "enc": "`);
  lines.push(
    `  memset(&v, 0, sizeof v);`,
    ...value.assigns.map((a) => `  ${a}`),
    `  hexdump(&v, sizeof v);`,
  );
  out(`", "dec": {`);
  lines.push(`  memcpy(&v, blob, sizeof v);`);
  all.filter(isLeaf).forEach((n, k) => {
    const sep = k ? ", " : "";
    const expr = `v.${n.path}`;
    const t = n.type;
    if (!n.bits && (t.kind === "chars" || t.kind === "string" || t.kind === "bytes")) {
      lines.push(
        `  printf("${sep}\\"%s\\": \\"", "${n.path}"); hexdump(&${expr}, sizeof ${expr}); fputs("\\"", stdout);`,
      );
    } else if (!n.bits && t.kind === "float") {
      const ct = t.size === 4 ? "uint32_t" : "uint64_t";
      lines.push(
        `  { ${ct} b; memcpy(&b, &${expr}, sizeof b); printf("${sep}\\"%s\\": \\"%llu\\"", "${n.path}", (unsigned long long)b); }`,
      );
    } else if (t.kind === "bool") {
      lines.push(`  printf("${sep}\\"%s\\": \\"%d\\"", "${n.path}", (int)(${expr} != 0));`);
    } else if (t.kind === "pointer") {
      lines.push(
        `  printf("${sep}\\"%s\\": \\"%llu\\"", "${n.path}", (unsigned long long)(uintptr_t)${expr});`,
      );
    } else if (baseIntName(t).startsWith("i")) {
      lines.push(`  printf("${sep}\\"%s\\": \\"%lld\\"", "${n.path}", (long long)${expr});`);
    } else {
      lines.push(`  printf("${sep}\\"%s\\": \\"%llu\\"", "${n.path}", (unsigned long long)${expr});`);
    }
  });
  out(`}}\n`);
  lines.push("}");
  return lines.join("\n");
}

/**
 * Compiles the probe's `source` with `cc` and runs it: one JSON row per case. A failing run keeps
 * the source (it is the reproduction) and says where.
 */
async function compileAndRun(source: string, seed: number, extraFlags: string[], cc: string): Promise<Row[]> {
  const dir = await Deno.makeTempDir({ prefix: "vmkmgmt-probe-" });
  try {
    await Deno.writeTextFile(`${dir}/probe.c`, source);
    const built = await new Deno.Command(cc, {
      args: [
        "-std=gnu11",
        "-O0",
        "-w",
        "-Wl,--unresolved-symbols=ignore-all",
        ...extraFlags,
        "-o",
        `${dir}/probe`,
        `${dir}/probe.c`,
      ],
    }).output();
    if (!built.success) {
      throw new Error(
        `the probe did not compile (seed ${seed}):\n${new TextDecoder().decode(built.stderr).slice(0, 4000)}`,
      );
    }
    const run = await new Deno.Command(`${dir}/probe`).output();
    if (!run.success) {
      throw new Error(`the probe failed (seed ${seed}): ${new TextDecoder().decode(run.stderr)}`);
    }
    const rows = new TextDecoder().decode(run.stdout).trim().split("\n").map((l) => JSON.parse(l));
    return rows;
  } catch (e) {
    // Keep the source for a failing run: it is the reproduction.
    const keep = `${Deno.env.get("TMPDIR") ?? "/tmp"}/vmkmgmt-probe-${seed}.c`;
    await Deno.copyFile(`${dir}/probe.c`, keep).catch(() => {});
    throw new Error(`${(e as Error).message}\n(probe source kept at ${keep})`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

interface Plan {
  c: ProbeCase;
  all: Node[];
  value: { value: unknown; assigns: string[] };
  blob: Uint8Array;
}

interface Row {
  size: number;
  align: number;
  off: Record<string, number>;
  bits: Record<string, [number, number]>;
  enc: string;
  dec: Record<string, string>;
}

function compare(plans: Plan[], rows: Row[]): ProbeResult {
  const failures: string[] = [];
  let compared = 0;
  plans.forEach(({ c, all, value, blob }, i) => {
    const row = rows[i];
    const fail = (what: string, ours: unknown, theirs: unknown) =>
      failures.push(`${c.label} (${c.cType}): ${what}: ours ${String(ours)}, C ${String(theirs)}`);
    const check = (what: string, ours: unknown, theirs: unknown) => {
      compared++;
      if (ours !== theirs) fail(what, ours, theirs);
    };
    check("sizeof", c.type.size, row.size);
    check("_Alignof", c.type.align, row.align);
    for (const n of all) {
      if (n.bits) {
        const [first, count] = row.bits[n.path];
        check(`bits of ${n.path}`, `${n.bits.first}+${n.bits.width}`, `${first}+${count}`);
      } else check(`offsetof ${n.path}`, n.offset, row.off[n.path]);
    }
    // Encoding: our bytes for the value C assigned leaf by leaf.
    const bytes = new Uint8Array(c.type.size);
    try {
      c.type.encode(new DataView(bytes.buffer), 0, value.value, "");
      check("bytes of a value", hex(bytes), row.enc);
    } catch (e) {
      fail("encoding a value", (e as Error).message, row.enc);
    }
    // Decoding: every leaf of random bytes.
    const decoded = c.type.decode(new DataView(blob.buffer, blob.byteOffset, c.type.size), 0);
    for (const n of all.filter(isLeaf)) {
      const ours = leafOf(decoded, n.path);
      check(`decoded ${n.path}`, leafText(n, ours, row.dec[n.path]), row.dec[n.path]);
    }
  });
  return { cases: plans.length, compared, failures };
}

function leafOf(value: unknown, path: string): unknown {
  let v = value;
  for (const part of path.match(/[A-Za-z_]\w*|\[\d+\]/g) ?? []) {
    v = (v as Record<string, unknown>)[part.startsWith("[") ? Number(part.slice(1, -1)) : part];
  }
  return v;
}

/** Our decoded leaf in the form C printed it (C's own text when ours is equivalent, e.g. NaN). */
function leafText(n: Node, ours: unknown, theirs: string): string {
  const t = n.type;
  if (!n.bits && (t.kind === "chars" || t.kind === "string")) {
    const text = cString(Uint8Array.from((theirs.match(/../g) ?? []).map((h) => parseInt(h, 16))));
    return ours === text ? theirs : `string ${JSON.stringify(ours)}`;
  }
  if (!n.bits && t.kind === "bytes") return hex(ours as Uint8Array);
  if (t.kind === "bool") return ours ? "1" : "0";
  if (!n.bits && t.kind === "float") {
    const b = new DataView(new ArrayBuffer(8));
    if (Number.isNaN(ours)) {
      const c = BigInt(theirs);
      const isNaN = t.size === 4
        ? (c & 0x7f800000n) === 0x7f800000n && (c & 0x7fffffn) !== 0n
        : (c & 0x7ff0000000000000n) === 0x7ff0000000000000n && (c & 0xfffffffffffffn) !== 0n;
      return isNaN ? theirs : "NaN";
    }
    if (t.size === 4) {
      b.setFloat32(0, ours as number, true);
      return String(b.getUint32(0, true));
    }
    b.setFloat64(0, ours as number, true);
    return String(b.getBigUint64(0, true));
  }
  if (t.kind === "enum" && typeof ours === "string") return String((t as EnumType<string>).values[ours]);
  return String(ours);
}
