/**
 * Runs the simulator as a real subprocess (`deno run sim/main.ts`) on a private
 * socket, so tests exercise the same process boundary users have, can kill it mid-call, and can
 * make blocking FFI calls without deadlocking their own event loop.
 * @module
 */
import { LIBRARY_ENV, SIM_SOCKET_ENV } from "../abi/facts.ts";
import { sendControl, simulatorAnswers } from "./client.ts";

const ROOT = new URL("../", import.meta.url).pathname;

/** A simulator subprocess. */
export interface SimProcess extends AsyncDisposable {
  readonly socketPath: string;
  /** Environment for clients: `VMKMGMT_SIM_SOCKET` (and `VMKMGMT_LIB`). */
  readonly env: Record<string, string>;
  /** Sends a control request. */
  control(req: { op: string } & Record<string, unknown>): Promise<unknown>;
  /** Its process id. */
  readonly pid: number;
  /** Everything it printed to stderr so far. */
  stderr(): string;
  /** Kills it with SIGKILL and waits for it to go. */
  kill(): Promise<void>;
  /** Stops it with SIGTERM and waits. */
  stop(): Promise<void>;
}

let counter = 0;

/** Path of our built library (`VMKMGMT_LIB` when set: `deno task test-vendor` runs the suites on a build without the completion queue). */
export const LIB_PATH = Deno.env.get(LIBRARY_ENV) || `${ROOT}native/build/libvmkmgmt.so`;

/** Starts a simulator subprocess (on a private socket unless `socketPath`) and waits until it listens. */
export async function startSimProcess(
  args: string[] = [],
  options: { socketPath?: string } = {},
): Promise<SimProcess> {
  const dir = options.socketPath ? undefined : await Deno.makeTempDir({ prefix: "vmkmgmt-sim-" });
  const socketPath = options.socketPath ?? `${dir}/sim-${Deno.pid}-${counter++}.sock`;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", `${ROOT}sim/main.ts`, "--socket", socketPath, "--exit-with-parent", ...args],
    stdout: "piped",
    stderr: "piped",
    // Held open for the child's life: if this process dies (even by SIGKILL) the simulator sees
    // the end of its stdin and stops, instead of being left behind.
    stdin: "piped",
    // A session of its own: Ctrl-C at a terminal signals the whole foreground process group, and
    // the REPL's terminal is cooked while a command runs (Ctrl-C stopping a watch must not stop
    // the simulator under it). It still ends with this process, by its stdin.
    detached: true,
  }).spawn();
  let err = "";
  const errDone = child.stderr.pipeThrough(new TextDecoderStream()).pipeTo(
    new WritableStream({ write: (c) => void (err += c) }),
  ).catch(() => {});
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  const deadline = Date.now() + 30_000;
  while (!out.includes("listening on")) {
    const timer = new Promise<"timeout">((r) =>
      setTimeout(() => r("timeout"), Math.max(1, deadline - Date.now()))
    );
    const r = await Promise.race([reader.read(), timer]);
    if (r === "timeout" || r.done) {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
      throw new Error(`simulator did not start: ${out}\n${err}`);
    }
    out += r.value;
  }
  // Keep draining stdout so the child never blocks on a full pipe.
  const outDone = (async () => {
    try {
      while (!(await reader.read()).done) { /* drain */ }
    } catch { /* closed */ }
  })();
  let ended = false;
  const wait = async () => {
    if (!ended) {
      ended = true;
      await child.status;
      await Promise.all([errDone, outDone]);
      if (dir) await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  };
  const signal = async (sig: Deno.Signal) => {
    try {
      child.kill(sig);
    } catch { /* already gone */ }
    await wait();
  };
  return {
    socketPath,
    pid: child.pid,
    env: { [SIM_SOCKET_ENV]: socketPath, [LIBRARY_ENV]: LIB_PATH },
    control: (req) => sendControl(socketPath, req),
    stderr: () => err,
    kill: () => signal("SIGKILL"),
    stop: () => signal("SIGTERM"),
    [Symbol.asyncDispose]: () => signal("SIGTERM"),
  };
}

/**
 * Starts a simulator on `socketPath` that outlives this process (as `deno task sim &` would: its
 * own session, no terminal, its output to `log`), and waits until it answers; returns its pid.
 * What one-shot commands change stays for the next ones, until it is stopped (`kill PID`).
 * @throws {Error} when it does not answer within 30 s (its log says why).
 */
export async function startLastingSimulator(socketPath: string, log: string): Promise<number> {
  // Through sh, for the one thing Deno.Command cannot do: give the child a file as its output (a
  // pipe to this process would break when this process exits). `exec`: the pid is the simulator's.
  const child = new Deno.Command("sh", {
    args: [
      "-c",
      'umask 077; exec "$0" run --allow-all "$1" --socket "$2" >>"$3" 2>&1 </dev/null',
      Deno.execPath(),
      `${ROOT}sim/main.ts`,
      socketPath,
      log,
    ],
    stdin: "null",
    stdout: "null",
    stderr: "null",
    detached: true,
  }).spawn();
  child.unref();
  let exited = false;
  child.status.then(() => (exited = true), () => (exited = true));
  const deadline = Date.now() + 30_000;
  while (!(await simulatorAnswers(socketPath, 500).catch(() => false))) {
    if (exited) throw new Error(`the simulator stopped before it answered on ${socketPath}; see ${log}`);
    if (Date.now() > deadline) {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
      throw new Error(`the simulator did not start on ${socketPath}; see ${log}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return child.pid;
}
