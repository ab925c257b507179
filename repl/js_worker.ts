/**
 * The worker behind the REPL's `js`: a scope that lasts between lines (declarations become
 * properties of this worker's global object), TypeScript with top-level await, and every export of
 * mod.ts and demo.ts in scope. Sessions live in the REPL's thread; here `session` and `sessions`
 * forward their calls there. Being a worker, a runaway evaluation can be stopped (the REPL
 * terminates it on Ctrl-C and starts a fresh one).
 * @module
 */
import * as demo from "../demo.ts";
import * as lib from "../mod.ts";
import { signatureFromJson } from "../mgmt/signature_json.ts";
import type { Signature, SignatureJson } from "../mgmt/signature.ts";
import { toJsonText } from "./format.ts";

/** A message from the REPL. */
export type ToWorker =
  | {
    type: "eval";
    id: number;
    code: string;
    colors: boolean;
    current: string | null;
    sessions: { name: string; signature: SignatureJson }[];
    /** The last results, newest first: `_`, `_1` … */
    results: unknown[];
  }
  | { type: "complete"; id: number; text: string }
  | { type: "rpc-result"; id: number; value?: unknown; error?: { name: string; message: string } };

/** A message to the REPL. */
export type FromWorker =
  | { type: "eval-result"; id: number; inspected?: string; json?: string; value?: unknown; error?: string }
  | { type: "complete-result"; id: number; candidates: string[] }
  | { type: "rpc"; id: number; session: string; method: string; args: unknown[] };

const self = globalThis as unknown as {
  postMessage(m: FromWorker): void;
  onmessage: ((e: MessageEvent<ToWorker>) => void) | null;
} & Record<string, unknown>;

const api: Record<string, unknown> = { ...lib, ...demo };
const builtins = new Set(Object.getOwnPropertyNames(globalThis));
Object.assign(globalThis, api, { $: {} });

const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
let nextRpc = 0;

function rpc(session: string, method: string, args: unknown[]): Promise<unknown> {
  const id = nextRpc++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    self.postMessage({ type: "rpc", id, session, method, args });
  });
}

/** A session of the REPL, as seen here: its signature, and its calls forwarded to the REPL. */
class SessionHere {
  constructor(readonly name: string, readonly signature: Signature) {}
  /** `Session.invoke`, run by the REPL's session. */
  invoke(callback: string, input?: unknown, options?: { timeout?: number }): Promise<unknown> {
    return rpc(this.name, "invoke", [callback, input, options]);
  }
  /** `Session.instances`. */
  instances(): Promise<unknown> {
    return rpc(this.name, "instances", []);
  }
  /** `Session.instance`. */
  instance(ref: string | number | bigint): Promise<unknown> {
    return rpc(this.name, "instance", [ref]);
  }
}

function encode(code: string): string {
  const bytes = new TextEncoder().encode(code);
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return `data:application/typescript;base64,${btoa(bin)}`;
}

/** Offsets of `;` and of statement starts at the top level (outside strings, comments, brackets). */
function topLevel(source: string): { breaks: number[] } {
  let depth = 0;
  let quote: string | null = null;
  const breaks: number[] = [];
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (quote) {
      if (c === "\\") i++;
      else if (c === quote) quote = null;
    } else if (c === "/" && source[i + 1] === "/") {
      const nl = source.indexOf("\n", i);
      i = nl < 0 ? source.length : nl;
    } else if (c === '"' || c === "'" || c === "`") quote = c;
    else if ("([{".includes(c)) depth++;
    else if (")]}".includes(c)) depth--;
    else if ((c === ";" || c === "\n") && depth === 0) breaks.push(i);
  }
  return { breaks };
}

/**
 * Top-level declarations made to last: `const x = 1` becomes `globalThis.x = 1` (a type annotation
 * dropped), and a function or class declared is also put on `globalThis`.
 */
function persist(source: string): string {
  const { breaks } = topLevel(source);
  const starts = [0, ...breaks.map((b) => b + 1)];
  const kept: string[] = [];
  let out = "";
  let from = 0;
  for (const s of starts) {
    const rest = source.slice(s);
    const decl = rest.match(/^(\s*)(?:const|let|var)\s+([A-Za-z_$][\w$]*)\s*(?::[^=;\n]+)?=/);
    if (decl) {
      out += source.slice(from, s) + `${decl[1]}globalThis.${decl[2]} =`;
      from = s + decl[0].length;
      continue;
    }
    const named = rest.match(/^\s*(?:async\s+)?(?:function\*?|class)\s+([A-Za-z_$][\w$]*)/);
    if (named) kept.push(named[1]);
  }
  out += source.slice(from);
  return kept.length ? `${out}\n;${kept.map((k) => `globalThis.${k} = ${k};`).join(" ")}` : out;
}

