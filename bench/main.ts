/**
 * `deno task bench`: calls and events per second through our API, beside the fast path's own bare
 * call (the same completion queue, no typed layer), a C client and Python ctypes on the same library
 * — against the simulator and against a null kernel (native/test/null_kernel.c: it answers at once,
 * so the client's own cost shows) — then the bridge on a local pipe and on a link with 20 ms added
 * each way, a 1 ms timer while 1,000 calls are submitted at once, and memory against calls in flight.
 * Every ratio is taken within one run, each side measured alternately, best of BENCH_ROUNDS; the
 * machine is shared and noisy, so no lone figure means much. Beside the API's cost in calls per
 * second, its cost in the JavaScript thread's own CPU per call (apiCpuCost*), which what else runs on
 * the machine sways less; and the API's cost, events against the C client and the bridge's ratio side
 * by side as well (`paired`: short windows or runs of each in turn, the median of the pairs), which
 * the targets read.
 * Writes `bench/results/latest.json`.
 *
 * Environment: BENCH_SECONDS (per measurement, default 2), BENCH_ROUNDS (3), BENCH_EVENTS (20000),
 * BENCH_PAIRED_EVENTS (100000, each run of the events side by side), BENCH_PAIRS (10).
 * @module
 */
import { BRIDGE_ENV, LOCAL_HOST, SIM_SOCKET_ENV } from "../abi/facts.ts";
import { acmeNic } from "../demo.ts";
import { MAX_VECTOR_BYTES, open, type Session } from "../mod.ts";
import { alignedBytes, wholeCacheLines } from "../ffi/aligned_bytes.ts";
import { loadLibrary } from "../ffi/library.ts";
import { NativeHandle } from "../ffi/handle.ts";
import { toCSignature } from "../mgmt/signature.ts";
import { LIB_PATH, startSimProcess } from "../sim/process.ts";
import { envSetting } from "./settings.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const SECONDS = envSetting("BENCH_SECONDS", 2, false);
const EVENTS = envSetting("BENCH_EVENTS", 20000);
/** Events in each run of the side-by-side measurement: long enough that one scheduling hiccup is not the run. */
const PAIRED_EVENTS = envSetting("BENCH_PAIRED_EVENTS", 100000);
const ROUNDS = envSetting("BENCH_ROUNDS", 3);
const BRIDGE = `${ROOT}native/build/vmkmgmt-bridge`;
const LINK_DELAY_MS = 20;

/** CPU time this (the JavaScript) thread has used, ns (Linux's schedstat). */
function threadCpuNs(): number {
  try {
    return Number(Deno.readTextFileSync("/proc/thread-self/schedstat").split(" ")[0]);
  } catch {
    return NaN;
  }
}

/**
 * The JavaScript thread's CPU per operation (ns), least of the rounds, by what `rate` measured:
 * less swayed by a busy machine than a rate, since what other processes run is not counted.
 */
const cpuPerOp: Record<string, number> = {};

/**
 * Runs `op` (in `width` concurrent lanes, each passing its number) for SECONDS, after a warm-up,
 * or for `windowMs` without one; returns operations per second. With a `name`, also keeps the
 * JavaScript thread's CPU per operation in {@link cpuPerOp}.
 */
async function rate(
  width: number,
  op: (lane: number) => Promise<unknown> | unknown,
  name?: string,
  windowMs?: number,
): Promise<number> {
  if (windowMs === undefined) {
    for (let i = 0; i < 200; i++) await op(0); // warm-up
  }
  let n = 0;
  const cpu0 = threadCpuNs();
  const start = performance.now();
  const end = start + (windowMs ?? SECONDS * 1000);
  await Promise.all(Array.from({ length: width }, async (_, lane) => {
    while (performance.now() < end) {
      for (let i = 0; i < 20; i++) await op(lane);
      n += 20;
    }
  }));
  if (name) cpuPerOp[name] = Math.min(cpuPerOp[name] ?? Infinity, (threadCpuNs() - cpu0) / n);
  return n / ((performance.now() - start) / 1000);
}

