/**
 * Record, then replay: a program recorded against the simulator with its demo modules, replayed
 * by `deno task sim --replay` with no demo module loaded, sees exactly what it saw; a program that
 * changes one input is told which call and which byte.
 */
import { assert, assertEquals, assertMatch, assertStringIncludes } from "@std/assert";
import { startSimProcess } from "../sim/process.ts";
import { readTrace } from "../mgmt/trace/mod.ts";
import { runWithin, within } from "./support/wait.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const RECORDER = `${ROOT}native/build/libvmkmgmt-record.so`;

const run = runWithin;

/** `deno task trace ARGS…`, as a user runs it. */
const traceTool = (...args: string[]) =>
  run(Deno.execPath(), ["run", "--allow-all", `${ROOT}repl/trace_main.ts`, ...args], {}, `trace ${args[0]}`);

/** Records `cmd args` against a simulator with the demo modules; the trace's path. */
async function record(
  dir: string,
  cmd: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ path: string; stdout: string }> {
  await using sim = await startSimProcess();
  const path = `${dir}/t.vmktrace`;
  const out = await run(
    cmd,
    args,
    { ...sim.env, LD_PRELOAD: RECORDER, VMKMGMT_RECORD: path, ...env },
    `${cmd} recorded`,
  );
  assertEquals(out.code, 0, out.stdout + out.stderr);
  return { path, stdout: out.stdout };
}

