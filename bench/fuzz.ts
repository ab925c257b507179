/**
 * `deno task fuzz [--seconds N] [--only replies|frames|bridge|trace] [--write-seeds]`: runs the libFuzzer
 * harnesses of native/fuzz/ for N seconds each (default 60), starting from their checked-in seed
 * corpora (native/fuzz/corpus/NAME/; what the fuzzer finds goes to native/build/fuzz/work/NAME/):
 *
 * - `replies`: the library's reply and event parsing (its sources compiled in, ASan + UBSan + LSan);
 * - `frames`: a live simulator, fed raw frames, must keep answering;
 * - `bridge`: vmkmgmt-bridge's session code fed a client's byte stream, in front of a stand-in
 *   library (ASan + UBSan + LSan); its seeds are real client sessions captured at a bridge;
 * - `trace`: the trace reader (mgmt/trace/) fed mutated recordings (bench/fuzz_trace.ts).
 *
 * Every input in native/fuzz/regressions/NAME/ (one per defect a harness found) is run first, once:
 * a defect that comes back fails at once, before any fuzzing.
 *
 * A crash, leak, hang (`-timeout`) or unanswered simulator stops the harness; the input that did it
 * is kept in native/build/fuzz/artifacts/ and named in the report. Exits 1 when any harness failed.
 * `--write-seeds` rewrites the seed corpora from the protocol encoders (then commit them).
 * @module
 */
import { parseArgs } from "@std/cli/parse-args";
import { fuzzTrace, traceSeeds } from "./fuzz_trace.ts";
import { buildFrame, FrameType } from "../sim/frames.ts";
import { encodeEventAck, encodeHello, encodeInvoke, encodeJsonPayload } from "../sim/payloads.ts";
import { startSimProcess } from "../sim/process.ts";
import { captureSessions, STANDIN, toScript } from "./fuzz_sessions.ts";
import { concatBytes } from "../util/bytes.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const NATIVE = `${ROOT}native`;
const BUILD = `${NATIVE}/build/fuzz`;

/** The harnesses. */
export const HARNESSES = ["replies", "frames", "bridge", "trace"] as const;
/** One harness's name. */
export type Harness = typeof HARNESSES[number];

/** What one harness run gave. */
export interface FuzzResult {
  harness: Harness;
  ok: boolean;
  executions: number;
  seconds: number;
  /** Inputs kept because they crashed, leaked or hung something. */
  artifacts: string[];
  /** The end of libFuzzer's output, when it failed (all of it is in native/build/fuzz/NAME.log). */
  tail: string;
}

/** Whether clang with libFuzzer can build the harnesses here; else why not. */
export async function fuzzerAvailable(): Promise<true | string> {
  try {
    const out = await new Deno.Command("make", { args: ["-s", "-C", NATIVE, "fuzz"], stderr: "piped" })
      .output();
    if (out.success) return true;
    return `building the harnesses failed (clang with libFuzzer needed: apt-get install clang):\n${
      new TextDecoder().decode(out.stderr).slice(-600)
    }`;
  } catch (e) {
    return `make is not available: ${(e as Error).message}`;
  }
}

function listDir(dir: string): string[] {
  try {
    return [...Deno.readDirSync(dir)].map((e) => e.name);
  } catch {
    return [];
  }
}

/** How long a harness runs: for a time, or for a number of inputs (a campaign), on `jobs` processes. */
export interface RunOptions {
  seconds?: number;
  /** Inputs to run in all (split between the jobs); with it, `seconds` is a limit, not the goal. */
  runs?: number;
  /** Fuzzer processes side by side, sharing the corpus (default 1). */
  jobs?: number;
}

/** The inputs that once broke a harness (native/fuzz/regressions/NAME/), each to be run once. */
export function regressions(harness: Harness): string[] {
  const dir = `${NATIVE}/fuzz/regressions/${harness}`;
  return listDir(dir).filter((f) => !f.endsWith(".md")).sort().map((f) => `${dir}/${f}`);
}

/** Inputs one fuzzing process runs at most in a campaign (then a fresh one goes on from the corpus). */
const CAMPAIGN_CHUNK = 400_000;

/** Whether `taskset` can pin a process to one CPU here. */
async function canPin(): Promise<boolean> {
  try {
    return (await new Deno.Command("taskset", { args: ["-c", "0", "true"] }).output()).success;
  } catch {
    return false;
  }
}

/**
 * Runs one harness: first every regression input once, then fuzzing from the seed corpus. With more
 * than one job each fuzzer process is pinned to a CPU of its own: on these VMs a thread woken on
 * another CPU costs ten times one woken on its own, and the harness's threads hand the session to
 * each other all the time (races are the TSan test's to find, test/bridge_test.ts).
 */
