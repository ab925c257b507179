/**
 * Control operations of the simulator (fault injection, events on demand, status), as JSON
 * requests — the same from code (`runControl`), from a socket client (`sendControl`) and from
 * `deno task sim ctl …`.
 *
 * @example
 * ```ts ignore
 * import { sendControl } from "./control.ts";
 * await sendControl("/tmp/vmkmgmt-0/sim.sock", { op: "fail", instance: "vmnic1", errno: "EIO", count: 2 });
 * ```
 * @module
 */
import { paramFromJson } from "../mgmt/codec.ts";
import { ERRNO } from "../ffi/errno.ts";
import type { Kernel } from "./kernel.ts";
import { parseJsonExact } from "../util/ndjson.ts";
import { buildFrame, FrameParser, FrameType } from "./wire.ts";

/** A control request: `op` plus its arguments. */
export type ControlRequest = { op: string } & Record<string, unknown>;

/** The generic control operations and what they take. */
export const CONTROL_OPS: Readonly<Record<string, string>> = {
  status: "APIs, instances, sessions and faults in force",
  sessions: "connected sessions with their event counters",
  fail:
    "instance=ID|NAME|* errno=EIO|5 [count=N|inf] [after=N] [api=NAME]: after N good calls, the next calls fail",
  stall: "instance=ID|NAME|* [count=N|inf] [api=NAME]: the next calls get no answer until clear",
  delay: "ms=N [instance=ID|NAME|*] [api=NAME]: delay every reply",
  clear: "[api=NAME]: remove all faults and release stalled calls",
  drop: "session=ID: close that session's connection",
  remove: "instance=ID|NAME [api=NAME]: unregister an instance",
  add: "id=N name=NAME [api=NAME]: register an instance",
  emit: "event=NAME [params=JSON] [instance=ID|NAME] [session=ID] [api=NAME]: send a kernel-to-user callback",
};

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

/**
 * Builds a control request from an op and `key=value` words, as typed in a shell or the REPL.
 * Values parse as JSON when they can (numbers, booleans, objects; 64-bit integers stay exact);
 * `name` and `message` always stay text. Throws an Error naming a word that is not key=value.
 */
export function controlRequest(op: string, words: readonly string[]): ControlRequest {
  const req: ControlRequest = { op };
  for (const word of words) {
    const eq = word.indexOf("=");
    if (eq <= 0) throw new Error(`expected key=value, got ${JSON.stringify(word)}`);
    const key = word.slice(0, eq);
    const raw = word.slice(eq + 1);
    let value: unknown = raw;
    if (key !== "name" && key !== "message") {
      try {
        value = parseJsonExact(raw);
      } catch { /* plain text, e.g. instance=vmnic0 */ }
    }
    req[key] = value;
  }
  return req;
}

