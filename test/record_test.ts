/**
 * The recorder (native/record/, LD_PRELOAD) in front of real clients — the C test client linked
 * against the library, and a Deno program that loads it with dlopen — against a real simulator;
 * the trace read back with mgmt/trace/; and the reader against damaged and hostile input.
 */
import { assert, assertEquals, assertRejects, assertStringIncludes, assertThrows } from "@std/assert";
import { acmeNic } from "../demo.ts";
import { open } from "../mod.ts";
import { acmeNvme, acmeNvmeAdapter } from "../mgmt/demo/acme_nvme.ts";
import {
  parseTrace,
  readTrace,
  RecordingError,
  recordingPath,
  startRecording,
  stopRecording,
  type Trace,
  TraceError,
  type TraceInvoke,
} from "../mgmt/trace/mod.ts";
import { useEnv } from "./support/env.ts";
import { startSimProcess } from "../sim/process.ts";
import { runWithin } from "./support/wait.ts";
import { traceRecord } from "../bench/fuzz_trace.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const RECORDER = `${ROOT}native/build/libvmkmgmt-record.so`;
const CLIENT = `${ROOT}native/build/client_test`;

const run = runWithin;

/** What a test of the C client checks: its verdict lines (times and the log's size vary run to run). */
const verdicts = (out: string) =>
  out.split("\n").filter((l) => /^(ok|not ok) /.test(l) || / passed, /.test(l)).map((l) =>
    l.replace(/\(\d+ bytes\)/, "(N bytes)")
  );

const invokesOf = (t: Trace, id: number) =>
  t.records.filter((r): r is TraceInvoke => r.kind === "invoke" && r.callbackId === BigInt(id));

Deno.test("recorder: the C client under it", async (t) => {
  await using sim = await startSimProcess();
  const dir = await Deno.makeTempDir({ prefix: "vmkmgmt-record-" });
  const plain = await run(CLIENT, ["all"], sim.env, "the C client");
  const recorded = await run(
    CLIENT,
    ["all"],
    { ...sim.env, LD_PRELOAD: RECORDER, VMKMGMT_RECORD: `${dir}/c-%p.vmktrace` },
    "the C client under the recorder",
  );
  const files = [...Deno.readDirSync(dir)].map((e) => e.name);
  assertEquals(files.length, 1, `one trace, named by the pid: ${files}`);
  assert(/^c-\d+\.vmktrace$/.test(files[0]), files[0]);
  const trace = await readTrace(`${dir}/${files[0]}`);
  await t.step("sees exactly what it saw without it", () => {
    assertEquals(plain.code, 0, plain.stdout);
    assertEquals(recorded.code, 0, recorded.stdout + recorded.stderr);
    assertEquals(verdicts(recorded.stdout), verdicts(plain.stdout));
  });
  await t.step("the trace is whole: it starts with the command line and ends when the client exits", () => {
    assertEquals(trace.torn, undefined);
    assertEquals(trace.damaged, undefined);
    const [start] = trace.records;
    assert(
      start.kind === "start" && start.argv[0] === CLIENT && start.argv[1] === "all",
      JSON.stringify(start),
    );
    assertEquals(trace.records.at(-1)?.kind, "end", "a client that exits normally ends its trace");
  });
  await t.step("every Init is there with its whole table, the refused ones too", () => {
    // Init: the whole signature, failures included (the client tries a few that the kernel refuses).
    const inits = trace.records.filter((r) => r.kind === "init");
    const nic = inits.find((r) => r.status === 0 && r.name === "acmeNicMgmt" && r.revision === 0x01000000);
    if (!nic) throw new Error("no successful Init of acmeNicMgmt in the trace");
    assertEquals([nic.vendor, nic.callbacks.length], ["acme", 9], "the C client's table: 9 callbacks");
    const setMtu = nic.callbacks.find((c) => c.id === BigInt(acmeNic.callback("setMtu").id));
    assertEquals(setMtu && { ...setMtu, id: 0 }, {
      id: 0,
      location: "kernel",
      synchronous: true,
      numParms: 2,
      parmSizes: [4, 4, 0, 0],
      parmTypes: ["in", "out"],
    });
    assert(
      inits.some((r) => r.status === 19 && r.name === "nosuchApi"),
      "the refused Init is there with ENODEV",
    );
  });
  await t.step("a call's arguments: what went in, what came out", () => {
    // setMtu 9000: the MTU went in, the status came out.
    const mtu = invokesOf(trace, acmeNic.callback("setMtu").id).find((r) =>
      r.args[0].in && new DataView(r.args[0].in.buffer, r.args[0].in.byteOffset).getUint32(0, true) === 9000
    );
    if (!mtu) throw new Error("setMtu 9000 is not in the trace");
    assertEquals([mtu.status, mtu.instanceId, mtu.args[0].out, mtu.args[1].in], [
      0,
      2n,
      undefined,
      undefined,
    ]);
    assertEquals(mtu.args[1].out, new Uint8Array(4), "its status parameter came back 0");
  });
  await t.step("instances, the session's lifecycle and the events received", () => {
    // GetInstances, and the lifecycle.
    const instances = trace.records.find((r) => r.kind === "instances" && r.status === 0);
    assert(
      instances && instances.kind === "instances" && instances.instances.some((i) => i.name === "vmnic0"),
    );
    const ops = new Set(trace.records.flatMap((r) => r.kind === "control" ? [r.op] : []));
    assert(ops.has("begin") && ops.has("end") && ops.has("destroy"), [...ops].join());
    assert(trace.records.some((r) => r.kind === "event"), "events the client received are recorded");
  });
  await Deno.remove(dir, { recursive: true });
});

