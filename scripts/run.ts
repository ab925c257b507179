/**
 * The script runner: `deno task run scripts/NAME.ts [args]`. It makes sure a backend exists —
 * the real library when `VMKMGMT_LIB` is set or on ESXi, else the simulator (its library built,
 * and a simulator started for the script and stopped afterwards when none is listening) — then
 * runs the script with the minimal permissions it declares in its `@permissions` line. With
 * `--host` among the script's flags (or `VMKMGMT_HOST` set) no simulator is started: the script
 * reaches that host's kernel through the bridge.
 * `--record FILE` (before the script) records every vmk_Mgmt call the script makes to FILE
 * (`libvmkmgmt-record.so` in front of it; `%p` is its process id): `deno task trace show FILE`,
 * `deno task sim --replay FILE`.
 * Signals are passed on to the script; the runner exits with the script's status.
 * @module
 */
import { ESXI_LIBRARY_PATHS, HOST_ENV, LIBRARY_ENV, LOCAL_HOST, SIM_SOCKET_ENV } from "../abi/facts.ts";
import { defaultSocketPath, simulatorAnswers, TrustError } from "../sim/client.ts";
import { type SimProcess, startSimProcess } from "../sim/process.ts";
import { userPath } from "../util/path.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const USAGE = "usage: deno task run [--record TRACE] scripts/NAME.ts [script args…]\n" +
  "  (scripts: collect-stats, link-watch, flash-firmware, mtu-rollout; --record: every vmk_Mgmt call the\n" +
  "  script makes goes to TRACE, %p its process id — see deno task trace, deno task sim --replay)";

/** The permission flags a script declares (`@permissions --allow-…` in its header). */
export async function declaredPermissions(script: string): Promise<string[]> {
  const text = await Deno.readTextFile(script);
  const m = /@permissions\s+([^\n]+)/.exec(text);
  if (!m) throw new Error(`${script} declares no @permissions line`);
  return m[1].trim().split(/\s+/);
}

function exists(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

async function main(): Promise<number> {
  let given = Deno.args;
  let record: string | undefined;
  if (given[0] === "--record" || given[0]?.startsWith("--record=")) {
    record = given[0] === "--record" ? given[1] : given[0].slice("--record=".length);
    given = given.slice(given[0] === "--record" ? 2 : 1);
    if (!record || record.startsWith("-")) {
      console.error(`run: --record needs a file to record to\n${USAGE}`);
      return 2;
    }
  }
  const [script, ...args] = given;
  if (!script || script === "-h" || script === "--help") {
    console.error(USAGE);
    return script ? 0 : 2;
  }
  if (!exists(script)) {
    console.error(`run: no script ${script}\n${USAGE}`);
    return 2;
  }
  const permissions = await declaredPermissions(script);
  const env: Record<string, string> = {};
  let sim: SimProcess | undefined;
  const real = Deno.env.get(LIBRARY_ENV) ?? ESXI_LIBRARY_PATHS.find(exists);
  // A script sent to another host (--host, VMKMGMT_HOST) needs our library, not a simulator here;
  // "@local" is a bridge in front of this machine's simulator.
  const flag = args.findIndex((a) => a === "--host" || a.startsWith("--host="));
  const host = flag < 0
    ? Deno.env.get(HOST_ENV)
    : args[flag].startsWith("--host=")
    ? args[flag].slice(7)
    : args[flag + 1];
  const remote = Boolean(host) && host !== LOCAL_HOST;
  if (!real) {
    const built = await new Deno.Command("make", { args: ["-s", "-C", `${ROOT}native`, "lib"] }).output();
    if (!built.success) {
      console.error(`run: building the simulator library failed:\n${new TextDecoder().decode(built.stderr)}`);
      return 1;
    }
  }
  if (record) {
    // The recorder goes in front of whichever library the script loads (the real one too).
    const built = await new Deno.Command("make", { args: ["-s", "-C", `${ROOT}native`, "record"] }).output();
    if (!built.success) {
      console.error(`run: building the recorder failed:\n${new TextDecoder().decode(built.stderr)}`);
      return 1;
    }
    env.LD_PRELOAD = [`${ROOT}native/build/libvmkmgmt-record.so`, Deno.env.get("LD_PRELOAD")].filter(Boolean)
      .join(" ");
    env.VMKMGMT_RECORD = userPath(record);
  }
  if (!real && !remote) {
    const socketPath = defaultSocketPath();
    env[SIM_SOCKET_ENV] = socketPath;
    try {
      if (!await simulatorAnswers(socketPath)) sim = await startSimProcess([], { socketPath });
    } catch (e) {
      console.error(`run: ${e instanceof TrustError ? e.message : (e as Error)?.message ?? e}`);
      return 1;
    }
  }
  try {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", ...permissions, script, ...args],
      env,
      stdin: "inherit",
      stdout: "inherit",
      stderr: "inherit",
    }).spawn();
    const forward = (sig: Deno.Signal) => () => {
      try {
        child.kill(sig);
      } catch { /* already gone */ }
    };
    const handlers = (["SIGINT", "SIGTERM"] as const).map((s) => [s, forward(s)] as const);
    for (const [s, h] of handlers) Deno.addSignalListener(s, h);
    const status = await child.status;
    for (const [s, h] of handlers) Deno.removeSignalListener(s, h);
    return status.code;
  } finally {
    await sim?.stop();
  }
}

if (import.meta.main) Deno.exit(await main());
