/** The REPL run as a subprocess: -c, --file, piped stdin, exit codes, --json, --sig, js, sim auto-start. */
import { assert, assertEquals, assertMatch, assertStringIncludes } from "@std/assert";
import { startSimProcess } from "../sim/process.ts";
import { crc32 } from "../mod.ts";
import { outputWithin, waitUntil } from "./support/wait.ts";

const ROOT = new URL("../", import.meta.url).pathname;

async function repl(args: string[], env: Record<string, string>, stdin?: string) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "repl/main.ts", ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1", ...env },
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  const out = await outputWithin(child, 60_000, `repl ${args.join(" ")}`);
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

Deno.test("-c runs commands separated by ';' and exits 0; a failing command exits 1 and stops", async () => {
  await using sim = await startSimProcess();
  let r = await repl(["-c", "open acmeNicMgmt; call setMtu vmnic1 mtu=9000; call getStats vmnic1"], sim.env);
  assertEquals(r.code, 0, r.stderr);
  assertStringIncludes(r.stdout, "status  0");
  assertStringIncludes(r.stdout, "mtu        9000");
  r = await repl(["-c", "open acmeNicMgmt; call setMtu vmnic1 mtu=nope; instances"], sim.env);
  assertEquals(r.code, 1);
  assertStringIncludes(r.stderr, "error: mtu: expected u32");
  assert(!r.stdout.includes("4   vmnic3"), "stopped at the failing command");
  r = await repl(["-c", "open acmeNicMgmt; call getStats vmnic9"], sim.env);
  assertEquals(r.code, 1);
  assertStringIncludes(r.stderr, "ENOENT");
  assertStringIncludes(r.stderr, "did you mean vmnic0?");
});

Deno.test("--json: one lossless JSON document per result, errors too; NDJSON for watch", async () => {
  await using sim = await startSimProcess();
  const r = await repl([
    "--json",
    "-c",
    "open acmeNicMgmt; instances; call echo vmnic0 msg.seq=18446744073709551614 msg.payload=ff; watch linkEvent --count 2 --for 300ms; call triggerEvents vmnic0 count=0",
  ], sim.env);
  assertEquals(r.code, 0, r.stderr);
  const docs = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
  assertEquals(docs[0].ok, true);
  assertEquals(docs[1].instances[0], { id: "1", name: "vmnic0" });
  assertEquals(docs[2].result.msg.seq, "18446744073709551615", "u64 survives as a string");
  assertEquals(docs[2].result.msg.payload.slice(0, 4), "ff00");
  const bad = await repl(["--json", "-c", "open acmeNicMgmt; call setMtu vmnic0 mtuu=1"], sim.env);
  assertEquals(bad.code, 1);
  const err = JSON.parse(bad.stdout.trim().split("\n").pop()!);
  assertEquals(err.ok, false);
  assertStringIncludes(err.error.message, "did you mean mtu?");
  assertEquals(err.error.path, "mtuu");
});

Deno.test("watch --json streams NDJSON and stops after --count", async () => {
  await using sim = await startSimProcess();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      "repl/main.ts",
      "--json",
      "-c",
      "open acmeNicMgmt; watch linkEvent --count 2",
    ],
    cwd: ROOT,
    env: { ...sim.env, NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  await new Promise((r) => setTimeout(r, 1500));
  await sim.control({ op: "link", instance: "vmnic3", up: false });
  await sim.control({ op: "link", instance: "vmnic3", up: true });
  const out = await outputWithin(child, 30_000, "watch --count 2 to end");
  const lines = new TextDecoder().decode(out.stdout).trim().split("\n").map((l) => JSON.parse(l));
  assertEquals(out.code, 0);
  assertEquals(lines.slice(1).map((e) => [e.event, e.instance.name, e.params.state.up]), [[
    "linkEvent",
    "vmnic3",
    0,
  ], ["linkEvent", "vmnic3", 1]]);
});

