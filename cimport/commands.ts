/**
 * ioctl-style commands in a driver's C: which command codes a callback's byte vector carries, and
 * the layout each one's payload has — from the driver's own pairings (a table of `{ CODE,
 * sizeof(T) }` entries, or `_IOR`/`_IOW`/`_IOWR`-style macros in its headers: `#define GPU_GET_INFO
 * _IOWR('G', 1, struct gpuInfo)`), or from a hint file the user writes (`--commands FILE`). The import then gives the command parameter an enum of the command
 * names and the vector `t.byCommand(…)` (mgmt/types/command.ts).
 * @module
 */
import { isCIdentifier } from "../abi/c_text.ts";
import { compileAndRun, type CompileOptions, definesWithPlaces, ImportError, probePrelude } from "./clang.ts";
import { type Ast, initElements, unwrap } from "./ast.ts";
import { type OwnFiles, topLevelArguments } from "./signatures.ts";
import type { TypeJson } from "../mgmt/types/type.ts";

/** What the user says of one callback's commands (a `--commands` file: `{ "CALLBACK.PARAM": hint }`). */
export interface CommandHint {
  /** The command parameter (as imported); by default the callback's one integer `in`/`inout` parameter. */
  readonly command?: string;
  /** The payload's C type by command: a macro, enum constant or number → a type name. */
  readonly types: Readonly<Record<string, string>>;
}

/** A command macro found in the driver's headers. */
export interface CommandMacro {
  /** The macro (`GPU_GET_INFO`). */
  readonly name: string;
  /** The payload's C type as written (`struct gpuInfo`). */
  readonly type: string;
  /** `file:line`. */
  readonly place: string;
}

/** The `_IOR`/`_IOW`/`_IOWR`-style macros of the driver's own files, in the order they are defined. */
export async function commandMacros(o: CompileOptions, own: OwnFiles): Promise<CommandMacro[]> {
  const text = await definesWithPlaces(o);
  const out: CommandMacro[] = [];
  let file = "";
  let line = 0;
  for (const l of text.split("\n")) {
    const marker = /^# (\d+) "([^"]*)"/.exec(l);
    if (marker) {
      line = Number(marker[1]);
      file = marker[2];
      continue;
    }
    const m = /^#define\s+(\w+)\s+_IO(?:R|W|WR)(?:_BAD)?\s*\((.*)\)\s*$/.exec(l);
    if (m && own.has(file)) {
      const args = topLevelArguments(m[2]);
      if (args.length === 3) out.push({ name: m[1], type: args[2].trim(), place: `${file}:${line}` });
    }
    line++;
  }
  return out;
}

/**
 * Command tables in the driver's own files: a file-scope array whose every entry pairs a command
 * code with `sizeof(T)` (`{ SW_GET_PORT, sizeof(sw_port_t) }`), as drivers write to check a
 * payload's size by command. Each pair as written (the code's text, T).
 */
export async function commandTables(ast: Ast, own: OwnFiles): Promise<{ key: string; type: string }[]> {
  const out: { key: string; type: string }[] = [];
  for (const v of ast.variables.values()) {
    if (!own.has(v.loc?.expansionLoc?.file ?? v.loc?.file) || !v.type?.qualType.includes("[")) continue;
    const init = v.inner?.find((c) => c.kind === "InitListExpr");
    const entries = initElements(init).filter((e) => e.kind === "InitListExpr");
    if (entries.length < 2) continue;
    const pairs: { key: string; type: string }[] = [];
    for (const e of entries) {
      const parts = initElements(e).map(unwrap);
      const sizes = parts.filter((x) =>
        x?.kind === "UnaryExprOrTypeTraitExpr" && x.name === "sizeof" && x.argType
      );
      const codes = parts.filter((x) =>
        x && x.kind !== "UnaryExprOrTypeTraitExpr" && x.kind !== "ImplicitValueInitExpr" &&
        /^(unsigned |signed )?(int|long|long long|short|char|vmk_u?int(8|16|32|64))$|^enum /.test(
          x.type?.desugaredQualType ?? x.type?.qualType ?? "",
        )
      );
      if (sizes.length !== 1 || codes.length !== 1) break;
      const key = (await ast.sourceText(codes[0]!))?.trim();
      if (!key) break;
      pairs.push({ key, type: sizes[0]!.argType!.qualType });
    }
    if (pairs.length === entries.length) out.push(...pairs);
  }
  return out;
}

