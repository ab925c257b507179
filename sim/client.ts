/**
 * The client side of the simulator, for tools (REPL, script runner, `deno task sim ctl`): where
 * the simulator listens, which control operations exist, how `key=value` words become a control
 * request, and sending one to a simulator it can trust. It loads no kernel, server or module code.
 *
 * @example
 * ```ts ignore
 * import { defaultSocketPath, sendControl } from "./client.ts";
 * await sendControl(defaultSocketPath(), { op: "fail", instance: "vmnic1", errno: "EIO", count: 2 });
 * ```
 * @module
 */
import { defaultSimSocketPath, SIM_SOCKET_ENV } from "../abi/facts.ts";
import { Deadline } from "../mgmt/cancel.ts";
import { connectedPeers, socketSnapshot } from "../ffi/peer.ts";
import { parseJsonExact } from "../util/ndjson.ts";
import { dirnameOf } from "../util/path.ts";
import { checkPeer, checkSocketDir, TrustError } from "../util/socket_trust.ts";

export { TrustError };
import { buildFrame, FrameParser, FrameType } from "./frames.ts";
import { decodeErrorText, decodeJsonPayload, encodeJsonPayload } from "./payloads.ts";

/** A call the kernel failed, and why in words (`sim ctl errors`; the REPL says it after an EIO). */
export interface CallError {
  /** When (ISO time). */
  readonly at: string;
  /** The calling process, as its HELLO said. */
  readonly pid: number;
  /** The simulator's session id (`sim ctl sessions` lists them). */
  readonly session: number;
  /** The API the session opened. */
  readonly api: string;
  /** The kernel callback's name in the API's signature. */
  readonly callback: string;
  /** The instance's name, or null for none. */
  readonly instance: string | null;
  /** The errno the call got. */
  readonly errno: number;
  /** Why: the handler's error, a bad result, or the fault injected. */
  readonly reason: string;
}

/** A control request: `op` plus its arguments. */
export type ControlRequest = { op: string } & Record<string, unknown>;

/**
 * The generic control operations and what they take, as `KEYS: what it does` (keys in brackets are
 * optional; every op also takes api=NAME). Completion, help and the check of a request's keys all
 * read these texts.
 */
export const CONTROL_OPS: Readonly<Record<string, string>> = {
  status: "APIs, instances, sessions and faults in force",
  sessions: "connected sessions with their event counters",
  errors: "[pid=N]: the calls the kernel failed lately, newest first, and why (a handler's error, a fault)",
  ops: "every op this simulator takes (its modules' too), with its keys and what it does",
  fail:
    "instance=ID|NAME|* errno=EIO|5 [count=N|inf] [after=N] [api=NAME]: after N good calls, the next calls fail",
  stall: "instance=ID|NAME|* [count=N|inf] [api=NAME]: the next calls get no answer until clear",
  delay: "ms=N [instance=ID|NAME|*] [api=NAME]: delay every reply",
  clear: "[api=NAME]: remove all faults and release stalled calls",
  drop: "session=ID: close that session's connection",
  remove: "instance=ID|NAME [api=NAME]: unregister an instance",
  add: "id=N name=NAME [api=NAME]: register an instance",
  emit:
    "event=NAME [params=JSON] [instance=ID|NAME] [session=ID] [count=N] [api=NAME]: send a kernel-to-user callback (N times; {i} in a text value numbers them)",
};