Deno.test("commands from a file and from piped stdin; --sig loads JSON and TS signatures", async () => {
  await using sim = await startSimProcess();
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${dir}/cmds.txt`,
      "# a comment\nopen acmeStorMgmt\ncall getDeviceInfo vmhba0\n",
    );
    let r = await repl(["--file", `${dir}/cmds.txt`], sim.env);
    assertEquals(r.code, 0, r.stderr);
    assertStringIncludes(r.stdout, '"ACME UltraStor 9000"');
    r = await repl([], sim.env, "open acmeNicMgmt\ninstances\n");
    assertEquals(r.code, 0, r.stderr);
    assertStringIncludes(r.stdout, "4   vmnic3");
    r = await repl([
      "--sig",
      "test/fixtures/thermo.json",
      "--sig",
      "mgmt/demo/acme_nic.ts",
      "-c",
      "sigs; describe acmeThermo; open acmeThermo",
    ], sim.env);
    assertStringIncludes(r.stdout, "acmeThermo");
    assertStringIncludes(r.stdout, "test/fixtures/thermo.json");
    assertEquals(r.code, 1, "no kernel module serves acmeThermo");
    assertStringIncludes(r.stderr, "ENODEV");
    r = await repl(["--sig", "util/suggest.ts"], sim.env);
    assertEquals(r.code, 2);
    assertStringIncludes(r.stderr, "exports no signature");
    r = await repl(["--sig", `${dir}/missing.json`], sim.env);
    assertEquals(r.code, 2);
    assertStringIncludes(r.stderr, "missing.json");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the JavaScript escape, template, describe and the simulator control command", async () => {
  await using sim = await startSimProcess();
  const r = await repl([
    "-c",
    [
      "open acmeNicMgmt",
      `js (await session.invoke("getStats", { instance: "vmnic2" })).stats.mtu`,
      "js $.x = ((n: number) => n * 7)(6)",
      "js const y: number = 1; $.x + y",
      "js $.n = ($.n ?? 0) + 1",
      "js $.n = ($.n ?? 0) + 1",
      "template setMtu; sim fail instance=vmnic0 errno=EBUSY; call getStats vmnic0",
    ].join("\n"),
  ], sim.env);
  assertEquals(r.code, 1);
  assertStringIncludes(r.stdout, "1500\n");
  assertStringIncludes(r.stdout, "42\n43\n1\n2\n", "the same source evaluates anew each time");
  assertStringIncludes(r.stdout, "call setMtu vmnic0 mtu=0");
  assertStringIncludes(r.stdout, 'call setMtu {"instance":"vmnic0","mtu":0}');
  assertStringIncludes(r.stderr, "EBUSY");
});

Deno.test("no simulator running: the REPL starts one and stops it; --no-sim says what to do", async () => {
  const dir = await Deno.makeTempDir();
  const env = { VMKMGMT_SIM_SOCKET: `${dir}/sim.sock` };
  try {
    let r = await repl(["-v", "-c", "open acmeNicMgmt; instances"], env);
    assertEquals(r.code, 0, r.stderr);
    assertStringIncludes(r.stderr, `simulator: started on ${dir}/sim.sock`);
    assertStringIncludes(r.stdout, "vmnic3");
    // What one run changes on a simulator of its own is gone with it: said, and --keep-sim keeps one.
    r = await repl(["-c", "open acmeNicMgmt; call setMtu vmnic1 mtu=9000"], env);
    assertStringIncludes(r.stderr, "ran on one started for them, now stopped — what they changed is gone");
    r = await repl(["--keep-sim", "-c", "open acmeNicMgmt; call setMtu vmnic1 mtu=9000"], env);
    assertEquals(r.code, 0, r.stderr);
    const pid = Number(/\(pid (\d+)\) that keeps running/.exec(r.stderr)?.[1]);
    assert(pid > 0, r.stderr);
    try {
      r = await repl(["-c", "open acmeNicMgmt; call getStats vmnic1"], env);
      assertStringIncludes(r.stdout, "mtu        9000", "the next run finds what the last one changed");
      assert(!r.stderr.includes("started"), r.stderr);
    } finally {
      Deno.kill(pid, "SIGTERM");
      await waitUntil(() => {
        try {
          Deno.kill(pid, "SIGCONT");
          return false;
        } catch {
          return true;
        }
      }, "the kept simulator to stop");
    }
    r = await repl(["--no-sim", "-c", "open acmeNicMgmt"], env);
    assertEquals(r.code, 1);
    assertStringIncludes(r.stderr, "start it with `deno task sim`");
    r = await repl(["-c", ""], env);
    assertEquals([r.code, r.stderr.trim()], [0, ""], "an empty command line does nothing");
    r = await repl(["--file", `${dir}/missing.txt`], env);
    assertEquals(r.code, 2);
    assertStringIncludes(r.stderr, `--file ${dir}/missing.txt: no such file`);
    assert(!r.stderr.includes("    at "), "no stack trace");
    r = await repl(["--bogus"], env);
    assertEquals(r.code, 2);
    assertStringIncludes(r.stderr, "unknown option --bogus");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a kernel module from a file (sim --module) and its signature (--sig, VMKMGMT_SIG_DIR); rc file", async () => {
  await using sim = await startSimProcess(["--module", "test/fixtures/thermo_module.ts"]);
  let r = await repl([
    "--sig",
    "test/fixtures/thermo_sig.ts",
    "-c",
    'open acmeThermo; call read probe0 sensor="hot"; call calibrate probe0 offset=0.25; call read probe0 sensor="hot"',
  ], sim.env);
  assertEquals(r.code, 0, r.stderr);
  assertStringIncludes(r.stdout, "celsius  99.5");
  assertStringIncludes(r.stdout, "celsius  99.75", "an async call with a parameter was queued and ran");
  const dir = await Deno.makeTempDir();
  try {
    await Deno.copyFile(`${ROOT}test/fixtures/thermo.json`, `${dir}/thermo.json`);
    r = await repl(["--json", "-c", "sigs"], { ...sim.env, VMKMGMT_SIG_DIR: dir });
    const names = JSON.parse(r.stdout).signatures.map((s: { name: string }) => s.name);
    // (then the NVMe adapters' APIs the simulator registered at run time)
    assertEquals(names, [
      "acmeNicMgmt",
      "acmeStorMgmt",
      "acmeNvmeMgmt",
      "acmeThermo",
      "acmeNvme-0000:3b:00.0",
      "acmeNvme-0000:5e:00.0",
    ]);
    // The rc file runs at start of an interactive session; piped input is not interactive,
    // so it is given explicitly here and checked through its effect.
    await Deno.writeTextFile(`${dir}/rc`, "open acmeNicMgmt\n");
    r = await repl(["--rc", `${dir}/rc`, "-c", "sessions"], sim.env);
    assertStringIncludes(r.stdout, "no open sessions", "-c does not run the rc file");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("watch warns when the kernel dropped events it could not queue, in words and in JSON", async () => {
  await using sim = await startSimProcess();
  const flood = [
    "open acmeNicMgmt",
    'watch logEvent --background --filter "false"',
    'sim emit event=logEvent params={"message":"flood"} count=5000',
    // Past the first 64 events (the kernel's window) the drop report has certainly arrived: it is
    // sent as the burst ends, before any event that waits for an acknowledgement.
    "watch logEvent --for 5s --count 100",
  ].join("\n");
  let r = await repl(["-c", flood], sim.env);
  assertEquals(r.code, 0, r.stderr);
  assert(/⚠ \d+ events dropped before reaching the REPL/.test(r.stdout), r.stdout);
  r = await repl(["--json", "-c", flood], sim.env);
  const warning = r.stdout.split("\n").filter((l) => l.includes('"warning"')).map((l) => JSON.parse(l))[0];
  assertEquals(warning?.warning, "events dropped", r.stdout);
  assert(warning.kernelDropped > 0 && warning.libraryDropped === 0);
});

Deno.test("real-driver types in the REPL: describe with bits, fields by path, lossless JSON that round-trips", async () => {
  await using sim = await startSimProcess();
  const d = await repl(["-c", "open acmeStorMgmt; describe adminCommand; describe"], sim.env);
  assertEquals(d.code, 0, d.stderr);
  assertStringIncludes(d.stdout, "AdminCmd (34 bytes packed)");
  assertMatch(d.stdout, /featureID\s+u32 : 8\s+@8 bits 0\.\.7/);
  assertMatch(d.stdout, /\(padding\)\s+u32 : 21\s+@9 bits 3\.\.23/);
  assertMatch(d.stdout, /phase\s+u16 : 1\s+@16 bit 0/);
  const fields = "cmd.opcode=getFeatures cmd.fuse=0 cmd.cid=5 cmd.nsid=0 cmd.result=0 cmd.model='' " +
    'cmd.status={"phase":0,"sc":0,"sct":0,"more":0,"dnr":0} cmd.cdw10.getFeatures.featureID=7 cmd.cdw10.getFeatures.sel=0';
  const r = await repl(["--json", "-c", `open acmeStorMgmt; call adminCommand vmhba0 ${fields}`], sim.env);
  assertEquals(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split("\n").pop()!).result.cmd;
  assertEquals([out.opcode, out.cid, out.result], ["getFeatures", 5, 0x001f001f]);
  assertEquals(out.cdw10, { raw: 7, identify: { cns: 7, cntid: 0 }, getFeatures: { featureID: 7, sel: 0 } });
  // The JSON of a result goes back in as it came out (every union view; they agree).
  const again = await repl(
    ["--json", "-c", `open acmeStorMgmt; call adminCommand vmhba0 cmd=${JSON.stringify(out)}`],
    sim.env,
  );
  assertEquals(again.code, 0, again.stderr);
  assertEquals(JSON.parse(again.stdout.trim().split("\n").pop()!).result.cmd, out);
  // A bitfield value that does not fit says which field and why.
  const bad = await repl([
    "-c",
    `open acmeStorMgmt; call adminCommand vmhba0 ${fields.replace("featureID=7", "featureID=256")}`,
  ], sim.env);
  assertEquals(bad.code, 1);
  assertStringIncludes(
    bad.stderr + bad.stdout,
    "cmd.cdw10.getFeatures.featureID: 256 does not fit 8 bits (0..255",
  );
});

Deno.test("first-use fixes (issue 24): sim ops on the current API, templates that run, a driver's status in the exit status", async (t) => {
  await using sim = await startSimProcess();
  await t.step(
    "sim emit and sim fail act on the current session's API, not the simulator's first",
    async () => {
      const r = await repl([
        "-c",
        'open acmeStorMgmt; sim emit event=deviceEvent params={"kind":"attached","lba":0,"detail":"00"}; sim fail instance=vmhba1 errno=EIO; call getDeviceInfo vmhba1',
      ], sim.env);
      assertEquals(r.code, 1, r.stdout);
      assertStringIncludes(r.stdout, "emit event=deviceEvent");
      assertStringIncludes(r.stdout, "api=acmeStorMgmt");
      assertStringIncludes(r.stderr, "EIO");
      assert(!r.stderr.includes("acmeNicMgmt"), r.stderr);
      await sim.control({ op: "clear", api: "acmeStorMgmt" });
    },
  );
  await t.step(
    "template on an API with no instances writes '-', and a caller buffer as {length}; its lines run",
    async () => {
      const r = await repl(
        ["--json", "-c", "open acmeNvme-0000:3b:00.0; template firmwareDownload"],
        sim.env,
      );
      assertEquals(r.code, 0, r.stderr);
      const [opened, template] = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
      assertEquals(opened.ok, true);
      // (crc and status, which the driver fills in, are left out: the call sends them as zero)
      assertEquals(template.line, 'call firmwareDownload - request={"image":{"length":4096},"size":4096}');
      assertEquals(template.json.instance, "-");
      for (const call of [template.line, `call firmwareDownload ${JSON.stringify(template.json)}`]) {
        const ran = await repl(["--json", "-c", `open acmeNvme-0000:3b:00.0; ${call}`], sim.env);
        assertEquals(ran.code, 0, `${call}: ${ran.stderr}`);
        assertEquals(JSON.parse(ran.stdout.trim().split("\n")[1]).result.request.status, 0, call);
      }
      const plain = await repl(["-c", "open acmeNvme-0000:3b:00.0"], sim.env);
      assertStringIncludes(plain.stdout, "0 instances (calls take - for no instance)");
    },
  );
  await t.step(
    "a driver's non-zero status: every command runs, exit status 3, the call named on stderr",
    async () => {
      const r = await repl(
        ["-c", "open acmeNicMgmt; call setMtu vmnic1 mtu=67; call getStats vmnic1"],
        sim.env,
      );
      assertEquals(r.code, 3, r.stderr);
      assertStringIncludes(r.stdout, "mtu        1500", "the command after it ran");
      assertStringIncludes(r.stderr, "setMtu vmnic1: status 22");
      const nested = await repl([
        "-c",
        'open acmeNvme-0000:3b:00.0; call identify - request={"cns":7,"nsid":0,"page":{"length":4096},"status":0}',
      ], sim.env);
      assertEquals(nested.code, 3, nested.stderr);
      assertStringIncludes(nested.stderr, "identify: request.status -22");
      const good = await repl(["-c", "open acmeNicMgmt; call setMtu vmnic1 mtu=1500"], sim.env);
      assertEquals(good.code, 0, good.stderr);
    },
  );
  await t.step(
    "messages about what the user typed: js syntax, --filter, --timeout 0; help js says what $ is",
    async () => {
      const js = await repl(["-c", "js let x = ;"], sim.env);
      assertEquals(js.code, 1);
      assertStringIncludes(js.stderr, "js: SyntaxError: Expression expected — in: let x = ;");
      assert(!js.stderr.includes("data:"), js.stderr);
      const filter = await repl([
        "-c",
        "open acmeNicMgmt; watch linkEvent --filter 'ev.params.state.up ==' --for 100ms",
      ], sim.env);
      assertStringIncludes(filter.stderr, "--filter ev.params.state.up ==: the expression ends too soon");
      const zero = await repl(["-c", "open acmeNicMgmt; call getStats vmnic0 --timeout 0"], sim.env);
      assertEquals(zero.code, 1);
      assertStringIncludes(zero.stderr, "--timeout: expected a duration > 0");
      const unit = await repl(["-c", "open acmeNicMgmt; call getStats vmnic0 --timeout 2s"], sim.env);
      assertEquals(unit.code, 0, unit.stderr);
      // The same rule as every script's: a bare number is milliseconds; 0 is refused.
      const forZero = await repl(["-c", "open acmeNicMgmt; watch linkEvent --for 0"], sim.env);
      assertStringIncludes(
        forZero.stderr,
        "expected a duration > 0 (250ms, 5s, 2m; a bare number is milliseconds)",
      );
      const bare = await repl(["-c", "open acmeNicMgmt; watch linkEvent --for 300"], sim.env);
      assertEquals(bare.code, 0, bare.stderr);
      const help = await repl(["-c", "help js"], sim.env);
      assertStringIncludes(help.stdout, "$, an empty object to keep your own values on");
    },
  );
  await t.step("an event name misspelt: the did-you-mean ends its clause", async () => {
    const r = await repl(["-c", "open acmeNicMgmt; watch linkEvnt"], sim.env);
    assertEquals(r.code, 1);
    assertStringIncludes(r.stderr, "has no kernel event linkEvnt; did you mean linkEvent? — events");
  });
});

Deno.test("paths the user types are where the user is (INIT_CWD), named in full; an image too big is refused unread", async () => {
  await using sim = await startSimProcess();
  const dir = await Deno.makeTempDir({ prefix: "vmkmgmt-repl-cwd-" });
  try {
    const env = { ...sim.env, INIT_CWD: dir };
    await Deno.writeFile(`${dir}/fw.bin`, new TextEncoder().encode("123456789"));
    await Deno.writeTextFile(
      `${dir}/cmds.txt`,
      "open acmeNicMgmt; call flashFirmware vmnic0 image=@fw.bin\n",
    );
    const ran = await repl(["--file", "cmds.txt"], env);
    assertEquals(ran.code, 0, ran.stderr);
    assertStringIncludes(ran.stdout, "crc  0xcbf43926");
    const missing = await repl(["-c", "open acmeNicMgmt; call flashFirmware vmnic0 image=@nope.bin"], env);
    assertEquals(missing.code, 1);
    assertStringIncludes(missing.stderr, `${dir}/nope.bin`);
    const noFile = await repl(["--file", "nope.txt"], env);
    assertStringIncludes(noFile.stderr, `--file nope.txt: no such file (${dir}/nope.txt)`);
    // A sparse 100 MiB file: refused by its size, before a byte is read.
    using big = await Deno.open(`${dir}/big.bin`, { write: true, create: true });
    await big.truncate(100 * 1024 * 1024);
    const tooBig = await repl(["-c", "open acmeNicMgmt; call flashFirmware vmnic0 image=@big.bin"], env);
    assertEquals(tooBig.code, 1);
    assertStringIncludes(
      tooBig.stderr,
      `${dir}/big.bin is 104857600 bytes; one vector holds at most 67108864 (64 MiB)`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("--json: every line an object with ok, and one instance form — as jq reads them", async () => {
  await using sim = await startSimProcess();
  const r = await repl([
    "--json",
    "-c",
    "open acmeNicMgmt; sigs; sessions; instances; describe setMtu; template setMtu; call getStats vmnic1; " +
    "lib; help; watch linkEvent --count 1 --background; call triggerEvents vmnic1 count=1; call setMtu vmnic1 mtu=x",
  ], sim.env);
  assertEquals(r.code, 1, r.stderr);
  const jq = async (filter: string) => {
    const out = await new Deno.Command("jq", { args: ["-r", "-c", filter], stdin: "piped", stdout: "piped" })
      .spawn();
    const w = out.stdin.getWriter();
    await w.write(new TextEncoder().encode(r.stdout));
    await w.close();
    return new TextDecoder().decode((await out.output()).stdout).trim().split("\n");
  };
  assertEquals(new Set(await jq('type + " " + (.ok | tostring)')), new Set(["object true", "object false"]));
  assertEquals(await jq("select(.ok == false) | .error.path"), ["mtu"]);
  // A call's instance, an event's and a listed one: {"id", "name"}.
  const forms = await jq('(.instance // empty), (.instances[]? // empty) | select(.name == "vmnic1")');
  assert(forms.length >= 3, forms.join("\n"));
  assertEquals(new Set(forms), new Set(['{"id":"2","name":"vmnic1"}']));
});

Deno.test("call CALLBACK * (or all): every instance at once — a row or a JSON line each; one failing is named", async (t) => {
  await using sim = await startSimProcess();
  await t.step("a table with a row per instance; all sets every one", async () => {
    const r = await repl(["-c", "open acmeNicMgmt; call setMtu all mtu=9000; call getStats *"], sim.env);
    assertEquals(r.code, 0, r.stderr);
    const rows = r.stdout.trim().split("\n").slice(-5);
    assertMatch(rows[0], /^INSTANCE\s+rxPackets\s+txPackets\s+rxBytes\s+txBytes\s+linkUp\s+mtu\s+driver$/);
    assertEquals(rows.slice(1).map((row) => row.split(/\s+/)[0]), ["vmnic0", "vmnic1", "vmnic2", "vmnic3"]);
    assert(rows.slice(1).every((row) => /\s9000\s+acme-nic$/.test(row)), rows.join("\n"));
  });
  await t.step("one instance failing: the others' rows, its error, exit status 1", async () => {
    await sim.control({ op: "fail", instance: "vmnic2", errno: "EIO" });
    const r = await repl(["-c", "open acmeNicMgmt; call getStats *"], sim.env);
    assertEquals(r.code, 1);
    assertEquals(r.stdout.match(/^vmnic[013]\s+\d+/gm)?.length, 3, r.stdout);
    assertMatch(r.stdout, /^vmnic2\s+error: invoke failed: EIO/m);
    assertStringIncludes(r.stderr, "call getStats *: 1 of 4 instances failed (vmnic2)");
  });
  await t.step("--json: a line per instance naming it, the failing one ok: false", async () => {
    await sim.control({ op: "fail", instance: "vmnic2", errno: "EIO" });
    const r = await repl(["--json", "-c", "open acmeNicMgmt; call getStats *"], sim.env);
    const lines = r.stdout.trim().split("\n").map((l) => JSON.parse(l)).filter((l) => l.callback);
    assertEquals(lines.map((l) => [l.instance.name, l.ok]), [
      ["vmnic0", true],
      ["vmnic1", true],
      ["vmnic2", false],
      ["vmnic3", true],
    ]);
    assertEquals(lines[0].result.stats.mtu, 9000);
    assertEquals(lines[2].error.code, "EIO");
  });
  await t.step("an API without instances: says how to call it", async () => {
    const r = await repl(["-c", "open acmeNvmeMgmt; call listAdapters * adapters=4"], sim.env);
    assertEquals(r.code, 1);
    assertStringIncludes(
      r.stderr,
      "acmeNvmeMgmt has no instances; call listAdapters - … calls it with no instance",
    );
  });
});

Deno.test("bytes you can read and results you can reuse: a hexdump, show --hex, _ in js, a CRC in hex", async (t) => {
  await using sim = await startSimProcess();
  const identify =
    'call identify - request.cns=1 request.nsid=0 request.status=0 request.page={"length":4096}';
  await t.step("a 4 KiB page: a few hexdump rows and how many bytes more; show --hex all of it", async () => {
    const r = await repl([], sim.env, `open acmeNvme-0000:3b:00.0\n${identify}\nshow --hex\n`);
    assertEquals(r.code, 0, r.stderr);
    const [cut, all] = r.stdout.split(/^request\s*$/m).slice(1);
    assertMatch(cut, /^ {4}0010 {2}20 20 .*\| {8}ACME NVM\|$/m);
    assertStringIncludes(cut, "… 4032 more bytes (show --hex)");
    assertMatch(all, /^ {4}0040 {2}31 2e 30 2e 30 .*\|1\.0\.0 {3}\.{8}\|$/m, "the firmware revision");
    assertMatch(all, /^ {4}\*$/m, "rows of zeros are one '*'");
    assert(!all.includes("more bytes"), all);
  });
  await t.step(
    "the identify page read by field in js: decodeBytes(IdentifyController, _.request.page)",
    async () => {
      const r = await repl(
        [],
        sim.env,
        `open acmeNvme-0000:3b:00.0\n${identify}\njs decodeBytes(IdentifyController, _.request.page).mn.trim()\n`,
      );
      assertEquals(r.code, 0, r.stderr);
      assertEquals(r.stdout.trim().split("\n").at(-1), '"ACME NVMe 7450 PRO"');
    },
  );
  await t.step("_ is the last result, _1 the one before; call X * gives them by instance", async () => {
    const r = await repl(
      [],
      sim.env,
      [
        "open acmeNicMgmt",
        "call getStats vmnic1",
        "js _.stats.driver",
        "js _1.stats.mtu + 1",
        "call getStats *",
        "js Object.keys(_).join()",
        "",
      ].join("\n"),
    );
    assertEquals(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split("\n");
    assertStringIncludes(lines.join("\n"), '"acme-nic"\n1501\n');
    assertEquals(lines.at(-1), '"vmnic0,vmnic1,vmnic2,vmnic3"');
  });
  await t.step("a CRC is shown in hex, as flash-firmware prints it", async () => {
    const r = await repl(["-c", "open acmeNicMgmt; call flashFirmware vmnic0 image=0x01020304"], sim.env);
    assertEquals(r.code, 0, r.stderr);
    const crc = crc32(new Uint8Array([1, 2, 3, 4])).toString(16).padStart(8, "0");
    assertMatch(r.stdout, new RegExp(`^crc  0x${crc}$`, "m"));
  });
});
