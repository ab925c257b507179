/**
 * `vmkmgmt_call`: one kernel callback on one or more instances (or all), its parameters typed from
 * the task's YAML with the REPL's value forms (and its messages for a bad one), an event awaited
 * after it if asked — and idempotent the Ansible way when the task says how to read the state: with
 * `read` (a callback and a path in its result, `getStats` → `stats.mtu`) and `want`, it reads first,
 * calls only where the value differs, reports `changed` honestly, reads again to verify, and in
 * check mode only reads and says what it would change (`diff`: before → after).
 *
 * @module
 */
import {
  type CallbackInfo,
  CallbackLookupError,
  type Instance,
  type Session,
  type Signature,
} from "../mod.ts";
import { eventJson, resultJson } from "../repl/format.ts";
import { convertParam } from "../repl/values.ts";
import { toJsonLine } from "../util/ndjson.ts";
import {
  checkArgs,
  COMMON,
  kernelCallbackOf,
  type ModuleResult,
  openOn,
  readingCallbackOf,
  signatureOf,
  TaskError,
  timeoutOf,
} from "./common.ts";

const SPEC = {
  ...COMMON,
  callback: { type: "str" as const, required: true },
  instances: { type: "raw" as const },
  params: { type: "dict" as const, default: {} },
  read: { type: "dict" as const },
  want: { type: "raw" as const },
  wait_event: { type: "dict" as const },
};

type S = Session<never>;
/** How the state is read: a callback that takes only the instance, and a dotted path in its result. */
interface Read {
  cb: CallbackInfo;
  path: string[];
}
/** An event awaited after each call: its name, fields it must have, how long. */
interface WaitEvent {
  name: string;
  match: Record<string, unknown>;
  timeout: number;
}

function dig(value: unknown, path: readonly string[]): unknown {
  let v = value;
  for (const k of path) {
    v = v !== null && typeof v === "object" ? (v as Record<string, unknown>)[k] : undefined;
  }
  return v;
}

/** Equal as JSON (so 9000 from YAML is the u32 9000, and the u64 9000n). */
function same(a: unknown, b: unknown): boolean {
  return toJsonLine(a) === toJsonLine(b);
}

function readOf(sig: Signature, spec: Record<string, unknown> | undefined, want: unknown): Read | undefined {
  if (!spec) {
    if (want !== undefined) {
      throw new TaskError("want: needs read (the callback and the path that say the value)");
    }
    return undefined;
  }
  const unknown = Object.keys(spec).filter((k) => k !== "callback" && k !== "path");
  if (unknown.length || typeof spec.callback !== "string" || typeof spec.path !== "string") {
    throw new TaskError(
      "read: expected { callback: NAME, path: a.b } (e.g. callback: getStats, path: stats.mtu)",
    );
  }
  if (want === undefined) throw new TaskError("read: needs want (the value the call should bring about)");
  return { cb: readingCallbackOf(sig, spec.callback, "read: "), path: spec.path.split(".") };
}

function waitEventOf(sig: Signature, spec: Record<string, unknown> | undefined): WaitEvent | undefined {
  if (!spec) return undefined;
  const unknown = Object.keys(spec).filter((k) => !["name", "match", "timeout"].includes(k));
  if (unknown.length || typeof spec.name !== "string") {
    throw new TaskError("wait_event: expected { name: EVENT, match: { path: value }, timeout: 5s }");
  }
  try {
    sig.event(spec.name);
  } catch (e) {
    if (e instanceof CallbackLookupError) throw new TaskError(`wait_event: ${e.message}`);
    throw e;
  }
  const match = spec.match ?? {};
  if (typeof match !== "object" || Array.isArray(match)) {
    throw new TaskError("wait_event.match: expected a dictionary");
  }
  return {
    name: spec.name,
    match: match as Record<string, unknown>,
    timeout: timeoutOf(String(spec.timeout ?? "10s")),
  };
}

/** The task's `params` as invoke takes them, each through the REPL's conversion (its messages too). */
async function paramsOf(cb: CallbackInfo, given: Record<string, unknown>): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const [k, raw] of Object.entries(given)) {
    const p = cb.params.find((q) => q.name === k);
    // An unknown name goes to invoke as it is: it names the parameters and a likely one.
    out[k] = p ? await convertParam(p, raw, (path) => Deno.readFile(path)) : raw;
  }
  return out;
}

/** The instances the task names: a list, `all` or `*`; none only for an API without instances. */
async function instancesOf(s: S, given: unknown): Promise<(Instance | undefined)[]> {
  const all = await s.instances();
  if (given === "all" || given === "*") return all;
  if (given === undefined || given === null) {
    if (all.length === 0) return [undefined];
    throw new TaskError(
      `instances: ${s.signature.name} has instances (${
        all.map((i) => i.name).join(", ")
      }): name them, or all`,
    );
  }
  const list = Array.isArray(given) ? given : [given];
  return await Promise.all(list.map((n) => s.instance(String(n))));
}