let evaluations = 0;

function isParseFailure(e: unknown): boolean {
  // A module that does not parse fails before running anything; only then is another form tried.
  return e instanceof TypeError && e.message.startsWith("SyntaxError:");
}

/** The value of `source`: an expression, or the last expression after statements. */
async function evaluate(source: string): Promise<unknown> {
  const code = persist(source.trim().replace(/;$/, ""));
  const { breaks } = topLevel(code);
  const cut = breaks.filter((b) => code.slice(b + 1).trim()).at(-1) ?? -1;
  const forms = [`export default await (\n${code}\n);`];
  if (cut > 0) forms.push(`${code.slice(0, cut + 1)}\nexport default await (\n${code.slice(cut + 1)}\n);`);
  forms.push(`${code}\nexport {};`);
  for (const [i, form] of forms.entries()) {
    try {
      // The user's code as a data: URL — nothing the package could name ahead of time
      // (`deno publish` cannot analyse this import, and says so: README, "Publishing").
      return (await import(encode(`// evaluation ${++evaluations}\n${form}`))).default;
    } catch (e) {
      if (i === forms.length - 1 || !isParseFailure(e)) throw e;
    }
  }
}

/** Names that complete `text` (`ses` → session, sessions; `session.inv` → session.invoke). */
function complete(text: string): string[] {
  const dot = text.lastIndexOf(".");
  const base = dot < 0 ? "" : text.slice(0, dot);
  const prefix = text.slice(dot + 1);
  if (base && !/^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*$/.test(base)) return [];
  let target: unknown = globalThis;
  for (const part of base ? base.split(".") : []) {
    if (target === null || target === undefined) return [];
    target = (target as Record<string, unknown>)[part];
  }
  if (target === null || target === undefined) return [];
  const names = new Set<string>();
  for (let o: object | null = Object(target); o && o !== Object.prototype; o = Object.getPrototypeOf(o)) {
    for (const n of Object.getOwnPropertyNames(o)) {
      if (n !== "constructor" && (base || !builtins.has(n) || n in api)) names.add(n);
    }
  }
  if (!base) { for (const n of ["session", "sessions", "$", "_", "console", "JSON", "Math"]) names.add(n); }
  return [...names].filter((n) => n.startsWith(prefix) && /^[A-Za-z_$][\w$]*$/.test(n)).sort()
    .map((n) => (base ? `${base}.${n}` : n));
}

/** The value, when it can be posted to the REPL (becoming `_`); undefined for a function, say. */
function copyable(value: unknown): unknown {
  try {
    return structuredClone(value);
  } catch {
    return undefined;
  }
}

self.onmessage = async (e: MessageEvent<ToWorker>) => {
  const m = e.data;
  if (m.type === "rpc-result") {
    const p = pending.get(m.id);
    pending.delete(m.id);
    if (!p) return;
    if (m.error) p.reject(Object.assign(new Error(m.error.message), { name: m.error.name }));
    else p.resolve(m.value);
    return;
  }
  if (m.type === "complete") {
    self.postMessage({ type: "complete-result", id: m.id, candidates: complete(m.text) });
    return;
  }
  const sessions: Record<string, SessionHere> = {};
  for (const s of m.sessions) sessions[s.name] = new SessionHere(s.name, signatureFromJson(s.signature));
  Object.assign(globalThis, { sessions, session: m.current ? sessions[m.current] : undefined });
  m.results.forEach((r, i) => (self[i ? `_${i}` : "_"] = r));
  try {
    const value = await evaluate(m.code);
    self.postMessage({
      type: "eval-result",
      id: m.id,
      inspected: value === undefined ? "" : Deno.inspect(value, { colors: m.colors, depth: 6 }),
      json: toJsonText(value ?? null),
      value: copyable(value),
    });
  } catch (err) {
    // A line that does not parse: what the parser said, of what the user typed — not of the module
    // it was wrapped in (a code frame of that module and its data: URL say nothing to them).
    const error = isParseFailure(err)
      ? `SyntaxError: ${
        (err as Error).message.split("\n")[0].replace(/^SyntaxError:\s*/, "")
      } — in: ${m.code.trim()}`
      : err instanceof Error
      ? `${err.name}: ${err.message}`
      : String(err);
    self.postMessage({ type: "eval-result", id: m.id, error });
  }
};
