/**
 * Tab completion and inline hints, driven by the open signature and the live session:
 * commands, signatures, callbacks (kernel ones for `call`, events for `watch`), instances fetched
 * from the kernel, parameters not yet given, struct field paths, enum names, and files after `@`.
 * @module
 */
import { commandLayout } from "../mgmt/codec.ts";
import type { CallbackInfo, ParamInfo } from "../mgmt/signature.ts";
import type { EnumType } from "../mgmt/types/enum.ts";
import { isRecord } from "../mgmt/types/record.ts";
import type { Type } from "../mgmt/types/type.ts";
import { CONTROL_OPS, opKeys, sendControl } from "../sim/client.ts";
import { type ArgKind, COMMANDS, findCommand } from "./commands/mod.ts";
import { paramHint } from "./format.ts";
import type { ReplState } from "./state.ts";
import * as colors from "@std/fmt/colors";
import { completeJs } from "./js_eval.ts";
import { lineValues, missingFields } from "./values.ts";
import { tokenize } from "./tokenize.ts";

/** The simulator's ops and what each takes, asked once (`sim ops`); the generic ones until then. */
export async function simOps(state: ReplState): Promise<Record<string, string>> {
  if (!state.simOps && state.simSocket) {
    state.simOps = await sendControl(state.simSocket, { op: "ops" }, 1000)
      .then((r) => r as Record<string, string>, () => undefined);
  }
  return state.simOps ?? { ...CONTROL_OPS };
}

function words(line: string): { done: string[]; current: string } {
  const toks = tokenize(line, true);
  const endsWithSpace = /\s$/.test(line) || line.length === 0;
  if (endsWithSpace) return { done: toks.map((t) => t.text), current: "" };
  const last = toks.pop();
  return { done: toks.map((t) => t.text), current: last ? line.slice(last.start) : "" };
}

function signature(state: ReplState) {
  return state.current ? state.sessions.get(state.current)?.signature : undefined;
}

async function instanceNames(state: ReplState): Promise<string[]> {
  const s = state.current ? state.sessions.get(state.current) : undefined;
  if (s && !s.closed) {
    // Ask the kernel (briefly); fall back to what we knew.
    const fresh = await Promise.race([
      s.instances().then((l) => (state.instanceCache.set(s.signature.name, l), l)).catch(() => undefined),
      new Promise<undefined>((r) => setTimeout(() => r(undefined), 500)),
    ]);
    const list = fresh ?? state.instanceCache.get(s.signature.name) ?? [];
    return [...list.map((i) => i.name), ...list.map((i) => String(i.id))];
  }
  return [];
}

function fieldPaths(type: Type<unknown>, prefix: string): string[] {
  if (!isRecord(type)) return [`${prefix}=`];
  // Struct fields, union members and bitfield names alike; a bitfield's type is its declared one.
  return type.fields.map((f) =>
    isRecord(f.type) && f.bitWidth === undefined ? `${prefix}.${f.name}.` : `${prefix}.${f.name}=`
  );
}

/** What a parameter's value is typed as: an ioctl-style payload by the command given so far. */
function baseType(cb: CallbackInfo, p: ParamInfo, done: string[]): Type<unknown> {
  return p.commands ? commandLayout(p, cb.params, lineValues(done)) ?? p.type : p.type;
}

function typeAt(base: Type<unknown>, path: string[]): Type<unknown> | undefined {
  let t: Type<unknown> | undefined = base;
  for (const seg of path) {
    if (!isRecord(t)) return undefined;
    t = t.fields.find((f) => f.name === seg)?.type;
  }
  return t;
}

