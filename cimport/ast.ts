/**
 * Reading clang's JSON AST (`clang -Xclang -ast-dump=json`): every node by id, each location's
 * file and line (clang writes them only when they change, so they are filled in here in print
 * order), doc comments as text, and the source text a node was written as (a macro's name rather
 * than what it expands to).
 * @module
 */

/** A node of clang's JSON AST (only the keys the importer reads are typed). */
export interface AstNode {
  readonly id: string;
  readonly kind: string;
  readonly name?: string;
  readonly tagUsed?: "struct" | "union" | "enum" | "class";
  readonly completeDefinition?: boolean;
  readonly isImplicit?: boolean;
  readonly isBitfield?: boolean;
  readonly storageClass?: string;
  readonly value?: string;
  readonly text?: string;
  readonly param?: string;
  readonly opcode?: string;
  readonly type?: { qualType: string; desugaredQualType?: string; typeAliasDeclId?: string };
  readonly argType?: { qualType: string; desugaredQualType?: string; typeAliasDeclId?: string };
  readonly decl?: { id: string; kind: string; name?: string };
  readonly referencedDecl?: { id: string; kind: string; name?: string };
  readonly ownedTagDecl?: { id: string; kind: string; name?: string };
  readonly size?: number;
  readonly loc?: AstLocation;
  readonly range?: { begin: AstLocation; end: AstLocation };
  readonly inner?: AstNode[];
  readonly array_filler?: AstNode[];
  readonly field?: { id: string; name?: string };
}

/** A location as clang writes it, with `file` and `line` filled in. */
export interface AstLocation {
  offset?: number;
  file?: string;
  line?: number;
  col?: number;
  tokLen?: number;
  spellingLoc?: AstLocation;
  expansionLoc?: AstLocation;
  includedFrom?: { file: string };
}

/** Where something is, for messages: `file:line`. */
export function where(loc: AstLocation | undefined): string {
  const l = loc?.expansionLoc ?? loc;
  if (!l?.file) return "(unknown place)";
  const cwd = `${Deno.cwd()}/`;
  return `${l.file.startsWith(cwd) ? l.file.slice(cwd.length) : l.file}:${l.line ?? "?"}`;
}

/** One parsed translation unit with its indexes. */
export class Ast {
  /** Every node by id. */
  readonly byId = new Map<string, AstNode>();
  /** Each node's parent. */
  readonly parent = new Map<AstNode, AstNode>();
  /** File-scope typedefs by name. */
  readonly typedefs = new Map<string, AstNode>();
  /** Complete struct, union and enum definitions by `struct NAME` (named ones only). */
  readonly tags = new Map<string, AstNode>();
  /** File-scope function declarations by name (the last one with parameter names wins). */
  readonly functions = new Map<string, AstNode>();
  /** File-scope variables by name. */
  readonly variables = new Map<string, AstNode>();
  #sources = new Map<string, string | null>();

  /** Indexes clang's output (the parsed JSON of one `-ast-dump=json` run). */
  constructor(readonly root: AstNode) {
    fillLocations(root);
    const walk = (n: AstNode) => {
      if (n.id) this.byId.set(n.id, n);
      for (const c of [...n.inner ?? [], ...n.array_filler ?? []]) {
        this.parent.set(c, n);
        walk(c);
      }
    };
    walk(root);
    for (const n of root.inner ?? []) {
      if (n.kind === "TypedefDecl" && n.name) this.typedefs.set(n.name, n);
      else if (
        (n.kind === "RecordDecl" || n.kind === "EnumDecl") && n.name && n.completeDefinition !== false
      ) {
        if (n.inner?.length || n.completeDefinition) this.tags.set(`${n.tagUsed ?? "enum"} ${n.name}`, n);
      } else if (n.kind === "FunctionDecl" && n.name) {
        const old = this.functions.get(n.name);
        if (!old || paramsOf(n).some((p) => p.name)) this.functions.set(n.name, n);
      } else if (n.kind === "VarDecl" && n.name) this.variables.set(n.name, n);
    }
    // Tags declared inside records are file-scope in C too.
    for (const n of this.byId.values()) {
      if ((n.kind === "RecordDecl" || n.kind === "EnumDecl") && n.name && n.completeDefinition) {
        const key = `${n.tagUsed ?? "enum"} ${n.name}`;
        if (!this.tags.has(key)) this.tags.set(key, n);
      }
    }
  }

  /** The text of a doc comment attached to `n` (paragraphs joined; `\param` blocks left out). */
  docOf(n: AstNode | undefined): string | undefined {
    const full = n?.inner?.find((c) => c.kind === "FullComment");
    if (!full) return undefined;
    // Each TextComment is one line of the comment.
    const lines: string[] = [];
    const collect = (c: AstNode) => {
      if (c.kind === "ParamCommandComment") return;
      if (c.kind === "TextComment" && c.text) lines.push(c.text);
      for (const i of c.inner ?? []) collect(i);
    };
    collect(full);
    return cleanDoc(lines.join("\n"));
  }

