/**
 * Control operations of the simulator (fault injection, events on demand, status), run against
 * a kernel — the same from code (`runControl`), from a socket client (`sendControl` in
 * `client.ts`) and from `deno task sim ctl …`.
 *
 * @example
 * ```ts ignore
 * import { runControl } from "./control.ts";
 * runControl(kernel, { op: "fail", instance: "vmnic1", errno: "EIO", count: 2 });
 * ```
 * @module
 */
import { ERRNO } from "../abi/facts.ts";
import { commandLayout, paramFromJson } from "../mgmt/codec.ts";
import { parseInstanceRef } from "../mgmt/instance_ref.ts";
import { checkOpKeys, CONTROL_OPS, type ControlRequest, opKeys } from "./client.ts";
import type { Kernel } from "./kernel.ts";

/** Events one `emit` request may send (a flood beyond the session queues is counted as drops). */
const MAX_EMIT_COUNT = 100_000;

function str(v: unknown, what: string): string {
  if (typeof v !== "string" || v === "") throw new Error(`${what}: expected a string`);
  return v;
}

function count(v: unknown): number {
  if (v === undefined) return 1;
  if (v === "inf" || v === "infinity" || v === Infinity) return Infinity;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`count: expected a whole number ≥ 1 or "inf", got ${v}`);
  return n;
}

function errnoArg(v: unknown): number {
  if (typeof v === "string" && v.toUpperCase() in ERRNO) return ERRNO[v.toUpperCase() as keyof typeof ERRNO];
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) {
    throw new Error(`errno: expected a name such as EIO or a number, got ${JSON.stringify(v)}`);
  }
  return n;
}

/** What an op works with: the kernel, the request, and its API and instance read one way for all ops. */
interface OpContext {
  kernel: Kernel;
  req: ControlRequest;
  /** The `api` key, checked; undefined when not given. */
  apiName: string | undefined;
  /** The API addressed (the only one, or the one named). */
  ctx(): ReturnType<Kernel["context"]>;
  /** Its name. */
  api(): string;
  /** The `instance` key: an id, or `*` for all (when not required and not given). */
  instance(required: boolean): bigint | "*";
}

/** The simulator's own ops (a module may add more: `controls`). */
const OPS: Record<string, (c: OpContext) => unknown> = {
  status: ({ kernel }) => ({
    apis: kernel.apis().map((s) => ({
      name: s.name,
      vendor: s.vendor,
      version: s.version,
      instances: kernel.context(`${s.name}/${s.vendor}`).instances().map((i) => ({
        id: String(i.id),
        name: i.name,
      })),
    })),
    sessions: kernel.sessions(),
    faults: kernel.faults.describe(),
    stalledCalls: kernel.faults.stalledCalls,
  }),
  sessions: ({ kernel }) => kernel.sessions(),
  ops: ({ kernel }) => {
    const ops: Record<string, string> = { ...CONTROL_OPS };
    for (const s of kernel.apis()) {
      for (const [op, c] of Object.entries(kernel.moduleOf(`${s.name}/${s.vendor}`).controls ?? {})) {
        ops[op] ??= c.doc;
      }
    }
    return ops;
  },
  errors: ({ kernel, req }) => {
    const pid = req.pid === undefined ? undefined : Number(req.pid);
    if (pid !== undefined && !Number.isSafeInteger(pid)) {
      throw new Error(`pid: expected a process id, got ${req.pid}`);
    }
    return kernel.errors(pid);
  },
  fail: ({ kernel, req, api, instance }) => {
    kernel.faults.fail(api(), instance(true), errnoArg(req.errno), count(req.count), Number(req.after ?? 0));
    return {};
  },
  stall: ({ kernel, req, api, instance }) => {
    kernel.faults.stall(api(), instance(true), count(req.count));
    return {};
  },
  delay: ({ kernel, req, api, instance }) => {
    kernel.faults.delay(api(), instance(false), Number(req.ms));
    return {};
  },
  clear: ({ kernel, apiName }) => ({ released: kernel.faults.clear(apiName) }),
  drop: ({ kernel, req }) => {
    if (!kernel.dropSession(Number(req.session))) throw new Error(`session: no session ${req.session}`);
    return {};
  },
  remove: ({ req, ctx, api }) => {
    const ref = req.instance as string | number;
    if (!ctx().removeInstance(ref)) {
      throw new Error(`instance: ${api()} has no instance ${JSON.stringify(ref)}`);
    }
    return {};
  },
  add: ({ req, ctx }) => {
    const id = String(req.id ?? "");
    if (!/^\d+$/.test(id)) throw new Error(`id: expected a whole number ≥ 1, got ${JSON.stringify(req.id)}`);
    const inst = ctx().addInstance(BigInt(id), str(req.name, "name"));
    return { id: String(inst.id), name: inst.name };
  },
  emit,
};