/** The keys a control operation takes, read from its description (`KEYS: what it does`). */
export function opKeys(doc: string): { required: string[]; optional: string[] } {
  const colon = doc.indexOf(": ");
  const head = colon >= 0 ? doc.slice(0, colon) : "";
  const out = { required: [] as string[], optional: [] as string[] };
  let optional = false;
  for (const token of head.split(/\s+/)) {
    const opens = token.startsWith("[");
    const key = token.replace(/^\[/, "").match(/^([A-Za-z_]\w*)=/)?.[1];
    if (key) (optional || opens ? out.optional : out.required).push(key);
    if (opens) optional = true;
    if (token.endsWith("]")) optional = false;
  }
  return out;
}

/**
 * Checks a control request's keys against its operation's description: every unknown key and every
 * missing required one at once, naming the valid ones.
 * @throws {Error} for people.
 */
export function checkOpKeys(req: ControlRequest, doc: string): void {
  const { required, optional } = opKeys(doc);
  // Every op takes api=NAME (which API it is about; an unknown one is an error for every op).
  const known = [...required, ...optional, ...(optional.includes("api") ? [] : ["api"])];
  const given = Object.keys(req).filter((k) => k !== "op" && req[k] !== undefined);
  const unknown = given.filter((k) => !known.includes(k));
  const missing = required.filter((k) => req[k] === undefined);
  const problems: string[] = [];
  if (unknown.length) problems.push(`unknown ${unknown.length === 1 ? "key" : "keys"} ${unknown.join(", ")}`);
  if (missing.length) problems.push(`missing ${missing.join(", ")}`);
  if (problems.length) {
    throw new Error(
      `${req.op}: ${problems.join("; ")} (${
        known.length ? `keys: ${doc.slice(0, doc.indexOf(": "))}` : "it takes no keys"
      })`,
    );
  }
}

/**
 * The simulator socket of this user: `$VMKMGMT_SIM_SOCKET`, else `/tmp/vmkmgmt-<uid>/sim.sock`
 * (the path the C library uses). Needs `--allow-sys=uid` unless the variable is set.
 */
export function defaultSocketPath(): string {
  return Deno.env.get(SIM_SOCKET_ENV) || defaultSimSocketPath(Deno.uid() ?? 0);
}

/**
 * Builds a control request from an op and `key=value` words, as typed in a shell or the REPL.
 * Values parse as JSON when they can (numbers, booleans, objects; 64-bit integers stay exact);
 * `name` and `message` always stay text.
 * @throws {Error} naming a word that is not key=value.
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

/**
 * Connects to the simulator at `socketPath` if it can be trusted (README, "Trust"): its directory
 * belongs to you (or root) and no one else can write there, and the process that answers runs as you or
 * as root — checked before a byte is sent.
 * @throws {TrustError} naming the directory or the uid that runs the socket's server.
 * @throws {Deno.errors.NotFound | Deno.errors.ConnectionRefused} when no simulator listens.
 */
export async function connectTrusted(socketPath: string): Promise<Deno.UnixConn> {
  const dir = dirnameOf(socketPath);
  await checkSocketDir(dir);
  const before = socketSnapshot();
  const conn = await Deno.connect({ transport: "unix", path: socketPath });
  try {
    const peers = connectedPeers(before, dir);
    if (peers.length === 0) peers.push(null);
    for (const peer of peers) checkPeer(peer, socketPath, "kernel");
  } catch (e) {
    conn.close();
    throw e;
  }
  return conn;
}

/**
 * Sends a control request to a running simulator and returns its result.
 * @throws {TrustError} when the simulator's directory or process is someone else's.
 * @throws {Deno.errors.NotFound | Deno.errors.ConnectionRefused} when no simulator listens.
 * @throws {Error} the simulator's message when the request fails, or when it does not answer
 * within `timeoutMs`.
 */
export async function sendControl(
  socketPath: string,
  req: ControlRequest,
  timeoutMs = 10_000,
): Promise<unknown> {
  const conn = await connectTrusted(socketPath);
  const limit = Deadline.of(
    { timeout: timeoutMs },
    () => new Error(`the simulator at ${socketPath} did not answer within ${timeoutMs} ms`),
  );
  const hangUp = () => {
    try {
      conn.close();
    } catch { /* already closed */ }
  };
  limit.signal.addEventListener("abort", hangUp, { once: true });
  try {
    await conn.write(buildFrame(FrameType.CONTROL, 1, encodeJsonPayload(req)));
    const parser = new FrameParser();
    const buf = new Uint8Array(65536);
    for (;;) {
      const n = await conn.read(buf).catch(() => null);
      if (limit.signal.aborted) throw limit.signal.reason;
      if (n === null) {
        throw new Error(`the simulator at ${socketPath} closed the connection without answering`);
      }
      for (const f of parser.push(buf.slice(0, n))) {
        if (f.type === FrameType.ERROR) throw new Error(`simulator: ${decodeErrorText(f.payload)}`);
        const res = decodeJsonPayload(f.payload) as { ok: boolean; result?: unknown; error?: string };
        if (!res.ok) throw new Error(res.error);
        return res.result;
      }
    }
  } finally {
    limit.signal.removeEventListener("abort", hangUp);
    limit[Symbol.dispose]();
    hangUp();
  }
}

/**
 * Whether a simulator answers at `socketPath` (a status request within `timeoutMs`).
 * @throws {TrustError} when the socket's directory or the process answering is someone else's:
 * never start a simulator there or treat it as yours.
 */
export async function simulatorAnswers(socketPath: string, timeoutMs = 2000): Promise<boolean> {
  try {
    await sendControl(socketPath, { op: "status" }, timeoutMs);
    return true;
  } catch (e) {
    if (e instanceof TrustError) throw e;
    return false;
  }
}
