/**
 * `deno task repl`: the interactive vmk_Mgmt shell, and its one-shot forms.
 *
 * ```
 * deno task repl [--host [USER@]HOST[:PORT]] [--sig FILE]… [--cflags "-I DIR -D X"] [--json] [-c "cmd; cmd"] [--file FILE] [--no-sim] [--keep-sim] [--verbose]
 * ```
 * On the simulator library (the default here) a simulator is started for the session when none
 * listens. With `-c`, `--file` or commands piped on stdin it runs them and exits non-zero at the
 * first failure.
 * @module
 */
import { cliName } from "../util/cli_name.ts";
import { parseArgs } from "@std/cli/parse-args";
import { ERRNO, HOST_ENV, LOCAL_HOST, SIM_SOCKET_ENV } from "../abi/facts.ts";
import { VmkMgmtError } from "../mgmt/errors.ts";
import { ACME_NVME_ADAPTER_PREFIX, acmeNic, acmeNvme, acmeNvmeAdapter, acmeStorage } from "../demo.ts";
import { loadLibrary } from "../ffi/library.ts";
import type { Signature } from "../mgmt/signature.ts";
import { explainEio, reconnect } from "./health.ts";
import { stopJs } from "./js_eval.ts";
import { defaultSocketPath, simulatorAnswers, TrustError } from "../sim/client.ts";
import { type SimProcess, startLastingSimulator, startSimProcess } from "../sim/process.ts";
import { OwnSimulator } from "./own_simulator.ts";
import { userPath } from "../util/path.ts";
import { didYouMean } from "../util/suggest.ts";
import { COMMANDS, ExitRequest, findCommand } from "./commands/mod.ts";
import { stopRecordingOnExit } from "./commands/record.ts";
import { colourLine, complete, hint } from "./completer.ts";
import { LineEditor } from "./editor.ts";
import { CommandError, ReplState } from "./state.ts";
import { addSignatures } from "./signature_files.ts";
import { isIncomplete, splitCommands, tokenize } from "./tokenize.ts";

const HELP = `vmkmgmt REPL — drive vmk_Mgmt APIs interactively

Usage: ${cliName("repl")} [options]

Options:
  --host H         drive the kernel of ESXi host H ([user@]host[:port]) through vmkmgmt-bridge over
                   ssh (VMKMGMT_SSH: ssh options; VMKMGMT_BRIDGE: the command there); no simulator
  --sig FILE       load a signature from a .ts module (its exported signatures), a .json file, or
                   a driver's C interface file (.c/.h, imported with clang as ${cliName("import-c")}
                   does); repeatable. Also every file in $VMKMGMT_SIG_DIR.
  --cflags "…"     -I DIR and -D NAME[=VALUE] for the C files of --sig
  --json           print one JSON document per result (NDJSON for watch)
  -c, --command S  run the commands in S (separated by ';') and exit
  -f, --file FILE  run the commands in FILE and exit (stdin works too: cmd | ${cliName("repl")})
  --rc FILE        commands run at start (default ~/.vmkmgmtrc, interactive only)
  --history FILE   history file (default ~/.vmkmgmt_history)
  --no-sim         do not start a simulator when none is running
  --keep-sim       when none is running, start one that keeps running after the REPL ends (what -c
                   commands change stays for the next ones; stop it with the kill it prints)
  -v, --verbose    say which library and simulator are used
  -h, --help       this text

Exit status of -c, --file and piped commands: 0 all ran; 1 one failed (the rest did not run); 2 it could
not start (a bad option, no library); 3 all ran, but a driver answered a non-zero status (an out
parameter named status, or a record's status member — stderr names the call).

Inside, type help. Environment: VMKMGMT_LIB (library), VMKMGMT_SIM_SOCKET (simulator socket),
VMKMGMT_HOST (as --host).`;