export async function runHarness(harness: Harness, options: number | RunOptions): Promise<FuzzResult> {
  const { seconds = 60, runs, jobs = 1 } = typeof options === "number" ? { seconds: options } : options;
  // The trace reader's harness is JavaScript (bench/fuzz_trace.ts), one process.
  if (harness === "trace") return { harness, ...await fuzzTrace({ seconds, runs }) };
  const work = `${BUILD}/work/${harness}`;
  const artifacts = `${BUILD}/artifacts`;
  await Deno.mkdir(work, { recursive: true });
  await Deno.mkdir(artifacts, { recursive: true });
  const before = new Set(listDir(artifacts));
  await using sim = harness === "frames" ? await startSimProcess() : undefined;
  const env: Record<string, string> = { ASAN_OPTIONS: "detect_leaks=1:abort_on_error=0" };
  if (sim) env.VMKMGMT_FUZZ_SIM_SOCKET = sim.socketPath;
  const common = [
    "-timeout=10",
    "-rss_limit_mb=2048",
    "-print_final_stats=1",
    `-artifact_prefix=${artifacts}/${harness}-`,
  ];
  const run = (args: string[], cpu?: number) => {
    const binary = `${BUILD}/fuzz_${harness}`;
    return new Deno.Command(cpu === undefined ? binary : "taskset", {
      args: cpu === undefined ? [...common, ...args] : ["-c", String(cpu), binary, ...common, ...args],
      env,
      stdout: "piped",
      stderr: "piped",
    }).output();
  };
  const decode = (o: Deno.CommandOutput) =>
    new TextDecoder().decode(o.stderr) + new TextDecoder().decode(o.stdout);
  const start = performance.now();
  let log = "";
  let ok = true;
  let executions = 0;
  const known = regressions(harness);
  if (known.length > 0) {
    const replay = await run(known);
    log += `--- regressions (${known.length})\n${decode(replay)}`;
    ok = replay.success;
    executions += known.length;
  }
  if (ok) {
    const pin = jobs > 1 && await canPin();
    const cpus = navigator.hardwareConcurrency;
    // A campaign runs each job as a series of fresh processes of at most CAMPAIGN_CHUNK inputs: one
    // fuzzing process's own memory grows with the threads and large buffers of millions of inputs
    // (ASan keeps what it freed), and past 2 GB libFuzzer stops it as out of memory, for no input's
    // fault (the first 10 M campaign stopped so after 2.4 M inputs a job).
    await Promise.all(Array.from({ length: jobs }, async (_, i) => {
      let left = runs === undefined ? 0 : Math.ceil(runs / jobs);
      do {
        const chunk = Math.min(left, CAMPAIGN_CHUNK);
        const limit = runs === undefined ? [`-max_total_time=${seconds}`] : [`-runs=${chunk}`];
        const o = await run([...limit, work, `${NATIVE}/fuzz/corpus/${harness}`], pin ? i % cpus : undefined);
        const text = decode(o);
        log += `--- job ${i}\n${text}`;
        const done = Number(/stat::number_of_executed_units:\s*(\d+)/.exec(text)?.[1] ?? 0);
        executions += done;
        left -= Math.max(done, 1);
        if (!o.success) ok = false;
      } while (ok && left > 0);
    }));
  }
  await Deno.writeTextFile(
    `${BUILD}/${harness}.log`,
    log + (sim ? `\n--- simulator stderr\n${sim.stderr()}` : ""),
  );
  const kept = (listDir(artifacts)).filter((f) => !before.has(f)).map((f) => `${artifacts}/${f}`);
  return {
    harness,
    ok: ok && kept.length === 0,
    executions,
    seconds: (performance.now() - start) / 1000,
    artifacts: kept,
    tail: ok ? "" : log.split("\n").slice(-25).join("\n"),
  };
}

/**
 * The bridge's seeds: real client sessions captured at a bridge, each before the stand-in library as
 * our library (extensions, events acknowledged), and the NIC session also before a vendor's library
 * (no extensions), a client that never acknowledges events, and a library that refuses or misbehaves.
 */
export async function bridgeSeeds(): Promise<Record<string, Uint8Array>> {
  const out: Record<string, Uint8Array> = {};
  const ours = STANDIN.extensions | STANDIN.autoAck;
  for (const session of await captureSessions()) {
    out[session.name] = toScript(session, ours);
    if (session.name !== "nic") continue;
    out["nic-vendor-library"] = toScript(session, STANDIN.autoAck);
    out["nic-no-acks"] = toScript(session, STANDIN.extensions);
    out["nic-drops-too-many"] = toScript(session, ours | STANDIN.drops | STANDIN.tooMany);
    out["nic-init-fails"] = toScript(session, ours | STANDIN.initFails);
    out["nic-begin-fails"] = toScript(session, ours | STANDIN.beginFails);
  }
  return out;
}

