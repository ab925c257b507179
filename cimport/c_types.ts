/**
 * C types, as clang's AST declares them, to the project's JSON type form: structs and unions
 * (packed, `#pragma pack`, aligned, bitfields, unnamed padding bits, anonymous members), arrays,
 * enums in the integer GCC gives them, `char` arrays, `vmk_Name`, pointers (and, when told,
 * pointers to caller buffers). Structs, unions and enums become named types (their typedef's name,
 * else their tag); anything the type model cannot express is an error naming the construct and
 * its line — never an approximation.
 * @module
 */
import type { MemberJsonForm, TypeJson } from "../mgmt/types/type.ts";
import { type Ast, type AstNode, unwrap, where } from "./ast.ts";
import { ImportError } from "./clang.ts";

/** A caller-buffer pointer member, given with `--buffer Type.field=dir:length|lengthFrom`. */
export interface BufferHint {
  /** Which way the kernel copies the buffer's bytes. */
  readonly dir: "in" | "out" | "inout";
  /** A fixed length in bytes. */
  readonly length?: number;
  /** The member of the same struct that holds the length. */
  readonly lengthFrom?: string;
}

/** What clang says a type is (a node's `type`). */
export interface QualType {
  readonly qualType: string;
  readonly desugaredQualType?: string;
  readonly typeAliasDeclId?: string;
}

/** Builtin C types (as clang prints them, x86_64 LP64) to our primitives. */
const BUILTIN: Record<string, string> = {
  "char": "i8",
  "signed char": "i8",
  "unsigned char": "u8",
  "short": "i16",
  "unsigned short": "u16",
  "int": "i32",
  "unsigned int": "u32",
  "long": "i64",
  "unsigned long": "u64",
  "long long": "i64",
  "unsigned long long": "u64",
  "_Bool": "bool",
  "float": "f32",
  "double": "f64",
};

/** Typedefs whose meaning is more than their spelling: the ABI's boolean and name types. */
const SPECIAL_TYPEDEFS: Record<string, TypeJson> = {
  vmk_Bool: "bool",
  vmk_Name: { string: 32 },
};

/** Builds named JSON types from one AST, remembering C names and docs for the generated module. */
export class TypeBuilder {
  /** Named types in dependency order (a type after everything it uses). */
  readonly named = new Map<string, TypeJson>();
  /** Each named type's C spelling (`sfvmk_mgmtDevInfo_t`, `struct foo`). */
  readonly cNames = new Map<string, string>();
  /** Each named type's doc comment. */
  readonly docs = new Map<string, string>();
  /** Member docs of each named record (by member path in the record). */
  readonly memberDocs = new Map<string, Map<string, string>>();
  /** Where each named type is declared (`file:line`). */
  readonly places = new Map<string, string>();
  #byDecl = new Map<string, string>();
  #packs: Map<AstNode, number>;
  #buffers: Map<string, BufferHint>;
  #usedBuffers = new Set<string>();
  #pad = 0;

  /**
   * @param ast the parsed files
   * @param packs `#pragma pack` values by the record's attribute node (clang's JSON omits them)
   * @param buffers caller-buffer hints by `Type.field`
   */
  constructor(readonly ast: Ast, packs: Map<AstNode, number>, buffers: Map<string, BufferHint>) {
    this.#packs = packs;
    this.#buffers = buffers;
  }