function filePaths(partial: string): string[] {
  // @~/… lists the home directory, and keeps the ~ as typed.
  const home = Deno.env.get("HOME");
  if (partial.startsWith("@~/") && home) {
    return filePaths(`@${home}/${partial.slice(3)}`).map((f) => `@~/${f.slice(home.length + 2)}`);
  }
  const path = partial.slice(1);
  const slash = path.lastIndexOf("/");
  const dir = slash >= 0 ? path.slice(0, slash + 1) : "";
  try {
    const out: string[] = [];
    for (const e of Deno.readDirSync(dir || ".")) {
      if (e.name.startsWith(".") && !path.slice(slash + 1).startsWith(".")) continue;
      out.push(`@${dir}${e.name}${e.isDirectory ? "/" : ""}`);
    }
    return out.sort();
  } catch {
    return [];
  }
}

function givenParams(done: string[]): Set<string> {
  const given = new Set<string>();
  for (const w of done) {
    const eq = w.indexOf("=");
    if (eq > 0) given.add(w.slice(0, eq).split(".")[0]);
    if (w.startsWith("{")) {
      try {
        for (const k of Object.keys(JSON.parse(w))) given.add(k);
      } catch { /* incomplete JSON */ }
    }
  }
  return given;
}

function instanceGiven(done: string[]): boolean {
  // call CALLBACK INSTANCE …: the third word without '=' is the instance.
  return done.length >= 3 && !done[2].includes("=") && !done[2].startsWith("{") ||
    done.some((w) => w.startsWith("instance="));
}

function paramCandidates(cb: CallbackInfo, done: string[], current: string): string[] {
  const eq = current.indexOf("=");
  if (eq > 0) {
    const [name, ...path] = current.slice(0, eq).split(".");
    const p = cb.params.find((q) => q.name === name);
    const value = current.slice(eq + 1);
    if (!p) return [];
    if (value.startsWith("@") && p.dir.startsWith("vector")) {
      return filePaths(value).map((f) => current.slice(0, eq + 1) + f);
    }
    const t = typeAt(baseType(cb, p, done), path);
    let values: string[] = [];
    if (t?.kind === "enum") values = Object.keys((t as EnumType<string>).values);
    else if (t?.kind === "bool") values = ["true", "false"];
    return values.map((v) => current.slice(0, eq + 1) + v);
  }
  if (current.includes(".")) {
    const parts = current.split(".");
    const p = cb.params.find((q) => q.name === parts[0]);
    if (!p) return [];
    const t = typeAt(baseType(cb, p, done), parts.slice(1, -1));
    if (!t) return [];
    // Fields given already are not offered again.
    const given = new Set(done.map((w) => w.slice(0, w.indexOf("=") >>> 0)));
    return fieldPaths(t, parts.slice(0, -1).join(".")).filter((f) => !given.has(f.replace(/[=.]$/, "")));
  }
  const given = givenParams(done);
  return cb.params
    .filter((p) => p.dir !== "out" && !given.has(p.name))
    .map((p) => {
      const t = baseType(cb, p, done);
      return isRecord(t) && (t !== p.type || !p.dir.startsWith("vector")) ? `${p.name}.` : `${p.name}=`;
    });
}

async function candidatesFor(
  state: ReplState,
  kind: ArgKind | undefined,
  done: string[],
  current: string,
): Promise<string[]> {
  const sig = signature(state);
  switch (kind) {
    case "command":
      return COMMANDS.flatMap((c) => [c.name, ...(c.aliases ?? [])]);
    case "signature":
      return [...state.signatures.keys()];
    case "session":
      return [...state.sessions.keys()];
    case "kernelCallback":
      return sig?.list.filter((c) => c.location === "kernel").map((c) => c.name) ?? [];
    case "event":
      return sig?.list.filter((c) => c.location === "user").map((c) => c.name) ?? [];
    case "callback":
      return [...(sig?.list.map((c) => c.name) ?? []), ...state.signatures.keys()];
    case "instance": {
      const names = await instanceNames(state);
      const cb = sig?.list.find((c) => c.name === done[1]);
      return done[0] === "call" && cb ? [...names, ...paramCandidates(cb, done, current)] : names;
    }
    case "params": {
      const cb = sig?.list.find((c) => c.name === done[1]);
      return cb ? paramCandidates(cb, done, current) : [];
    }
    case "on-off":
      return ["on", "off"];
    case "simop": {
      const ops = await simOps(state);
      if (done.length <= 1) return Object.keys(ops);
      // The keys of the op, from its description, without those given already.
      const given = new Set(done.slice(2).map((w) => w.slice(0, w.indexOf("="))));
      const { required, optional } = opKeys(ops[done[1]] ?? "");
      return [...required, ...optional].filter((k) => !given.has(k)).map((k) => `${k}=`);
    }
    default:
      return [];
  }
}