/** Runs one command line; returns false when it failed. */
async function runLine(state: ReplState, line: string, where?: string): Promise<boolean> {
  for (const text of splitCommands(line)) {
    if (text.startsWith("#")) continue;
    try {
      const tokens = tokenize(text);
      const name = tokens[0].text;
      const cmd = findCommand(name);
      if (!cmd) {
        throw new CommandError(
          `unknown command ${name}${didYouMean(name, COMMANDS.map((c) => c.name))} (type help)`,
        );
      }
      // A disconnected current session is reopened before a command that needs it.
      if (state.current && state.dead.has(state.current) && cmd.needsSession) {
        if (!(await reconnect(state, state.current))) {
          throw new CommandError(
            `${state.current} is disconnected and the simulator does not take it back yet (is it running? ` +
              `deno task sim); try again, or close it`,
          );
        }
      }
      const next = await cmd.run(state, tokens.slice(1), text);
      // What it left to run (edit's file) runs line by line, each failure said and passed over; a
      // comment is a whole line (its text may hold a ';').
      const lines = (next?.lines ?? "").split("\n").filter((l) => !l.trimStart().startsWith("#"));
      for (const line of splitCommands(lines.join("\n"))) await runLine(state, line);
    } catch (e) {
      if (e instanceof ExitRequest) throw e;
      // EIO alone does not say what happened: ask, and say what is known.
      const why = e instanceof VmkMgmtError && e.errno === ERRNO.EIO && state.current
        ? await explainEio(state, state.current, e.callback).catch(() => undefined)
        : undefined;
      state.error(where ? new CommandError(`${where}: ${(e as Error)?.message ?? e}`) : e, why);
      return false;
    }
  }
  return true;
}

async function ensureSimulator(
  state: ReplState,
  allowStart: boolean,
  verbose: boolean,
  keep: boolean,
): Promise<SimProcess | undefined> {
  const { info } = await loadLibrary();
  if (verbose) console.error(`library: ${info.path} (${info.source})`);
  const host = Deno.env.get(HOST_ENV);
  // Another host's kernel is not ours to start; "@local" is a bridge in front of ours.
  if (!info.simulated || (host && host !== LOCAL_HOST)) return undefined;
  const socketPath = defaultSocketPath();
  state.simSocket = socketPath;
  const live = await simulatorAnswers(socketPath);
  if (live) {
    if (verbose) console.error(`simulator: ${socketPath} (already running)`);
    return undefined;
  }
  if (!allowStart) return undefined;
  Deno.env.set(SIM_SOCKET_ENV, socketPath);
  if (keep) {
    const pid = await startLastingSimulator(socketPath, `${socketPath}.log`);
    console.error(
      `repl: started a simulator on ${socketPath} (pid ${pid}) that keeps running for the next commands; ` +
        `stop it with: kill ${pid}`,
    );
    return undefined;
  }
  const sim = await startSimProcess([], { socketPath });
  if (verbose) console.error(`simulator: started on ${socketPath}`);
  return sim;
}

/**
 * After one-shot commands that ran on a simulator started for them alone: one line saying that
 * what they changed went with it (a later run would otherwise find it undone, unsaid).
 */
function sayTransientSimulator(state: ReplState, sim: SimProcess | undefined): void {
  if (!sim || state.terminal || state.sessions.size === 0) return;
  console.error(
    "repl: no simulator was running, so these commands ran on one started for them, now stopped — what they " +
      "changed is gone (--keep-sim leaves one running for the next runs; or run deno task sim)",
  );
}

/** The command line, read: the REPL's options. @throws {CommandError} a bad or unknown option. */
function parseCli(argv: string[]) {
  // `-c ""` is an empty command line (parseArgs would take the empty value for a missing one).
  argv = argv.map((a, i) => (a === "" && ["-c", "--command"].includes(argv[i - 1]) ? " " : a));
  const args = parseArgs(argv, {
    string: ["sig", "command", "file", "rc", "history", "cflags", "host"],
    boolean: ["json", "help", "sim", "verbose", "keep-sim"],
    collect: ["sig"],
    negatable: ["sim"],
    default: { sim: true },
    alias: { c: "command", f: "file", h: "help", v: "verbose" },
    unknown: (a: string) => {
      if (a.startsWith("-")) throw new CommandError(`unknown option ${a}; see --help`);
      return true;
    },
  });
  return args;
}

