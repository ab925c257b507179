/**
 * Importing a driver's management signatures from its C source: clang reads the declarations,
 * the system C compiler computes the values and is held to every size and offset of every type,
 * and the result is the project's JSON signature form (with what the code generators need: C
 * names, docs, places).
 * @module
 */
import { isCIdentifier } from "../abi/c_text.ts";
import { DIRECTION_CODE, LOCATION_CODE, MAX_CALLBACK_PARMS, revisionFromNumbers } from "../abi/facts.ts";
import type { Direction, Location } from "../abi/facts.ts";
import { SignatureError } from "../mgmt/errors.ts";
import { formatVersion, type SignatureJson, type VersionDef } from "../mgmt/signature.ts";
import { signatureFromJson } from "../mgmt/signature_json.ts";
import { typeFromJson } from "../mgmt/types/json.ts";
import type { Type, TypeJson } from "../mgmt/types/type.ts";
import { type Ast, type AstNode, unwrap, where } from "./ast.ts";
import { probe, type ProbeCase } from "./c_probe.ts";
import {
  compileFlags,
  type CompileOptions,
  compilerOf,
  ImportError,
  packValuesFromDump,
  parseWithClang,
  probePrelude,
  systemIncludeDirs,
} from "./clang.ts";
import { type BufferHint, docFromList, TypeBuilder } from "./c_types.ts";
import { applyCommands, type CommandHint } from "./commands.ts";
import {
  findSignatures,
  OwnFiles,
  prototypeOf,
  type RawCallback,
  type RawSignature,
  readValues,
} from "./signatures.ts";

/** The macros drivers put their kernel-only declarations behind. */
export const KERNEL_GUARDS: readonly string[] = [
  "VMKERNEL",
  "__VMKERNEL__",
  "__VMKERNEL_MODULE__",
  "VMK_KERNEL",
];

/** What to import and how. */
export interface ImportOptions extends CompileOptions {
  /** Only this signature (its C variable or its API name). */
  readonly signature?: string;
  /** API names for signatures whose name is set at run time, by C variable. */
  readonly names?: Readonly<Record<string, string>>;
  /** Members that hold a caller buffer's address, by `Type.member`. */
  readonly buffers?: Readonly<Record<string, BufferHint>>;
  /**
   * ioctl-style callbacks' commands, by `CALLBACK.PARAM` (the vector): the payload's C type by
   * command. Without it, `_IOWR`-style macros in the driver's headers are used.
   */
  readonly commands?: Readonly<Record<string, CommandHint>>;
}

/** One imported signature. */
export interface ImportedSignature {
  /** The C variable that defines it. */
  readonly variable: string;
  /** Where (`file:line`). */
  readonly place: string;
  /** The name is set at run time (the C leaves it empty) and was not given. */
  readonly runtimeName: boolean;
  /** The JSON form (for a run-time name not given, the name is the variable's). */
  readonly json: SignatureJson;
  /** Each callback's C spelling: its id as written and its function. */
  readonly cNames: Readonly<Record<string, { id?: string; function?: string; params: string[] }>>;
}

/** Everything an import found. */
export interface ImportResult {
  /** The signatures, in declaration order. */
  readonly signatures: ImportedSignature[];
  /** The named types every signature refers to, in dependency order. */
  readonly types: ReadonlyMap<string, TypeJson>;
  /** Each named type's C spelling, doc, member docs and place. */
  readonly typeInfo: {
    readonly cNames: ReadonlyMap<string, string>;
    readonly docs: ReadonlyMap<string, string>;
    readonly memberDocs: ReadonlyMap<string, ReadonlyMap<string, string>>;
    readonly places: ReadonlyMap<string, string>;
  };
  /** Things the user should know (no prototype, a size without a type…). */
  readonly warnings: string[];
  /** How many figures the C compiler confirmed. */
  readonly checked: { readonly types: number; readonly figures: number };
}

/**
 * Imports the signatures defined in `options.files`.
 * @throws {ImportError} for a missing tool, files that do not compile, no signature, a construct
 * the type model cannot express (naming it and its line), or any figure that differs from the C
 * compiler's (naming the type and member).
 */