/** A single whole-word completion gets a trailing space, as in a shell; `name=`, `a.` and dirs do not. */
function spaced(list: string[]): string[] {
  return list.length === 1 && !/[=./]$/.test(list[0]) ? [`${list[0]} `] : list;
}

/** Completion for `line` (cursor at its end): [candidates, the text they replace]. */
export async function complete(state: ReplState, line: string): Promise<[string[], string]> {
  const { done, current } = words(line);
  if (done.length === 0) {
    const all = await candidatesFor(state, "command", done, current);
    return [spaced(all.filter((c) => c.startsWith(current))), current];
  }
  const cmd = findCommand(done[0]);
  if (!cmd) return [[], current];
  if (cmd.name === "js") {
    // Names and properties from the lasting js scope, for the expression under the cursor.
    const expr = line.match(/[A-Za-z_$][\w$.]*$/)?.[0] ?? "";
    // Nothing typed yet: no list of every global.
    return [expr ? await completeJs(expr) : [], expr];
  }
  if (current.startsWith("-")) return [(cmd.flags ?? []).filter((f) => f.startsWith(current)), current];
  const pos = done.length - 1;
  const kinds = cmd.args ?? [];
  let kind = kinds[Math.min(pos, kinds.length - 1)];
  // call CALLBACK [INSTANCE] params…: the word after the callback may be either.
  if (cmd.name === "call" && pos >= 1) kind = pos === 1 && !/[=.]/.test(current) ? "instance" : "params";
  if (
    cmd.name === "watch" && done[done.length - 1]?.startsWith("--") &&
    ["--count", "--for", "--filter"].includes(done[done.length - 1])
  ) return [[], current];
  if (cmd.name === "watch" && done[done.length - 1] === "--instance") kind = "instance";
  const list = (await candidatesFor(state, kind, done, current)).filter((c) => c.startsWith(current));
  return [spaced([...new Set(list)]), current];
}