/** A replaying simulator: where it listens, and how it ended. */
async function replaying(dir: string, trace: string, ...options: string[]) {
  const socket = `${dir}/replay.sock`;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", `${ROOT}sim/main.ts`, "--socket", socket, "--replay", trace, ...options],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let stdout = "";
  let stderr = "";
  const outDone = child.stdout.pipeThrough(new TextDecoderStream()).pipeTo(
    new WritableStream({ write: (c) => void (stdout += c) }),
  );
  const errDone = child.stderr.pipeThrough(new TextDecoderStream()).pipeTo(
    new WritableStream({ write: (c) => void (stderr += c) }),
  );
  const end = Date.now() + 30_000;
  while (!stdout.includes("listening on")) {
    if (Date.now() > end) throw new Error(`the replaying simulator did not start: ${stderr}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    env: { VMKMGMT_SIM_SOCKET: socket },
    /** Waits for it to finish by itself (the program's sessions done). */
    async ended() {
      const status = await within(child.status, 30_000, "the replay to end by itself");
      await outDone;
      await errDone;
      return { code: status.code, stdout, stderr };
    },
  };
}

Deno.test("replay: the C test client, recorded, replays exactly with no demo module loaded", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vmkmgmt-replay-" });
  const client = `${ROOT}native/build/client_test`;
  const recorded = await record(dir, client, ["all"]);
  const sim = await replaying(dir, recorded.path);
  const replayed = await run(client, ["all"], sim.env, "the C client against the replay");
  const verdicts = (s: string) => s.split("\n").filter((l) => /^(ok|not ok) |passed, /.test(l));
  assertEquals(verdicts(replayed.stdout), verdicts(recorded.stdout));
  assertStringIncludes(replayed.stdout, "105 passed, 0 failed");
  const ended = await sim.ended();
  assertEquals(ended.code, 0, ended.stdout + ended.stderr);
  assert(
    /replay: \d+ calls matched, 0 unmatched, 0 recorded calls not made — exact/.test(ended.stdout),
    ended.stdout,
  );
  await Deno.remove(dir, { recursive: true });
});

/** A Deno script on the NIC demo: `body` runs with `s`, a session on acmeNicMgmt. */
const nicScript = (body: string) =>
  `import { open } from "${ROOT}mod.ts";
import { acmeNic } from "${ROOT}demo.ts";
await using s = await open(acmeNic);
${body}`;

const SCRIPT = (image: string) =>
  nicScript(`console.log("instances", (await s.instances()).map((i) => i.name).join(" "));
console.log("mtu", (await s.invoke("getStats", { instance: "vmnic1" })).stats.mtu);
console.log("set", (await s.invoke("setMtu", { instance: "vmnic1", mtu: 9000 })).status);
console.log("mtu", (await s.invoke("getStats", { instance: "vmnic1" })).stats.mtu);
const ev = s.waitFor("linkEvent", { timeout: 5000 });
await s.invoke("reset", { instance: "vmnic0" });
console.log("event", JSON.stringify((await ev).params), (await ev).instance?.name);
console.log("crc", (await s.invoke("flashFirmware", { instance: 1n, image: ${image} })).crc);
console.log("log", (await s.invoke("readLog", { instance: 1n, buffer: 64 })).length);
console.log("error", await s.invoke("setMtu", { instance: 99n, mtu: 1 }).catch((e) => e.code));
`);

Deno.test("replay: a Deno script replays with identical output; one changed input byte is named", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vmkmgmt-replay-" });
  const script = `${dir}/s.ts`;
  await Deno.writeTextFile(script, SCRIPT("new Uint8Array(1000).map((_, i) => i & 0xff)"));
  const args = ["run", "--allow-all", "--no-lock", script];
  const recorded = await record(dir, Deno.execPath(), args);
  assertStringIncludes(recorded.stdout, "mtu 9000");

  const sim = await replaying(dir, recorded.path);
  const replayed = await run(Deno.execPath(), args, sim.env, "the script against the replay");
  assertEquals(replayed.code, 0, replayed.stderr);
  assertEquals(replayed.stdout, recorded.stdout);
  const ended = await sim.ended();
  assertEquals(ended.code, 0, ended.stdout + ended.stderr);
  assertStringIncludes(ended.stdout, "0 unmatched, 0 recorded calls not made — exact");

  // Byte 700 of the image changes: that call, and that byte, are named; the script sees EIO there.
  await Deno.writeTextFile(script, SCRIPT("new Uint8Array(1000).map((_, i) => i === 700 ? 0x55 : i & 0xff)"));
  const strict = await replaying(dir, recorded.path);
  const changed = await run(Deno.execPath(), args, strict.env, "the changed script against the replay");
  assertEquals(changed.code, 1, "the flash failed with EIO");
  assertStringIncludes(changed.stderr, "EIO");
  const report = await strict.ended();
  assertEquals(report.code, 1, "not exact");
  assertStringIncludes(report.stderr, "replay: unmatched session 1 callback 19 instance 1");
  assertStringIncludes(report.stderr, "differs in parameter 0 at byte 700: 0x55 here, 0xbc recorded");
  assertStringIncludes(report.stdout, "4 calls matched, 1 unmatched, 3 recorded calls not made — not exact");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("replay: --loose takes calls out of order; --unmatched chooses the errno; bad options named", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vmkmgmt-replay-" });
  const script = `${dir}/s.ts`;
  await Deno.writeTextFile(
    script,
    nicScript(`const order = Deno.args[0] === "swap" ? ["vmnic1", "vmnic0"] : ["vmnic0", "vmnic1"];
for (const i of order) console.log(i, (await s.invoke("getStats", { instance: i })).stats.mtu);
console.log("extra", await s.invoke("setMtu", { instance: "vmnic2", mtu: 1234 }).catch((e) => e.code));
`),
  );
  const args = (...a: string[]) => ["run", "--allow-all", "--no-lock", script, ...a];
  const recorded = await record(dir, Deno.execPath(), args());
  // In another order, strict fails at the first call; loose answers both.
  const loose = await replaying(dir, recorded.path, "--loose", "--unmatched", "ENOTSUP");
  const swapped = await run(Deno.execPath(), args("swap"), loose.env, "swapped, loose");
  assertStringIncludes(swapped.stdout, "vmnic1 1500\nvmnic0 1500\n");
  assertEquals((await loose.ended()).code, 0);
  const strict = await replaying(dir, recorded.path, "--unmatched", "ENOTSUP");
  const out = await run(Deno.execPath(), args("swap"), strict.env, "swapped, strict");
  assertStringIncludes(out.stderr, "ENOTSUP");
  assertEquals((await strict.ended()).code, 1, "a strict replay of calls in another order is not exact");
  for (
    const [opts, says] of [
      [["--replay", `${dir}/nope`], "no such file"],
      [["--replay", script], "not a vmk_Mgmt trace"],
      [["--loose", "--strict", "--replay", recorded.path], "not both"],
      [["--unmatched", "EWHAT", "--replay", recorded.path], "not an errno name"],
      [["--unmatched", "0", "--replay", recorded.path], "an unmatched call must fail"],
      [["--loose"], "go with --replay"],
    ]
  ) {
    const o = await run(
      Deno.execPath(),
      ["run", "--allow-all", `${ROOT}sim/main.ts`, "--socket", `${dir}/x.sock`, ...opts],
      {},
      `sim ${opts}`,
    );
    assertEquals(o.code, 2, `${opts}: ${o.stdout}${o.stderr}`);
    assertStringIncludes(o.stderr, says);
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test("replay --timing: events keep their recorded distance from the call that caused them", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vmkmgmt-replay-" });
  const script = `${dir}/s.ts`;
  // A reset takes the link down at once and up 100 ms later (the NIC demo): two linkEvents.
  await Deno.writeTextFile(
    script,
    nicScript(`const events = s.events("linkEvent");
const t = performance.now();
await s.invoke("reset", { instance: "vmnic0" });
const it = events[Symbol.asyncIterator]();
const down = await it.next();
const up = await it.next();
console.log(JSON.stringify([down.value.params.state.up, up.value.params.state.up]), Math.round(performance.now() - t));
await events.return?.();
`),
  );
  const args = ["run", "--allow-all", "--no-lock", script];
  const recorded = await record(dir, Deno.execPath(), args);
  assertStringIncludes(recorded.stdout, "[0,1]");
  const sim = await replaying(dir, recorded.path, "--timing");
  const replayed = await run(Deno.execPath(), args, sim.env, "the script against a timed replay");
  assertEquals(replayed.code, 0, replayed.stderr);
  const [states, gap] = replayed.stdout.trim().split(" ");
  assertEquals(states, "[0,1]");
  // A lower bound only, from the call that caused them: the link came up no sooner after the reset
  // than it did when recorded (less the timer's slack). (Measured from the link-down's arrival, a
  // busy machine that delivered the link-down late made the gap look short.)
  assert(Number(gap) >= 80, `the link-up came ${gap} ms after the reset (recorded: ~100 ms)`);
  assertEquals((await sim.ended()).code, 0);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("deno task trace diff: two runs of a script that differ in one byte — that call, that byte; a trace against itself is the same", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vmkmgmt-diff-" });
  const script = `${dir}/s.ts`;
  const args = ["run", "--allow-all", "--no-lock", script];
  // Only answers that do not move with time (a counter would differ first).
  const body = (byte700: string) =>
    nicScript(`await s.invoke("setMtu", { instance: "vmnic1", mtu: 9000 });
const image = new Uint8Array(1000).map((_, i) => i === 700 ? ${byte700} : i & 0xff);
console.log((await s.invoke("flashFirmware", { instance: 1n, image })).crc);
`);
  await Deno.writeTextFile(script, body("0xbc"));
  const a = await record(dir, Deno.execPath(), args);
  await Deno.rename(a.path, `${dir}/a.vmktrace`);
  await Deno.writeTextFile(script, body("0x55"));
  const b = await record(dir, Deno.execPath(), args);
  await Deno.rename(b.path, `${dir}/b.vmktrace`);
  const diff = (...more: string[]) => traceTool("diff", ...more);
  const d = await diff(`${dir}/a.vmktrace`, `${dir}/b.vmktrace`, "--sig", `${ROOT}demo.ts`);
  assertEquals(d.code, 1, d.stderr);
  assertStringIncludes(d.stdout, "first difference: acmeNicMgmt #1, record ");
  assertStringIncludes(d.stdout, "parameter 0 going in, byte 700: 0xbc in A, 0x55 in B");
  assertMatch(d.stdout, /\n {2}A: +[\d.]+ {2}#1 flashFirmware vmnic0 → 0 /);
  const j = JSON.parse((await diff(`${dir}/a.vmktrace`, `${dir}/b.vmktrace`, "--json")).stdout);
  assertEquals([j.same, j.handle, j.what], [
    false,
    "acmeNicMgmt #1",
    "parameter 0 going in, byte 700: 0xbc in A, 0x55 in B",
  ]);
  const self = await diff(`${dir}/a.vmktrace`, `${dir}/a.vmktrace`);
  assertEquals(self.code, 0);
  assertStringIncludes(self.stdout, "the same calls, answers and events");
  const usage = await diff(`${dir}/a.vmktrace`);
  assertEquals(usage.code, 1);
  assertStringIncludes(usage.stderr, "diff takes two traces");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("replay: the NVMe demo's C client (plain vmk_MgmtUserInit) and the bytes behind its pointers", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "vmkmgmt-replay-" });
  const client = `${ROOT}native/build/nvme_client`;
  let recorded: Awaited<ReturnType<typeof record>> | undefined;
  await t.step("the buffer list is made from the driver's signatures", async () => {
    // The list, made from the driver's signatures as a user makes it (every adapter's API name
    // starts with acmeNvme-; the driver makes the rest up).
    await Deno.writeTextFile(
      `${dir}/nvme_sig.ts`,
      `import { acmeNvmeAdapter } from "${ROOT}mgmt/demo/acme_nvme.ts";\nexport const adapter = acmeNvmeAdapter("acmeNvme-x");\n`,
    );
    const made = await traceTool(
      "buffers",
      "--sig",
      `${dir}/nvme_sig.ts`,
      "--name",
      "acmeNvme-*",
      "-o",
      `${dir}/nvme.buffers`,
    );
    assertEquals(made.code, 0, made.stderr);
    assertStringIncludes(made.stderr, "3 pointer member(s)");
    assertStringIncludes(await Deno.readTextFile(`${dir}/nvme.buffers`), "acmeNvme-* acme 17 0 5 out 4096\n");
  });
  await t.step("recorded with the list: pages, an image, a data buffer and a bad pointer", async () => {
    // `plain`: the client never tells the library where its pointers are, as a vendor's tool built
    // for ESXi's library does not; the list does.
    recorded = await record(dir, client, ["plain"], { VMKMGMT_RECORD_SIG: `${dir}/nvme.buffers` });
    assertStringIncludes(recorded.stdout, "21 passed, 0 failed");
    const trace = await readTrace(recorded.path);
    const buffers = trace.records.flatMap((r) => (r.kind === "invoke" ? r.buffers : []));
    // Identify's page came out, the firmware image went in, the log page went both ways; the bad
    // page pointer the client passes on purpose is marked unreadable.
    assert(
      buffers.some((b) => b.direction === "out" && b.out?.length === 4096 && b.out[0] === 0x86),
      "a page",
    );
    assert(buffers.some((b) => b.direction === "in" && (b.in?.length ?? 0) > 4096), "an image");
    assert(buffers.some((b) => b.direction === "inout" && b.in && b.out), "a data buffer");
    assert(buffers.some((b) => b.unreadable), "the bad pointer");
  });
  if (!recorded) throw new Error("nothing was recorded");
  const path = recorded.path, stdout = recorded.stdout;
  await t.step(
    "trace show types the adapters' APIs (named by the driver) through the demo's family",
    async () => {
      // trace show types the adapters' APIs (named by the driver) through the demo's family.
      const shown = await traceTool("show", path, "--sig", `${ROOT}demo.ts`);
      assertEquals(shown.code, 0, shown.stderr);
      assertMatch(shown.stdout, /#2 identify - → 0 in [\d.]+ ms {2}in request=\{"cns":1,/);
      assertStringIncludes(shown.stdout, "buffer request+5 out out=0x8619");
      assertStringIncludes(shown.stdout, "buffer request+5 out (unreadable)");
    },
  );
  await t.step("the replay gives the client byte-identical output, every call matched", async () => {
    const sim = await replaying(dir, path);
    const replayed = await run(client, ["plain"], sim.env, "the NVMe client against the replay");
    assertEquals(replayed.stdout, stdout, "byte-identical output");
    const ended = await sim.ended();
    assertEquals(ended.code, 0, ended.stdout + ended.stderr);
    assertStringIncludes(ended.stdout, "0 unmatched, 0 recorded calls not made — exact");
  });
  await t.step("without the list, another run's pointers differ and the replay says where", async () => {
    // Without the list, the pointers are plain bytes: another run's addresses differ, and the
    // replay says where. (A trace file takes recordings one after another: this one gets its own.)
    await Deno.rename(path, `${dir}/listed.vmktrace`);
    const bare = await record(dir, client, ["plain"]);
    const strict = await replaying(dir, bare.path);
    const failed = await run(
      client,
      ["plain"],
      strict.env,
      "the NVMe client against a replay without buffers",
    );
    assertEquals(failed.code, 1, "the client fails");
    const report = await strict.ended();
    assertEquals(report.code, 1);
    assertMatch(
      report.stderr,
      /replay: unmatched session \d+ callback 17 .*differs in parameter 0 at byte (?:[5-9]|1[0-2]):/,
    );
  });
  await Deno.remove(dir, { recursive: true });
});

const NVME_SCRIPT = (byte500: string) => `
import { open } from "${ROOT}mod.ts";
import { acmeNvme, acmeNvmeAdapter } from "${ROOT}mgmt/demo/acme_nvme.ts";
await using nvme = await open(acmeNvme);
const { adapters } = await nvme.invoke("listAdapters", { adapters: 32 });
await using ctrl = await open(acmeNvmeAdapter(adapters[0].name));
const page = new Uint8Array(4096);
const id = await ctrl.invoke("identify", { request: { cns: 1, nsid: 0, page, status: 0 } });
console.log("identify", id.request.status, new TextDecoder().decode(page.subarray(24, 42)));
const image = new Uint8Array(100000).map((_, i) => i === 500 ? ${byte500} : (i * 7) & 0xff);
image.set(new TextEncoder().encode("2.0.0"));
const fw = await ctrl.invoke("firmwareDownload", { request: { image, size: image.length, crc: 0, status: 0 } });
console.log("firmware", fw.request.status, fw.request.crc.toString(16));
`;

Deno.test("replay: a Deno script's caller buffers are recorded without a list; a changed byte in a buffer is named, by replay and by trace diff", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vmkmgmt-replay-" });
  const script = `${dir}/s.ts`;
  const args = ["run", "--allow-all", "--no-lock", script];
  await Deno.writeTextFile(script, NVME_SCRIPT("0x11"));
  const recorded = await record(dir, Deno.execPath(), args);
  assertStringIncludes(recorded.stdout, "identify 0 ACME NVMe 7450 PRO");
  await Deno.rename(recorded.path, `${dir}/a.vmktrace`);

  const sim = await replaying(dir, `${dir}/a.vmktrace`);
  const replayed = await run(Deno.execPath(), args, sim.env, "the script against the replay");
  assertEquals(replayed.code, 0, replayed.stderr);
  assertEquals(replayed.stdout, recorded.stdout);
  assertEquals((await sim.ended()).code, 0);

  // Byte 500 of the image (behind request.image) changes: the replay names that buffer and byte.
  await Deno.writeTextFile(script, NVME_SCRIPT("0x22"));
  const strict = await replaying(dir, `${dir}/a.vmktrace`);
  const changed = await run(Deno.execPath(), args, strict.env, "the changed script against the replay");
  assertEquals(changed.code, 1, "the download failed with EIO");
  const report = await strict.ended();
  assertEquals(report.code, 1);
  assertStringIncludes(
    report.stderr,
    "as recorded but for the buffer behind parameter 0's pointer at byte 0 differs at byte 500: 0x22 here, 0x11 recorded",
  );
  // And trace diff says the same of two recordings (the pointers' own addresses aside).
  const b = await record(dir, Deno.execPath(), args);
  const d = await traceTool("diff", `${dir}/a.vmktrace`, b.path);
  assertEquals(d.code, 1, d.stderr);
  assertStringIncludes(
    d.stdout,
    "the buffer behind parameter 0's pointer at byte 0 going in, byte 500: 0x11 in A, 0x22 in B",
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("the REPL's record FILE / record stop", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "vmkmgmt-replay-repl-" });
  const repl = (commands: string, env: Record<string, string>) =>
    run(Deno.execPath(), ["run", "--allow-all", `${ROOT}repl/main.ts`, "-c", commands], {
      NO_COLOR: "1",
      ...env,
    }, "the REPL");
  const calls =
    "call setMtu vmnic1 mtu=9000; call getStats vmnic1; open acmeNvmeMgmt; call listAdapters adapters=4";
  let recorded = { code: -1, stdout: "", stderr: "" };
  {
    await using sim = await startSimProcess();
    await t.step("records its sessions, one open before the recording began too", async () => {
      // A session open before the recording begins is in it too.
      recorded = await repl(
        `open acmeNicMgmt; record ${dir}/t.vmktrace; record; ${calls}; record stop`,
        sim.env,
      );
      assertEquals(recorded.code, 0, recorded.stderr);
      assertStringIncludes(recorded.stdout, `recording to ${dir}/t.vmktrace (with the 1 session open now)`);
      assertMatch(recorded.stdout, /recorded \d+ records to /);
    });
    await t.step("misuse is named: nothing to stop, twice, a bad path, a full disk", async () => {
      for (
        const [commands, says] of [
          ["record stop", "not recording: nothing to stop"],
          [`record ${dir}/a; record ${dir}/b`, `already recording to ${dir}/a; record stop first`],
          ["record /nonexistent/dir/t.vmktrace", "record /nonexistent/dir/t.vmktrace: No such file"],
          ["record a b", "record takes one word"],
          // A disk that fills: the recording stops, and says why (the session goes on).
          [
            "open acmeNicMgmt; record /dev/full; call getStats vmnic0; instances; record stop",
            "the recording stopped early: No space left on device",
          ],
        ]
      ) {
        const bad = await repl(commands, sim.env);
        assertEquals(bad.code, 1, commands);
        assertStringIncludes(bad.stderr, says);
      }
    });
  }
  await t.step("the trace starts with the session opened before, and ends", async () => {
    const trace = await readTrace(`${dir}/t.vmktrace`);
    const first = trace.records.find((r) => r.kind === "init");
    assert(
      first?.kind === "init" && first.openedBefore && first.name === "acmeNicMgmt",
      `${first?.kind} ${first?.kind === "init" && [first.name, first.openedBefore]}`,
    );
    assertEquals(trace.records.at(-1)?.kind, "end");
  });
  await t.step("the same commands against the replay: the same output, every call matched", async () => {
    const sim = await replaying(dir, `${dir}/t.vmktrace`);
    const replayed = await repl(`open acmeNicMgmt; ${calls}`, sim.env);
    assertEquals(replayed.code, 0, replayed.stderr);
    const without = (s: string) => s.split("\n").filter((l) => !/^record(ing|ed) /.test(l)).join("\n");
    assertEquals(replayed.stdout, without(recorded.stdout));
    const ended = await sim.ended();
    assertEquals(ended.code, 0, ended.stdout + ended.stderr);
    assertStringIncludes(ended.stdout, "3 calls matched, 0 unmatched, 0 recorded calls not made — exact");
  });
  await Deno.remove(dir, { recursive: true });
});