export async function importC(options: ImportOptions): Promise<ImportResult> {
  if (!options.files.length) throw new ImportError("no C file given");
  const { ast } = await parseWithClang(options);
  // Kernel callbacks' prototypes sit under the kernel build's guard (user builds define them as
  // NULL): read them from a second parse with every guard drivers use defined — the user's own
  // -D on top — whatever else fails to compile there.
  const userDefined = new Set((options.defines ?? []).map((d) => d.split("=")[0]));
  const kernel = await parseWithClang(options, KERNEL_GUARDS.filter((g) => !userDefined.has(g)), true)
    .catch(() => undefined);
  const own = new OwnFiles(options.files, await systemIncludeDirs(options));
  const raws = await chooseSignatures(options, ast, own);
  const packs = await packValues(options, ast);
  const ctx: ImportContext = {
    ast,
    asts: kernel ? [ast, kernel.ast] : [ast],
    types: new TypeBuilder(ast, packs, new Map(Object.entries(options.buffers ?? {}))),
    warnings: [],
    paramChecks: [],
  };
  const { types, warnings } = ctx;
  const signatures: ImportedSignature[] = [];
  for (const r of raws) signatures.push(await importSignature(ctx, r, options.names?.[r.variable]));
  await applyCommands(
    options,
    ast,
    own,
    signatures,
    (variable, cType) => types.typeOf({ qualType: cType }, raws.find((r) => r.variable === variable)!.node),
    warnings,
    options.commands,
  );
  const unused = types.unusedBuffers();
  if (unused.length) {
    throw new ImportError(
      `--buffer ${
        unused.join(", ")
      }: no such member of a parameter's type (give Type.member as C names them)`,
    );
  }
  const typeDocs = typeDocsOf(types);
  for (const s of signatures) {
    s.json.types = Object.fromEntries(types.named);
    if (Object.keys(typeDocs).length) s.json.typeDocs = typeDocs;
  }
  // Every named type through our type model, then held to the C compiler.
  const built = buildTypes(types);
  const checked = await checkLayouts(options, types, built);
  for (const c of ctx.paramChecks) checkParam(c, types, built, warnings);
  for (const s of signatures) {
    try {
      signatureFromJson({ ...s.json, name: s.json.name });
    } catch (e) {
      if (e instanceof SignatureError) throw new ImportError(`${s.place}: ${s.variable}: ${e.message}`);
      throw e;
    }
  }
  return {
    signatures,
    types: types.named,
    typeInfo: { cNames: types.cNames, docs: types.docs, memberDocs: types.memberDocs, places: types.places },
    warnings,
    checked,
  };
}

/** What importing the signatures of one set of files shares. */
interface ImportContext {
  /** The user build's AST. */
  ast: Ast;
  /** It, and the kernel build's when that one parsed (for prototypes). */
  asts: Ast[];
  types: TypeBuilder;
  warnings: string[];
  /** Each parameter's size, to be held to its type once the types are built. */
  paramChecks: ParamCheck[];
}

/** A parameter's size and types as the table and the prototype give them, checked once the types are built. */
interface ParamCheck {
  sig: string;
  cb: string;
  param: string;
  i: number;
  type: TypeJson;
  size: number;
  vector: boolean;
  proto?: TypeJson;
  protoText?: string;
  sizeText?: string;
  /** The parameter as imported (its type becomes an array when the size holds several). */
  target: { type: TypeJson };
}

/**
 * The signatures the files define, with their values, narrowed to `--signature`.
 * @throws {ImportError} none defined, none by that name, or a `--name` for no such variable.
 */
async function chooseSignatures(options: ImportOptions, ast: Ast, own: OwnFiles): Promise<RawSignature[]> {
  let raws = await findSignatures(ast, own);
  if (!raws.length) {
    throw new ImportError(
      `no vmk_MgmtApiSignature is defined in ${own.describe()} (a signature is a variable of ` +
        `type vmk_MgmtApiSignature with an initializer; give the file that defines it or includes it)`,
    );
  }
  await readValues(options, raws);
  if (options.signature) {
    const wanted = options.signature;
    const chosen = raws.filter((r) => r.variable === wanted || r.name === wanted);
    if (!chosen.length) {
      throw new ImportError(
        `no signature ${wanted}; the files define ${
          raws.map((r) => `${r.variable} (${r.name || "name set at run time"})`).join(", ")
        }`,
      );
    }
    raws = chosen;
  }
  for (const v of Object.keys(options.names ?? {})) {
    if (!raws.some((r) => r.variable === v)) {
      throw new ImportError(
        `--name ${v}=…: no signature variable ${v}; there are ${raws.map((r) => r.variable).join(", ")}`,
      );
    }
  }
  return raws;
}