  /** Buffer hints that named no member (an error for the caller to report). */
  unusedBuffers(): string[] {
    return [...this.#buffers.keys()].filter((k) => !this.#usedBuffers.has(k));
  }

  /**
   * The JSON type of a C type as clang printed it; `at` is the node it belongs to (for messages
   * and to find unnamed records declared just before it).
   * @throws {ImportError} naming the construct and line for what cannot be expressed.
   */
  typeOf(q: QualType, at: AstNode): TypeJson {
    if (q.typeAliasDeclId && !/[[*(]/.test(q.qualType)) {
      const td = this.ast.byId.get(q.typeAliasDeclId);
      if (td) return this.#typedef(td);
    }
    return this.#fromText(q.qualType, at);
  }

  /** How C spells a type (a named one by its typedef or tag), for messages. */
  cName(json: TypeJson): string {
    return typeof json === "string" ? (this.cNames.get(json) ?? json) : JSON.stringify(json);
  }

  #fromText(text: string, at: AstNode): TypeJson {
    let s = text.trim();
    const dims: number[] = [];
    for (let m = s.match(/\[(\d*)\]$/); m; m = s.match(/\[(\d*)\]$/)) {
      if (m[1] === "") {
        throw new ImportError(
          `${where(at.loc)}: ${s}: flexible array members cannot travel (a parameter has a fixed size)`,
        );
      }
      dims.unshift(Number(m[1]));
      s = s.slice(0, m.index).trim();
    }
    if (dims.length) {
      let el = this.#fromText(s, at);
      const last = dims.pop()!;
      el = this.#array(el, last, s);
      while (dims.length) el = { array: el, length: dims.pop()! };
      return el;
    }
    s = s.replace(/\b(const|volatile|restrict|__restrict)\b/g, "").replace(/\s+/g, " ").trim();
    const unnamed = s.match(/^(struct|union|enum) (?:\w+::)?\((?:anonymous|unnamed)\b/);
    if (unnamed) return this.#unnamedBefore(at, unnamed[1], text);
    if (s.includes("*")) return "ptr";
    if (/\(.*\)$/.test(s)) {
      throw new ImportError(`${where(at.loc)}: a function type (${text}) cannot be a member`);
    }
    if (s in BUILTIN) return BUILTIN[s];
    if (
      /^(long double|__int128|unsigned __int128|_Complex|__fp16|_Float16)/.test(s) || s.includes("_Complex")
    ) {
      throw new ImportError(`${where(at.loc)}: ${s} is not supported (no such type in the type model)`);
    }
    const tag = s.match(/^(struct|union|enum) (.+)$/);
    if (tag) {
      const decl = this.ast.tags.get(`${tag[1]} ${tag[2]}`);
      if (!decl) {
        throw new ImportError(
          `${where(at.loc)}: ${s} is declared but never defined, so its layout is unknown`,
        );
      }
      return this.#decl(decl, at);
    }
    if (s in SPECIAL_TYPEDEFS) return SPECIAL_TYPEDEFS[s];
    const td = this.ast.typedefs.get(s);
    if (td) return this.#typedef(td);
    throw new ImportError(`${where(at.loc)}: unknown type ${text}`);
  }

  /** `T name[n]`: char arrays are strings that may be full, byte arrays are bytes. */
  #array(el: TypeJson, length: number, spelling: string): TypeJson {
    const base = spelling.replace(/\b(const|volatile)\b/g, "").trim();
    if (el === "i8" && base === "char") return { chars: length };
    if (el === "u8" && length > 0) return { bytes: length };
    return { array: el, length };
  }

  #typedef(td: AstNode): TypeJson {
    const name = td.name!;
    if (name in SPECIAL_TYPEDEFS) return SPECIAL_TYPEDEFS[name];
    const aligned = td.inner?.find((c) => c.kind === "AlignedAttr");
    const tree = td.inner?.find((c) => c.kind.endsWith("Type"));
    if (!tree) return this.#fromText(td.type!.desugaredQualType ?? td.type!.qualType, td);
    const inner = this.#tree(tree, td, name);
    if (!aligned) return inner;
    const n = alignmentOf(aligned);
    const json: TypeJson = { aligned: n, type: inner };
    return this.#name(`typedef:${td.id}`, name, name, json, td);
  }

  /** A type node tree (under a typedef) to JSON; `typedefName` names a record or enum it owns. */
  #tree(n: AstNode, at: AstNode, typedefName?: string): TypeJson {
    switch (n.kind) {
      case "BuiltinType":
        return this.#fromText(n.type!.qualType, at);
      case "TypedefType": {
        const td = this.ast.byId.get(n.decl!.id);
        return td ? this.#typedef(td) : this.#fromText(n.type!.qualType, at);
      }
      case "ElaboratedType":
      case "ParenType":
      case "QualType":
        return this.#tree(n.inner![0], at, typedefName);
      case "RecordType":
      case "EnumType": {
        const decl = this.ast.byId.get(n.decl!.id);
        const def = decl && (decl.completeDefinition || decl.kind === "EnumDecl")
          ? decl
          : this.ast.tags.get(`${n.kind === "EnumType" ? "enum" : decl?.tagUsed} ${n.decl!.name}`);
        if (!def) {
          throw new ImportError(`${where(at.loc)}: ${n.type!.qualType} is declared but never defined`);
        }
        return this.#decl(def, at, typedefName);
      }
      case "ConstantArrayType":
        return this.#fromText(n.type!.qualType, at);
      case "PointerType":
        return "ptr";
      default:
        throw new ImportError(`${where(at.loc)}: ${n.type?.qualType ?? n.kind} (${n.kind}) is not supported`);
    }
  }

