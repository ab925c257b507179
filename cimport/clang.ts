/**
 * The C tools the importer runs: clang for the declarations (its JSON AST) and the system C
 * compiler for the facts (sizes, offsets and the values of the signature tables), both with the
 * same files and flags, and our `vmkapi.h` stand-in after any `-I` the user gives.
 * @module
 */
import { Ast, type AstNode } from "./ast.ts";

/** A failure of the import that the user can act on: the message names the file, line or tool. */
export class ImportError extends Error {
  /** Builds the error. */
  constructor(message: string) {
    super(message);
    this.name = "ImportError";
  }
}

/** What both compilers are given. */
export interface CompileOptions {
  /** The files to import (`.c` or `.h`). */
  readonly files: readonly string[];
  /** `-I` directories, in order. */
  readonly includes?: readonly string[];
  /** `-D NAME[=VALUE]` definitions. */
  readonly defines?: readonly string[];
  /** The clang to run (`VMKMGMT_CLANG`, else `clang`). */
  readonly clang?: string;
  /** The C compiler for the cross-check (`CC`, else `cc`). */
  readonly cc?: string;
}

/** Runs a tool; a missing one is an ImportError saying why it is needed and how to get it. */
async function runTool(tool: string, args: string[], missing: string): Promise<Deno.CommandOutput> {
  try {
    return await new Deno.Command(tool, { args, stdout: "piped", stderr: "piped" }).output();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new ImportError(`${tool} was not found: ${missing}`);
    throw e;
  }
}

/** The system C compiler the probes are built with (`CC`, else `cc`). */
export function compilerOf(o: CompileOptions): string {
  return o.cc ?? Deno.env.get("CC") ?? "cc";
}

/** The directory of our `vmkapi.h` stand-in. */
export const STANDIN_INCLUDE = new URL("./include", import.meta.url).pathname;

/** The flags both compilers get: the user's `-I` and `-D`, then the stand-in. */
export function compileFlags(o: CompileOptions, extraDefines: readonly string[] = []): string[] {
  return [
    "-std=gnu11",
    ...(o.includes ?? []).map((d) => `-I${d}`),
    ...[...(o.defines ?? []), ...extraDefines].map((d) => `-D${d}`),
    "-idirafter",
    STANDIN_INCLUDE,
  ];
}

/**
 * Runs clang over a small unit that includes every file, with `args` before the flags.
 * @throws {ImportError} naming the package to install when clang is missing.
 */
async function runClang(
  o: CompileOptions,
  args: readonly string[],
  extraDefines: readonly string[] = [],
): Promise<Deno.CommandOutput> {
  const clang = o.clang ?? Deno.env.get("VMKMGMT_CLANG") ?? "clang";
  const unit = await unitFile(o.files);
  try {
    return await runTool(
      clang,
      ["-x", "c", "-fsyntax-only", "-fno-color-diagnostics", ...args, ...compileFlags(o, extraDefines), unit],
      "the importer reads C with clang's AST; install it (Debian/Ubuntu: apt-get install -y clang) or " +
        "point VMKMGMT_CLANG at one",
    );
  } finally {
    await Deno.remove(unit).catch(() => {});
  }
}

/**
 * Parses the files with clang into one AST (a small unit including each of them).
 * @throws {ImportError} when clang is missing (naming the package) or the files do not compile
 * (clang's first errors, with their lines), unless `tolerateErrors`.
 */
export async function parseWithClang(
  o: CompileOptions,
  extraDefines: readonly string[] = [],
  tolerateErrors = false,
): Promise<{ ast: Ast; errors: string[] }> {
  const out = await runClang(
    o,
    ["-fparse-all-comments", "-Xclang", "-ast-dump=json", "-ferror-limit=20"],
    extraDefines,
  );
  const errors = new TextDecoder().decode(out.stderr).split("\n").filter((l) => /\berror:/.test(l));
  if (!out.success && !tolerateErrors) {
    throw new ImportError(
      `the files do not compile with clang (${o.files.join(" ")}${
        extraDefines.length ? `, -D${extraDefines.join(" -D")}` : ""
      }):\n${
        errors.slice(0, 8).join("\n") || new TextDecoder().decode(out.stderr).slice(0, 2000)
      }\n(give include directories with -I and definitions with -D)`,
    );
  }
  const text = new TextDecoder().decode(out.stdout);
  if (!text.trim()) throw new ImportError(`clang printed no AST for ${o.files.join(" ")}`);
  return { ast: new Ast(JSON.parse(text) as AstNode), errors };
}

/**
 * The preprocessed unit with every macro definition kept (`-E -dD`), line markers included: where
 * each `#define` comes from can be told.
 * @throws {ImportError} when clang is missing.
 */