/** One signature's JSON form, its callbacks named; `given`: the name `--name` gives it. */
async function importSignature(
  ctx: ImportContext,
  r: RawSignature,
  given: string | undefined,
): Promise<ImportedSignature> {
  const callbacks: SignatureJson["callbacks"] = {};
  const cNames: Record<string, { id?: string; function?: string; params: string[] }> = {};
  const names = callbackNames(r.callbacks);
  for (const [k, c] of r.callbacks.entries()) {
    const { cb, cParams } = await importCallback(ctx, r, k, c, names[k]);
    callbacks[names[k]] = cb;
    cNames[names[k]] = { id: c.idText, function: c.functionName, params: cParams };
  }
  const runtimeName = !r.name && !given;
  const version: VersionDef = r.versionParts &&
      revisionFromNumbers(...(r.versionParts as [number, number, number, number])) === r.version
    ? r.versionParts as unknown as VersionDef
    : formatVersion(r.version);
  const json: SignatureJson = { name: given ?? (r.name || r.variable), vendor: r.vendor, version, callbacks };
  const doc = ctx.ast.docOf(r.node);
  if (doc) json.doc = doc;
  return { variable: r.variable, place: where(r.node.loc), runtimeName, json, cNames };
}

/**
 * Entry `k` of a signature's table: its location, parameters (typed from the table's sizes, else
 * the prototype's), names and docs; its parameters' checks go to `ctx.paramChecks`.
 * @throws {ImportError} a location or count the ABI does not have, or an id too large.
 */
async function importCallback(
  ctx: ImportContext,
  r: RawSignature,
  k: number,
  c: RawCallback,
  cbName: string,
): Promise<{ cb: SignatureJson["callbacks"][string]; cParams: string[] }> {
  const { types, warnings } = ctx;
  const entryPlace = where(c.node.range?.begin);
  const location: Location = c.location === LOCATION_CODE.user ? "user" : "kernel";
  if (c.location !== LOCATION_CODE.user && c.location !== LOCATION_CODE.kernel) {
    throw new ImportError(
      `${entryPlace}: ${r.table}[${k}].location is ${c.location}, not VMK_MGMT_CALLBACK_KERNEL or _USER`,
    );
  }
  if (c.numParms > MAX_CALLBACK_PARMS) {
    throw new ImportError(
      `${entryPlace}: ${r.table}[${k}].numParms is ${c.numParms}; at most ${MAX_CALLBACK_PARMS}`,
    );
  }
  const proto = prototypeOf(ctx.asts, c.functionName, c.numParms);
  if (!proto && c.numParms > 0) {
    warnings.push(
      `${entryPlace}: ${cbName}: no prototype of ${c.functionName ?? "its function"} with ${
        c.numParms + 2
      } parameters; its parameters are named from their types`,
    );
  }
  const paramDocs = proto ? proto.ast.paramDocs(proto.fn) : new Map<string, string>();
  const params: NonNullable<SignatureJson["callbacks"][string]["params"]> = {};
  const used = new Set<string>();
  const cParams: string[] = [];
  for (let i = 0; i < c.numParms; i++) {
    const dir = directionOf(c.parmTypes[i], `${entryPlace}: ${r.table}[${k}].parmTypes[${i}]`);
    const sizeNode = c.sizeNodes[i];
    const sizeType = sizeofType(types, sizeNode);
    const protoParam = proto?.params[i];
    const protoType = protoParam ? pointeeType(types, protoParam) : undefined;
    let type = sizeType ?? protoType;
    if (!type) {
      warnings.push(
        `${entryPlace}: ${cbName} parameter ${i + 1}: parmSizes[${i}] is ${
          c.parmSizes[i]
        }, not sizeof(a type), and no prototype says its type: imported as ${c.parmSizes[i]} bytes`,
      );
      type = { bytes: c.parmSizes[i] };
    }
    let pname = protoParam?.name ?? nameFromType(type, types);
    if (!isCIdentifier(pname)) pname = `p${i + 1}`;
    for (let n = 2; used.has(pname); n++) pname = `${pname.replace(/\d+$/, "")}${n}`;
    used.add(pname);
    const p: { dir: Direction; type: TypeJson; doc?: string } = { dir, type };
    const cText = protoParam ? protoParam.type?.qualType : undefined;
    const doc = [
      paramDocs.get(protoParam?.name ?? ""),
      cText ? `C: ${cText.replace(/\s*\*$/, " *")}${protoParam!.name ?? ""}` : undefined,
    ].filter(Boolean).join(" — ");
    if (doc) p.doc = doc;
    params[pname] = p;
    cParams.push(protoParam?.name ?? "");
    ctx.paramChecks.push({
      sig: r.variable,
      cb: cbName,
      param: pname,
      i,
      type,
      size: c.parmSizes[i],
      vector: dir.startsWith("vector"),
      proto: sizeType && protoType ? protoType : undefined,
      protoText: cText,
      sizeText: sizeNode ? await ctx.ast.sourceText(sizeNode) : undefined,
      target: p,
    });
  }
  const idNum = Number(c.callbackId);
  if (!Number.isSafeInteger(idNum)) {
    throw new ImportError(`${entryPlace}: callback id ${c.callbackId} is too large`);
  }
  const docParts = [
    callbackDoc(ctx.asts, c),
    [c.idText && /^\w+$/.test(c.idText) ? c.idText : undefined, c.functionName].filter(Boolean).join(", "),
  ].filter((x): x is string => !!x);
  const cb: SignatureJson["callbacks"][string] = { id: idNum, location, sync: c.synchronous !== 0, params };
  if (docParts.length) {
    cb.doc = docParts.length === 2
      ? `${docParts[0].replace(/\.$/, "")} (${docParts[1]})`
      : `C: ${docParts[0]}`;
  }
  return { cb, cParams };
}

