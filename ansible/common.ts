/**
 * What both Ansible modules share: their arguments checked against a spec (Ansible's own wording
 * for unknown and missing ones), the signature a task names (a demo API by name, or a `.ts`, `.json`
 * or C file by path, as `--sig` takes them), the session to the host (through its bridge), and
 * failures as Ansible expects them: `failed` with the error's code, errno, callback and words — or
 * `unreachable` when the host could not be reached — never a stack trace.
 *
 * @module
 */
import { acmeNic, acmeNvme, acmeStorage } from "../demo.ts";
import {
  type CallbackInfo,
  CallbackLookupError,
  open,
  type Session,
  type Signature,
  ValueError,
  VmkMgmtError,
} from "../mod.ts";
import { loadSignatures } from "../repl/signature_files.ts";
import { parseTimeout } from "../util/duration.ts";

/** One option of a module (the subset of Ansible's argument spec these modules use). */
export interface OptionSpec {
  type: "str" | "int" | "bool" | "list" | "dict" | "raw";
  required?: boolean;
  default?: unknown;
  choices?: readonly string[];
}

/** A module's answer: Ansible's result keys and whatever the module returns. */
export type ModuleResult = Record<string, unknown> & { changed?: boolean; failed?: boolean; msg?: string };

/** A task's mistake (bad or missing arguments): the task fails with this message. */
export class TaskError extends Error {
  /** What else goes into the failed result (the callback, say). */
  readonly extra: Record<string, unknown>;
  /** Builds the error. */
  constructor(message: string, extra: Record<string, unknown> = {}) {
    super(message);
    this.name = "TaskError";
    this.extra = extra;
  }
}

/** The options every module takes. */
export const COMMON: Record<string, OptionSpec> = {
  host: { type: "str", required: true },
  api: { type: "str", required: true },
  signature: { type: "str" },
  cflags: { type: "str" },
  timeout: { type: "str", default: "10s" },
};

const TYPE_WORDS: Record<OptionSpec["type"], string> = {
  str: "a string",
  int: "an integer",
  bool: "a boolean",
  list: "a list",
  dict: "a dictionary",
  raw: "any value",
};

function fits(type: OptionSpec["type"], v: unknown): boolean {
  switch (type) {
    case "str":
      return typeof v === "string";
    case "int":
      return Number.isInteger(v);
    case "bool":
      return typeof v === "boolean";
    case "list":
      return Array.isArray(v);
    case "dict":
      return typeof v === "object" && v !== null && !Array.isArray(v);
    default:
      return true;
  }
}

/**
 * A task's arguments, checked against `spec` (Ansible's own `_ansible_*` keys are not options);
 * defaults filled in.
 * @throws {TaskError} unknown, missing or mistyped options, in Ansible's words.
 */
export function checkArgs(module: string, spec: Record<string, OptionSpec>, args: Record<string, unknown>) {
  const given = Object.keys(args).filter((k) => !k.startsWith("_ansible_"));
  const unknown = given.filter((k) => !(k in spec));
  if (unknown.length) {
    throw new TaskError(
      `Unsupported parameters for (${module}) module: ${unknown.sort().join(", ")}. Supported parameters ` +
        `include: ${Object.keys(spec).sort().join(", ")}.`,
    );
  }
  const missing = Object.keys(spec).filter((k) =>
    spec[k].required && (args[k] === undefined || args[k] === null)
  );
  if (missing.length) throw new TaskError(`missing required arguments: ${missing.sort().join(", ")}`);
  const out: Record<string, unknown> = {};
  for (const [k, s] of Object.entries(spec)) {
    const v = args[k] ?? s.default;
    if (v === undefined || v === null) continue;
    if (!fits(s.type, v)) {
      throw new TaskError(
        `argument '${k}' is of type ${typeof v} and we were unable to convert to ${s.type}: ` +
          `${JSON.stringify(v)} is not ${TYPE_WORDS[s.type]}`,
      );
    }
    if (s.choices && !s.choices.includes(v as string)) {
      throw new TaskError(`value of ${k} must be one of: ${s.choices.join(", ")}, got: ${v}`);
    }
    out[k] = v;
  }
  return out;
}

const DEMOS: readonly Signature[] = [acmeNic, acmeStorage, acmeNvme];

/**
 * The signature of `api`: a demo API by name, or one `signature` (a file: `.ts`, `.json`, `.c`/`.h`
 * through import-c with `cflags`) defines or names at run time.
 * @throws {TaskError} no such API, or a file that cannot be read (its words).
 */