/** The inline hint shown after the cursor: remaining parameters with their types, or usage. */
export function hint(state: ReplState, line: string): string {
  if (!line.trim()) return "";
  let parsed: { done: string[]; current: string };
  try {
    parsed = words(line);
  } catch {
    return "";
  }
  const { done, current } = parsed;
  const all = current ? [...done, current] : done;
  const cmd = findCommand(all[0] ?? "");
  if (!cmd) return "";
  const sep = /\s$/.test(line) ? "" : " ";
  if (cmd.name === "call" && all.length === 2 && current) {
    // A partly typed callback name that only one callback starts with: the rest of it, then what it takes.
    const matches = signature(state)?.list.filter((c) =>
      c.location === "kernel" && c.name.startsWith(current)
    ) ?? [];
    if (matches.length !== 1 || matches[0].name === current) return "";
    const rest = hint(state, `call ${matches[0].name} `);
    return `${matches[0].name.slice(current.length)}${rest ? ` ${rest}` : ""}`;
  }
  if (cmd.name === "sim" && all.length === 2 && current) {
    const ops = Object.keys(state.simOps ?? CONTROL_OPS).filter((o) => o.startsWith(current));
    if (ops.length !== 1 || ops[0] === current) return "";
    const rest = hint(state, `sim ${ops[0]} `);
    return `${ops[0].slice(current.length)}${rest ? ` ${rest}` : ""}`;
  }
  if (cmd.name === "call" && all.length >= 2) {
    const cb = signature(state)?.list.find((c) => c.name === all[1] && c.location === "kernel");
    if (!cb || (all.length === 2 && current)) return "";
    const given = givenParams(all);
    const parts: string[] = [];
    if (!(all.length >= 3 && (instanceGiven(all) || all.length > 3)) && !given.has("instance")) {
      parts.push("<instance>");
    }
    const paths = new Set(all.filter((w) => w.includes("=")).map((w) => w.slice(0, w.indexOf("="))));
    for (const p of cb.params) {
      if (p.dir === "out") continue;
      if (!given.has(p.name)) {
        parts.push(paramHint(p));
        continue;
      }
      // A struct given field by field: what is still missing, so that Enter does not fail on it.
      if (isRecord(p.type) && !p.dir.startsWith("vector") && !paths.has(p.name)) {
        const missing = missingFields(p.type, p.name, paths).map((m) => m.hint);
        parts.push(...missing.slice(0, 4), ...(missing.length > 4 ? [`(${missing.length - 4} more)`] : []));
      }
    }
    if (current.includes("=") || (current && !current.includes("=") && all.length > 3)) return "";
    return parts.length ? sep + parts.join(" ") : "";
  }
  if (cmd.name === "sim" && all.length >= 2 && !(all.length === 2 && current)) {
    // What the op still takes, from its description: required keys, then [optional] ones.
    const doc = (state.simOps ?? CONTROL_OPS)[all[1]];
    if (doc === undefined || current.includes("=")) return "";
    const given = new Set(all.slice(2).map((w) => w.slice(0, w.indexOf("="))));
    const { required, optional } = opKeys(doc);
    const parts = [
      ...required.filter((k) => !given.has(k)).map((k) => `${k}=…`),
      ...optional.filter((k) => !given.has(k)).map((k) => `[${k}=…]`),
    ];
    return parts.length ? sep + parts.join(" ") : "";
  }
  if (all.length === 1 && !current.length && cmd.usage.includes(" ")) {
    return cmd.usage.slice(cmd.usage.indexOf(" ") + 1);
  }
  return "";
}

/**
 * The line coloured as it is typed, as Deno's REPL does: the command, a callback, an instance, keys
 * of key=value; what names nothing known in red. Same visible text.
 */
export function colourLine(state: ReplState, line: string): string {
  const parts = line.split(/(\s+)/);
  const sig = signature(state);
  let n = 0;
  let cmdName = "";
  return parts.map((part, i) => {
    if (!part || /^\s+$/.test(part)) return part;
    const last = i === parts.length - 1; // the word being typed may still become a name
    const word = n++;
    if (word === 0) {
      const cmd = findCommand(part);
      cmdName = cmd?.name ?? "";
      if (cmd) return colors.bold(colors.cyan(part));
      return last && COMMANDS.some((c) => c.name.startsWith(part)) ? part : colors.red(part);
    }
    if (cmdName === "call" && word === 1) {
      const known = sig?.list.some((c) => c.location === "kernel" && c.name === part);
      if (known) return colors.green(part);
      return last && sig?.list.some((c) => c.name.startsWith(part)) ? part : colors.red(part);
    }
    const eq = part.indexOf("=");
    if (eq > 0 && /^[\w.[\]]+$/.test(part.slice(0, eq))) {
      return `${colors.cyan(part.slice(0, eq))}${colors.dim("=")}${part.slice(eq + 1)}`;
    }
    if (cmdName === "call" && word === 2) {
      const names = state.instanceCache.get(sig?.name ?? "")?.map((x) => x.name) ?? [];
      return names.includes(part) ? colors.yellow(part) : part;
    }
    return part;
  }).join("");
}