type Cli = ReturnType<typeof parseCli>;

/** The built-in signatures, those in `$VMKMGMT_SIG_DIR`, then each `--sig`. */
async function registerSignatures(state: ReplState, args: Cli): Promise<void> {
  for (const sig of [acmeNic, acmeStorage, acmeNvme]) {
    state.signatures.set(sig.name, { signature: sig as unknown as Signature, source: "built-in" });
  }
  state.families.push({
    prefix: ACME_NVME_ADAPTER_PREFIX,
    make: (name) => acmeNvmeAdapter(name) as unknown as Signature,
    source: "built-in (an acmeNvmeMgmt adapter's API)",
  });
  const sigDir = Deno.env.get("VMKMGMT_SIG_DIR");
  const dir = sigDir ? userPath(sigDir) : undefined;
  if (dir) {
    for (const e of [...Deno.readDirSync(dir)].sort((a, b) => a.name.localeCompare(b.name))) {
      if (e.isFile && /\.(ts|json|c)$/.test(e.name)) await addSignatures(state, `${dir}/${e.name}`);
    }
  }
  state.cflags = args.cflags;
  for (const f of (args.sig ?? []) as string[]) {
    await addSignatures(state, userPath(f), { cflags: args.cflags });
  }
}

/** `-c`, `--file` or standard input: every command in turn, stopping at the first that fails. */
async function runBatch(state: ReplState, args: Cli): Promise<number> {
  let text: string;
  if (args.command !== undefined) text = args.command as string;
  else if (args.file !== undefined) {
    const file = userPath(args.file as string);
    try {
      text = await Deno.readTextFile(file);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) {
        throw new CommandError(`--file ${args.file}: no such file (${file})`);
      }
      throw new CommandError(`--file ${args.file}: ${(e as Error).message}`);
    }
  } else text = new TextDecoder().decode(await new Response(Deno.stdin.readable).arrayBuffer());
  for (const line of splitCommands(text)) {
    if (!(await runLine(state, line))) return 1;
  }
  if (state.driverStatuses.length) {
    // Every command ran; the driver said no to some. Scripts see it in the exit status.
    console.error(
      `exit status 3: the driver answered a non-zero status — ${state.driverStatuses.join("; ")}`,
    );
    return EXIT_DRIVER_STATUS;
  }
  return 0;
}

/** A batch run's exit status when every command ran but a driver answered a non-zero `status`. */
const EXIT_DRIVER_STATUS = 3;

/** The line editor of an interactive session, on the state's prompt, completion and hints. */
function makeEditor(state: ReplState, args: Cli, home: string): LineEditor {
  return new LineEditor({
    prompt: () =>
      state.current
        ? `vmk:${state.current}${state.dead.has(state.current) ? " (disconnected)" : ""}> `
        : "vmk> ",
    historyFile: (args.history as string | undefined) ?? Deno.env.get("VMKMGMT_HISTORY") ??
      `${home}/.vmkmgmt_history`,
    complete: (line) => complete(state, line),
    hint: (line) => hint(state, line),
    onInterrupt: () => {
      if (!state.foreground) return false;
      state.foreground.abort(new Error("interrupted"));
      return true;
    },
    incomplete: isIncomplete,
    colour: state.paint.bold("x") !== "x" ? (line) => colourLine(state, line) : undefined,
  });
}

