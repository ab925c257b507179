/**
 * The script runner: `deno task run scripts/NAME.ts [args]`. It makes sure a backend exists —
 * the real library when `VMKMGMT_LIB` is set or on ESXi, else the simulator (its library built,
 * and a simulator started for the script and stopped afterwards when none is listening) — then
 * runs the script with the minimal permissions it declares in its `@permissions` line. With
 * `--host` among the script's flags (or `VMKMGMT_HOST` set) no simulator is started: the script
 * reaches that host's kernel through the bridge.
 * `--record FILE` (before the script) records every vmk_Mgmt call the script makes to FILE
 * (`libvmkmgmt-record.so` in front of it; `%p` is its process id): `deno task trace show FILE`,
 * `deno task sim --replay FILE`. The script is type-checked first (`deno run --check`, as `deno
 * check` would: a wrong field name fails before any call, not halfway through a rollout);
 * `--no-check` (before the script) skips it.
 * Signals are passed on to the script; the runner exits with the script's status.
 * @module
 */
import { cliName } from "../util/cli_name.ts";
import { ESXI_LIBRARY_PATHS, HOST_ENV, LIBRARY_ENV, LOCAL_HOST, SIM_SOCKET_ENV } from "../abi/facts.ts";
import { defaultSocketPath, simulatorAnswers, TrustError } from "../sim/client.ts";
import { type SimProcess, startSimProcess } from "../sim/process.ts";
import { userDir, userPath } from "../util/path.ts";

const ROOT = new URL("../", import.meta.url).pathname;

/** The scripts that come with the project, by the name `deno task run NAME` takes. */
function bundledScripts(): string[] {
  return [...Deno.readDirSync(`${ROOT}scripts`)]
    .map((e) => e.name)
    .filter((n) => n.endsWith(".ts") && n !== "run.ts")
    .map((n) => n.slice(0, -3))
    .sort();
}

/** The usage text (read when it is shown: it lists scripts/, which a run need not read). */
function usage(): string {
  return `usage: ${cliName("run")} [--record TRACE] [--no-check] SCRIPT [script args…]\n` +
    "  SCRIPT: a file (relative to where you are), or one that comes with the project by name:\n" +
    `  ${bundledScripts().join(", ")}\n` +
    "  --record TRACE: every vmk_Mgmt call the script makes goes to TRACE, %p its process id — see\n" +
    `  ${cliName("trace")}, ${cliName("sim")} --replay\n` +
    "  --no-check: run without type-checking the script first";
}

/**
 * Where `script` is: a path relative to the user's directory (or absolute), else one of the
 * project's (`scripts/NAME.ts` as the README writes it, or a bare NAME); undefined with the paths
 * tried when there is none.
 */
export function findScript(script: string): { path?: string; tried: string[] } {
  const tried = [userPath(script)];
  if (!script.startsWith("/")) {
    tried.push(`${ROOT}${script}`);
    if (!script.includes("/")) tried.push(`${ROOT}scripts/${script.replace(/\.ts$/, "")}.ts`);
  }
  return { path: tried.find(exists), tried };
}

/**
 * Makes sure a library of native/ is built (`make TARGET`), saying why not on stderr. Where there is
 * nothing to build it with — the one executable (`deno task compile`) carries it built, without its
 * sources — the built file is used as it is.
 */
async function built(target: "lib" | "record", what: string): Promise<boolean> {
  if (!exists(`${ROOT}native/Makefile`)) {
    const file = `${ROOT}native/build/${target === "lib" ? "libvmkmgmt.so" : "libvmkmgmt-record.so"}`;
    if (exists(file)) return true;
    console.error(`run: ${what} is missing (${file}), and there are no sources here to build it from`);
    return false;
  }
  const out = await new Deno.Command("make", { args: ["-s", "-C", `${ROOT}native`, target] }).output();
  if (!out.success) console.error(`run: building ${what} failed:\n${new TextDecoder().decode(out.stderr)}`);
  return out.success;
}

/** The permission flags a script declares (`@permissions --allow-…` in its header). */
export async function declaredPermissions(script: string): Promise<string[]> {
  const text = await Deno.readTextFile(script);
  const m = /@permissions\s+([^\n]+)/.exec(text);
  if (!m) throw new Error(`${script} declares no @permissions line`);
  // (A one-line doc comment ends on the same line: its `*/` is not a flag.)
  return m[1].replace(/\*\/.*$/, "").trim().split(/\s+/).filter(Boolean);
}

function exists(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/**
 * The runner's own options, which come before the script (what follows it is the script's).
 * @throws {RangeError} `--record` without a file.
 */
function runnerOptions(argv: string[]): { record?: string; check: boolean; rest: string[] } {
  let given = argv;
  let record: string | undefined;
  let check = true;
  for (;;) {
    if (given[0] === "--no-check") {
      check = false;
      given = given.slice(1);
    } else if (given[0] === "--record" || given[0]?.startsWith("--record=")) {
      record = given[0] === "--record" ? given[1] : given[0].slice("--record=".length);
      given = given.slice(given[0] === "--record" ? 2 : 1);
      if (!record || record.startsWith("-")) throw new RangeError("--record needs a file to record to");
    } else return { record, check, rest: given };
  }
}

async function main(): Promise<number> {
  let options;
  try {
    options = runnerOptions(Deno.args);
  } catch (e) {
    console.error(`run: ${(e as Error).message}\n${usage()}`);
    return 2;
  }
  const { record, check } = options;
  const [script, ...args] = options.rest;
  if (!script || script === "-h" || script === "--help") {
    console.error(usage());
    return script ? 0 : 2;
  }
  const found = findScript(script);
  if (!found.path) {
    console.error(
      `run: no script ${script} (looked for ${[...new Set(found.tried)].join(", ")})\n${usage()}`,
    );
    return 2;
  }
  const path = found.path;
  const permissions = await declaredPermissions(path);
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
  if (!real && !await built("lib", "the simulator library")) return 1;
  if (record) {
    // The recorder goes in front of whichever library the script loads (the real one too).
    if (!await built("record", "the recorder")) return 1;
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
      // In the user's directory, so that files the script is given are where the user means; with
      // the project's import map, which the bundled scripts (and the user's) import through.
      args: [
        "run",
        "--config",
        `${ROOT}deno.json`,
        ...(check ? ["--check"] : []),
        ...permissions,
        path,
        ...args,
      ],
      cwd: userDir(),
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
