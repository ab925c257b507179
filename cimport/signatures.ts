/**
 * Finding a driver's `vmk_MgmtApiSignature` definitions and their callback tables in clang's AST,
 * and reading what they hold. The AST says what each entry was written as (the id's macro or enum
 * name, the callback function, `sizeof(T)` for each size); the system C compiler says what each
 * value is (a probe compiled from the same files prints every field of every table), so ids from
 * enums, macros and arithmetic, and revisions from `VMK_REVISION_FROM_NUMBERS`, are exactly what
 * the driver's own build computes.
 * @module
 */
import { cString, isCIdentifier } from "../abi/c_text.ts";
import { type Ast, type AstNode, initElements, paramsOf, unwrap, where } from "./ast.ts";
import { compileAndRun, type CompileOptions, ImportError, probePrelude, STANDIN_INCLUDE } from "./clang.ts";

/** One callback table entry: how it was written, and what the compiler says it holds. */
export interface RawCallback {
  /** The entry's index in its table. */
  readonly index: number;
  /** The id as written (`SFVMK_CB_MCDI_REQUEST`, `VMK_MGMT_RESERVED_CALLBACKS + 1`). */
  readonly idText?: string;
  /** The callback function's name as written (even when it expands to NULL). */
  readonly functionName?: string;
  /** `parmSizes[i]` as written: the node (a `sizeof` or an expression). */
  readonly sizeNodes: (AstNode | undefined)[];
  /** The entry's node (for messages). */
  readonly node: AstNode;
  /** Values from the compiler. */
  location: number;
  synchronous: number;
  numParms: number;
  parmSizes: number[];
  parmTypes: number[];
  callbackId: bigint;
}

/** One signature definition found in the files. */
export interface RawSignature {
  /** The C variable (`sfvmk_mgmtSig`). */
  readonly variable: string;
  readonly node: AstNode;
  /** The callback table's variable, when the signature points at one. */
  readonly table?: string;
  readonly tableNode?: AstNode;
  /** The revision as written, when it is `VMK_REVISION_FROM_NUMBERS(a, b, c, d)`. */
  readonly versionText?: string;
  /** Values from the compiler. */
  version: number;
  /** The four arguments of `VMK_REVISION_FROM_NUMBERS` as the compiler evaluates them. */
  versionParts?: number[];
  name: string;
  vendor: string;
  numCallbacks: number;
  callbacks: RawCallback[];
}

const SIG_TYPE = "struct vmk_MgmtApiSignature";
const CB_TYPE = "struct vmk_MgmtCallbackInfo";

/** A declaration's type as clang spells it, without qualifiers (`const`, `volatile`). */
function typeText(n: AstNode): { plain: string; desugared: string } {
  const strip = (t: string | undefined) => (t ?? "").replace(/\b(const|volatile)\b\s*/g, "").trim();
  return { plain: strip(n.type?.qualType), desugared: strip(n.type?.desugaredQualType ?? n.type?.qualType) };
}

/** Whether a declaration's type is (desugars to) `t`, whatever its qualifiers. */
function isType(n: AstNode, t: string): boolean {
  const { plain, desugared } = typeText(n);
  return desugared === t || plain === t || plain === t.replace("struct ", "");
}

/**
 * Where a driver's own definitions can be: the files the user named and every header they include
 * except system headers (those clang finds on its `<...>` search list) and our stand-in
 * `<vmkapi.h>`. Drivers often define the table and signature in a header the driver and its tools
 * share, included by a one-line `.c`.
 */
export class OwnFiles {
  readonly #given: Set<string>;
  readonly #system: readonly string[];

  /** `files` as given; `systemDirs`: clang's system include directories ({@link systemIncludeDirs}). */
  constructor(files: readonly string[], systemDirs: readonly string[]) {
    this.#given = new Set(files.map(absolute));
    this.#system = [...systemDirs.map(absolute), STANDIN_INCLUDE];
  }

  /** Whether a definition in `file` is the driver's. */
  has(file: string | undefined): boolean {
    if (!file) return false;
    const f = absolute(file);
    return this.#given.has(f) || !this.#system.some((d) => f.startsWith(`${d}/`));
  }

  /** Where it looked, for a message. */
  describe(): string {
    return `${[...this.#given].join(", ")} and the headers they include (not system headers)`;
  }
}

/** A path made absolute and without `.` or `..` parts. */
function absolute(path: string): string {
  const out: string[] = [];
  for (const part of (path.startsWith("/") ? path : `${Deno.cwd()}/${path}`).split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") out.pop();
    else out.push(part);
  }
  return `/${out.join("/")}`;
}

/**
 * The signature definitions among the driver's own files ({@link OwnFiles}): file-scope variables
 * of type `vmk_MgmtApiSignature` with an initializer, with their tables.
 * @throws {ImportError} naming the variable and line for a table it cannot follow.
 */