/** The value of each C expression in `keys` (macros, enum constants, numbers), as the compiler computes it. */
export async function commandCodes(o: CompileOptions, keys: readonly string[]): Promise<Map<string, bigint>> {
  if (!keys.length) return new Map();
  const source = [
    probePrelude(o.files),
    "#include <stdio.h>",
    "int main(void) {",
    ...keys.map((k) => `  printf("%llu\\n", (unsigned long long)(${k}));`),
    "  return 0;",
    "}",
  ].join("\n");
  let text: string;
  try {
    text = await compileAndRun(o, source, "command codes");
  } catch (e) {
    throw new ImportError(
      `the command codes ${keys.join(", ")} do not all compile as C expressions: ${(e as Error).message}`,
    );
  }
  const values = text.trim().split("\n").map((v) => BigInt(v));
  return new Map(keys.map((k, i) => [k, values[i]]));
}

/** A byte: what an untyped payload vector's element imports as (`u8`, `i8`, or one byte as written). */
function isByteType(t: TypeJson): boolean {
  return t === "u8" || t === "i8" || (typeof t === "object" && "bytes" in t && t.bytes === 1);
}

/** One imported signature's JSON, as far as commands are concerned. */
interface SignatureParams {
  readonly variable: string;
  readonly json: {
    callbacks: Record<
      string,
      { location?: string; params?: Record<string, { dir: string; type: TypeJson }> }
    >;
  };
}

/**
 * Gives the callbacks that carry commands their layouts: those the user's hints name
 * (`CALLBACK.PARAM`), else — when the driver's headers define `_IOWR`-style macros — the one
 * callback that has a byte vector and an integer command parameter. `typeOf` reads a C type
 * name in a signature's files. Says in `warnings` what it could not place.
 * @throws {ImportError} a hint naming no such callback or parameter, or a code that does not compile.
 */
export async function applyCommands(
  o: CompileOptions,
  ast: Ast,
  own: OwnFiles,
  signatures: readonly SignatureParams[],
  typeOf: (variable: string, cType: string) => TypeJson,
  warnings: string[],
  hints: Readonly<Record<string, CommandHint>> = {},
): Promise<void> {
  const carriers = commandCarriers(signatures);
  const plans = Object.entries(hints).map(([where, hint]) => hintedPlan(where, hint, signatures, carriers));
  if (!plans.length) {
    // From the driver's own pairings: command tables, and _IOWR-style macros.
    const found = new Map<string, string>();
    for (const t of await commandTables(ast, own)) found.set(t.key, t.type);
    for (const m of await commandMacros(o, own)) if (!found.has(m.name)) found.set(m.name, m.type);
    if (found.size && carriers.length === 1) {
      const { sig, params, vector, command } = carriers[0];
      plans.push({ sig, params, vector, command, types: Object.fromEntries(found) });
    } else if (found.size) {
      warnings.push(
        `the driver pairs commands with payload types (${[...found.keys()].join(", ")}) but ${
          carriers.length
            ? `${carriers.map((c) => `${c.cb}.${c.vector}`).join(", ")} could each carry them`
            : "no callback has one byte vector and one integer command"
        }: say which with --commands FILE`,
      );
    }
  }
  const codes = await commandCodes(o, [...new Set(plans.flatMap((p) => Object.keys(p.types)))]);
  for (const plan of plans) applyPlan(plan, codes, typeOf);
}