/** Runs one control request against a kernel; throws an Error whose message is for people. */
export function runControl(kernel: Kernel, req: ControlRequest): unknown {
  if (req === null || typeof req !== "object" || typeof req.op !== "string") {
    throw new Error('a control request is a JSON object with an "op" field');
  }
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
    if (/^\d+$/.test(String(ref))) return BigInt(String(ref));
    throw new Error(`instance: ${api()} has no instance ${JSON.stringify(ref)}`);
  };
  switch (req.op) {
    case "status":
      return {
        apis: kernel.apis().map((s) => ({
          name: s.name,
          vendor: s.vendor,
          version: s.version,
          instances: kernel.context(s.name).instances().map((i) => ({ id: String(i.id), name: i.name })),
        })),
        sessions: kernel.sessions(),
        faults: kernel.faults.describe(),
        stalledCalls: kernel.faults.stalledCalls,
      };
    case "sessions":
      return kernel.sessions();
    case "fail":
      kernel.faults.fail(
        api(),
        instance(true),
        errnoArg(req.errno),
        count(req.count),
        Number(req.after ?? 0),
      );
      return {};
    case "stall":
      kernel.faults.stall(api(), instance(true), count(req.count));
      return {};
    case "delay": {
      const ms = Number(req.ms);
      kernel.faults.delay(api(), instance(false), ms);
      return {};
    }
    case "clear":
      return { released: kernel.faults.clear(apiName) };
    case "drop": {
      const id = Number(req.session);
      if (!kernel.dropSession(id)) throw new Error(`session: no session ${req.session}`);
      return {};
    }
    case "remove": {
      const ref = req.instance as string | number;
      if (!ctx().removeInstance(ref)) {
        throw new Error(`instance: ${api()} has no instance ${JSON.stringify(ref)}`);
      }
      return {};
    }
    case "add": {
      const id = String(req.id ?? "");
      if (!/^\d+$/.test(id)) {
        throw new Error(`id: expected a whole number ≥ 1, got ${JSON.stringify(req.id)}`);
      }
      const inst = ctx().addInstance(BigInt(id), str(req.name, "name"));
      return { id: String(inst.id), name: inst.name };
    }
    case "emit": {
      const event = str(req.event, "event");
      const sig = ctx().signature;
      const cb = sig.list.find((c) => c.name === event && c.location === "user");
      if (!cb) {
        const events = sig.list.filter((c) => c.location === "user").map((c) => c.name).join(", ");
        throw new Error(`event: ${sig.name} has no user-location callback ${event}; events: ${events}`);
      }
      let raw = req.params ?? {};
      if (typeof raw === "string") raw = JSON.parse(raw);
      const params: Record<string, unknown> = {};
      for (const p of cb.params) {
        if (!(p.name in (raw as object))) throw new Error(`params.${p.name}: missing (${p.type.name})`);
        params[p.name] = paramFromJson(p, (raw as Record<string, unknown>)[p.name], `params.${p.name}`);
      }
      const session = req.session === undefined ? undefined : Number(req.session);
      const inst = req.instance === undefined ? undefined : instance(true);
      const sessions = kernel.emit(sig.name, event, params, {
        instance: inst === "*" ? undefined : inst,
        session,
      });
      return { sessions };
    }
    default: {
      const mod = kernel.apis().map((s) => ({ s, m: kernel.moduleOf(s.name) }))
        .find(({ s, m }) => (!apiName || s.name === apiName) && m.controls?.[req.op]);
      if (mod) return mod.m.controls![req.op].run(kernel.context(mod.s.name), req);
      const extra = kernel.apis().flatMap((s) => Object.keys(kernel.moduleOf(s.name).controls ?? {}));
      throw new Error(`unknown op ${req.op}; ops: ${[...Object.keys(CONTROL_OPS), ...extra].join(", ")}`);
    }
  }
}

/** Sends a control request to a running simulator and returns its result; throws on failure. */
export async function sendControl(
  socketPath: string,
  req: ControlRequest,
  timeoutMs = 10_000,
): Promise<unknown> {
  const conn = await Deno.connect({ transport: "unix", path: socketPath });
  const timer = setTimeout(() => conn.close(), timeoutMs);
  try {
    const body = new TextEncoder().encode(
      JSON.stringify(req, (_, v) => (typeof v === "bigint" ? String(v) : v)),
    );
    await conn.write(buildFrame(FrameType.CONTROL, 1, body));
    const parser = new FrameParser();
    const buf = new Uint8Array(65536);
    for (;;) {
      const n = await conn.read(buf).catch(() => null);
      if (n === null) {
        throw new Error(`the simulator at ${socketPath} closed the connection without answering`);
      }
      for (const f of parser.push(buf.slice(0, n))) {
        const text = new TextDecoder().decode(f.payload);
        if (f.type === FrameType.ERROR) throw new Error(`simulator: ${text}`);
        const res = JSON.parse(text);
        if (!res.ok) throw new Error(res.error);
        return res.result;
      }
    }
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch { /* already closed by the timer */ }
  }
}