export async function findSignatures(ast: Ast, own: OwnFiles): Promise<RawSignature[]> {
  const out: RawSignature[] = [];
  for (const v of ast.variables.values()) {
    if (!isType(v, SIG_TYPE)) continue;
    if (!own.has(v.loc?.expansionLoc?.file ?? v.loc?.file)) continue;
    const init = v.inner?.find((c) => c.kind === "InitListExpr");
    if (!init) continue; // a declaration (extern), not a definition
    const fields = fieldNames(ast, SIG_TYPE);
    const at = (name: string) => initElements(init)[fields.indexOf(name)];
    const cbExpr = at("callbacks");
    const ref = findRef(cbExpr);
    let tableNode: AstNode | undefined;
    if (ref) {
      tableNode = ast.variables.get(ref);
      if (
        !tableNode ||
        !tableNode.type?.qualType.startsWith("vmk_MgmtCallbackInfo") && !isArrayOf(tableNode, CB_TYPE)
      ) {
        throw new ImportError(
          `${where(v.loc)}: ${v.name}.callbacks points at ${ref}, which is not a vmk_MgmtCallbackInfo table`,
        );
      }
    }
    const versionNode = at("version");
    const versionText = versionNode ? await ast.sourceText(versionNode, true) : undefined;
    const callbacks: RawCallback[] = [];
    if (tableNode) {
      const tinit = tableNode.inner?.find((c) => c.kind === "InitListExpr");
      if (!tinit) {
        throw new ImportError(`${where(tableNode.loc)}: the table ${ref} has no initializer in these files`);
      }
      const cbFields = fieldNames(ast, CB_TYPE);
      const entries = initElements(tinit).filter((e) => e.kind === "InitListExpr");
      for (const [index, e] of entries.entries()) {
        const f = (name: string) => initElements(e)[cbFields.indexOf(name)];
        const idNode = f("callbackId");
        const fnNode = f("callback");
        const sizes = f("parmSizes");
        const sizeNodes = [0, 1, 2, 3].map((i) => {
          const s = initElements(sizes)[i];
          return s && s.kind !== "ImplicitValueInitExpr" ? s : undefined;
        });
        const idText = idNode && idNode.kind !== "ImplicitValueInitExpr"
          ? (await ast.sourceText(idNode))?.trim()
          : undefined;
        let functionName: string | undefined;
        if (fnNode && fnNode.kind !== "ImplicitValueInitExpr") {
          const text = (await ast.sourceText(fnNode))?.trim();
          if (isCIdentifier(text) && text !== "NULL") functionName = text;
          else functionName = findRef(fnNode);
        }
        callbacks.push({
          index,
          idText,
          functionName,
          sizeNodes,
          node: e,
          location: 0,
          synchronous: 0,
          numParms: 0,
          parmSizes: [],
          parmTypes: [],
          callbackId: 0n,
        });
      }
    }
    out.push({
      variable: v.name!,
      node: v,
      table: ref,
      tableNode,
      versionText: versionText && /^VMK_REVISION_FROM_NUMBERS\s*\(/.test(versionText)
        ? versionText
        : undefined,
      version: 0,
      name: "",
      vendor: "",
      numCallbacks: 0,
      callbacks,
    });
  }
  return out;
}

/** Fills in each signature's values as the system C compiler computes them. */
export async function readValues(o: CompileOptions, sigs: RawSignature[]): Promise<void> {
  if (!sigs.length) return;
  const lines: string[] = [
    probePrelude(o.files),
    "#include <stdio.h>",
    "static void vmkmgmt_hex(const void *p, size_t n) {",
    '  for (size_t i = 0; i < n; i++) printf("%02x", ((const unsigned char *)p)[i]);',
    "}",
    "int main(void) {",
  ];
  for (const s of sigs) {
    const v = s.variable;
    lines.push(
      `  printf("{\\"version\\": %u, \\"numCallbacks\\": %d, \\"name\\": \\"", (unsigned)${v}.version, (int)${v}.numCallbacks);`,
      `  vmkmgmt_hex(${v}.name.string, sizeof ${v}.name.string);`,
      `  printf("\\", \\"vendor\\": \\"");`,
      `  vmkmgmt_hex(${v}.vendor.string, sizeof ${v}.vendor.string);`,
      `  printf("\\", \\"table\\": %d", ${
        s.table ? `(void *)${v}.callbacks == (void *)${s.table}` : `${v}.callbacks == 0`
      });`,
    );
    if (s.versionText) {
      const args = splitArguments(s.versionText);
      if (args.length === 4) {
        lines.push(
          `  printf(", \\"parts\\": [%lld, %lld, %lld, %lld]", ${
            args.map((a) => `(long long)(${a})`).join(", ")
          });`,
        );
      }
    }
    lines.push(`  printf(", \\"callbacks\\": [");`);
    if (s.table) {
      lines.push(
        `  for (size_t i = 0; i < sizeof ${s.table} / sizeof ${s.table}[0]; i++) {`,
        `    const vmk_MgmtCallbackInfo *c = &${s.table}[i];`,
        `    printf("%s{\\"location\\": %d, \\"synchronous\\": %d, \\"numParms\\": %u, \\"parmSizes\\": [%u, %u, %u, %u], \\"parmTypes\\": [%d, %d, %d, %d], \\"callbackId\\": \\"%llu\\"}", i ? ", " : "", (int)c->location, (int)c->synchronous, (unsigned)c->numParms, (unsigned)c->parmSizes[0], (unsigned)c->parmSizes[1], (unsigned)c->parmSizes[2], (unsigned)c->parmSizes[3], (int)c->parmTypes[0], (int)c->parmTypes[1], (int)c->parmTypes[2], (int)c->parmTypes[3], (unsigned long long)c->callbackId);`,
        `  }`,
      );
    }
    lines.push(`  printf("]}\\n");`);
  }
  lines.push("  return 0;", "}");
  const text = await compileAndRun(o, lines.join("\n"), "signature");
  const rows = text.trim().split("\n").map((l) => JSON.parse(l));
  sigs.forEach((s, i) => {
    const r = rows[i];
    s.version = r.version;
    s.numCallbacks = r.numCallbacks;
    s.name = cStringOfHex(r.name);
    s.vendor = cStringOfHex(r.vendor);
    if (r.parts) s.versionParts = r.parts;
    if (!r.table) {
      throw new ImportError(
        `${where(s.node.loc)}: ${s.variable}.callbacks does not point at the start of ${
          s.table ?? "a table"
        }`,
      );
    }
    if (r.callbacks.length !== s.callbacks.length) {
      throw new ImportError(
        `${
          where(s.tableNode?.loc)
        }: ${s.table} has ${r.callbacks.length} entries but ${s.callbacks.length} initializers were read`,
      );
    }
    r.callbacks.forEach((c: Record<string, unknown>, k: number) => {
      Object.assign(s.callbacks[k], { ...c, callbackId: BigInt(c.callbackId as string) });
    });
  });
}

/** The kernel or user callback function a table entry names, and its payload parameters (after the two fixed ones). */
export function prototypeOf(
  asts: readonly Ast[],
  name: string | undefined,
  numParms: number,
): { fn: AstNode; params: AstNode[]; ast: Ast } | undefined {
  if (!name) return undefined;
  for (const ast of asts) {
    const fn = ast.functions.get(name);
    if (!fn) continue;
    const params = paramsOf(fn);
    if (params.length === numParms + 2) return { fn, params: params.slice(2), ast };
  }
  return undefined;
}

/** The variable a pointer expression refers to (`table`, `&table[0]`). */
function findRef(n: AstNode | undefined): string | undefined {
  const x = unwrap(n);
  if (!x) return undefined;
  if (x.kind === "DeclRefExpr") return x.referencedDecl?.name;
  for (const c of x.inner ?? []) {
    const r = findRef(c);
    if (r) return r;
  }
  return undefined;
}

function isArrayOf(n: AstNode, t: string): boolean {
  const { plain, desugared } = typeText(n);
  return [plain, desugared].some((q) =>
    q.startsWith(`${t}[`) || q.startsWith(`${t.replace("struct ", "")}[`)
  );
}

/** Field names of a struct in declaration order (the order of a semantic initializer list). */
function fieldNames(ast: Ast, tag: string): string[] {
  const decl = ast.tags.get(tag);
  if (!decl) throw new ImportError(`${tag} is not defined: is <vmkapi.h> included?`);
  return (decl.inner ?? []).filter((c) => c.kind === "FieldDecl").map((c) => c.name ?? "");
}

/** A NUL-terminated C string from hex bytes. */
function cStringOfHex(hex: string): string {
  return cString(Uint8Array.from((hex.match(/../g) ?? []).map((h) => parseInt(h, 16))));
}

/** The top-level arguments of `NAME(a, b(c, d), e)`, trimmed. */
export function splitArguments(call: string): string[] {
  const args = topLevelArguments(call.slice(call.indexOf("(") + 1, call.lastIndexOf(")"))).map((a) =>
    a.trim()
  );
  if (args.at(-1) === "") args.pop(); // `F()`, or a trailing comma
  return args;
}

/**
 * The arguments of a macro's or call's argument text (`'G', 1, struct x`) split at its top-level
 * commas: not those inside parentheses, character or string literals.
 */
export function topLevelArguments(body: string): string[] {
  const args: string[] = [];
  let depth = 0;
  let cur = "";
  let quote = "";
  for (const ch of body) {
    if (quote) {
      cur += ch;
      if (ch === quote) quote = "";
      continue;
    }
    if (ch === "'" || ch === '"') quote = ch;
    if (ch === "(") depth++;
    if (ch === ")") depth--;
    if (ch === "," && depth === 0) {
      args.push(cur);
      cur = "";
    } else cur += ch;
  }
  args.push(cur);
  return args;
}