/** Runs one control request against a kernel; throws an Error whose message is for people. */
export function runControl(kernel: Kernel, req: ControlRequest): unknown {
  if (req === null || typeof req !== "object" || typeof req.op !== "string") {
    throw new Error('a control request is a JSON object with an "op" field');
  }
  if (req.op in CONTROL_OPS) checkOpKeys(req, CONTROL_OPS[req.op]);
  const apiName = req.api === undefined ? undefined : str(req.api, "api");
  const ctx = () => kernel.context(apiName);
  const api = () => ctx().signature.name;
  if (apiName !== undefined) ctx(); // an unknown api is an error for every op
  const instance = (required: boolean): bigint | "*" => {
    const ref = req.instance;
    if (ref === undefined) {
      if (required) throw new Error("instance: required (an id, a name, or * for all)");
      return "*";
    }
    if (ref === "*") return "*";
    const found = ctx().instance(ref as string | number);
    if (found) return found.id;
    // A fault may name an id that is registered later; a name must exist now.
    const parsed = parseInstanceRef(ref);
    if (parsed.kind === "id") return parsed.id;
    throw new Error(`instance: ${api()} has no instance ${JSON.stringify(ref)}`);
  };
  const op = Object.hasOwn(OPS, req.op) ? OPS[req.op] : moduleOp;
  return op({ kernel, req, apiName, ctx, api, instance });
}

/** `emit`: events on demand, typed from their JSON form, `{i}` in a text numbering them. */
function emit({ kernel, req, ctx, instance }: OpContext): unknown {
  const event = str(req.event, "event");
  const sig = ctx().signature;
  let cb;
  try {
    cb = sig.event(event);
  } catch (e) {
    throw new Error(`event: ${(e as Error).message}`);
  }
  let raw = req.params ?? {};
  if (typeof raw === "string") raw = JSON.parse(raw);
  const times = req.count === undefined ? 1 : Number(req.count);
  if (!Number.isSafeInteger(times) || times < 1 || times > MAX_EMIT_COUNT) {
    throw new Error(`count: expected a whole number 1..${MAX_EMIT_COUNT}, got ${String(req.count)}`);
  }
  const session = req.session === undefined ? undefined : Number(req.session);
  const inst = req.instance === undefined ? undefined : instance(true);
  let sessions = 0;
  for (let i = 0; i < times; i++) {
    // "{i}" in a text value numbers the events of one request (0, 1, …), to check order and loss.
    const numbered = JSON.parse(
      JSON.stringify(raw),
      (_k, v) => typeof v === "string" ? v.replaceAll("{i}", String(i)) : v,
    ) as Record<string, unknown>;
    const params: Record<string, unknown> = {};
    for (const p of cb.params) {
      if (!(p.name in numbered)) throw new Error(`params.${p.name}: missing (${p.type.name})`);
      params[p.name] = paramFromJson(p, numbered[p.name], `params.${p.name}`);
    }
    // ioctl-style payloads by the event's command (mgmt/types/command.ts).
    for (const p of cb.params) {
      if (!p.commands) continue;
      params[p.name] = paramFromJson(
        p,
        numbered[p.name],
        `params.${p.name}`,
        commandLayout(p, cb.params, params),
      );
    }
    sessions = kernel.emit(`${sig.name}/${sig.vendor}`, event, params, {
      instance: inst === "*" ? undefined : inst,
      session,
    });
  }
  return { sessions };
}

/** An op a module of the addressed API (or of any, without `api`) adds; else the error listing every op. */
function moduleOp({ kernel, req, apiName }: OpContext): unknown {
  const served = kernel.apis().map((s) => ({ s, m: kernel.moduleOf(`${s.name}/${s.vendor}`) }));
  const mod = served.find(({ s, m }) => (!apiName || s.name === apiName) && m.controls?.[req.op]);
  if (mod) {
    const doc = mod.m.controls![req.op].doc;
    // A module op whose description lists its keys gets the same check.
    const keys = opKeys(doc);
    const { api: _api, ...rest } = req;
    if (keys.required.length + keys.optional.length) checkOpKeys(rest as ControlRequest, doc);
    return mod.m.controls![req.op].run(kernel.context(`${mod.s.name}/${mod.s.vendor}`), req);
  }
  const extra = [...new Set(served.flatMap(({ m }) => Object.keys(m.controls ?? {})))];
  throw new Error(`unknown op ${req.op}; ops: ${[...Object.keys(CONTROL_OPS), ...extra].join(", ")}`);
}
