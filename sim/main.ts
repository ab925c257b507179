/**
 * `deno task sim`: runs the simulated vmkernel in the foreground, or sends it a control command.
 *
 * ```
 * deno task sim [--socket PATH] [--module FILE.ts]… [--no-demo] [--periodic MS]
 * deno task sim ctl OP [key=value]… [--socket PATH]
 * ```
 * @module
 */
import { cliName } from "../util/cli_name.ts";
import { parseArgs } from "@std/cli/parse-args";
import { toFileUrl, userPath } from "../util/path.ts";
import { readTrace } from "../mgmt/trace/mod.ts";
import {
  CONTROL_OPS,
  type ControlRequest,
  controlRequest,
  defaultSocketPath,
  sendControl,
} from "./client.ts";
import type { KernelModule } from "./module.ts";
import { parseErrno, Replay, type ReplayOptions } from "./replay.ts";
import { startSimulator } from "./server.ts";

const HELP = `vmkmgmt simulated vmkernel

Usage:
  ${cliName("sim")} [options]              serve until Ctrl-C
  ${cliName("sim")} ctl OP [key=value]...  send a control command to a running simulator

Options:
  --socket PATH     Unix socket (default $VMKMGMT_SIM_SOCKET or /tmp/vmkmgmt-<uid>/sim.sock)
  --module FILE     load a kernel-side module (default export of defineModule); repeatable
  --no-demo         do not load the demo modules (acmeNicMgmt, acmeStorMgmt)
  --periodic MS     the NIC demo sends a heartbeat logEvent per instance every MS
  --exit-with-parent stop when stdin closes (the tool that started it ended, however it ended)
  --replay TRACE    play the kernel a recording saw (libvmkmgmt-record.so; no demo modules): its
                    APIs, instances, answers and events; exits when the program's sessions are done,
                    printing matched/unmatched/unused calls (status 0: the replay was exact)
  --strict          calls must come in the recorded order (the default)
  --loose           a call may match any unused recorded call of its session that is the same
  --unmatched E     the errno of a call that matches nothing (default EIO)
  --timing          events at their recorded offsets after the call that caused them (default: at once)
  -h, --help        this text

Control ops (values are JSON when they parse as JSON, else text):
${Object.entries(CONTROL_OPS).map(([k, v]) => `  ${k.padEnd(9)} ${v}`).join("\n")}
  link      instance=ID|NAME up=true|false (acmeNicMgmt: link up/down, linkEvent to all)
  holdDown  instance=ID|NAME on=true|false (acmeNicMgmt: a reset leaves the link down)
  log       instance=ID|NAME message=TEXT (acmeNicMgmt: a log line and logEvent)
  periodic  ms=N (acmeNicMgmt: heartbeat events; 0 stops)

Examples:
  ${cliName("sim")} ctl fail instance=vmnic1 errno=EIO count=2
  ${cliName("sim")} ctl emit event=linkEvent instance=vmnic0 'params={"state":{"up":0,"speedMbps":0}}'
`;

async function loadModule(path: string): Promise<KernelModule> {
  const url = /^[a-z]+:\/\//i.test(path) ? path : toFileUrl(path);
  // The user's driver module, by its URL (`deno publish` cannot analyse this import, and says so:
  // README, "Publishing").
  const mod = await import(url);
  const m = mod.default ?? mod.module;
  if (!m || typeof m !== "object" || !m.signature || !m.handlers) {
    throw new Error(
      `${path}: its default export is not a kernel module (use defineModule from sim/module.ts)`,
    );
  }
  return m as KernelModule;
}

async function ctl(args: string[], socketPath: string): Promise<number> {
  const [op, ...rest] = args;
  if (!op) {
    console.error(`ctl: which op? See ${cliName("sim")} --help`);
    return 2;
  }
  let req: ControlRequest;
  try {
    req = controlRequest(op, rest);
  } catch (e) {
    console.error(`ctl: ${(e as Error).message}`);
    return 2;
  }
  try {
    const result = await sendControl(socketPath, req);
    console.log(JSON.stringify(result, null, 2));
    return 0;
  } catch (e) {
    const err = e as Error;
    if (err instanceof Deno.errors.NotFound || err instanceof Deno.errors.ConnectionRefused) {
      console.error(`ctl: no simulator is listening on ${socketPath} (start one with ${cliName("sim")})`);
    } else console.error(`ctl: ${err.message}`);
    return 1;
  }
}