export async function signatureOf(api: string, file?: string, cflags?: string): Promise<Signature> {
  if (!file) {
    const demo = DEMOS.find((s) => s.name === api);
    if (demo) return demo;
    throw new TaskError(
      `no signature for the API ${api}: give its file in signature: (a .ts module, the JSON form, or the ` +
        `driver's C file); without one, the demo APIs are ${DEMOS.map((s) => s.name).join(", ")}`,
    );
  }
  let loaded;
  try {
    loaded = await loadSignatures(file, { cflags, label: `signature ${file}` });
  } catch (e) {
    throw new TaskError((e as Error).message);
  }
  const sig = loaded.signatures.find((s) => s.name === api) ??
    loaded.families.find((f) => api.startsWith(f.prefix))?.make(api);
  if (!sig) {
    throw new TaskError(
      `signature ${file} has no API ${api} (it has ${
        loaded.signatures.map((s) => s.name).join(", ") || "none"
      })`,
    );
  }
  return sig;
}

/**
 * A kernel callback of `sig` by name; `option` (`read: `) begins the message.
 * @throws {TaskError} no such kernel callback: the signature's words, with a likely one.
 */
export function kernelCallbackOf(sig: Signature, name: string, option = ""): CallbackInfo {
  try {
    return sig.kernelCallback(name);
  } catch (e) {
    if (e instanceof CallbackLookupError) throw new TaskError(`${option}${e.message}`, { callback: name });
    throw e;
  }
}

/**
 * A kernel callback that only reads: it takes nothing but the instance (`getStats`), as `read`
 * options need.
 * @throws {TaskError} no such callback, or one that takes parameters (named).
 */
export function readingCallbackOf(sig: Signature, name: string, option: string): CallbackInfo {
  const cb = kernelCallbackOf(sig, name, option);
  const needs = cb.params.filter((p) => p.dir === "in" || p.dir === "inout" || p.dir === "vectorIn");
  if (needs.length) {
    throw new TaskError(
      `${option}${name} takes ${needs.map((p) => p.name).join(", ")}; reading needs a callback that takes ` +
        "nothing but the instance (call it with vmkmgmt_call)",
      { callback: name },
    );
  }
  return cb;
}

/** The per-call limit, in ms. @throws {TaskError} a bad duration. */
export function timeoutOf(text: string): number {
  try {
    return parseTimeout(text);
  } catch (e) {
    throw new TaskError(`timeout: ${(e as Error).message}`);
  }
}

/** Opening failed in a way that means the host could not be reached (not: the API is not there). */
function unreachable(e: unknown): boolean {
  return e instanceof VmkMgmtError &&
    ["EIO", "ECONNREFUSED", "EHOSTUNREACH", "ENETUNREACH", "ETIMEDOUT", "ECONNRESET", "EPIPE"].includes(
      e.code,
    );
}

/**
 * A session on `sig` at `host` (`[user@]host[:port]` through ssh and its bridge; `@local` for this
 * machine's). What fails here on the way to the host is its unreachability, not a task failure.
 */
export async function openOn(sig: Signature, host: string): Promise<Session<never>> {
  try {
    return await open(sig, { host }) as unknown as Session<never>;
  } catch (e) {
    if (unreachable(e)) throw new Unreachable((e as Error).message);
    throw e;
  }
}

/** The host could not be reached: Ansible's UNREACHABLE, and the other hosts go on. */
export class Unreachable extends Error {}

/** The result of a task that failed with `e` — its words, code and errno; never a stack trace. */
export function failure(e: unknown): ModuleResult {
  if (e instanceof Unreachable) return { unreachable: true, changed: false, msg: e.message };
  if (e instanceof TaskError) return { failed: true, changed: false, msg: e.message, ...e.extra };
  if (e instanceof VmkMgmtError) {
    return {
      failed: true,
      changed: false,
      msg: e.message,
      code: e.code,
      errno: e.errno,
      operation: e.operation,
      ...(e.callback ? { callback: e.callback } : {}),
      ...(e.instance ? { instance: e.instance } : {}),
    };
  }
  if (e instanceof ValueError) return { failed: true, changed: false, msg: e.message, path: e.path };
  const err = e as Error;
  return { failed: true, changed: false, msg: err?.message ?? String(e), type: err?.name };
}