/** Runs the module on its arguments. */
export async function vmkmgmtCall(args: Record<string, unknown>): Promise<ModuleResult> {
  const a = checkArgs("vmkmgmt_call", SPEC, args);
  const check = args._ansible_check_mode === true;
  const sig = await signatureOf(
    a.api as string,
    a.signature as string | undefined,
    a.cflags as string | undefined,
  );
  const cb = kernelCallbackOf(sig, a.callback as string, "callback: ");
  const read = readOf(sig, a.read as Record<string, unknown> | undefined, a.want);
  const wait = waitEventOf(sig, a.wait_event as Record<string, unknown> | undefined);
  const timeout = timeoutOf(a.timeout as string);
  const params = await paramsOf(cb, a.params as Record<string, unknown>);
  await using s = await openOn(sig, a.host as string);
  const targets = await instancesOf(s, a.instances);
  const results: Record<string, unknown>[] = [];
  const state = async (inst: Instance | undefined) =>
    read &&
    dig(
      resultJson(read.cb, await s.invoke(read.cb.name as never, { instance: inst } as never, { timeout })),
      read.path,
    );
  try {
    for (const inst of targets) {
      const name = inst?.name ?? null;
      const before = await state(inst);
      if (read && same(before, a.want)) {
        results.push({ instance: name, changed: false, before });
        continue;
      }
      if (check) {
        results.push({ instance: name, changed: true, before, ...(read ? { after: a.want } : {}) });
        continue;
      }
      results.push(await callOne(s, cb, inst, params, timeout, wait, before));
      if (read) {
        const after = await state(inst);
        results[results.length - 1].after = after;
        if (!same(after, a.want)) {
          throw new TaskError(
            `${name}: after ${cb.name}, ${read.cb.name} says ${read.path.join(".")} = ${
              toJsonLine(after)
            }, not ` +
              `${toJsonLine(a.want)}`,
            { callback: cb.name, instance: name },
          );
        }
      }
    }
  } catch (e) {
    // What changed before the failure is said: Ansible's changed stays honest.
    (e as { results?: unknown }).results = results;
    throw e;
  }
  return summary(cb, read, results, check, a.want);
}

async function callOne(
  s: S,
  cb: CallbackInfo,
  inst: Instance | undefined,
  params: Record<string, unknown>,
  timeout: number,
  wait: WaitEvent | undefined,
  before: unknown,
): Promise<Record<string, unknown>> {
  const filter = (ev: { instance: Instance | null }) => {
    if (inst && ev.instance?.id !== inst.id) return false;
    const json = eventJson(s.signature, ev as never).params;
    return Object.entries(wait!.match).every(([path, v]) => same(dig(json, path.split(".")), v));
  };
  // Listening before the call: the event may come before its answer.
  const event = wait
    ? s.waitFor(wait.name as never, { filter: filter as never, timeout: wait.timeout })
    : undefined;
  event?.catch(() => {}); // (awaited below; a failed call must not leave it unhandled)
  const input = { ...params, instance: inst };
  const result = await s.invoke(cb.name as never, input as never, { timeout }) as Record<string, unknown>;
  const out: Record<string, unknown> = {
    instance: inst?.name ?? null,
    changed: true,
    ...(before !== undefined ? { before } : {}),
    result: resultJson(cb, result, input),
  };
  if (event) out.event = eventJson(s.signature, await event as never).params;
  return out;
}

function summary(
  cb: CallbackInfo,
  read: Read | undefined,
  results: Record<string, unknown>[],
  check: boolean,
  want: unknown,
): ModuleResult {
  const changed = results.some((r) => r.changed);
  const out: ModuleResult = { changed, callback: cb.name, results };
  if (read) {
    const by = (k: "before" | "after") =>
      Object.fromEntries(results.map((r) => [String(r.instance), r[k] === undefined ? r.before : r[k]]));
    out.diff = {
      before: `${toJsonLine(by("before"))}\n`,
      after: `${toJsonLine(by("after"))}\n`,
      before_header: `${read.cb.name} ${read.path.join(".")}`,
      after_header: `${read.cb.name} ${read.path.join(".")} after ${cb.name}`,
    };
  }
  if (check) {
    const would = results.filter((r) => r.changed).map((r) => r.instance);
    out.msg = would.length
      ? `check mode: would call ${cb.name} on ${would.join(", ")}${
        read ? ` (${read.path.join(".")} → ${toJsonLine(want)})` : ""
      }`
      : "check mode: nothing to change";
  }
  return out;
}