  /** An unnamed record or enum used by `at`: the last unnamed one declared before it in the same scope. */
  #unnamedBefore(at: AstNode, tag: string, text: string): TypeJson {
    const parent = this.ast.parent.get(at);
    const siblings = parent?.inner ?? [];
    const i = siblings.indexOf(at);
    for (let k = i - 1; k >= 0; k--) {
      const s = siblings[k];
      if ((s.kind === "RecordDecl" || s.kind === "EnumDecl") && !s.name && (s.tagUsed ?? "enum") === tag) {
        return this.#decl(s, at);
      }
    }
    throw new ImportError(`${where(at.loc)}: cannot find the declaration of ${text}`);
  }

  #decl(decl: AstNode, at: AstNode, typedefName?: string): TypeJson {
    const known = this.#byDecl.get(decl.id);
    if (known) return known;
    const tdName = typedefName ?? this.#typedefFor(decl);
    const unnamed = !decl.name && !tdName;
    if (decl.kind === "EnumDecl") {
      const json = this.#enum(decl, tdName ?? decl.name ?? "");
      if (unnamed) return json;
      const name = tdName ?? decl.name!;
      return this.#name(decl.id, name, tdName ?? `enum ${decl.name}`, json, decl);
    }
    if (decl.tagUsed !== "struct" && decl.tagUsed !== "union") {
      throw new ImportError(`${where(at.loc)}: ${decl.tagUsed} ${decl.name ?? ""} is not C`);
    }
    const name = tdName ?? decl.name;
    const json = this.#record(decl, name);
    if (unnamed) return json;
    return this.#name(decl.id, name!, tdName ?? `${decl.tagUsed} ${decl.name}`, json, decl);
  }

  #name(key: string, name: string, cName: string, json: TypeJson, decl: AstNode): TypeJson {
    let unique = name;
    for (let k = 2; this.named.has(unique) && this.cNames.get(unique) !== cName; k++) unique = `${name}_${k}`;
    this.#byDecl.set(key, unique);
    if (!this.named.has(unique)) {
      this.named.set(unique, json);
      this.cNames.set(unique, cName);
      this.places.set(unique, where(decl.loc));
      const doc = this.ast.docOf(decl) ?? this.#typedefDoc(decl);
      if (doc) this.docs.set(unique, doc);
    }
    return unique;
  }

  #typedefDoc(decl: AstNode): string | undefined {
    for (const td of this.ast.typedefs.values()) {
      if (ownedDecl(td) === decl.id) return this.ast.docOf(td);
    }
    return undefined;
  }

  /** The typedef that names a record or enum directly (`typedef struct foo_s {…} foo_t`). */
  #typedefFor(decl: AstNode): string | undefined {
    let found: string | undefined;
    for (const td of this.ast.typedefs.values()) {
      if (ownedDecl(td) === decl.id && !td.inner?.some((c) => c.kind === "AlignedAttr")) {
        // Prefer the typedef the declaration owns (declared with it), else the first.
        found ??= td.name;
        if (td.inner?.some((c) => c.kind === "ElaboratedType" && c.ownedTagDecl?.id === decl.id)) {
          return td.name;
        }
      }
    }
    return found;
  }

  #enum(decl: AstNode, name: string): TypeJson {
    const values: Record<string, number> = {};
    let next = 0n;
    let min = 0n;
    let max = 0n;
    for (const c of decl.inner ?? []) {
      if (c.kind !== "EnumConstantDecl") continue;
      const ce = c.inner?.find((x) => x.kind === "ConstantExpr" && x.value !== undefined);
      const v = ce ? BigInt(ce.value!) : next;
      if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
        throw new ImportError(
          `${where(c.loc)}: enum constant ${c.name} = ${v} is beyond what an enum value can hold here`,
        );
      }
      values[c.name!] = Number(v);
      if (v < min) min = v;
      if (v > max) max = v;
      next = v + 1n;
    }
    const packed = decl.inner?.some((c) => c.kind === "PackedAttr");
    // GCC: unsigned int unless a value is negative; wider when a value needs it; packed: the smallest.
    const fits = (bits: number, signed: boolean) =>
      signed
        ? min >= -(1n << BigInt(bits - 1)) && max < (1n << BigInt(bits - 1))
        : min >= 0n && max < (1n << BigInt(bits));
    let base: string | undefined;
    for (const bits of packed ? [8, 16, 32, 64] : [32, 64]) {
      if (min >= 0n && fits(bits, false)) base = `u${bits}`;
      else if (fits(bits, true)) base = `i${bits}`;
      if (base) break;
    }
    const json: TypeJson = { enum: values, base: base ?? "u32" };
    if (name) (json as { name?: string }).name = name;
    return json;
  }

  #record(decl: AstNode, name: string | undefined): TypeJson {
    const kind = decl.tagUsed as "struct" | "union";
    const members: Record<string, TypeJson | MemberJsonForm> = {};
    const docs = new Map<string, string>();
    const parentDoc = this.ast.docOf(decl) ?? this.#typedefDoc(decl);
    const inner = decl.inner ?? [];
    for (const f of inner) {
      if (f.kind !== "FieldDecl") {
        if (f.kind === "RecordDecl" || f.kind === "EnumDecl" || f.kind === "IndirectFieldDecl") continue;
        if (/Attr$/.test(f.kind) || /Comment$/.test(f.kind)) continue;
        throw new ImportError(
          `${where(f.loc)}: ${f.kind} inside ${kind} ${name ?? "(unnamed)"} is not supported`,
        );
      }
      const isAnon = f.isImplicit && !f.name;
      const type = this.typeOf(f.type!, f);
      if (isAnon) {
        members[`_anon${this.#pad++}`] = { anon: type };
        continue;
      }
      const attrs: { packed?: boolean; aligned?: number } = {};
      if (f.inner?.some((c) => c.kind === "PackedAttr")) attrs.packed = true;
      const al = f.inner?.find((c) => c.kind === "AlignedAttr");
      if (al) attrs.aligned = alignmentOf(al);
      if (f.isBitfield) {
        const w = f.inner?.find((c) => c.kind === "ConstantExpr");
        const width = Number(w?.value ?? NaN);
        const base = typeof type === "string" && this.named.has(type) ? this.named.get(type)! : type;
        if (typeof base !== "string" && !("enum" in (base as object))) {
          throw new ImportError(`${where(f.loc)}: a bitfield of ${f.type!.qualType} is not supported`);
        }
        if (!f.name) {
          if (kind === "union") {
            throw new ImportError(`${where(f.loc)}: an unnamed bitfield in a union is not supported`);
          }
          members[`_pad${this.#pad++}`] = { pad: type, width, ...attrs };
        } else members[f.name] = { bits: type, width, ...attrs };
      } else {
        if (!f.name) throw new ImportError(`${where(f.loc)}: an unnamed member that is not a bitfield`);
        const hinted = name ? this.#buffers.get(`${name}.${f.name}`) : undefined;
        let t: TypeJson = type;
        if (hinted) {
          this.#usedBuffers.add(`${name}.${f.name}`);
          if (type !== "ptr" && type !== "u64") {
            throw new ImportError(
              `${where(f.loc)}: --buffer ${name}.${f.name}: the member is ${
                f.type!.qualType
              }, not a pointer or a 64-bit address`,
            );
          }
          t = { pointer: "u8", buffer: { ...hinted } };
        }
        members[f.name] = attrs.packed || attrs.aligned !== undefined ? { field: t, ...attrs } : t;
      }
      const doc = this.ast.docOf(f) ?? (f.name ? docFromList(parentDoc, f.name) : undefined);
      if (doc && f.name) docs.set(f.name, doc);
    }
    const json: Record<string, unknown> = { [kind]: members };
    if (name) json.name = name;
    if (inner.some((c) => c.kind === "PackedAttr")) json.packed = true;
    const al = inner.find((c) => c.kind === "AlignedAttr");
    if (al) json.aligned = alignmentOf(al);
    const mfa = inner.find((c) => c.kind === "MaxFieldAlignmentAttr");
    if (mfa) {
      const pack = this.#packs.get(mfa);
      if (pack === undefined) throw new ImportError(`${where(decl.loc)}: cannot tell the #pragma pack value`);
      json.pack = pack;
    }
    if (name && docs.size) this.memberDocs.set(name, docs);
    return json as TypeJson;
  }
}

