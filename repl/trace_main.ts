/**
 * `deno task trace`: what a trace recorded by `libvmkmgmt-record.so` says (native/record/TRACE.md).
 *
 * ```
 * deno task trace show TRACE [--sig FILE]… [--json]    every record, typed by the signatures given
 * deno task trace stats TRACE [--sig FILE]… [--json]   calls per callback, latencies, events, errors
 * ```
 * @module
 */
import { parseArgs } from "@std/cli/parse-args";
import { readTrace, type Trace, TraceError } from "../mgmt/trace/mod.ts";
import type { Signature } from "../mgmt/signature.ts";
import { writeJsonLine } from "../util/ndjson.ts";
import { userPath } from "../util/path.ts";
import { TraceView } from "./trace_view.ts";
import { loadSignatures } from "./signature_files.ts";
import { CommandError } from "./state.ts";

const HELP = `vmkmgmt trace — read what libvmkmgmt-record.so recorded

Usage:
  deno task trace show TRACE [options]    every record: time, handle, call, status, values
  deno task trace stats TRACE [options]   calls per callback (latency percentiles, errors), events

Options:
  --sig FILE     decode with the signatures in FILE (.ts module, .json, or a driver's .c/.h); repeatable.
                 Without it, calls are named by id and values shown as bytes.
  --cflags "…"   -I DIR and -D NAME[=VALUE] for the C files of --sig
  --json         one JSON object per record (show) or one summary (stats)
  -h, --help     this text

Record with:  LD_PRELOAD=native/build/libvmkmgmt-record.so VMKMGMT_RECORD=/tmp/t-%p.vmktrace <any client>`;

async function main(argv: string[]): Promise<number> {
  const args = parseArgs(argv, {
    string: ["sig", "cflags"],
    boolean: ["json", "help"],
    collect: ["sig"],
    alias: { h: "help" },
    unknown: (a: string) => {
      if (a.startsWith("-")) throw new CommandError(`unknown option ${a} (see --help)`);
      return true;
    },
  });
  if (args.help) {
    console.log(HELP);
    return 0;
  }
  const [command, path, ...extra] = args._.map(String);
  if (!command) throw new CommandError("say what to do: show or stats (see --help)");
  if (command !== "show" && command !== "stats") {
    throw new CommandError(`unknown command ${command}: show or stats (see --help)`);
  }
  if (!path) throw new CommandError(`${command}: which trace? (deno task trace ${command} FILE)`);
  if (extra.length) throw new CommandError(`${command} takes one trace; also given: ${extra.join(" ")}`);
  const signatures: Signature[] = [];
  for (const f of (args.sig ?? []) as string[]) {
    signatures.push(...(await loadSignatures(userPath(f), args.cflags)).signatures);
  }
  let trace: Trace;
  try {
    trace = await readTrace(userPath(path));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new CommandError(`${path}: no such file`);
    if (e instanceof TraceError) throw new CommandError(`${path}: ${e.message}`);
    throw e;
  }
  const view = new TraceView(trace, signatures);
  if (command === "show") {
    for (const r of trace.records) {
      if (args.json) writeJsonLine(view.json(r));
      else console.log(view.line(r));
    }
  } else {
    const stats = view.stats();
    if (args.json) writeJsonLine(stats);
    else console.log(view.statsText(stats));
  }
  // How the trace ended, on stderr (and in the exit status: 2 for damage, not for a torn end).
  if (trace.torn) {
    console.error(
      `trace cut short at byte ${trace.torn.offset} (${trace.torn.reason}): the recording was killed`,
    );
  }
  if (trace.damaged) {
    console.error(
      `trace damaged at byte ${trace.damaged.offset} (${trace.damaged.reason}); records after it are not read`,
    );
    return 2;
  }
  return 0;
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (e) {
    if (!(e instanceof CommandError)) throw e;
    console.error(`trace: ${e.message}`);
    Deno.exit(1);
  }
}
