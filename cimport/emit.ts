/**
 * Writing what an import found: a TypeScript module of typed signatures (`defineSignature` and
 * `t`, C comments as JSDoc), and a simulator kernel-module skeleton that handles every kernel
 * callback. Both go through `deno fmt`, so they pass `deno fmt --check` as written.
 * @module
 */
import { isCIdentifier } from "../abi/c_text.ts";
import type { TypeJson } from "../mgmt/types/type.ts";
import { ImportError } from "./clang.ts";
import type { ImportedSignature, ImportResult } from "./import.ts";

const TS_RESERVED = new Set(["t", "defineSignature", "defineModule", "handlers", "module", "default"]);

/** A safe TypeScript identifier for a C name. */
function ident(name: string): string {
  const id = name.replace(/\W/g, "_");
  return TS_RESERVED.has(id) || /^\d/.test(id) ? `${id}_` : id;
}

/** An object literal with bare keys (`{ name: "x", packed: true }`). */
function objText(o: Record<string, unknown>): string {
  return `{ ${Object.entries(o).map(([k, v]) => `${k}: ${JSON.stringify(v)}`).join(", ")} }`;
}

/** A JSDoc block (one line when short); a comment terminator inside is broken up. */
function jsdoc(text: string | undefined, indent = ""): string {
  if (!text) return "";
  const lines = text.replace(/\*\//g, "* /").split("\n");
  if (lines.length === 1) return `${indent}/** ${lines[0]} */\n`;
  return `${indent}/**\n${lines.map((l) => `${indent} * ${l}`).join("\n")}\n${indent} */\n`;
}

/** The `t` expression of a JSON type; `names` maps named types to their identifiers. */
function typeExpr(json: TypeJson, names: Map<string, string>, docs?: ReadonlyMap<string, string>): string {
  if (typeof json === "string") return names.get(json) ?? `t.${json}`;
  const o = json as Record<string, unknown>;
  if ("string" in o) return `t.string(${o.string})`;
  if ("chars" in o) return `t.chars(${o.chars})`;
  if ("bytes" in o) return `t.bytes(${o.bytes})`;
  if ("array" in o) return `t.array(${typeExpr(o.array as TypeJson, names)}, ${o.length})`;
  if ("aligned" in o && "type" in o) return `t.aligned(${typeExpr(o.type as TypeJson, names)}, ${o.aligned})`;
  if ("pointer" in o) return o.buffer ? `t.buffer(${objText(o.buffer as Record<string, unknown>)})` : "t.ptr";
  if ("byCommand" in o) {
    const layouts = Object.entries(o.commands as Record<string, TypeJson>).map(([k, tj]) =>
      `${isCIdentifier(k) ? k : JSON.stringify(k)}: ${typeExpr(tj, names)}`
    );
    return `t.byCommand(${JSON.stringify(o.byCommand)}, { ${layouts.join(", ")} })`;
  }
  if ("enum" in o) {
    const base = typeExpr((o.base as TypeJson) ?? "u32", names);
    return `t.enumOf(${objText(o.enum as Record<string, unknown>)}, ${base}${
      o.name ? `, ${JSON.stringify(o.name)}` : ""
    })`;
  }
  if ("struct" in o || "union" in o) {
    const kind = "struct" in o ? "struct" : "union";
    const members = Object.entries(o[kind] as Record<string, unknown>).map(([k, m]) =>
      `${jsdoc(docs?.get(k), "  ")}  ${k}: ${memberExpr(m, names)},`
    );
    const opts: Record<string, unknown> = {};
    for (const k of ["name", "packed", "pack", "aligned"]) if (o[k] !== undefined) opts[k] = o[k];
    const optText = Object.keys(opts).length ? `, ${objText(opts)}` : "";
    return `t.${kind}({\n${members.join("\n")}\n}${optText})`;
  }
  throw new ImportError(`cannot write the type ${JSON.stringify(json)}`);
}

function memberExpr(m: unknown, names: Map<string, string>): string {
  if (m !== null && typeof m === "object" && !Array.isArray(m)) {
    const o = m as Record<string, unknown>;
    const attrs: Record<string, unknown> = {};
    if (o.packed !== undefined) attrs.packed = o.packed;
    if (o.aligned !== undefined && !("type" in o)) attrs.aligned = o.aligned;
    const a = Object.keys(attrs).length ? `, ${objText(attrs)}` : "";
    if ("bits" in o) return `t.bits(${typeExpr(o.bits as TypeJson, names)}, ${o.width}${a})`;
    if ("pad" in o) return `t.pad(${typeExpr(o.pad as TypeJson, names)}, ${o.width}${a})`;
    if ("field" in o) return `t.field(${typeExpr(o.field as TypeJson, names)}${a || ", {}"})`;
    if ("anon" in o) return `t.anon(${typeExpr(o.anon as TypeJson, names)})`;
  }
  return typeExpr(m as TypeJson, names);
}

/** The `defineSignature({...})` text of one signature; `nameExpr` replaces the name for run-time names. */
function signatureExpr(s: ImportedSignature, names: Map<string, string>, nameExpr?: string): string {
  const j = s.json;
  const cbs = Object.entries(j.callbacks).map(([cname, c]) => {
    const params = Object.entries(c.params ?? {}).map(([pname, p]) => {
      const opts: Record<string, unknown> = {};
      if (p.lengthFrom) opts.lengthFrom = p.lengthFrom;
      if (p.doc) opts.doc = p.doc;
      const o = Object.keys(opts).length ? `, ${objText(opts)}` : "";
      return `${pname}: t.${p.dir}(${typeExpr(p.type, names)}${o})`;
    });
    const fields = [
      `id: ${c.id}`,
      c.location === "user" ? `location: "user"` : "",
      c.location !== "user" && c.sync === false ? "sync: false" : "",
      c.doc ? `doc: ${JSON.stringify(c.doc)}` : "",
      `params: { ${params.join(", ")} }`,
    ].filter(Boolean);
    return `${jsdoc(c.doc, "    ")}    ${cname}: { ${fields.join(", ")} },`;
  });
  return [
    "defineSignature({",
    nameExpr === "name" ? "  name," : `  name: ${nameExpr ?? JSON.stringify(j.name)},`,
    `  vendor: ${JSON.stringify(j.vendor)},`,
    `  version: ${JSON.stringify(j.version)},`,
    j.doc ? `  doc: ${JSON.stringify(j.doc.split("\n")[0])},` : "",
    "  callbacks: {",
    ...cbs,
    "  },",
    // The C comments again, as data: the REPL's describe shows them (JSDoc is gone at run time).
    j.typeDocs ? `  typeDocs: ${JSON.stringify(j.typeDocs)},` : "",
    "})",
  ].filter((l) => l !== "").join("\n");
}

/** Identifiers for the named types and signatures of a result. */
function identifiers(r: ImportResult): { types: Map<string, string>; sigs: Map<string, string> } {
  const types = new Map<string, string>();
  const taken = new Set<string>();
  for (const name of r.types.keys()) {
    let id = ident(name);
    while (taken.has(id)) id = `${id}_`;
    taken.add(id);
    types.set(name, id);
  }
  const sigs = new Map<string, string>();
  for (const s of r.signatures) {
    let id = ident(s.variable);
    while (taken.has(id)) id = `${id}_`;
    taken.add(id);
    sigs.set(s.variable, id);
  }
  return { types, sigs };
}

/**
 * The TypeScript module of an import: every named type as a `t` expression, every signature as
 * `defineSignature` (one whose name is set at run time as a function of that name).
 */
export function moduleText(r: ImportResult, options: { libUrl: string; source: string }): string {
  const { types, sigs } = identifiers(r);
  const out: string[] = [
    `// Generated by \`deno task import-c\` from ${options.source}; re-run the import rather than edit.`,
    "// Every size and offset below was checked against the C compiler.",
    `import { defineSignature, t } from ${JSON.stringify(options.libUrl)};`,
    "",
  ];
  for (const [name, json] of r.types) {
    const doc = [
      r.typeInfo.docs.get(name),
      `C: ${r.typeInfo.cNames.get(name)} (${r.typeInfo.places.get(name)})`,
    ]
      .filter(Boolean).join("\n\n");
    out.push(
      `${jsdoc(doc)}export const ${types.get(name)} = ${
        typeExpr(json, types, r.typeInfo.memberDocs.get(name))
      };`,
      "",
    );
  }
  for (const s of r.signatures) {
    const doc = [s.json.doc, `C: ${s.variable} (${s.place})`].filter(Boolean).join("\n\n");
    const id = sigs.get(s.variable)!;
    if (s.runtimeName) {
      out.push(
        jsdoc(`${doc}\n\nIts name is set at run time (the driver names one per adapter): give it.`).trimEnd(),
        `export function ${id}(name: string) {`,
        `  return ${signatureExpr(s, types, "name")};`,
        "}",
        "",
      );
    } else {
      out.push(`${jsdoc(doc)}export const ${id} = ${signatureExpr(s, types)};`, "");
    }
  }
  return out.join("\n");
}

/** The zero value text of a type, for skeleton comments. */
function describeParams(s: ImportedSignature, cb: string, r: ImportResult): string[] {
  const c = s.json.callbacks[cb];
  return Object.entries(c.params ?? {}).map(([p, prm]) => {
    const tname = typeof prm.type === "string"
      ? (r.typeInfo.cNames.get(prm.type) ?? prm.type)
      : JSON.stringify(prm.type);
    return `${p}: ${prm.dir} ${tname}`;
  });
}

/**
 * A simulator kernel module for the signatures of an import: every kernel callback has a handler
 * that returns zeroed outputs (its parameters in a comment), overridable with `moduleWith`.
 * Signatures named at run time are registered by the control op `add-<variable> name=…`.
 */
export function skeletonText(
  r: ImportResult,
  options: { signatureModule: string; simUrl: string; source: string },
): string {
  const { sigs } = identifiers(r);
  const fixed = r.signatures.filter((s) => !s.runtimeName);
  const runtime = r.signatures.filter((s) => s.runtimeName);
  const first = fixed[0] ?? runtime[0];
  if (!first) throw new ImportError("no signature to write a module for");
  const handlersFor = (s: ImportedSignature, indent: string) =>
    Object.entries(s.json.callbacks).filter(([, c]) => c.location !== "user").map(([cb]) => {
      const lines = describeParams(s, cb, r);
      return [
        `${indent}// ${cb}(${lines.join(", ")})`,
        `${indent}${cb}: () => ({}),`,
      ].join("\n");
    }).join("\n");
  const extra = r.signatures.filter((s) => s !== first);
  const firstId = sigs.get(first.variable)!;
  const controls = extra.map((s) => {
    const id = sigs.get(s.variable)!;
    const named = s.runtimeName;
    return [
      `    "add-${s.variable}": {`,
      `      doc: "${
        named ? `name=NAME: register an API of ${s.variable} under that name` : `register ${s.variable}`
      }",`,
      `      run: (kernel: ModuleContext<Sig["def"]>, args: Record<string, unknown>) => {`,
      named
        ? `        const name = String(args.name ?? "");\n        if (!name) throw new Error("add-${s.variable} needs name=…");`
        : "        void args;",
      "        const api = kernel.registerApi({",
      `          signature: ${named ? `${id}(name)` : id},`,
      named ? "          instances: [{ id: 1n, name }]," : '          instances: [{ id: 1n, name: "dev0" }],',
      "          handlers: {",
      handlersFor(s, "            "),
      "          },",
      "        });",
      "        return { registered: api.signature.name };",
      "      },",
      "    },",
    ].join("\n");
  });
  const lines = [
    `// A simulator kernel module for ${options.source}, generated by \`deno task import-c --module\`.`,
    "// Every kernel callback answers zeroed outputs: fill in the handlers, or pass your own to",
    "// moduleWith(). Run it with: deno task sim --module THIS_FILE",
    `import { defineModule, type KernelModule${controls.length ? ", type ModuleContext" : ""} } from ${
      JSON.stringify(options.simUrl)
    };`,
    `import { ${r.signatures.map((s) => sigs.get(s.variable)).join(", ")} } from ${
      JSON.stringify(options.signatureModule)
    };`,
    "",
    `type Sig = ${first.runtimeName ? `ReturnType<typeof ${firstId}>` : `typeof ${firstId}`};`,
    `type Handlers = KernelModule<Sig["def"]>["handlers"];`,
    "",
    `/** The handlers of ${first.json.name}: every kernel callback, answering zeroed outputs. */`,
    "export const handlers: Handlers = {",
    handlersFor(first, "  "),
    "};",
    "",
    "/** The module with some handlers replaced (the rest answer zeroed outputs). */",
    `export function moduleWith(overrides: Handlers = {}, instances = [{ id: 1n, name: "dev0" }]${
      first.runtimeName ? `, name = ${JSON.stringify(first.variable)}` : ""
    }) {`,
    "  return defineModule({",
    `    signature: ${first.runtimeName ? `${firstId}(name)` : firstId},`,
    "    instances,",
    "    handlers: { ...handlers, ...overrides },",
    ...(controls.length ? [`    controls: {\n${controls.join("\n")}\n    },`] : []),
    "  });",
    "}",
    "",
    "export default moduleWith();",
  ];
  return `${lines.join("\n")}\n`;
}

/**
 * Formats TypeScript text with `deno fmt` as it applies in directory `dir` (its configuration, if
 * any), so that the file written there passes `deno fmt --check`.
 * @throws {ImportError} when deno cannot format it (a bug: the text would not parse).
 */
export async function formatTs(text: string, dir: string = Deno.cwd()): Promise<string> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["fmt", "--ext", "ts", "-"],
    cwd: dir,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(text));
  await w.close();
  const out = await child.output();
  if (!out.success) {
    throw new ImportError(
      `the generated module does not format: ${new TextDecoder().decode(out.stderr).slice(0, 1000)}`,
    );
  }
  return new TextDecoder().decode(out.stdout);
}