/** The best of ROUNDS for each of several measurements, taken in turn so drift hits all alike. */
async function best(measure: Record<string, () => Promise<number>>): Promise<Record<string, number>> {
  const out: Record<string, number> = Object.fromEntries(Object.keys(measure).map((k) => [k, 0]));
  for (let r = 0; r < ROUNDS; r++) {
    for (const [k, m] of Object.entries(measure)) out[k] = Math.max(out[k], await m());
  }
  return out;
}

/** Windows in {@link paired}, and how long each lasts (ms). */
const PAIRS = envSetting("BENCH_PAIRS", 10);
const PAIR_WINDOW_MS = 250;

/**
 * The rate of `a` over that of `b`, side by side: PAIRS short windows of each, back to back (in
 * turn a-b and b-a, so a drift favours neither), the median of the pairs' ratios. Why beside the
 * best of ROUNDS: on this shared machine the rate of the same code swings by up to 2× from one
 * second to the next, and the best of each taken apart can come from different swings; a pair's
 * two windows see the same machine. Both are reported.
 */
async function paired(
  width: number,
  a: (lane: number) => Promise<unknown>,
  b: (lane: number) => Promise<unknown>,
): Promise<number> {
  for (let i = 0; i < 200; i++) await a(0), await b(0); // warm-up (the windows have none)
  const inWindow = (op: (lane: number) => Promise<unknown>) => () =>
    rate(width, op, undefined, PAIR_WINDOW_MS);
  return sideBySide(inWindow(a), inWindow(b));
}

/**
 * Events into a JS handler over events into the C client, side by side: PAIRS runs of PAIRED_EVENTS
 * of each in turn (which goes first alternating), the median of the pairs. A run is short (~0.1 s at
 * a million events a second) and this machine swings by 2× from one to the next, so the best of
 * ROUNDS taken apart reads whichever side had the luckiest run: 0.65× in one bench run, 1.28–1.48×
 * side by side on the same machine the next day.
 */
async function pairedEvents(s: Session<typeof acmeNic.def>, socket: string): Promise<number> {
  await eventsPerSecond(s, PAIRED_EVENTS); // warm-up (the runs have none)
  return sideBySide(
    () => eventsPerSecond(s, PAIRED_EVENTS),
    () => cRate("events", socket, {}, PAIRED_EVENTS),
  );
}

/**
 * The median over PAIRS pairs of `a()` / `b()`, each pair measured back to back, in turn a-b and b-a
 * so that a drift favours neither.
 */
async function sideBySide(a: () => Promise<number>, b: () => Promise<number>): Promise<number> {
  const ratios: number[] = [];
  for (let i = 0; i < PAIRS; i++) {
    if (i % 2 === 0) {
      const ra = await a();
      ratios.push(ra / await b());
    } else {
      const rb = await b();
      ratios.push(await a() / rb);
    }
  }
  return median(ratios);
}

