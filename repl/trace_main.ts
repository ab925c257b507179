/**
 * `deno task trace`: what a trace recorded by `libvmkmgmt-record.so` says (native/record/TRACE.md).
 *
 * ```
 * deno task trace show TRACE [--sig FILE]… [--json]    every record, typed by the signatures given
 * deno task trace stats TRACE [--sig FILE]… [--json]   calls per callback, latencies, events, errors
 * deno task trace diff A B [--sig FILE]… [--json]     where two recordings first differ (exit 1 then)
 * deno task trace buffers --sig FILE… [--name API]    the recorder's buffer list ($VMKMGMT_RECORD_SIG)
 * ```
 * @module
 */
import { parseArgs } from "@std/cli/parse-args";
import { bufferList, type BufferListEntry, readTrace, type Trace, TraceError } from "../mgmt/trace/mod.ts";
import type { Signature } from "../mgmt/signature.ts";
import { writeJsonLine } from "../util/ndjson.ts";
import { userPath } from "../util/path.ts";
import { divergenceText, firstDivergence } from "./trace_diff.ts";
import { TraceView } from "./trace_view.ts";
import { type Family, loadSignatures } from "./signature_files.ts";
import { CommandError } from "./state.ts";

const HELP = `vmkmgmt trace — read what libvmkmgmt-record.so recorded

Usage:
  deno task trace show TRACE [options]    every record: time, handle, call, status, values
  deno task trace stats TRACE [options]   calls per callback (latency percentiles, errors), events
  deno task trace diff A B [options]      the first place two recordings differ, typed (exit 1 then, 0
                                          when they make the same calls and get the same answers)
  deno task trace buffers --sig FILE [--name API] [-o LIST]
                                          the recorder's buffer list for a client that does not say
                                          where its pointer members are (a vendor's C tool): record
                                          with VMKMGMT_RECORD_SIG=LIST and the bytes behind them are in
                                          the trace, and replay writes and compares them

Options:
  --sig FILE     decode with the signatures in FILE (.ts module, .json, or a driver's .c/.h); repeatable.
                 Without it, calls are named by id and values shown as bytes.
  --cflags "…"   -I DIR and -D NAME[=VALUE] for the C files of --sig
  --json         one JSON object per record (show) or one summary (stats)
  --name API     (buffers) the API name the list's lines match, for every signature given; end it with
                 * for names a driver makes up at run time (--name 'acmeNvme-*')
  -o LIST        (buffers) write the list to LIST instead of standard output
  -h, --help     this text

Record with:  LD_PRELOAD=native/build/libvmkmgmt-record.so VMKMGMT_RECORD=/tmp/t-%p.vmktrace <any client>`;

async function main(argv: string[]): Promise<number> {
  const args = parseArgs(argv, {
    string: ["sig", "cflags", "name", "o"],
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
  if (!command) throw new CommandError("say what to do: show, stats, diff or buffers (see --help)");
  if (command === "buffers") return await buffers(args.sig as string[] ?? [], path, args);
  if (command !== "show" && command !== "stats" && command !== "diff") {
    throw new CommandError(`unknown command ${command}: show, stats, diff or buffers (see --help)`);
  }
  for (const o of ["name", "o"] as const) {
    if (args[o] !== undefined) {
      throw new CommandError(`${o.length > 1 ? "--" : "-"}${o} is for buffers, not ${command}`);
    }
  }
  if (!path) throw new CommandError(`${command}: which trace? (deno task trace ${command} FILE)`);
  const takes = command === "diff" ? 1 : 0;
  if (extra.length !== takes && (command === "diff" || extra.length)) {
    throw new CommandError(
      command === "diff"
        ? `diff takes two traces (deno task trace diff A B), got ${1 + extra.length}`
        : `${command} takes one trace; also given: ${extra.join(" ")}`,
    );
  }
  const signatures: Signature[] = [];
  const families: Family[] = [];
  for (const f of (args.sig ?? []) as string[]) {
    const loaded = await loadSignatures(userPath(f), { cflags: args.cflags });
    signatures.push(...loaded.signatures);
    families.push(...loaded.families);
  }
  const trace = await open(path);
  const view = new TraceView(trace, signatures, families);
  if (command === "diff") {
    const other = await open(extra[0]);
    const otherView = new TraceView(other, signatures, families);
    for (const [name, t] of [[path, trace], [extra[0], other]] as const) {
      const stop = t.torn ?? t.damaged;
      if (stop) console.error(`${name}: read up to byte ${stop.offset} (${stop.reason}); compared that far`);
    }
    const d = firstDivergence(trace, other);
    if (args.json) {
      writeJsonLine(
        d
          ? {
            same: false,
            handle: d.handle,
            record: d.step,
            what: d.what,
            a: d.a && view.json(d.a),
            b: d.b && otherView.json(d.b),
          }
          : { same: true },
      );
    } else console.log(divergenceText(d, view, otherView));
    return d ? 1 : 0;
  }
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

/** `trace buffers`: the recorder's buffer list for the signatures given. */
async function buffers(
  files: string[],
  extra: string | undefined,
  args: { cflags?: string; name?: string; o?: string; json?: boolean },
): Promise<number> {
  if (extra !== undefined) {
    throw new CommandError(`buffers takes no trace (got ${extra}); name signatures with --sig`);
  }
  if (files.length === 0) {
    throw new CommandError("buffers: which signatures? (--sig FILE, .ts, .json or a driver's .h)");
  }
  if (args.json) throw new CommandError("buffers writes a list, not JSON: leave out --json");
  const entries: BufferListEntry[] = [];
  for (const f of files) {
    const loaded = await loadSignatures(userPath(f), { cflags: args.cflags });
    for (const signature of loaded.signatures) entries.push({ signature, name: args.name });
    // A C file's APIs named at run time: any name, of the vendor.
    for (const family of loaded.families) {
      const signature = family.make(`${family.prefix}x`);
      entries.push({ signature, name: args.name ?? `${family.prefix}*` });
    }
  }
  let text: string;
  try {
    text = bufferList(entries);
  } catch (e) {
    if (e instanceof RangeError) throw new CommandError(`--name: ${e.message}`);
    throw e;
  }
  const lines = text.split("\n").filter((l) => l && !l.startsWith("#")).length;
  if (args.o === undefined) {
    await Deno.stdout.write(new TextEncoder().encode(text));
  } else {
    try {
      await Deno.writeTextFile(userPath(args.o), text);
    } catch (e) {
      throw new CommandError(`-o ${args.o}: ${(e as Error).message}`);
    }
  }
  if (lines === 0) {
    console.error(
      "buffers: no pointer member to a caller buffer (t.buffer) in these signatures: the list is empty",
    );
  } else if (args.o !== undefined) {
    console.error(`${lines} pointer member(s) in ${args.o}; record with VMKMGMT_RECORD_SIG=${args.o}`);
  }
  return 0;
}

/** Reads a trace the user named. */
async function open(path: string): Promise<Trace> {
  try {
    return await readTrace(userPath(path));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new CommandError(`${path}: no such file`);
    if (e instanceof TraceError) throw new CommandError(`${path}: ${e.message}`);
    throw e;
  }
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