/** The first lines an interactive session prints: what it talks to, and what to try. */
async function banner(state: ReplState, sim: SimProcess | undefined): Promise<string> {
  const lib = (await loadLibrary()).info;
  const host = Deno.env.get(HOST_ENV);
  const remote = host && host !== LOCAL_HOST;
  const where = remote
    ? `host ${host} through vmkmgmt-bridge (each open says which bridge answers), library`
    : lib.simulated
    ? `simulator${sim ? " (started for this session)" : ""}${
      host ? " through a local vmkmgmt-bridge" : ""
    } library`
    : `${lib.source} library`;
  return `vmkmgmt REPL — ${where} ${lib.path}\n` +
    `Signatures: ${
      [...state.signatures.keys()].join(", ")
    }. Try: open acmeNicMgmt, then Tab. Type help for commands.`;
}

/** The rc file's commands, errors named by file and line; a missing default one is no error. */
async function runRcFile(state: ReplState, args: Cli, home: string): Promise<void> {
  const rc = (args.rc as string | undefined) ?? Deno.env.get("VMKMGMT_RC") ?? `${home}/.vmkmgmtrc`;
  try {
    const text = await Deno.readTextFile(rc);
    for (const [i, raw] of text.split("\n").entries()) {
      for (const line of splitCommands(raw)) await runLine(state, line, `${rc}:${i + 1}`);
    }
  } catch (e) {
    if (e instanceof ExitRequest) throw e;
    if (!(e instanceof Deno.errors.NotFound) || args.rc !== undefined) state.error(e);
  }
}

async function main(argv: string[]): Promise<number> {
  const args = parseCli(argv);
  if (args.help) {
    console.log(HELP);
    return 0;
  }
  if (args._.length) throw new CommandError(`unexpected argument ${args._[0]}; to run commands use -c "…"`);
  if (args.host !== undefined) {
    if (!args.host) throw new CommandError("--host needs [user@]host[:port]");
    // Every session of this REPL goes there; the library reads it at each open.
    Deno.env.set(HOST_ENV, args.host as string);
  }
  const interactive = args.command === undefined && args.file === undefined && Deno.stdin.isTerminal();
  const home = Deno.env.get("HOME") ?? ".";
  const state = new ReplState({
    json: args.json as boolean,
    color: Deno.stdout.isTerminal() && !Deno.env.get("NO_COLOR"),
    terminal: interactive ? (state) => makeEditor(state, args, home) : undefined,
  });
  await registerSignatures(state, args);
  const sim = await ensureSimulator(
    state,
    args.sim as boolean,
    args.verbose as boolean,
    args["keep-sim"] as boolean,
  );
  const editor = state.terminal;
  // (interactive only: sim restart; one-shot runs stop theirs when they end)
  const own = sim && editor ? new OwnSimulator(sim) : undefined;
  state.ownSim = own;
  let status = 0;
  try {
    if (!editor) {
      const code = await runBatch(state, args);
      sayTransientSimulator(state, sim);
      return code;
    }
    console.log(await banner(state, sim));
    await runRcFile(state, args, home);
    for (;;) {
      const line = await editor.read();
      if (line === null) {
        // Ctrl-D: leave the shell's prompt on a line of its own.
        console.log();
        break;
      }
      if (!line.trim()) continue;
      if (!line.startsWith("edit")) state.lastLine = line;
      if (!(await runLine(state, line))) status = 1;
    }
    status = 0;
  } catch (e) {
    if (!(e instanceof ExitRequest)) throw e;
  } finally {
    editor?.close();
    stopJs();
    for (const id of [...state.watches.keys()]) state.stopWatch(id);
    for (const s of state.sessions.values()) await s.close().catch(() => {});
    // After the sessions' Destroy, so the trace ends with them.
    const recorded = await stopRecordingOnExit();
    if (recorded) console.error(recorded);
    await (own ?? sim)?.stop();
  }
  return status;
}

if (import.meta.main) {
  let code: number;
  try {
    code = await main(Deno.args);
  } catch (e) {
    console.error(
      `repl: ${e instanceof CommandError || e instanceof TrustError ? e.message : (e as Error)?.stack ?? e}`,
    );
    code = 2;
  }
  Deno.exit(code);
}