/** The median of `values` (NaN for none). */
function median(values: number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** A C or Python baseline (it prints one JSON object); undefined, said why, when it cannot run. */
async function external(
  cmd: string,
  args: string[],
  socket: string,
  env: Record<string, string> = {},
): Promise<Record<string, number> | undefined> {
  try {
    const o = await new Deno.Command(cmd, {
      args,
      env: { [SIM_SOCKET_ENV]: socket, ...env },
      stderr: "piped",
    })
      .output();
    if (!o.success) throw new Error(new TextDecoder().decode(o.stderr));
    return JSON.parse(new TextDecoder().decode(o.stdout));
  } catch (e) {
    console.error(`(skipping ${cmd}: ${(e as Error).message.trim()})`);
    return undefined;
  }
}

async function cRate(
  mode: "echo" | "events",
  socket: string,
  env: Record<string, string> = {},
  events = EVENTS,
): Promise<number> {
  const r = await external(
    `${ROOT}native/build/echo_bench`,
    [
      mode,
      String(mode === "echo" ? SECONDS : events),
    ],
    socket,
    env,
  );
  return r ? (mode === "echo" ? r.calls : r.events) / r.seconds : NaN;
}

async function pythonRate(mode: "echo" | "events", socket: string): Promise<number> {
  const r = await external(
    "python3",
    [`${ROOT}bench/ctypes_bench.py`, LIB_PATH, mode, String(mode === "echo" ? SECONDS : EVENTS)],
    socket,
  );
  return r ? (mode === "echo" ? r.calls : r.events) / r.seconds : NaN;
}

/** Events per second into a JS handler (it only counts; the loop wakes once per batch). */
async function eventsPerSecond(s: Session<typeof acmeNic.def>, events = EVENTS): Promise<number> {
  let received = 0;
  let target = 0;
  let wake: (() => void) | undefined;
  const off = s.on("linkEvent", () => {
    if (++received >= target && wake) wake();
  });
  const batch = async (n: number) => {
    target = received + n;
    const reached = new Promise<void>((r) => (wake = r));
    await s.invoke("triggerEvents", { instance: 1n, count: n });
    if (received < target) await reached;
  };
  await batch(10);
  const start = performance.now();
  const first = received;
  for (let sent = 0; sent < events; sent += 500) await batch(Math.min(500, events - sent));
  off();
  return (received - first) / ((performance.now() - start) / 1000);
}

/** Lanes the bare call has buffers for: the most calls {@link against} has in flight on it. */
const BARE_LANES = 32;

/**
 * The fast path's own bare call: the completion queue with a pre-encoded echo, no typed layer. Each
 * lane its own buffer, as any caller with calls in flight together needs (each call's answer lands
 * in its buffer), on a cache line of its own, as the API's parameter blocks are: one buffer shared
 * by every call in flight — what this measured until 32 calls' answers overwrote each other in it —
 * kept that line in one CPU's cache, and made the bare call ~4–6 % faster at 32 in flight than a
 * caller with a buffer per call can be (measured: ARCHITECTURE.md, "Threads and who may block").
 */
async function bareEcho(): Promise<
  { call: (lane: number) => Promise<number>; close: () => Promise<unknown> }
> {
  const { symbols } = await loadLibrary();
  // Its kernel callbacks only: no user callback needs a function here (events go nowhere).
  const c = { ...toCSignature(acmeNic) };
  c.callbacks = c.callbacks.filter((cb) => cb.location === 1);
  const { rc, handle } = await NativeHandle.init(symbols, c, 0n, c.callbacks.map(() => 0n));
  if (rc !== 0 || !handle) throw new Error(`bare init failed: ${rc}`);
  const { CompletionQueue } = await import("../ffi/completion_queue.ts");
  const queue = CompletionQueue.of(symbols);
  if (!queue || !handle.attachQueue(queue, { event: () => {}, disconnected: () => {} })) {
    throw new Error("the library has no completion queue");
  }
  const echo = handle.call(c.callbacks.find((cb) => cb.label === "echo")!);
  const size = 64; // (echo's one parameter, its message)
  const stride = wholeCacheLines(size);
  const slab = alignedBytes(BARE_LANES * stride);
  const lanes = Array.from({ length: BARE_LANES }, (_, i) => slab.subarray(i * stride, i * stride + size));
  return { call: (lane) => echo.invoke(1n, [lanes[lane]]), close: () => handle.destroy() };
}

/** Every figure against one kernel (its socket). */
async function against(socket: string) {
  Deno.env.set(SIM_SOCKET_ENV, socket);
  const bare = await bareEcho();
  const session = await open(acmeNic);
  const payload = new Uint8Array(56);
  const api = () => session.invoke("echo", { instance: 1n, msg: { seq: 1n, payload } });
  const r = await best({
    bareSequential: () => rate(1, bare.call, "bareSequential"),
    apiSequential: () => rate(1, api, "apiSequential"),
    cSequential: () => cRate("echo", socket),
    pythonSequential: () => pythonRate("echo", socket),
  });
  Object.assign(
    r,
    await best({
      bare32InFlight: () => rate(32, bare.call, "bare32InFlight"),
      api32InFlight: () => rate(32, api, "api32InFlight"),
      api1000InFlight: () => rate(1000, api),
      apiBlocking: () =>
        rate(1, () => session.invokeSync("echo", { instance: 1n, msg: { seq: 1n, payload } })),
    }),
  );
  Object.assign(
    r,
    await best({
      apiEvents: () => eventsPerSecond(session),
      cEvents: () => cRate("events", socket),
      pythonEvents: () => pythonRate("events", socket),
    }),
  );
  r.apiEventsVsCPaired = await pairedEvents(session, socket);
  // The API's cost over the bare call, side by side (the best-of rates above give it too).
  r.apiCostPairedSequential = await paired(1, bare.call, api) - 1;
  r.apiCostPaired32InFlight = await paired(32, bare.call, api) - 1;
  // The recorder (native/record/) in front of the C client: what recording every call costs it.
  const traceDir = await Deno.makeTempDir({ prefix: "vmkmgmt-bench-trace-" });
  const recorded = {
    LD_PRELOAD: `${ROOT}native/build/libvmkmgmt-record.so`,
    VMKMGMT_RECORD: `${traceDir}/t-%p`,
  };
  Object.assign(
    r,
    await best({
      cSequentialPlain: () => cRate("echo", socket),
      cSequentialRecorded: () => cRate("echo", socket, recorded),
    }),
  );
  await Deno.remove(traceDir, { recursive: true });
  await session.close();
  await bare.close();
  // The JavaScript thread's CPU per call, API against bare: what the typed layer itself costs.
  r.apiCpuCostSequential = cpuPerOp.apiSequential / cpuPerOp.bareSequential - 1;
  r.apiCpuCost32InFlight = cpuPerOp.api32InFlight / cpuPerOp.bare32InFlight - 1;
  for (const k of Object.keys(cpuPerOp)) delete cpuPerOp[k];
  return r;
}

/** The latest a 1 ms timer fired while `n` calls were submitted at once (ms), worst of ROUNDS. */
async function timerLateness(n: number): Promise<number> {
  await using s = await open(acmeNic);
  const payload = new Uint8Array(56);
  let worst = 0;
  for (let r = 0; r < ROUNDS; r++) {
    const t = performance.now();
    const timer = new Promise<number>((resolve) => setTimeout(() => resolve(performance.now() - t - 1), 1));
    const calls = Array.from(
      { length: n },
      () => s.invoke("echo", { instance: 1n, msg: { seq: 1n, payload } }),
    );
    worst = Math.max(worst, await timer);
    await Promise.all(calls);
  }
  return worst;
}

/** Resident memory (MiB) of this process with `n` calls stalled in the simulator. */
async function rssInFlight(sim: Awaited<ReturnType<typeof startSimProcess>>, counts: number[]) {
  Deno.env.set(SIM_SOCKET_ENV, sim.socketPath);
  await using s = await open(acmeNic);
  const out: Record<string, number> = {};
  for (const n of counts) {
    await sim.control({ op: "stall", instance: "*", count: "inf" });
    const calls = Array.from({ length: n }, () => s.invoke("getStats", { instance: 1n }).catch(() => {}));
    await new Promise((r) => setTimeout(r, 200));
    out[String(n)] = Deno.memoryUsage().rss / 2 ** 20;
    await sim.control({ op: "clear" });
    await Promise.all(calls);
  }
  return out;
}

// ---- the kernels
await using sim = await startSimProcess();
const nullDir = await Deno.makeTempDir({ prefix: "vmkmgmt-null-" });
const nullSocket = `${nullDir}/null.sock`;
const nullKernel = new Deno.Command(`${ROOT}native/build/null_kernel`, {
  args: [nullSocket],
  stdout: "piped",
  stdin: "piped", // it ends with this process
}).spawn();
{
  const reader = nullKernel.stdout.getReader();
  await reader.read(); // "listening"
  reader.releaseLock();
}
const { info } = await loadLibrary();
if (!info.completionQueue) {
  throw new Error(`${info.path} has no completion queue: the bench measures the fast path`);
}

console.log(`best of ${ROUNDS} × ${SECONDS} s per measurement; events: ${EVENTS}`);
const onNull = await against(nullSocket);
const onSim = await against(sim.socketPath);
Deno.env.set(SIM_SOCKET_ENV, nullSocket);
const timerLateMs = await timerLateness(1000);

// ---- the bridge: on a local pipe, and on a link with LINK_DELAY_MS each way
Deno.env.set(SIM_SOCKET_ENV, sim.socketPath);
Deno.env.set(BRIDGE_ENV, `${BRIDGE} --lib ${LIB_PATH}`);
const bridge: Record<string, number> = {};
{
  await using bridged = await open(acmeNic, { host: LOCAL_HOST });
  await using direct = await open(acmeNic);
  const payload = new Uint8Array(56);
  const echo = (s: Session<typeof acmeNic.def>) => () =>
    s.invoke("echo", { instance: 1n, msg: { seq: 1n, payload } });
  Object.assign(
    bridge,
    await best({
      bridgeSequential: () => rate(1, echo(bridged)),
      direct32InFlight: () => rate(32, echo(direct)),
      bridge32InFlight: () => rate(32, echo(bridged)),
    }),
  );
  bridge.bridgeVsDirectPaired32 = await paired(32, echo(bridged), echo(direct));
  bridge.bridgeEvents = await eventsPerSecond(bridged);
}
Deno.env.set(
  BRIDGE_ENV,
  `${Deno.execPath()} run -A ${ROOT}bench/delay_relay.ts ${LINK_DELAY_MS} -- ${BRIDGE} --lib ${LIB_PATH}`,
);
{
  await using far = await open(acmeNic, { host: LOCAL_HOST });
  await far.invoke("getStats", { instance: 1n });
  let bestMs = Infinity;
  for (let r = 0; r < ROUNDS; r++) {
    const t = performance.now();
    await Promise.all(Array.from({ length: 200 }, () => far.invoke("getStats", { instance: 1n })));
    bestMs = Math.min(bestMs, performance.now() - t);
  }
  bridge.link200CallsMs = bestMs;
}
Deno.env.delete(BRIDGE_ENV);

// ---- memory against calls in flight, and one 64 MiB image end to end
const rssMiB = await rssInFlight(sim, [0, 1000, 10000]);
let flash64MiBMs = Infinity;
{
  Deno.env.set(SIM_SOCKET_ENV, sim.socketPath);
  await using s = await open(acmeNic);
  const image = new Uint8Array(MAX_VECTOR_BYTES).fill(0x5a);
  for (let r = 0; r < ROUNDS; r++) {
    const t = performance.now();
    await s.invoke("flashFirmware", { instance: 1n, image });
    flash64MiBMs = Math.min(flash64MiBMs, performance.now() - t);
  }
}
nullKernel.kill();
await nullKernel.status;
await Deno.remove(nullDir, { recursive: true });

const ratiosOf = (r: Record<string, number>) => ({
  apiSequentialVsPython: r.apiSequential / r.pythonSequential,
  apiSequentialVsC: r.apiSequential / r.cSequential,
  api32InFlightVsCSequential: r.api32InFlight / r.cSequential,
  api1000VsApi32InFlight: r.api1000InFlight / r.api32InFlight,
  apiCostSequential: r.bareSequential / r.apiSequential - 1,
  apiCost32InFlight: r.bare32InFlight / r.api32InFlight - 1,
  apiCostPairedSequential: r.apiCostPairedSequential,
  apiCostPaired32InFlight: r.apiCostPaired32InFlight,
  apiCpuCostSequential: r.apiCpuCostSequential,
  apiCpuCost32InFlight: r.apiCpuCost32InFlight,
  apiEventsVsC: r.apiEvents / r.cEvents,
  apiEventsVsCPaired: r.apiEventsVsCPaired,
  recordedVsPlainC: r.cSequentialRecorded / r.cSequentialPlain,
});
const ratios = {
  nullKernel: ratiosOf(onNull),
  simulator: ratiosOf(onSim),
  bridge32InFlightVsDirect: bridge.bridge32InFlight / bridge.direct32InFlight,
  bridge32InFlightVsDirectPaired: bridge.bridgeVsDirectPaired32,
  link200CallsInRoundTrips: bridge.link200CallsMs / (2 * LINK_DELAY_MS),
};
const n = ratios.nullKernel;
const targets = {
  "sequential invoke ≥ 1.0× Python ctypes (null kernel)": n.apiSequentialVsPython >= 1,
  "sequential invoke ≥ 1.0× the C client (null kernel)": n.apiSequentialVsC >= 1,
  "32 in flight ≥ 3× the sequential C client (null kernel)": n.api32InFlightVsCSequential >= 3,
  "1,000 in flight work": onNull.api1000InFlight > 0,
  // The API's cost, events against C and the bridge's ratio are read side by side (paired): each is
  // a ratio of two rates of the same kind, which the best of ROUNDS taken apart lets the machine's
  // swings decide.
  "API cost ≤ 10 % over the fast path's bare call (sequential, paired)": n.apiCostPairedSequential <= 0.1,
  "API cost ≤ 10 % over the fast path's bare call (32 in flight, paired)": n.apiCostPaired32InFlight <= 0.1,
  // Against both kernels: the simulator's own cost can hide the binding's (as it once did).
  "events into a JS handler ≥ 1.0× the C client (null kernel and simulator, paired)":
    Math.min(n.apiEventsVsCPaired, ratios.simulator.apiEventsVsCPaired) >= 1,
  "bridge 32 in flight ≥ 0.8× direct 32 in flight (paired)": ratios.bridge32InFlightVsDirectPaired >= 0.8,
  "200 calls over a 20 ms link within 3 round trips": ratios.link200CallsInRoundTrips <= 3,
  "a 1 ms timer ≤ 5 ms late while 1,000 calls are submitted": timerLateMs <= 5,
  "a 64 MiB firmware image end to end in under a second": flash64MiBMs < 1000,
  "the C client under the recorder ≥ 0.9× without it (null kernel)": n.recordedVsPlainC >= 0.9,
};

const fmt = (v: number) => (Number.isFinite(v) ? Math.round(v).toLocaleString("en-US") : "n/a");
console.log("\nper second           null kernel   simulator");
for (const k of Object.keys(onNull).filter((k) => !k.startsWith("apiC") && !k.endsWith("Paired"))) {
  console.log(`  ${k.padEnd(20)} ${fmt(onNull[k]).padStart(10)}  ${fmt(onSim[k]).padStart(10)}`);
}
console.log("\nbridge");
for (const [k, v] of Object.entries(bridge).filter(([k]) => !k.endsWith("Paired32"))) {
  console.log(`  ${k.padEnd(20)} ${fmt(v).padStart(10)}${k.endsWith("Ms") ? " ms" : "/s"}`);
}
console.log(`\n  1 ms timer, 1,000 calls submitted: ${timerLateMs.toFixed(1)} ms late (worst of ${ROUNDS})`);
console.log(
  `  RSS with calls stalled in flight: ${
    Object.entries(rssMiB).map(([k, v]) => `${k}: ${v.toFixed(0)} MiB`).join(", ")
  }`,
);
console.log(`  flash64MiB: ${fmt(flash64MiBMs)} ms`);
console.log("\nratios               null kernel   simulator");
for (const k of Object.keys(n) as (keyof typeof n)[]) {
  const show = (v: number) => (k.startsWith("apiC") ? `${(v * 100).toFixed(1)} %` : `${v.toFixed(2)}×`);
  console.log(`  ${k.padEnd(26)} ${show(n[k]).padStart(9)}  ${show(ratios.simulator[k]).padStart(9)}`);
}
console.log(`  bridge32InFlightVsDirect   ${ratios.bridge32InFlightVsDirect.toFixed(2)}×`);
console.log(`  … side by side (paired)    ${ratios.bridge32InFlightVsDirectPaired.toFixed(2)}×`);
console.log(`  link200CallsInRoundTrips   ${ratios.link200CallsInRoundTrips.toFixed(2)}`);
console.log("\ntargets");
for (const [k, ok] of Object.entries(targets)) console.log(`  ${ok ? "met " : "MISS"}  ${k}`);

await Deno.mkdir(`${ROOT}bench/results`, { recursive: true });
const file = `${ROOT}bench/results/latest.json`;
await Deno.writeTextFile(
  file,
  JSON.stringify(
    {
      date: new Date().toISOString(),
      deno: Deno.version.deno,
      seconds: SECONDS,
      rounds: ROUNDS,
      nullKernel: onNull,
      simulator: onSim,
      bridge,
      timerLateMs,
      rssMiB,
      flash64MiBMs,
      ratios,
      targets,
    },
    null,
    2,
  ),
);
console.log(`\nwritten to ${file}`);