const DENO_CLIENT = `
import { open } from "${ROOT}mod.ts";
import { acmeNic } from "${ROOT}demo.ts";
await using s = await open(acmeNic);
console.log("mtu", (await s.invoke("getStats", { instance: 1n })).stats.mtu);
const ev = s.waitFor("linkEvent", { timeout: 5000 });
await s.invoke("reset", { instance: 1n });
console.log("event", JSON.stringify((await ev).params));
const image = new Uint8Array(100_000).map((_, i) => i & 0xff);
console.log("crc", (await s.invoke("flashFirmware", { instance: 1n, image })).crc);
const e = await s.invoke("setMtu", { instance: 99n, mtu: 1 }).catch((e) => e.code);
console.log("error", e);
`;

Deno.test("recorder: a Deno program (dlopen) is recorded the same way, through its own library's path", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vmkmgmt-record-" });
  const script = `${dir}/client.ts`;
  await Deno.writeTextFile(script, DENO_CLIENT);
  const args = ["run", "--allow-all", "--no-lock", script];
  // Each on a simulator of its own: a reset's link-up event goes to every session of the API.
  const fresh = async (env: Record<string, string>, what: string) => {
    await using sim = await startSimProcess();
    return await run(Deno.execPath(), args, { ...sim.env, ...env }, what);
  };
  const plain = await fresh({}, "the Deno client");
  const recorded = await fresh(
    { LD_PRELOAD: RECORDER, VMKMGMT_RECORD: `${dir}/d.vmktrace` },
    "the Deno client under the recorder",
  );
  assertEquals(plain.code, 0, plain.stderr);
  assertEquals(recorded.code, 0, recorded.stderr);
  assertEquals(recorded.stdout, plain.stdout);
  assertStringIncludes(plain.stdout, "error ENOENT");

  const trace = await readTrace(`${dir}/d.vmktrace`);
  assertEquals([trace.torn, trace.damaged], [undefined, undefined]);
  const init = trace.records.find((r) => r.kind === "init");
  assert(init?.kind === "init" && init.status === 0 && init.name === "acmeNicMgmt");
  const flash = invokesOf(trace, acmeNic.callback("flashFirmware").id)[0];
  assertEquals(flash.args[0].direction, "vectorIn");
  assertEquals(flash.args[0].in, new Uint8Array(100_000).map((_, i) => i & 0xff), "the image, byte for byte");
  const links = trace.records.filter((r) => r.kind === "event" && r.callbackId === 32n);
  const link = links[0];
  if (link?.kind !== "event") throw new Error("no linkEvent in the trace");
  assertEquals(link.params.map((p) => p.length), [8], "a LinkState: 8 bytes");
  assertStringIncludes(plain.stdout, `event {"state":{"up":${link.params[0][0]},`);
  const failed = invokesOf(trace, acmeNic.callback("setMtu").id).find((r) => r.instanceId === 99n);
  assertEquals(failed?.status, 2, "the ENOENT the kernel answered");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("recorder: a trace that cannot be opened or written is said, and never breaks the client", async () => {
  await using sim = await startSimProcess();
  for (
    const [path, says] of [["/nonexistent/dir/t.vmktrace", "cannot open"], ["/dev/full", "cannot write"]]
  ) {
    const out = await run(
      CLIENT,
      ["all"],
      { ...sim.env, LD_PRELOAD: RECORDER, VMKMGMT_RECORD: path },
      `the C client recording to ${path}`,
    );
    assertEquals(out.code, 0, out.stdout);
    assertStringIncludes(out.stdout, "105 passed, 0 failed");
    assertStringIncludes(out.stderr, says, `${path}: ${out.stderr}`);
  }
});

Deno.test("recorder: a buffer list it cannot use is said once, and never breaks the client", async () => {
  await using sim = await startSimProcess();
  // A buffer list that is missing, is a signature's JSON, or has a bad line: said once, with the
  // line; the recording goes on without bytes behind pointers, and the client is unharmed.
  const dir = await Deno.makeTempDir({ prefix: "vmkmgmt-record-list-" });
  await Deno.writeTextFile(`${dir}/sig.json`, '{"name": "acmeNvmeMgmt"}\n');
  await Deno.writeTextFile(
    `${dir}/bad.buffers`,
    "# a list\nacmeNvme-* acme 17 0 5 out 4096\nacmeNvme-* acme 18 0 0 sideways 4\n",
  );
  for (
    const [list, says] of [
      [`${dir}/none.buffers`, "none.buffers: No such file"],
      [
        `${dir}/sig.json`,
        "sig.json line 1: this is a signature's JSON form; make the recorder's list from it with `deno task trace buffers",
      ],
      [`${dir}/bad.buffers`, "bad.buffers line 3: the direction is not in, out or inout"],
    ]
  ) {
    const out = await run(
      `${ROOT}native/build/nvme_client`,
      ["plain"],
      { ...sim.env, LD_PRELOAD: RECORDER, VMKMGMT_RECORD: `${dir}/t.vmktrace`, VMKMGMT_RECORD_SIG: list },
      `the NVMe client with the list ${list}`,
    );
    assertEquals(out.code, 0, out.stdout + out.stderr);
    assertStringIncludes(out.stderr, says);
    assertEquals(
      out.stderr.split("\n").filter((l) => l.includes("VMKMGMT_RECORD_SIG")).length,
      1,
      out.stderr,
    );
    const trace = await readTrace(`${dir}/t.vmktrace`);
    assert(trace.records.some((r) => r.kind === "invoke"), "recorded");
    assert(trace.records.every((r) => r.kind !== "invoke" || r.buffers.length === 0), "without buffers");
    await Deno.remove(`${dir}/t.vmktrace`);
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test("recorder: a client killed mid-run leaves a trace whose records before the cut are whole", async () => {
  await using sim = await startSimProcess();
  const dir = await Deno.makeTempDir({ prefix: "vmkmgmt-record-" });
  const child = new Deno.Command(`${ROOT}native/build/echo_bench`, {
    args: ["echo", "30"],
    env: { ...sim.env, LD_PRELOAD: RECORDER, VMKMGMT_RECORD: `${dir}/k.vmktrace` },
    stdout: "null",
    stderr: "null",
  }).spawn();
  const path = `${dir}/k.vmktrace`;
  const end = Date.now() + 20_000;
  while (Date.now() < end) {
    const size = await Deno.stat(path).then((s) => s.size, () => 0);
    if (size > 200_000) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  child.kill("SIGKILL");
  await child.status;
  const trace = await readTrace(path);
  assertEquals(trace.damaged, undefined);
  const calls = trace.records.filter((r) => r.kind === "invoke").length;
  assert(calls > 100, `${calls} calls recorded before the kill`);
  assert(!trace.records.some((r) => r.kind === "end"), "no END: it was killed");
  await Deno.remove(dir, { recursive: true });
});

/** A small trace to damage: recorded from the C client's error paths. */
async function sampleTrace(): Promise<Uint8Array> {
  await using sim = await startSimProcess();
  const dir = await Deno.makeTempDir({ prefix: "vmkmgmt-record-" });
  const out = await run(
    CLIENT,
    ["all"],
    { ...sim.env, LD_PRELOAD: RECORDER, VMKMGMT_RECORD: `${dir}/s.vmktrace` },
    "the C client",
  );
  assertEquals(out.code, 0);
  const bytes = await Deno.readFile(`${dir}/s.vmktrace`);
  await Deno.remove(dir, { recursive: true });
  return bytes.subarray(0, Math.min(bytes.length, 60_000));
}

Deno.test("trace reader: torn, damaged and hostile input is reported, never thrown past or misread", async () => {
  const whole = await sampleTrace();
  const full = parseTrace(whole);
  // (cut at 60,000 bytes: a torn record at the end, or none if the cut fell between two)
  const count = full.records.length;
  assert(count > 20, `${count} records`);
  // Cut at every length: records before the cut are kept, the cut one is torn.
  for (let cut = 4; cut < whole.length; cut += 97) {
    const t = parseTrace(whole.subarray(0, cut));
    assertEquals(t.damaged, undefined, `cut at ${cut}`);
    const kept = t.records.length;
    assertEquals(t.records, full.records.slice(0, kept));
    if (t.torn) assert(t.torn.offset <= cut);
  }
  // A flipped byte in the last record: torn; further in: damaged, with the records before it.
  const records = full.records;
  const middle = records[Math.floor(count / 2)];
  const flipped = whole.slice();
  flipped[middle.offset + 20] ^= 0xff;
  const t = parseTrace(flipped);
  assertEquals(t.damaged?.offset, middle.offset);
  assertStringIncludes(t.damaged!.reason, "CRC");
  assertEquals(t.records.length, Math.floor(count / 2));
  // Not a trace at all.
  assertThrows(() => parseTrace(new Uint8Array(0)), TraceError, "no record marker");
  assertThrows(() => parseTrace(new TextEncoder().encode("hello world, not a trace")), TraceError);
  // Random bytes after a valid start: never an exception other than TraceError.
  const start = whole.subarray(0, records[1].offset);
  for (let seed = 1; seed < 300; seed++) {
    let x = seed;
    const junk = new Uint8Array(64 + (seed % 200)).map(() => (x = (x * 1103515245 + 12345) >>> 0) >>> 24);
    const r = parseTrace(new Uint8Array([...start, ...junk]));
    assert(r.records.length >= 1 && (r.torn || r.damaged), `seed ${seed}`);
  }
  // A record whose CRC is right but whose fields do not hold together: damaged, named.
  const forged = traceRecord(4, new Uint8Array(10));
  const f = parseTrace(new Uint8Array([...start, ...forged, ...forged]));
  assertStringIncludes(f.damaged!.reason, "runs past the record's end");
});

Deno.test("deno task trace, from the user's directory", async (t) => {
  await using sim = await startSimProcess();
  const dir = await Deno.makeTempDir({ prefix: "vmkmgmt-record-" });
  await Deno.writeTextFile(`${dir}/client.ts`, DENO_CLIENT);
  const rec = await run(
    Deno.execPath(),
    ["run", "--allow-all", "--no-lock", `${dir}/client.ts`],
    { ...sim.env, LD_PRELOAD: RECORDER, VMKMGMT_RECORD: `${dir}/d.vmktrace` },
    "the Deno client under the recorder",
  );
  assertEquals(rec.code, 0, rec.stderr);
  const task = (...args: string[]) =>
    new Deno.Command(Deno.execPath(), {
      args: ["task", "-q", "--config", `${ROOT}deno.json`, "trace", ...args],
      cwd: dir,
      // As from the user's shell: no INIT_CWD of an outer `deno task test` (deno task keeps one it finds).
      clearEnv: true,
      env: Object.fromEntries(Object.entries(Deno.env.toObject()).filter(([k]) => k !== "INIT_CWD")),
      stdout: "piped",
      stderr: "piped",
    }).output().then((o) => ({
      code: o.code,
      stdout: new TextDecoder().decode(o.stdout),
      stderr: new TextDecoder().decode(o.stderr),
    }));
  await t.step("show, typed by a signature: calls, failures and events by name", async () => {
    const shown = await task("show", "d.vmktrace", "--sig", `${ROOT}demo.ts`);
    assertEquals(shown.code, 0, shown.stderr);
    assertStringIncludes(shown.stdout, "INIT acmeNicMgmt/acme 1.0.0.0 → 0");
    assertStringIncludes(shown.stdout, "getStats vmnic0 → 0");
    assertStringIncludes(shown.stdout, '"mtu":1500');
    assertStringIncludes(shown.stdout, "setMtu #99 → ENOENT (2)");
    assertStringIncludes(shown.stdout, "EVENT linkEvent vmnic0  state=");
  });
  await t.step("show without a signature: callbacks by number", async () => {
    const untyped = await task("show", "d.vmktrace");
    assertStringIncludes(untyped.stdout, `callback ${acmeNic.callback("getStats").id} vmnic0 → 0`);
  });
  await t.step("show --json and stats --json: typed values, counts of errors by name", async () => {
    const json = (await task("show", "d.vmktrace", "--json", "--sig", `${ROOT}demo.ts`)).stdout.trim().split(
      "\n",
    )
      .map((l) => JSON.parse(l));
    const flash = json.find((j) => j.callback === "flashFirmware");
    assertEquals([flash.in.image.length, flash.status, typeof flash.out.crc], [200_000, 0, "number"]);
    const stats = JSON.parse((await task("stats", "d.vmktrace", "--json", "--sig", `${ROOT}demo.ts`)).stdout);
    assertEquals(stats.ended, "normally");
    assertEquals(stats.calls.find((c: { callback: string }) => c.callback === "acmeNicMgmt setMtu").errors, {
      ENOENT: 1,
    });
  });
  await t.step("bad input named: a missing or foreign file, an unknown command, a bad --sig", async () => {
    for (
      const [args, says] of [
        [["show", "nope.vmktrace"], "nope.vmktrace: no such file"],
        [["show", "client.ts"], "client.ts: not a vmk_Mgmt trace"],
        [["frob", "d.vmktrace"], "unknown command frob"],
        [["show"], "which trace?"],
        [["show", "d.vmktrace", "--sig", "nope.ts"], "--sig"],
      ]
    ) {
      const out = await task(...args as string[]);
      assertEquals(out.code, 1, `${args}: ${out.stdout}`);
      assertStringIncludes(out.stderr, says as string);
    }
  });
  await Deno.remove(dir, { recursive: true });
});

/** Builds a sanitizer flavour of the native tree. */
async function make(target: "asan" | "tsan"): Promise<void> {
  const out = await new Deno.Command("make", { args: ["-s", "-C", `${ROOT}native`, target], stderr: "piped" })
    .output();
  assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
}

/** The C compiler's own copy of a sanitizer runtime (it must come first in LD_PRELOAD). */
async function runtime(name: string): Promise<string> {
  const out = await new Deno.Command("cc", { args: [`-print-file-name=${name}`] }).output();
  return new TextDecoder().decode(out.stdout).trim();
}

for (const kind of ["asan", "tsan"] as const) {
  Deno.test(`recorder under ${kind === "asan" ? "ASan and UBSan" : "TSan"}: 16 threads calling, events flowing, every call in the trace`, async () => {
    await make(kind);
    await using sim = await startSimProcess();
    const dir = await Deno.makeTempDir({ prefix: `vmkmgmt-record-${kind}-` });
    const rt = await runtime(kind === "asan" ? "libasan.so" : "libtsan.so");
    const out = await run(
      `${ROOT}native/build/${kind}/record_stress`,
      ["60"],
      {
        ...sim.env,
        LD_PRELOAD: `${rt} ${ROOT}native/build/${kind}/libvmkmgmt-record.so`,
        VMKMGMT_RECORD: `${dir}/s.vmktrace`,
        ASAN_OPTIONS: "detect_leaks=1:abort_on_error=0:exitcode=66",
        TSAN_OPTIONS: "halt_on_error=1:exitcode=66",
      },
      `record_stress under ${kind}`,
    );
    assertEquals(out.code, 0, out.stdout + out.stderr);
    assertEquals(out.stdout.trim(), "ok 1040 500");
    const trace = await readTrace(`${dir}/s.vmktrace`);
    assertEquals([trace.torn, trace.damaged], [undefined, undefined]);
    const invokes = trace.records.filter((r) => r.kind === "invoke");
    assertEquals(
      invokes.length,
      17 * 60 + 20,
      "every echo (16 threads on one handle, 1 on another) and every burst",
    );
    const links = trace.records.filter((r) => r.kind === "event" && r.callbackId === 32n).length;
    assertEquals(links, 500, "every linkEvent the callback received");
    assert(invokes.every((r) => r.kind === "invoke" && r.status === 0));
    await Deno.remove(dir, { recursive: true });
  });
}

Deno.test("recorder under ASan and UBSan: the bytes behind pointer members, from a buffer list", async () => {
  await make("asan");
  await using sim = await startSimProcess();
  const dir = await Deno.makeTempDir({ prefix: "vmkmgmt-record-asan-" });
  const rt = await runtime("libasan.so");
  // The bytes behind pointer members, from a buffer list: pages, an image, a bad pointer.
  await Deno.writeTextFile(
    `${dir}/nvme.buffers`,
    "acmeNvme-* acme 16 0 12 inout @20:4\nacmeNvme-* acme 17 0 5 out 4096\nacmeNvme-* acme 18 0 0 in @8:4\n",
  );
  const nvme = await run(
    `${ROOT}native/build/asan/nvme_client`,
    ["plain"],
    {
      ...sim.env,
      LD_PRELOAD: `${rt} ${ROOT}native/build/asan/libvmkmgmt-record.so`,
      VMKMGMT_RECORD: `${dir}/n.vmktrace`,
      VMKMGMT_RECORD_SIG: `${dir}/nvme.buffers`,
      ASAN_OPTIONS: "detect_leaks=1:abort_on_error=0:exitcode=66",
    },
    "the NVMe client under ASan, its buffers recorded",
  );
  assertEquals(nvme.code, 0, nvme.stdout + nvme.stderr);
  const buffers = (await readTrace(`${dir}/n.vmktrace`)).records.flatMap((r) =>
    r.kind === "invoke" ? r.buffers : []
  );
  assertEquals(buffers.length, 8, "two adapters: a page, a bad page, an image, a log page each");
  assertEquals(buffers.filter((b) => b.unreadable).length, 2);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("vmkmgmt-bridge --record", async (t) => {
  await using sim = await startSimProcess();
  const dir = await Deno.makeTempDir({ prefix: "vmkmgmt-record-bridge-" });
  const bridge = `${ROOT}native/build/vmkmgmt-bridge`;
  const lib = `${ROOT}native/build/libvmkmgmt.so`;
  /** Runs `script` through a bridge that records to `${dir}/${prefix}-PID.vmktrace`. */
  const throughRecordingBridge = (script: string, prefix: string, what: string) =>
    run(
      Deno.execPath(),
      ["run", "--allow-all", "--no-lock", script],
      {
        ...sim.env,
        VMKMGMT_HOST: "@local",
        VMKMGMT_BRIDGE: `${bridge} --lib ${lib} --record ${dir}/${prefix}-%p.vmktrace`,
      },
      what,
    );
  await t.step("a remote session is recorded where the bridge runs, events too", async () => {
    await Deno.writeTextFile(`${dir}/client.ts`, DENO_CLIENT);
    const out = await throughRecordingBridge(
      `${dir}/client.ts`,
      "b",
      "the Deno client through a recording bridge",
    );
    assertEquals(out.code, 0, out.stderr);
    assertStringIncludes(out.stdout, "crc ");
    const files = [...Deno.readDirSync(dir)].filter((e) => e.name.startsWith("b-")).map((e) => e.name);
    assertEquals(files.length, 1, `one trace, the bridge's: ${files}`);
    const trace = await readTrace(`${dir}/${files[0]}`);
    const start = trace.records[0];
    assert(start.kind === "start" && start.argv[0] === bridge, JSON.stringify(start));
    const flash = invokesOf(trace, acmeNic.callback("flashFirmware").id)[0];
    assertEquals(flash?.args[0].in?.length, 100_000, "the image as the bridge passed it to the library");
    assert(trace.records.some((r) => r.kind === "event"), "the events the bridge received");
  });
  await t.step("the page behind a pointer member, as the kernel filled it, is in the trace", async () => {
    // The client's pointer members (HELLO's buffer fields) are handed to the recorder: the page
    // behind identify's pointer, as the kernel filled it in the bridge's copy, is in the trace.
    await Deno.writeTextFile(
      `${dir}/nvme.ts`,
      `import { open } from "${ROOT}mod.ts";
import { acmeNvme, acmeNvmeAdapter } from "${ROOT}mgmt/demo/acme_nvme.ts";
await using nvme = await open(acmeNvme);
const { adapters } = await nvme.invoke("listAdapters", { adapters: 32 });
await using ctrl = await open(acmeNvmeAdapter(adapters[0].name));
const page = new Uint8Array(4096);
console.log("identify", (await ctrl.invoke("identify", { request: { cns: 1, nsid: 0, page, status: 0 } })).request.status);
`,
    );
    const nvme = await throughRecordingBridge(
      `${dir}/nvme.ts`,
      "n",
      "an NVMe identify through a recording bridge",
    );
    assertStringIncludes(nvme.stdout, "identify 0", nvme.stderr);
    const nfiles = [...Deno.readDirSync(dir)].filter((e) => e.name.startsWith("n-")).map((e) => e.name);
    const pages = nfiles.flatMap((f) =>
      invokesOf(parseTrace(Deno.readFileSync(`${dir}/${f}`)), 17).flatMap((r) => r.buffers)
    );
    assertEquals(pages.map((b) => [b.direction, b.out?.length, b.out?.[0]]), [["out", 4096, 0x86]]);
  });
  await t.step(
    "a recorder that others can change is refused; a flag without its value is named",
    async () => {
      // A recorder that someone else may change is not preloaded into a (root) bridge.
      const copy = `${dir}/bin`;
      await Deno.mkdir(copy);
      await Deno.copyFile(bridge, `${copy}/vmkmgmt-bridge`);
      await Deno.chmod(`${copy}/vmkmgmt-bridge`, 0o755);
      await Deno.copyFile(RECORDER, `${copy}/libvmkmgmt-record.so`);
      await Deno.chmod(`${copy}/libvmkmgmt-record.so`, 0o666);
      const refused = await run(
        `${copy}/vmkmgmt-bridge`,
        ["--lib", lib, "--record", `${dir}/x`],
        {},
        "a bridge",
      );
      assertEquals(refused.code, 2);
      assertStringIncludes(refused.stderr, "must be a file only its owner");
      await Deno.remove(`${copy}/libvmkmgmt-record.so`);
      const missing = await run(
        `${copy}/vmkmgmt-bridge`,
        ["--lib", lib, "--record", `${dir}/x`],
        {},
        "a bridge",
      );
      assertStringIncludes(missing.stderr, "--record needs");
      for (const flag of ["--record", "--lib"]) {
        const bare = await run(bridge, [flag], {}, `a bridge with ${flag} and no value`);
        assertEquals(bare.code, 2);
        assertStringIncludes(bare.stderr, `${flag} needs a value`);
      }
    },
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("deno task run --record FILE: a script's calls recorded, its output unchanged; a missing file named", async () => {
  await using sim = await startSimProcess();
  const dir = await Deno.makeTempDir({ prefix: "vmkmgmt-record-run-" });
  const runner = (...args: string[]) =>
    run(
      Deno.execPath(),
      ["run", "--allow-all", `${ROOT}scripts/run.ts`, ...args],
      { ...sim.env, NO_COLOR: "1" },
      `the runner ${args.join(" ")}`,
    );
  const script = `${ROOT}scripts/collect-stats.ts`;
  const recorded = await runner("--record", `${dir}/s-%p.vmktrace`, script, "--rounds", "1", "--json");
  assertEquals(recorded.code, 0, recorded.stderr);
  const plain = await runner(script, "--rounds", "1", "--json");
  const shape = (s: string) => s.trim().split("\n").map((l) => Object.keys(JSON.parse(l)).sort().join());
  assertEquals(shape(recorded.stdout), shape(plain.stdout), "the same NDJSON");
  const [file] = [...Deno.readDirSync(dir)].map((e) => e.name);
  const trace = await readTrace(`${dir}/${file}`);
  const stats = invokesOf(trace, acmeNic.callback("getStats").id);
  assert(stats.length >= 4, `${stats.length} getStats calls recorded (one per instance)`);
  assertEquals(trace.records.at(-1)?.kind, "end");
  const missing = await runner("--record");
  assertEquals(missing.code, 2);
  assertStringIncludes(missing.stderr, "--record needs a file");
  await Deno.remove(dir, { recursive: true });
});

Deno.test({
  name: "recorder: a Python ctypes client (dlopen, CFUNCTYPE callbacks) is recorded, calls and events",
  ignore: !(await new Deno.Command("python3", { args: ["--version"] }).output().then((o) =>
    o.success, () =>
    false)),
  fn: async () => {
    await using sim = await startSimProcess();
    const dir = await Deno.makeTempDir({ prefix: "vmkmgmt-record-py-" });
    const py = (mode: string, arg: string) =>
      run(
        "python3",
        [`${ROOT}bench/ctypes_bench.py`, `${ROOT}native/build/libvmkmgmt.so`, mode, arg],
        { ...sim.env, LD_PRELOAD: RECORDER, VMKMGMT_RECORD: `${dir}/${mode}.vmktrace` },
        `python ${mode}`,
      );
    const echo = await py("echo", "0.3");
    assertEquals(echo.code, 0, echo.stderr);
    const events = await py("events", "200");
    assertEquals(events.code, 0, events.stderr);
    assertEquals(JSON.parse(events.stdout).events, 200);
    const calls = (await readTrace(`${dir}/echo.vmktrace`)).records.filter((r) =>
      r.kind === "invoke"
    );
    assertEquals(calls.length, JSON.parse(echo.stdout).calls, "every echo the script counted");
    const got = (await readTrace(`${dir}/events.vmktrace`)).records.filter((r) => r.kind === "event");
    assertEquals(got.length, 200, "every event its callback received");
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test("startRecording: a program records its own sessions — calls, caller buffers, events, instances — in the recorder's format", async () => {
  await using sim = await startSimProcess();
  using _env = useEnv(sim.env);
  const dir = await Deno.makeTempDir({ prefix: "vmkmgmt-record-self-" });
  const path = `${dir}/self.vmktrace`;
  await using nic = await open(acmeNic);
  await startRecording(path);
  await assertRejects(() => startRecording(`${dir}/other`), RecordingError, `already recording to ${path}`);
  assertEquals(recordingPath(), path);
  const link = nic.waitFor("linkEvent", { timeout: 10_000 });
  await nic.invoke("reset", { instance: "vmnic0" });
  await link;
  await using nvme = await open(acmeNvme);
  const { adapters } = await nvme.invoke("listAdapters", { adapters: 32 });
  await using ctrl = await open(acmeNvmeAdapter(adapters[0].name));
  const page = new Uint8Array(4096);
  await ctrl.invoke("identify", { request: { cns: 1, nsid: 0, page, status: 0 } });
  const image = new Uint8Array(5000).map((_, i) => i & 0xff);
  await ctrl.invoke("firmwareDownload", { request: { image, size: 3000, crc: 0, status: 0 } });
  const { records } = await stopRecording();
  await assertRejects(() => stopRecording(), RecordingError, "nothing is being recorded");
  assertEquals(recordingPath(), null);

  const trace = await readTrace(path);
  assertEquals([trace.torn, trace.damaged], [undefined, undefined]);
  assertEquals(trace.records.length, records);
  const inits = trace.records.filter((r) => r.kind === "init");
  assertEquals(inits.map((r) => r.kind === "init" && [r.name, r.handle, r.openedBefore]), [
    ["acmeNicMgmt", 1, true],
    ["acmeNvmeMgmt", 2, false],
    [adapters[0].name, 3, false],
  ]);
  assert(trace.records.some((r) => r.kind === "instances" && r.handle === 1 && r.instances.length === 4));
  assert(
    trace.records.some((r) => r.kind === "event" && r.handle === 1 && r.callbackId === 32n),
    "a linkEvent",
  );
  const buffers = trace.records.flatMap((r) => (r.kind === "invoke" ? r.buffers : []));
  assertEquals(buffers.map((b) => [b.direction, b.in?.length, b.out?.length]), [
    ["out", undefined, 4096],
    ["in", 3000, undefined], // (the length member says 3000 of the 5000 bytes)
  ]);
  assertEquals(buffers[0].out?.[0], 0x86, "the identify page as the kernel filled it");
  assertEquals(buffers[1].in, image.subarray(0, 3000));
  await Deno.remove(dir, { recursive: true });
});