/** The comments the C has on each named type and its members, for describe. */
function typeDocsOf(types: TypeBuilder): NonNullable<SignatureJson["typeDocs"]> {
  const typeDocs: NonNullable<SignatureJson["typeDocs"]> = {};
  for (const name of types.named.keys()) {
    const doc = types.docs.get(name);
    const members = types.memberDocs.get(name);
    if (doc === undefined && !members?.size) continue;
    typeDocs[name] = {
      ...(doc === undefined ? {} : { doc }),
      ...(members?.size ? { members: Object.fromEntries(members) } : {}),
    };
  }
  return typeDocs;
}

/**
 * Holds a parameter's size in the table to its type (a pointer to the first of several records
 * becomes an array of them), and the table's type to the prototype's.
 * @throws {ImportError} sizes that do not match, naming the callback, the parameter and both sizes.
 */
function checkParam(
  c: ParamCheck,
  types: TypeBuilder,
  built: Map<string, Type<unknown>>,
  warnings: string[],
): void {
  const typeOf = (json: TypeJson) =>
    typeof json === "string" && built.has(json)
      ? built.get(json)!
      : typeFromJson(json, c.param, Object.fromEntries(built));
  const t = typeOf(c.type);
  if (!c.vector && t.size > 0 && c.size > t.size && c.size % t.size === 0) {
    // A pointer to the first of several records (`struct info *list`, sized `sizeof(struct
    // info) * MAX`): the parameter is an array of them.
    c.target.type = { array: c.type, length: c.size / t.size };
  } else if (t.size !== c.size) {
    throw new ImportError(
      `${c.sig}: callback ${c.cb} parameter ${
        c.i + 1
      } (${c.param}): the table's parmSizes[${c.i}] is ${c.size}` +
        `${
          c.sizeText && c.sizeText.trim() !== String(c.size) ? ` (${c.sizeText.trim()})` : ""
        } but its type ${types.cName(c.type)} is ${t.size} bytes` +
        (c.size < t.size ? "" : `, and ${c.size} is not a whole number of them`),
    );
  }
  if (c.proto === undefined || JSON.stringify(c.proto) === JSON.stringify(c.type)) return;
  const p = typeOf(c.proto);
  if (p.size !== t.size) {
    throw new ImportError(
      `${c.sig}: callback ${c.cb} parameter ${c.i + 1}: the table says ${
        c.sizeText?.trim() ?? types.cName(c.type)
      } (${t.size} bytes) ` +
        `but the prototype's parameter is ${c.protoText} (${p.size} bytes)`,
    );
  }
  warnings.push(
    `${c.sig}: callback ${c.cb} parameter ${
      c.i + 1
    }: the table says ${c.sizeText?.trim()} but the prototype takes ${c.protoText}; the table's type is used`,
  );
}

