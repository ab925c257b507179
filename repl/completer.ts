/**
 * Tab completion and inline hints, driven by the open signature and the live session:
 * commands, signatures, callbacks (kernel ones for `call`, events for `watch`), instances fetched
 * from the kernel, parameters not yet given, struct field paths, enum names, and files after `@`.
 * @module
 */
import { runtimeApis } from "./runtime_apis.ts";
import { commandLayout } from "../mgmt/codec.ts";
import type { CallbackInfo, ParamInfo, Signature } from "../mgmt/signature.ts";
import type { EnumType } from "../mgmt/types/enum.ts";
import { isRecord } from "../mgmt/types/record.ts";
import type { Type } from "../mgmt/types/type.ts";
import { CONTROL_OPS, opKeys, sendControl } from "../sim/client.ts";
import { type ArgKind, COMMANDS, findCommand, type LineContext } from "./commands/mod.ts";
import type { ReplState } from "./state.ts";
import * as colors from "@std/fmt/colors";
import { lineValues } from "./values.ts";
import { tokenize } from "./tokenize.ts";

/** The simulator's ops and what each takes, asked once (`sim ops`); the generic ones until then. */
export async function simOps(state: ReplState): Promise<Record<string, string>> {
  if (!state.simOps && state.simSocket) {
    state.simOps = await sendControl(state.simSocket, { op: "ops" }, 1000)
      .then((r) => r as Record<string, string>, () => undefined);
  }
  const ops = state.simOps ?? { ...CONTROL_OPS };
  return state.ownSim ? { ...ops, [RESTART_OP]: RESTART_DOC } : ops;
}

/** The REPL's own op: not the simulator's (it cannot restart itself), the REPL's that started it. */
export const RESTART_OP = "restart";
const RESTART_DOC =
  "(the REPL) stop the simulator this REPL started and start a fresh one on the same socket; sessions reconnect";

function words(line: string): { done: string[]; current: string } {
  const toks = tokenize(line, true);
  const endsWithSpace = /\s$/.test(line) || line.length === 0;
  if (endsWithSpace) return { done: toks.map((t) => t.text), current: "" };
  const last = toks.pop();
  return { done: toks.map((t) => t.text), current: last ? line.slice(last.start) : "" };
}

/** The current session's signature, if one is open. */
export function currentSignature(state: ReplState): Signature | undefined {
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
function baseType(cb: CallbackInfo, p: ParamInfo, done: readonly string[]): Type<unknown> {
  return p.commands ? commandLayout(p, cb.params, lineValues([...done])) ?? p.type : p.type;
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

/** The parameters a call line gives already (by `name=` or in a JSON object). */
export function givenParams(done: readonly string[]): Set<string> {
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

/** Whether a call line gives its instance already. */
export function instanceGiven(done: readonly string[]): boolean {
  // call CALLBACK INSTANCE …: the third word without '=' is the instance.
  return done.length >= 3 && !done[2].includes("=") && !done[2].startsWith("{") ||
    done.some((w) => w.startsWith("instance="));
}

function paramCandidates(cb: CallbackInfo, done: readonly string[], current: string): string[] {
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
  done: readonly string[],
  current: string,
): Promise<string[]> {
  const sig = currentSignature(state);
  switch (kind) {
    case "command":
      return COMMANDS.flatMap((c) => [c.name, ...(c.aliases ?? [])]);
    case "signature":
      return [...state.signatures.keys(), ...(await runtimeApis(state)).map((a) => a.name)];
    case "session":
      return [...state.sessions.keys()];
    case "kernelCallback":
      return sig?.list.filter((c) => c.location === "kernel").map((c) => c.name) ?? [];
    case "event":
      return sig?.list.filter((c) => c.location === "user").map((c) => c.name) ?? [];
    case "callback":
      return [...(sig?.list.map((c) => c.name) ?? []), ...state.signatures.keys()];
    case "instance":
      return await instanceNames(state);
    case "instanceOrParams": {
      // (the instance may be left out: the parameters come next; * is every instance)
      const cb = sig?.list.find((c) => c.name === done[1]);
      const names = await instanceNames(state);
      return [...names, ...(names.length ? ["*"] : []), ...(cb ? paramCandidates(cb, done, current) : [])];
    }
    case "params": {
      const cb = sig?.list.find((c) => c.name === done[1]);
      return cb ? paramCandidates(cb, done, current) : [];
    }
    case "on-off":
      return ["on", "off"];
    case "file":
      return filePaths(`@${current}`).map((f) => f.slice(1));
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
  const own = await cmd.complete?.({ state, line, done, current });
  if (own) return own;
  if (current.startsWith("-")) return [(cmd.flags ?? []).filter((f) => f.startsWith(current)), current];
  const kinds = cmd.args ?? [];
  return await completeAs({ state, line, done, current }, kinds[Math.min(done.length - 1, kinds.length - 1)]);
}

/** The word under the cursor completed as an argument of `kind`: [candidates, the text they replace]. */
export async function completeAs(ctx: LineContext, kind: ArgKind | undefined): Promise<[string[], string]> {
  const list = (await candidatesFor(ctx.state, kind, ctx.done, ctx.current)).filter((c) =>
    c.startsWith(ctx.current)
  );
  return [spaced([...new Set(list)]), ctx.current];
}

/**
 * The hint for a name partly typed that only one of `names` starts with: the rest of it, then what
 * `after` hints for the line with the whole name; "" otherwise.
 */
export function restOfName(
  current: string,
  names: readonly string[],
  after: (name: string) => string,
): string {
  const matches = names.filter((n) => n.startsWith(current));
  if (matches.length !== 1 || matches[0] === current) return "";
  const rest = after(matches[0]);
  return `${matches[0].slice(current.length)}${rest ? ` ${rest}` : ""}`;
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
  const own = cmd.hint?.({ state, line, done, current });
  if (own !== undefined) return own;
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
  const sig = currentSignature(state);
  let n = 0;
  let kinds: readonly ArgKind[] = [];
  return parts.map((part, i) => {
    if (!part || /^\s+$/.test(part)) return part;
    const last = i === parts.length - 1; // the word being typed may still become a name
    const word = n++;
    if (word === 0) {
      const cmd = findCommand(part);
      kinds = cmd?.args ?? [];
      if (cmd) return colors.bold(colors.cyan(part));
      return last && COMMANDS.some((c) => c.name.startsWith(part)) ? part : colors.red(part);
    }
    // A word in a command's callback or instance position, by the kinds it declares.
    const kind = kinds[word - 1];
    if (kind === "kernelCallback") {
      const known = sig?.list.some((c) => c.location === "kernel" && c.name === part);
      if (known) return colors.green(part);
      return last && sig?.list.some((c) => c.name.startsWith(part)) ? part : colors.red(part);
    }
    const eq = part.indexOf("=");
    if (eq > 0 && /^[\w.[\]]+$/.test(part.slice(0, eq))) {
      return `${colors.cyan(part.slice(0, eq))}${colors.dim("=")}${part.slice(eq + 1)}`;
    }
    if (kind === "instance") {
      const names = state.instanceCache.get(sig?.name ?? "")?.map((x) => x.name) ?? [];
      return names.includes(part) || part === "*" ? colors.yellow(part) : part;
    }
    return part;
  }).join("");
}