/** The value of an `aligned(n)` attribute node (`aligned` alone is 16 on x86_64). */
function alignmentOf(attr: AstNode): number {
  const ce = attr.inner?.find((c) => c.kind === "ConstantExpr");
  const v = unwrap(ce)?.value ?? ce?.value;
  return v === undefined ? 16 : Number(v);
}

/** The record or enum a typedef names directly, by id. */
function ownedDecl(td: AstNode): string | undefined {
  let n = td.inner?.find((c) => c.kind.endsWith("Type"));
  while (n && (n.kind === "ElaboratedType" || n.kind === "QualType" || n.kind === "ParenType")) {
    n = n.inner?.[0];
  }
  return n && (n.kind === "RecordType" || n.kind === "EnumType") ? n.decl?.id : undefined;
}

/**
 * A member's line in its parent's comment, as drivers document structs (`status[out] Error status`,
 * `SFVMK_CB_X: does this`).
 */
export function docFromList(parentDoc: string | undefined, member: string): string | undefined {
  if (!parentDoc) return undefined;
  for (const line of parentDoc.split("\n")) {
    const l = line.trim();
    if (!l.startsWith(member)) continue;
    const rest = l.slice(member.length);
    const m = rest.match(/^\s*(\[[^\]]*\])?\s*[:-]?\s+(.+)$/);
    // The pattern needs a bracket, a colon or a space after the name: "typeX …" is not "type".
    if (m) {
      return `${m[1] ? `${m[1]} ` : ""}${m[2]}`.trim();
    }
  }
  return undefined;
}