/** Loads every named type through the project's type model; a rule it breaks names the C type. */
function buildTypes(types: TypeBuilder): Map<string, Type<unknown>> {
  const built = new Map<string, Type<unknown>>();
  for (const [name, json] of types.named) {
    try {
      built.set(name, typeFromJson(json, name, Object.fromEntries(built)));
    } catch (e) {
      // The taxonomy's bad definitions: a rule broken, a wrong kind of thing, an option out of range.
      if (e instanceof SignatureError || e instanceof TypeError || e instanceof RangeError) {
        throw new ImportError(
          `${types.places.get(name)}: ${types.cNames.get(name)} cannot be expressed: ${(e as Error).message}`,
        );
      }
      throw e;
    }
  }
  return built;
}

/** Holds every named type to the system C compiler: sizeof, alignment, offsets, bitfields, values. */
async function checkLayouts(
  o: CompileOptions,
  types: TypeBuilder,
  built: Map<string, Type<unknown>>,
): Promise<{ types: number; figures: number }> {
  const cases: ProbeCase[] = [...built].map(([name, type]) => ({
    cType: types.cNames.get(name)!,
    type,
    label: `${types.cNames.get(name)} (${types.places.get(name)})`,
  }));
  if (!cases.length) return { types: 0, figures: 0 };
  const header = probePrelude(o.files);
  let result;
  try {
    // The same compiler as the signature probe (CC), so both speak for one build.
    result = await probe(header, cases, 1, compileFlags(o), compilerOf(o));
  } catch (e) {
    throw new ImportError(`the layout check could not run: ${(e as Error).message}`);
  }
  if (result.failures.length) {
    throw new ImportError(
      `the C compiler lays out ${
        result.failures.length === 1 ? "a type" : "types"
      } differently from the import:\n  ${result.failures.slice(0, 12).join("\n  ")}${
        result.failures.length > 12 ? `\n  … and ${result.failures.length - 12} more` : ""
      }\n` +
        "(this is a bug in the importer or a construct it misreads: please report it with the type)",
    );
  }
  return { types: result.cases, figures: result.compared };
}

/** `#pragma pack` values, which clang's JSON leaves out: read from its text dump, in the same order. */
async function packValues(o: CompileOptions, ast: Ast): Promise<Map<AstNode, number>> {
  const attrs = [...ast.byId.values()].filter((n) => n.kind === "MaxFieldAlignmentAttr");
  const out = new Map<AstNode, number>();
  if (!attrs.length) return out;
  const values = await packValuesFromDump(o);
  if (values.length !== attrs.length) {
    throw new ImportError(
      `cannot read the #pragma pack values (${values.length} in clang's dump, ${attrs.length} in its AST)`,
    );
  }
  attrs.forEach((a, i) => out.set(a, values[i]));
  return out;
}

function directionOf(code: number, what: string): Direction {
  const found = (Object.entries(DIRECTION_CODE) as [Direction, number][]).find(([, c]) => c === code);
  if (!found) throw new ImportError(`${what} is ${code}, not a VMK_MGMT_PARMTYPE_* value`);
  return found[0];
}

/**
 * The type `sizeof(T)` or `sizeof expr` names — also in `sizeof(T) * N` or `N * sizeof(T)`, a table
 * of N records (how many, the size check works out from the compiler's figure).
 */
function sizeofType(types: TypeBuilder, n: AstNode | undefined): TypeJson | undefined {
  let x = unwrap(n);
  if (x?.kind === "BinaryOperator" && x.opcode === "*") {
    const sides = (x.inner ?? []).map(unwrap);
    x = sides.find((e) => e?.kind === "UnaryExprOrTypeTraitExpr" && e.name === "sizeof");
  }
  if (!x || x.kind !== "UnaryExprOrTypeTraitExpr" || x.name !== "sizeof") return undefined;
  if (x.argType) return types.typeOf(x.argType, x);
  const e = x.inner?.[0];
  return e?.type ? types.typeOf(e.type, e) : undefined;
}

/** Pointees that say nothing of a parameter's type: raw buffers and vectors. */
const UNTYPED_POINTEES = new Set([
  "void",
  "char",
  "signed char",
  "unsigned char",
  "vmk_uint8",
  "vmk_int8",
  "vmk_MgmtVectorParm",
  "struct vmk_MgmtVectorParm",
]);