// Little-endian bytes of the seeds.
const u16 = (v: number) => new Uint8Array(new Uint16Array([v]).buffer);
const u32 = (v: number) => new Uint8Array(new Uint32Array([v]).buffer);
const u64 = (v: bigint) => new Uint8Array(new BigUint64Array([v]).buffer);
const text = (s: string) => new TextEncoder().encode(s);
const cat = (...parts: Uint8Array[]): Uint8Array => concatBytes(parts);

/** The seed corpora: valid frames of every kind, for each harness. */
export async function seeds(): Promise<Record<Harness, Record<string, Uint8Array>>> {
  return {
    replies: replySeeds(),
    frames: frameSeeds(),
    bridge: await bridgeSeeds(),
    trace: await traceSeeds(),
  };
}

/** The library's harness: scripts of what a kernel sends back, one per kind of exchange. */
function replySeeds(): Record<string, Uint8Array> {
  // A script record: a well-formed header of `type` with the pending request's id, then `payload`.
  const record = (type: number, payload: Uint8Array) =>
    cat(new Uint8Array([0x80 | type]), u16(payload.length), payload);
  // INVOKE_REPLY: status, count, the mask of returned parameters, 0, lengths, the returned bytes.
  const reply = (lengths: number[], returned: number, data: Uint8Array) =>
    record(
      FrameType.INVOKE_REPLY,
      cat(u32(0), u32(lengths.length), u32(returned), u32(0), ...lengths.map((l) => u64(BigInt(l))), data),
    );
  // COPY_REQUEST: copy id, op, target, 0, where, length, a write's bytes.
  const copyRequest = (op: number, target: number, where: bigint, length: number, data = new Uint8Array(0)) =>
    record(
      FrameType.COPY_REQUEST,
      cat(u32(1), new Uint8Array([op, target, 0, 0]), u64(where), u64(BigInt(length)), data),
    );
  const event = (callback: bigint, params: Uint8Array[]) =>
    record(
      FrameType.EVENT,
      cat(u64(2n), u64(callback), u32(params.length), ...params.map((p) => u64(BigInt(p.length))), ...params),
    );
  const link = event(32n, [new Uint8Array(8).fill(1)]);
  const log = event(33n, [text("vmnic0: link up")]);
  const two = event(34n, [u32(7), new Uint8Array([1, 2, 3, 4])]);
  const instances = record(
    FrameType.INSTANCES,
    cat(u32(0), u32(2), u64(1n), text("vmnic0".padEnd(32, "\0")), u64(2n), text("vmnic1".padEnd(32, "\0"))),
  );
  const replies: Record<string, Uint8Array> = {
    "getStats": cat(new Uint8Array([0]), link, reply([72], 0b1, new Uint8Array(72).fill(7))),
    "setMtu": cat(new Uint8Array([1]), log, reply([4, 4], 0b10, u32(0))),
    "readLog": cat(new Uint8Array([2]), two, reply([15, 4], 0b11, cat(text("vmnic0: link up"), u32(15)))),
    "echo": cat(new Uint8Array([3]), link, log, two, reply([64], 0b1, new Uint8Array(64).fill(9))),
    // The kernel's copies during a call: a parameter, an address read and write (the harness keeps
    // them in a sandbox: odd addresses land there, even ones fault), then the reply.
    "copies": cat(
      new Uint8Array([1]),
      copyRequest(1, 1, 0n, 4),
      copyRequest(1, 0, 0x1001n, 16),
      copyRequest(2, 0, 0x1001n, 4, u32(0xdeadbeef)),
      copyRequest(1, 0, 0x2000n, 8),
      reply([4, 4], 0b11, cat(u32(1500), u32(0))),
    ),
    "instances": cat(new Uint8Array([4]), instances),
    "drops": cat(
      new Uint8Array([1]),
      record(FrameType.EVENTS_DROPPED, u64(3n)),
      log,
      reply([4, 4], 0b10, u32(0)),
    ),
    "error-status": cat(new Uint8Array([0]), record(FrameType.INVOKE_REPLY, cat(u32(22), u32(0)))),
    "raw-garbage": cat(new Uint8Array([3, 0xff]), u16(20), new Uint8Array(20).fill(0x41)),
  };
  return replies;
}