export async function definesWithPlaces(o: CompileOptions): Promise<string> {
  const out = await runClang(o, ["-E", "-dD"]);
  return new TextDecoder().decode(out.stdout);
}

/**
 * The directories clang searches for `<...>` headers after the user's: a header found there is a
 * system header, never a driver's own.
 * @throws {ImportError} when clang is missing.
 */
export async function systemIncludeDirs(o: CompileOptions): Promise<string[]> {
  const out = await runClang(o, ["-E", "-v"]);
  const text = new TextDecoder().decode(out.stderr);
  const start = text.indexOf("#include <...> search starts here:");
  const end = text.indexOf("End of search list.", start);
  if (start < 0 || end < 0) return [];
  const user = new Set([...(o.includes ?? []), STANDIN_INCLUDE]);
  return text.slice(start, end).split("\n").slice(1).map((l) =>
    l.trim().replace(/ \(framework directory\)$/, "")
  )
    .filter((d) => d && !user.has(d));
}

/**
 * `#pragma pack` values, in the order clang's AST has its `MaxFieldAlignmentAttr` nodes: its JSON
 * leaves the value out, its text dump (the same traversal) has it, in bits.
 * @throws {ImportError} when clang is missing.
 */
export async function packValuesFromDump(o: CompileOptions): Promise<number[]> {
  const out = await runClang(o, ["-Xclang", "-ast-dump"]);
  return [
    ...new TextDecoder().decode(out.stdout).matchAll(
      /MaxFieldAlignmentAttr 0x[0-9a-f]+ <[^\n]*?> Implicit (\d+)/g,
    ),
  ]
    .map((m) => Number(m[1]) / 8);
}

/**
 * Compiles `source` (which includes the user's files) with the system C compiler and runs it;
 * returns what it printed.
 * @throws {ImportError} naming the compiler when it is missing or the probe does not build.
 */
export async function compileAndRun(o: CompileOptions, source: string, what: string): Promise<string> {
  const cc = compilerOf(o);
  const dir = await Deno.makeTempDir({ prefix: "vmkmgmt-import-" });
  try {
    await Deno.writeTextFile(`${dir}/probe.c`, source);
    const out = await runTool(
      cc,
      [
        ...compileFlags(o),
        "-w",
        "-O0",
        "-Wl,--unresolved-symbols=ignore-all",
        "-o",
        `${dir}/probe`,
        `${dir}/probe.c`,
      ],
      "every size and offset is checked with the system C compiler; install one (Debian/Ubuntu: " +
        "apt-get install -y gcc) or point CC at one",
    );
    if (!out.success) {
      const keep = `${Deno.env.get("TMPDIR") ?? "/tmp"}/vmkmgmt-import-probe.c`;
      await Deno.copyFile(`${dir}/probe.c`, keep).catch(() => {});
      throw new ImportError(
        `the ${what} probe does not compile with ${cc} (source kept at ${keep}):\n${
          new TextDecoder().decode(out.stderr).split("\n").filter((l) => /error/.test(l)).slice(0, 8).join(
            "\n",
          )
        }`,
      );
    }
    const run = await new Deno.Command(`${dir}/probe`, { stdout: "piped", stderr: "piped" }).output();
    if (!run.success) {
      throw new ImportError(
        `the ${what} probe failed: ${new TextDecoder().decode(run.stderr).slice(0, 2000)}`,
      );
    }
    return new TextDecoder().decode(run.stdout);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/**
 * The lines that include every file into one unit (absolute paths, so that a file's own
 * `#include "x.h"` still resolves beside it).
 */
export function includeLines(files: readonly string[]): string {
  return files.map((f) => `#include ${JSON.stringify(absolute(f))}`).join("\n");
}

/**
 * The start of a probe: every file included, its own `main` (a driver's tool may have one) renamed
 * out of the way so the probe's can follow.
 */
export function probePrelude(files: readonly string[]): string {
  return ["#define main vmkmgmt_import_user_main", includeLines(files), "#undef main"].join("\n");
}

/** An absolute path for `f`. */
export function absolute(f: string): string {
  return f.startsWith("/") ? f : `${Deno.cwd()}/${f}`;
}

async function unitFile(files: readonly string[]): Promise<string> {
  for (const f of files) {
    try {
      const st = await Deno.stat(f);
      if (!st.isFile) throw new ImportError(`${f} is not a file`);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) throw new ImportError(`${f}: no such file`);
      throw e;
    }
  }
  const path = await Deno.makeTempFile({ prefix: "vmkmgmt-import-", suffix: ".c" });
  await Deno.writeTextFile(path, `${includeLines(files)}\n`);
  return path;
}