/** What a prototype's `T *p` parameter points at (nothing for `void *`, byte pointers and vectors). */
function pointeeType(types: TypeBuilder, p: AstNode): TypeJson | undefined {
  const q = p.type?.qualType ?? "";
  const m = q.match(/^(.*?)\s*\*\s*(const\s*)?$/);
  if (!m) return undefined;
  const pointee = m[1].replace(/\b(const|volatile)\b/g, "").trim();
  if (UNTYPED_POINTEES.has(pointee)) return undefined;
  return types.typeOf({ qualType: pointee }, p);
}

/** A parameter name from its type (`sfvmk_mgmtDevInfo_t` → `mgmtDevInfo`). */
function nameFromType(type: TypeJson, types: TypeBuilder): string {
  const c = typeof type === "string" ? (types.cNames.get(type) ?? type) : "data";
  const bare = c.replace(/^(struct|union|enum) /, "").replace(/_[ts]$/, "");
  const parts = bare.split("_").filter(Boolean);
  const tail = parts.length > 1 ? parts.slice(1).join("_") : parts[0] ?? "param";
  return lowerCamel(tail);
}

/**
 * Names for a table's callbacks: from the id's macro or enum name without the prefix they share
 * (`SFVMK_CB_MCDI_REQUEST` → `mcdiRequest`), else from the function (`acme_getInfo` → `getInfo`),
 * else `callback<ID>`; unique.
 */
export function callbackNames(cbs: readonly RawCallback[]): string[] {
  const ids = cbs.map((c) => (isCIdentifier(c.idText) ? c.idText : undefined));
  const plain = ids.filter((x): x is string => !!x);
  let prefix = "";
  if (plain.length > 1) {
    prefix = plain.reduce((a, b) => {
      let i = 0;
      while (i < a.length && a[i] === b[i]) i++;
      return a.slice(0, i);
    });
    prefix = prefix.slice(0, prefix.lastIndexOf("_") + 1);
  }
  const used = new Set<string>();
  return cbs.map((c, k) => {
    let name: string | undefined;
    const id = ids[k];
    if (id) {
      const cut = id.includes("_CB_") ? id.slice(id.lastIndexOf("_CB_") + 4) : id.slice(prefix.length) || id;
      name = lowerCamel(/^\d/.test(cut) ? id : cut);
    } else if (c.functionName) {
      const f = c.functionName.includes("_")
        ? c.functionName.slice(c.functionName.lastIndexOf("_") + 1)
        : c.functionName;
      name = lowerCamel(f.replace(/(Callback|Cb|CB)$/, "") || f);
    }
    name ??= `callback${c.callbackId}`;
    if (!isCIdentifier(name)) name = `callback${c.callbackId}`;
    if (used.has(name)) name = `${name}${c.callbackId}`;
    used.add(name);
    return name;
  });
}

/** `MCDI_REQUEST` → `mcdiRequest`; `getInfo` stays. */
function lowerCamel(s: string): string {
  if (!s.includes("_") && /[a-z]/.test(s)) return s[0].toLowerCase() + s.slice(1);
  const parts = s.split("_").filter(Boolean).map((p) => p.toLowerCase());
  return parts.map((p, i) => (i ? p[0].toUpperCase() + p.slice(1) : p)).join("");
}

/** A callback's doc: its id's enum constant's comment, a line of its enum's comment, or its function's. */
function callbackDoc(asts: readonly Ast[], c: RawCallback): string | undefined {
  for (const ast of asts) {
    if (c.idText && /^\w+$/.test(c.idText)) {
      for (const n of ast.byId.values()) {
        if (n.kind !== "EnumConstantDecl" || n.name !== c.idText) continue;
        const own = ast.docOf(n);
        if (own) return own;
        const parent = ast.parent.get(n);
        let listed = docFromList(ast.docOf(parent), c.idText);
        if (!listed && parent) {
          for (const td of ast.typedefs.values()) {
            if (td.inner?.some((x) => x.ownedTagDecl?.id === parent.id)) {
              listed ??= docFromList(ast.docOf(td), c.idText);
            }
          }
        }
        if (listed) return listed;
      }
    }
    const fn = c.functionName ? ast.functions.get(c.functionName) : undefined;
    const doc = ast.docOf(fn);
    if (doc) return doc.split("\n")[0];
  }
  return undefined;
}