async function main(argv: string[]): Promise<number> {
  const args = parseArgs(argv, {
    string: ["socket", "module", "periodic", "replay", "unmatched"],
    boolean: ["help", "demo", "exit-with-parent", "strict", "loose", "timing"],
    collect: ["module"],
    alias: { h: "help" },
    default: { demo: true },
    negatable: ["demo"],
    unknown: (arg: string) => {
      if (arg.startsWith("-")) throw new Error(`unknown option ${arg}; see --help`);
      return true;
    },
  });
  if (args.help) {
    console.log(HELP);
    return 0;
  }
  const socketPath = (args.socket as string | undefined) ?? defaultSocketPath();
  const positional = args._.map(String);
  if (positional[0] === "ctl") return await ctl(positional.slice(1), socketPath);
  if (positional.length > 0) throw new Error(`unexpected argument ${positional[0]}; see --help`);

  const modules = await Promise.all(((args.module ?? []) as string[]).map(loadModule));
  if (args.strict && args.loose) throw new Error("--strict or --loose, not both");
  let replay: Replay | undefined;
  if (args.replay !== undefined) {
    replay = await openReplay(args.replay, {
      strict: !args.loose,
      errno: args.unmatched === undefined ? undefined : parseErrno(args.unmatched),
      timing: args.timing as boolean,
    });
    modules.push(...replay.modules());
  } else if (args.strict || args.loose || args.timing || args.unmatched !== undefined) {
    throw new Error("--strict, --loose, --timing and --unmatched go with --replay TRACE");
  }
  const sim = await startSimulator({ socketPath, modules, demo: !replay && (args.demo as boolean) });
  if (args.periodic !== undefined) sim.control({ op: "periodic", ms: Number(args.periodic) });
  const apis = sim.kernel.apis().map((s) => `${s.name} ${s.version}`).join(", ");
  console.log(`vmkmgmt simulator listening on ${socketPath} (${apis})`);
  const stop = Promise.withResolvers<void>();
  for (const sig of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(sig, () => stop.resolve());
  if (args["exit-with-parent"]) {
    // Started by a tool that holds our stdin: when it ends — even killed with SIGKILL — the pipe
    // closes, and a simulator nobody can reach any more stops too.
    (async () => {
      try {
        for await (const _ of Deno.stdin.readable) { /* nothing is sent; only the end matters */ }
      } catch { /* closed */ }
      stop.resolve();
    })();
  }
  if (replay) replay.done.then(() => stop.resolve());
  await stop.promise;
  await sim.close();
  if (!replay) return 0;
  const r = replay.summary();
  console.log(
    `replay: ${r.matched} calls matched, ${r.unmatched} unmatched, ${r.unused} recorded calls not made — ${
      r.exact ? "exact" : "not exact"
    }`,
  );
  return r.exact ? 0 : 1;
}

/** A trace for --replay, read from the user's directory. */
async function openReplay(path: string, options: ReplayOptions): Promise<Replay> {
  let trace;
  try {
    trace = await readTrace(userPath(path));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new Error(`--replay ${path}: no such file`);
    throw new Error(`--replay ${path}: ${(e as Error).message}`);
  }
  if (trace.damaged) {
    console.error(
      `--replay ${path}: damaged at byte ${trace.damaged.offset} (${trace.damaged.reason}); replaying what came before`,
    );
  }
  if (trace.torn) console.error(`--replay ${path}: the recording was cut short at byte ${trace.torn.offset}`);
  try {
    return new Replay(trace, options);
  } catch (e) {
    throw new Error(`--replay ${path}: ${(e as Error).message}`);
  }
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (e) {
    console.error(`sim: ${(e as Error).message}`);
    Deno.exit(2);
  }
}