/** The simulator's harness: frames a client sends, whole sessions and control requests. */
function frameSeeds(): Record<string, Uint8Array> {
  const hello = buildFrame(
    FrameType.HELLO,
    1,
    encodeHello({
      revnum: 0x01000000,
      name: "acmeNicMgmt",
      vendor: "acme",
      pid: 1,
      callbacks: [],
      buffers: [],
    }),
  );
  const invoke = (id: number, callbackId: bigint, params: Parameters<typeof encodeInvoke>[0]["params"]) =>
    buildFrame(FrameType.INVOKE, id, encodeInvoke({ instanceId: 1n, callbackId, sync: true, params }));
  const frames: Record<string, Uint8Array> = {
    "hello": hello,
    "hello-getStats": cat(hello, invoke(2, 16n, [{ dir: "out", size: 72, length: 72 }])),
    "hello-setMtu": cat(
      hello,
      invoke(2, 17n, [{ dir: "in", size: 4, length: 4, data: u32(9000) }, {
        dir: "out",
        size: 4,
        length: 4,
      }]),
    ),
    "hello-readLog": cat(
      hello,
      invoke(2, 20n, [{ dir: "vectorOut", size: 1, length: 4096 }, { dir: "out", size: 4, length: 4 }]),
    ),
    "hello-instances-ack": cat(
      hello,
      buildFrame(FrameType.GET_INSTANCES, 2),
      buildFrame(FrameType.EVENT_ACK, 0, encodeEventAck(1)),
    ),
    // COPY_REPLY: whole, and too short to hold its status (the simulator must refuse it in words).
    "hello-copy-reply": cat(
      hello,
      buildFrame(FrameType.COPY_REPLY, 2, cat(u32(1), u32(0), new Uint8Array(8))),
    ),
    "hello-copy-reply-short": cat(hello, buildFrame(FrameType.COPY_REPLY, 2, u32(1))),
    "control-status": buildFrame(FrameType.CONTROL, 1, encodeJsonPayload({ op: "status" })),
    "control-emit": buildFrame(
      FrameType.CONTROL,
      1,
      encodeJsonPayload({ op: "emit", event: "logEvent", params: { message: "x" } }),
    ),
  };
  return frames;
}

async function writeSeeds(): Promise<void> {
  for (const [harness, files] of Object.entries(await seeds())) {
    const dir = `${NATIVE}/fuzz/corpus/${harness}`;
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    await Deno.mkdir(dir, { recursive: true });
    for (const [name, bytes] of Object.entries(files)) await Deno.writeFile(`${dir}/${name}`, bytes);
    console.log(`fuzz: wrote ${Object.keys(files).length} seeds to ${dir}`);
  }
}

const USAGE = `deno task fuzz [--seconds N | --runs N] [--jobs N] [--only ${
  HARNESSES.join("|")
}] [--write-seeds]
  --seconds N   fuzz each harness for N seconds (default 60)
  --runs N      a campaign: N inputs in all per harness (no time limit), e.g. --only bridge --runs 10000000
  --jobs N      fuzzer processes per harness, side by side (default 1; each on a CPU of its own)
  --write-seeds rewrite the seed corpora (the bridge's from real sessions through a simulator)`;

/** A whole number ≥ 1 from an option, or exits saying which option was wrong. */
function count(name: string, value: string | undefined, fallback: number | undefined): number | undefined {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) {
    console.error(`fuzz: --${name} must be a whole number ≥ 1, got ${value}\n${USAGE}`);
    Deno.exit(2);
  }
  return n;
}

if (import.meta.main) {
  const args = parseArgs(Deno.args, {
    string: ["seconds", "runs", "jobs", "only"],
    boolean: ["write-seeds", "help"],
    unknown: (arg: string) => {
      console.error(`fuzz: unknown argument ${arg}\n${USAGE}`);
      Deno.exit(2);
    },
  });
  if (args.help) {
    console.log(USAGE);
    Deno.exit(0);
  }
  if (args["write-seeds"]) {
    await writeSeeds();
    Deno.exit(0);
  }
  const runs = count("runs", args.runs, undefined);
  const seconds = count("seconds", args.seconds, runs === undefined ? 60 : 86_400)!;
  const jobs = count("jobs", args.jobs, 1)!;
  const only = args.only as string | undefined;
  if (only !== undefined && !(HARNESSES as readonly string[]).includes(only)) {
    console.error(`fuzz: --only must be one of ${HARNESSES.join(", ")}, got ${only}`);
    Deno.exit(2);
  }
  const available = await fuzzerAvailable();
  if (available !== true) {
    console.error(`fuzz: ${available}`);
    Deno.exit(2);
  }
  let failed = 0;
  for (const h of HARNESSES.filter((h) => !only || h === only)) {
    const r = await runHarness(h, { seconds, runs, jobs });
    console.log(
      `${r.ok ? "ok  " : "FAIL"}  ${h.padEnd(8)} ${r.executions} inputs in ${r.seconds.toFixed(0)} s (${
        (r.executions / r.seconds).toFixed(0)
      }/s, ${jobs} job${jobs === 1 ? "" : "s"}; log: native/build/fuzz/${h}.log)`,
    );
    if (!r.ok) {
      failed++;
      console.log(r.tail);
      for (const a of r.artifacts) console.log(`  kept: ${a}`);
    }
  }
  Deno.exit(failed ? 1 : 0);
}