/** A callback parameter that carries commands: its vector, its command parameter, their layouts by C type. */
interface CommandPlan {
  sig: SignatureParams;
  params: Record<string, { dir: string; type: TypeJson }>;
  vector: string;
  command: string;
  types: Readonly<Record<string, string>>;
}

/** A callback that could carry commands: one byte vector and one integer command parameter. */
interface Carrier extends Omit<CommandPlan, "types"> {
  cb: string;
}

/** The callbacks of `signatures` that could carry commands. */
function commandCarriers(signatures: readonly SignatureParams[]): Carrier[] {
  return signatures.flatMap((sig) =>
    Object.entries(sig.json.callbacks).flatMap(([cb, c]) => {
      const params = c.params ?? {};
      const vectors = Object.entries(params).filter(([, p]) =>
        p.dir.startsWith("vector") && isByteType(p.type)
      );
      const commands = Object.entries(params).filter(([, p]) =>
        (p.dir === "in" || p.dir === "inout") && typeof p.type === "string" &&
        /^[ui](8|16|32|64)$/.test(p.type)
      );
      return vectors.length === 1 && commands.length === 1
        ? [{ sig, cb, params, vector: vectors[0][0], command: commands[0][0] }]
        : [];
    })
  );
}

/**
 * The plan a user's hint (`CALLBACK.PARAM`) names.
 * @throws {ImportError} no such callback or vector parameter, or no command parameter to pair it with.
 */
function hintedPlan(
  where: string,
  hint: CommandHint,
  signatures: readonly SignatureParams[],
  carriers: readonly Carrier[],
): CommandPlan {
  const [cb, vector] = where.split(".");
  const found = signatures.map((sig) => ({ sig, c: sig.json.callbacks[cb] })).find((x) => x.c);
  const params = found?.c.params ?? {};
  if (!found || !vector || !params[vector]?.dir.startsWith("vector")) {
    throw new ImportError(
      `--commands ${where}: no callback ${cb} with a vector parameter ${vector ?? "(none named)"} ` +
        `(give CALLBACK.PARAM as the import names them; ${
          carriers.map((c) => `${c.cb}.${c.vector}`).join(", ") ||
          "no callback has a byte vector and a command"
        } would fit)`,
    );
  }
  const command = hint.command ??
    Object.entries(params).find(([n, p]) => n !== vector && (p.dir === "in" || p.dir === "inout"))?.[0];
  if (!command || !params[command]) {
    throw new ImportError(
      `--commands ${where}: name the command parameter ("command": …); ${cb} has ${
        Object.keys(params).join(", ")
      }`,
    );
  }
  return { sig: found.sig, params, vector, command, types: hint.types };
}

/**
 * Types a plan's vector by its command, and its command parameter by the commands' names.
 * @throws {ImportError} a command code too large for a command parameter.
 */
function applyPlan(
  plan: CommandPlan,
  codes: ReadonlyMap<string, string | number | bigint>,
  typeOf: (variable: string, cType: string) => TypeJson,
): void {
  const commands: Record<string, TypeJson> = {};
  const names: Record<string, number> = {};
  const cmd = plan.params[plan.command];
  // An integer command parameter takes the commands' names (any other number still goes); one
  // already typed keeps its type, and the layouts go by code.
  const byName = typeof cmd.type === "string";
  for (const [key, cType] of Object.entries(plan.types)) {
    const code = codes.get(key)!;
    if (!Number.isSafeInteger(Number(code))) {
      throw new ImportError(`command ${key} is ${code}: too large for a command parameter`);
    }
    const named = byName && isCIdentifier(key);
    if (named) names[key] = Number(code);
    commands[named ? key : String(code)] = typeOf(plan.sig.variable, cType);
  }
  if (typeof cmd.type === "string" && Object.keys(names).length) cmd.type = { enum: names, base: cmd.type };
  plan.params[plan.vector].type = { byCommand: plan.command, commands };
}