  /** The `\param NAME` texts of a function's doc comment. */
  paramDocs(fn: AstNode | undefined): Map<string, string> {
    const out = new Map<string, string>();
    const full = fn?.inner?.find((c) => c.kind === "FullComment");
    for (const c of full?.inner ?? []) {
      if (c.kind !== "ParamCommandComment" || !c.param) continue;
      const texts: string[] = [];
      const collect = (x: AstNode) => {
        if (x.kind === "TextComment" && x.text) texts.push(x.text);
        for (const i of x.inner ?? []) collect(i);
      };
      collect(c);
      const doc = cleanDoc(texts.join("\n"))?.replace(/\n/g, " ");
      if (doc) out.set(c.param, doc);
    }
    return out;
  }

  /**
   * The source text a node was written as, from its expansion range: for a macro, its name (and
   * its arguments when `withArguments`); `undefined` when the file cannot be read.
   */
  async sourceText(n: AstNode, withArguments = false): Promise<string | undefined> {
    const begin = n.range?.begin.expansionLoc ?? n.range?.begin;
    const end = n.range?.end.expansionLoc ?? n.range?.end;
    if (!begin?.file || begin.offset === undefined || end?.offset === undefined) return undefined;
    const text = await this.#source(begin.file);
    if (text === undefined) return undefined;
    let stop = end.offset + (end.tokLen ?? 0);
    if (withArguments && begin.offset === end.offset) {
      // A function-like macro's expansion range is its name only: take the balanced arguments too.
      let i = stop;
      while (/\s/.test(text[i] ?? "")) i++;
      if (text[i] === "(") {
        let depth = 0;
        for (; i < text.length; i++) {
          if (text[i] === "(") depth++;
          else if (text[i] === ")" && --depth === 0) break;
        }
        stop = i + 1;
      }
    }
    return text.slice(begin.offset, stop);
  }

  async #source(file: string): Promise<string | undefined> {
    if (!this.#sources.has(file)) {
      // Offsets are bytes: read as Latin-1 so that each byte is one character.
      const bytes = await Deno.readFile(file).catch(() => null);
      this.#sources.set(file, bytes ? new TextDecoder("latin1").decode(bytes) : null);
    }
    return this.#sources.get(file) ?? undefined;
  }
}

/** The parameters of a function declaration. */
export function paramsOf(fn: AstNode): AstNode[] {
  return (fn.inner ?? []).filter((c) => c.kind === "ParmVarDecl");
}

/**
 * The elements of an initializer list. clang's JSON writes a list shorter than its array under
 * `array_filler`, the filler first and then the elements.
 */
export function initElements(n: AstNode | undefined): AstNode[] {
  if (!n) return [];
  if (n.inner) return n.inner;
  return n.array_filler?.slice(1) ?? [];
}

/** Strips an expression of what does not change its meaning here (casts, parentheses). */
export function unwrap(n: AstNode | undefined): AstNode | undefined {
  let x = n;
  while (
    x && (x.kind === "ImplicitCastExpr" || x.kind === "ParenExpr" || x.kind === "ConstantExpr" ||
      x.kind === "CStyleCastExpr" || x.kind === "FullExpr") &&
    x.inner?.length === 1
  ) x = x.inner[0];
  return x;
}

/** A comment's lines without their decoration (`*`, `!`, `<`), blank ones dropped. */
function cleanDoc(text: string): string | undefined {
  const lines = text.split("\n").map((l) => l.replace(/^[\s*!<\/]+/, "").replace(/\s+/g, " ").trim())
    .filter(Boolean);
  return lines.join("\n") || undefined;
}

/**
 * clang writes a location's `file` and `line` only when they differ from the location it printed
 * before; this walks the output in print order (keys in the order clang wrote them) and fills
 * them in.
 */
function fillLocations(root: AstNode): void {
  let file: string | undefined;
  let line: number | undefined;
  const visit = (loc: AstLocation | undefined) => {
    if (!loc || typeof loc !== "object") return;
    if (loc.spellingLoc || loc.expansionLoc) {
      visit(loc.spellingLoc);
      visit(loc.expansionLoc);
      return;
    }
    if (loc.offset === undefined) return;
    if (loc.file !== undefined) file = loc.file;
    if (loc.line !== undefined) line = loc.line;
    loc.file = file;
    loc.line = line;
  };
  const walk = (n: AstNode) => {
    for (const key of Object.keys(n) as (keyof AstNode)[]) {
      if (key === "loc") visit(n.loc);
      else if (key === "range") {
        visit(n.range?.begin);
        visit(n.range?.end);
      } else if (key === "inner" || key === "array_filler") {
        for (const c of n[key] ?? []) walk(c);
      }
    }
  };
  walk(root);
}
