/**
 * The example scripts, run through the runner as subprocesses against a simulator: output and
 * exit status, including the failure paths (bad flags, missing image, forced rollback, a link
 * that never comes back).
 */
import { assert, assertEquals, assertMatch, assertStringIncludes, assertThrows } from "@std/assert";
import { acmeNic } from "../demo.ts";
import { open, parseDuration, parseTimeout } from "../mod.ts";
import { type SimProcess, startSimProcess } from "../sim/process.ts";
import { useSocket } from "./support/env.ts";
import { Terminal } from "./support/tmux.ts";
import { waitUntil } from "./support/wait.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const opts = { sanitizeResources: false, sanitizeOps: false };

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function spawn(sim: SimProcess, script: string, args: string[]) {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "scripts/run.ts", `scripts/${script}`, ...args],
    cwd: ROOT,
    env: { VMKMGMT_SIM_SOCKET: sim.socketPath, NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

async function run(sim: SimProcess, script: string, ...args: string[]): Promise<Run> {
  const out = await spawn(sim, script, args).output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

/** Runs a long-lived script, calls `during` once `ready` shows on stdout, then waits for it. */
async function runWhile(
  sim: SimProcess,
  script: string,
  args: string[],
  ready: string,
  during: (child: Deno.ChildProcess, output: () => string) => Promise<void>,
): Promise<Run> {
  const child = spawn(sim, script, args);
  let stdout = "";
  let stderr = "";
  const pump = async (s: ReadableStream<Uint8Array>, add: (t: string) => void) => {
    for await (const t of s.pipeThrough(new TextDecoderStream())) add(t);
  };
  const done = Promise.all([
    pump(child.stdout, (t) => (stdout += t)),
    pump(child.stderr, (t) => (stderr += t)),
  ]);
  try {
    await waitUntil(() => stdout.includes(ready), `"${ready}" from ${script}`, 20_000, 50);
  } catch (e) {
    child.kill("SIGKILL");
    throw new Error(`${(e as Error).message}:\n${stdout}\n${stderr}`);
  }
  await during(child, () => stdout);
  const killer = setTimeout(() => child.kill("SIGKILL"), 20_000);
  const status = await child.status;
  clearTimeout(killer);
  await done;
  return { code: status.code, stdout, stderr };
}

async function mtus(sim: SimProcess): Promise<number[]> {
  using _socket = useSocket(sim.socketPath);
  await using s = await open(acmeNic);
  const out: number[] = [];
  for (const i of await s.instances()) out.push((await s.invoke("getStats", { instance: i })).stats.mtu);
  return out;
}

Deno.test({
  name: "collect-stats: table, NDJSON with rates, bad flags, unknown instance, Ctrl-C",
  ...opts,
  fn: async () => {
    await using sim = await startSimProcess();
    let r = await run(sim, "collect-stats.ts", "--help");
    assertEquals(r.code, 0);
    assertStringIncludes(r.stdout, "Usage: collect-stats.ts");
    r = await run(sim, "collect-stats.ts", "--rounds", "2", "--interval", "200ms");
    assertEquals(r.code, 0, r.stderr);
    const rows = r.stdout.trim().split("\n");
    assertMatch(rows[0], /^ROUND\s+INSTANCE\s+LINK\s+MTU\s+RX PKTS/);
    assertEquals(rows.length, 9);
    assertMatch(rows[1], /^1\s+vmnic0\s+up\s+1500\s+\d+\s+\d+\s+-\s+-/);
    assertMatch(rows[8], /^2\s+vmnic3\s+up\s+1500(\s+\d+){6}$/);
    r = await run(
      sim,
      "collect-stats.ts",
      "--rounds",
      "2",
      "--interval",
      "200ms",
      "--json",
      "--instances",
      "vmnic1,vmnic2",
    );
    const lines = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
    assertEquals(lines.map((l) => [l.round, l.instance]), [[1, "vmnic1"], [1, "vmnic2"], [2, "vmnic1"], [
      2,
      "vmnic2",
    ]]);
    assertEquals(lines[0].rates, null);
    assert(lines[2].rates.rxPps > 0 && typeof lines[2].rxPackets === "string");
    r = await run(sim, "collect-stats.ts", "--rounds", "x");
    assertEquals(r.code, 2);
    assertStringIncludes(r.stderr, "--rounds: expected a whole number > 0, got x");
    r = await run(sim, "collect-stats.ts", "--bogus");
    assertEquals(r.code, 2);
    assertStringIncludes(r.stderr, "unknown option --bogus");
    r = await run(sim, "collect-stats.ts", "--instances", "vmnic9", "--rounds", "1");
    assertEquals(r.code, 1);
    assertStringIncludes(r.stderr, "instance vmnic9");
    r = await runWhile(
      sim,
      "collect-stats.ts",
      ["--interval", "200ms"],
      "2 ",
      (child) => Promise.resolve(child.kill("SIGINT")),
    );
    assertEquals(r.code, 0, "Ctrl-C ends a run without --rounds cleanly");
  },
});

Deno.test({
  name: "link-watch: resets a link down past the threshold and sees it back; deadline; SIGINT",
  ...opts,
  fn: async () => {
    await using sim = await startSimProcess();
    let r = await runWhile(
      sim,
      "link-watch.ts",
      ["--threshold", "300ms", "--deadline", "3s", "--recoveries", "1"],
      "watching",
      async (_c, out) => {
        // A bounce shorter than the threshold is left alone.
        await sim.control({ op: "link", instance: "vmnic0", up: false });
        await sim.control({ op: "link", instance: "vmnic0", up: true });
        await sim.control({ op: "link", instance: "vmnic1", up: false });
        await waitUntil(() => out().includes("recovered"), "link-watch to report the recovery");
      },
    );
    assertEquals(r.code, 0, r.stderr);
    assertMatch(r.stdout, /down\s+vmnic0\n.*up\s+vmnic0/);
    assert(!/reset\s+vmnic0/.test(r.stdout), "no reset for a short bounce");
    // The reset takes the link down once more before it comes back.
    assertMatch(
      r.stdout,
      /down\s+vmnic1\n[^\n]*reset\s+vmnic1 downMs=\d+\n[^\n]*down\s+vmnic1\n[^\n]*recovered\s+vmnic1 afterMs=\d+ speedMbps=10000/,
    );

    await sim.control({ op: "holdDown", instance: "vmnic2", on: true });
    r = await runWhile(
      sim,
      "link-watch.ts",
      ["--threshold", "200ms", "--deadline", "1s", "--json"],
      '"action":"watching"',
      async () => {
        await sim.control({ op: "link", instance: "vmnic2", up: false });
      },
    );
    assertEquals(r.code, 1);
    const actions = r.stdout.trim().split("\n").map((l) => JSON.parse(l)).map((l) =>
      `${l.action}:${l.instance}`
    );
    assertEquals(actions, ["watching:null", "down:vmnic2", "reset:vmnic2", "down:vmnic2", "failed:vmnic2"]);
    assertStringIncludes(r.stderr, "vmnic2 did not come back within 1000 ms of the reset");
    await sim.control({ op: "holdDown", instance: "vmnic2", on: false });

    // vmnic2 is still down: a new watcher counts it from the start, and SIGINT stops it cleanly.
    r = await runWhile(
      sim,
      "link-watch.ts",
      ["--threshold", "1h"],
      "watching",
      (child) => Promise.resolve(child.kill("SIGINT")),
    );
    assertEquals(r.code, 0, r.stderr);
    assertMatch(r.stdout, /down\s+vmnic2 atStart=true/);
    assertMatch(r.stdout, /stopped\s+- signal=SIGINT/);
    r = await run(sim, "link-watch.ts", "--threshold", "soon");
    assertEquals(r.code, 2);
    assertStringIncludes(
      r.stderr,
      `--threshold: expected a duration > 0 (250ms, 5s, 2m; a bare number is milliseconds), got "soon"`,
    );
  },
});

Deno.test({
  name: "flash-firmware: verified CRC, missing and empty files refused, a failing instance",
  ...opts,
  fn: async () => {
    await using sim = await startSimProcess();
    const dir = await Deno.makeTempDir();
    try {
      const image = crypto.getRandomValues(new Uint8Array(50_000));
      await Deno.writeFile(`${dir}/fw.bin`, image);
      await Deno.writeFile(`${dir}/empty.bin`, new Uint8Array());
      let r = await run(sim, "flash-firmware.ts", `${dir}/fw.bin`, "--all");
      assertEquals(r.code, 0, r.stderr);
      assertEquals(r.stdout.match(/: ok, crc 0x[0-9a-f]{8} verified/g)?.length, 4);
      r = await run(sim, "flash-firmware.ts", `${dir}/missing.bin`, "--all");
      assertEquals([r.code, r.stderr.trim()], [
        2,
        `flash-firmware: image file ${dir}/missing.bin does not exist`,
      ]);
      r = await run(sim, "flash-firmware.ts", `${dir}/empty.bin`, "--instance", "vmnic0");
      assertEquals(r.code, 2);
      assertStringIncludes(r.stderr, "is empty; refusing to flash nothing");
      r = await run(sim, "flash-firmware.ts", `${dir}/fw.bin`);
      assertEquals(r.code, 2);
      assertStringIncludes(r.stderr, "give --instance NAME (one or more) or --all");
      await sim.control({ op: "fail", instance: "vmnic1", errno: "EIO" });
      r = await run(
        sim,
        "flash-firmware.ts",
        `${dir}/fw.bin`,
        "--instance",
        "vmnic0",
        "--instance",
        "vmnic1",
        "--json",
      );
      assertEquals(r.code, 1);
      const res = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
      assertEquals(res.map((x) => [x.instance, x.ok]), [["vmnic0", true], ["vmnic1", false]]);
      assertStringIncludes(res[1].error, "EIO");
      assertStringIncludes(r.stderr, "1 of 2 instance(s) failed");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "flash-firmware shows a progress bar on a terminal, each result line taking its place",
  ...opts,
  fn: async () => {
    await using sim = await startSimProcess();
    const dir = await Deno.makeTempDir();
    await Deno.writeFile(`${dir}/fw.bin`, new Uint8Array(1000).fill(7));
    await sim.control({ op: "delay", ms: 400 }); // (long enough to see the bar)
    await using t = await Terminal.start(
      `cd ${ROOT} && ${Deno.execPath()} run --allow-all scripts/run.ts scripts/flash-firmware.ts ${dir}/fw.bin --all`,
      {
        VMKMGMT_SIM_SOCKET: sim.socketPath,
      },
    );
    // The bar is drawn while an instance flashes (stderr); its result line replaces it (stdout).
    await t.waitFor("] 2/4 flashing vmnic2…");
    const screen = await t.waitFor("vmnic3: ok");
    const lines = screen.split("\n").filter((l) => l.trim());
    assertEquals(lines.filter((l) => /^vmnic\d: ok, crc 0x[0-9a-f]{8} verified$/.test(l)).length, 4, screen);
    assert(!screen.includes("[#") && !screen.includes("[-"), `no progress line is left:\n${screen}`);
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test({
  name: "mtu-rollout: all or nothing — success, a rejected value, forced rollbacks, a stuck rollback",
  ...opts,
  fn: async () => {
    await using sim = await startSimProcess();
    let r = await run(sim, "mtu-rollout.ts", "--mtu", "9000", "--instances", "vmnic0,vmnic1");
    assertEquals(r.code, 0, r.stderr);
    assertMatch(r.stdout, /set\s+vmnic0 from=1500 to=9000\nset\s+vmnic1 from=1500 to=9000\ndone/);
    assertEquals(await mtus(sim), [9000, 9000, 1500, 1500]);

    r = await run(sim, "mtu-rollout.ts", "--mtu", "50", "--all");
    assertEquals(r.code, 1);
    assertStringIncludes(
      r.stderr,
      "vmnic0: the driver rejected mtu 50 (status 22); rolling back 0 instance(s)",
    );
    assertEquals(await mtus(sim), [9000, 9000, 1500, 1500], "nothing changed");

    // setMtu on vmnic2 fails (its getStats succeeds first): vmnic2, vmnic1, vmnic0 are restored.
    await sim.control({ op: "fail", instance: "vmnic2", errno: "EIO", after: 1 });
    r = await run(sim, "mtu-rollout.ts", "--mtu", "4000", "--all");
    assertEquals(r.code, 1, r.stderr);
    assertMatch(
      r.stdout,
      /restored\s+vmnic2 mtu=1500\nrestored\s+vmnic1 mtu=9000\nrestored\s+vmnic0 mtu=9000/,
    );
    assertEquals(await mtus(sim), [9000, 9000, 1500, 1500]);

    // A timeout is a failure too.
    await sim.control({ op: "delay", instance: "vmnic1", ms: 1500 });
    r = await run(sim, "mtu-rollout.ts", "--mtu", "1500", "--instances", "vmnic0,vmnic1", "--timeout", "300");
    assertEquals(r.code, 1);
    assertStringIncludes(r.stdout, "ETIMEDOUT");
    await sim.control({ op: "delay", instance: "vmnic1", ms: 0 });
    assertEquals(await mtus(sim), [9000, 9000, 1500, 1500]);

    // The rollback itself fails: exit 3 names the instance.
    await sim.control({ op: "fail", instance: "vmnic3", errno: "EBUSY", count: "inf", after: 1 });
    r = await run(sim, "mtu-rollout.ts", "--mtu", "2000", "--instances", "vmnic2,vmnic3");
    assertEquals(r.code, 3);
    assertStringIncludes(r.stderr, "ROLLBACK FAILED for vmnic3");
    await sim.control({ op: "clear" });
    r = await run(sim, "mtu-rollout.ts", "--mtu", "x", "--all");
    assertEquals(r.code, 2);
    assertStringIncludes(r.stderr, "--mtu: expected a whole number, got x");
  },
});

Deno.test({
  name: "the runner starts a simulator when none listens, and stops it",
  ...opts,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "--allow-all", "scripts/run.ts", "scripts/collect-stats.ts", "--rounds", "1"],
        cwd: ROOT,
        env: { VMKMGMT_SIM_SOCKET: `${dir}/sim.sock` },
        stdout: "piped",
        stderr: "piped",
      }).output();
      assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
      assertStringIncludes(new TextDecoder().decode(out.stdout), "vmnic3");
      let gone = false;
      try {
        await Deno.lstat(`${dir}/sim.sock`);
      } catch {
        gone = true;
      }
      assert(gone, "the simulator it started was stopped and its socket removed");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "link-watch ends loudly when the kernel goes away",
  ...opts,
  fn: async () => {
    const sim = await startSimProcess();
    try {
      const r = await runWhile(sim, "link-watch.ts", [], "watching", () => sim.kill());
      assertEquals(r.code, 1);
      assertStringIncludes(r.stderr, "connection to the simulator was lost");
    } finally {
      await sim.kill();
    }
  },
});

Deno.test({
  name: "nvme-inventory: every adapter's API identified, as a table and as NDJSON; a hot-plugged one too",
  ...opts,
  fn: async () => {
    await using sim = await startSimProcess();
    let r = await run(sim, "nvme-inventory.ts");
    assertEquals(r.code, 0, r.stderr);
    assertMatch(
      r.stdout,
      /acmeNvme-0000:3b:00\.0\s+0000:3b:00\.0\s+ACME NVMe 7450 PRO\s+ACN00003B000\s+1\.0\.0/,
    );
    await sim.control({ op: "hotplug", pci: "0000:af:00.0" });
    r = await run(sim, "nvme-inventory.ts", "--json");
    assertEquals(r.code, 0, r.stderr);
    const rows = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
    assertEquals(rows.map((x) => x.adapter), [
      "acmeNvme-0000:3b:00.0",
      "acmeNvme-0000:5e:00.0",
      "acmeNvme-0000:af:00.0",
    ]);
    assertEquals(rows[2].firmware, "1.2.0");
    r = await run(sim, "nvme-inventory.ts", "--timeout", "soon");
    assertEquals(r.code, 2);
    assertStringIncludes(r.stderr, "--timeout: expected a duration > 0");
  },
});

Deno.test("deno task run from the user's directory: scripts by path or by name, files where the user is, paths named", async (t) => {
  await using sim = await startSimProcess();
  const dir = await Deno.makeTempDir({ prefix: "vmkmgmt-run-cwd-" });
  /** As `deno task run` from `dir`: the runner in the project, INIT_CWD where the user is. */
  const runFrom = async (...args: string[]) => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", `${ROOT}scripts/run.ts`, ...args],
      cwd: ROOT,
      env: { VMKMGMT_SIM_SOCKET: sim.socketPath, NO_COLOR: "1", INIT_CWD: dir },
      stdout: "piped",
      stderr: "piped",
    }).output();
    return {
      code: out.code,
      stdout: new TextDecoder().decode(out.stdout),
      stderr: new TextDecoder().decode(out.stderr),
    };
  };
  try {
    await t.step(
      "a script of the user's, relative to their directory, reads a file relative to it",
      async () => {
        await Deno.mkdir(`${dir}/s`);
        await Deno.writeTextFile(
          `${dir}/s/example.ts`,
          `/** @permissions --allow-ffi --allow-env --allow-read */
import { open } from "${ROOT}mod.ts";
import { acmeNic } from "${ROOT}demo.ts";
import { parseArgs } from "@std/cli/parse-args";
await using s = await open(acmeNic);
const { stats } = await s.invoke("getStats", { instance: "vmnic0" });
console.log("mtu", stats.mtu, "note", Deno.readTextFileSync(parseArgs(Deno.args).f as string).trim());
`,
        );
        await Deno.writeTextFile(`${dir}/note.txt`, "hello\n");
        const r = await runFrom("s/example.ts", "-f", "note.txt");
        assertEquals(r.code, 0, r.stderr);
        assertEquals(r.stdout.trim(), "mtu 1500 note hello");
      },
    );
    await t.step("a script is type-checked before it runs; --no-check runs it as it is", async () => {
      await Deno.writeTextFile(
        `${dir}/s/typo.ts`,
        `/** @permissions --allow-ffi --allow-env --allow-read */
import { open } from "${ROOT}mod.ts";
import { acmeNic } from "${ROOT}demo.ts";
await using s = await open(acmeNic);
console.log("called");
console.log((await s.invoke("getStats", { instance: "vmnic0" })).stats.mtuu);
`,
      );
      let r = await runFrom("s/typo.ts");
      assertEquals(r.code, 1);
      assertStringIncludes(r.stderr, "Property 'mtuu' does not exist");
      assert(!r.stdout.includes("called"), "nothing ran");
      r = await runFrom("--no-check", "s/typo.ts");
      assertEquals([r.code, r.stdout.trim()], [0, "called\nundefined"], r.stderr);
    });
    await t.step("a bundled script by name, and by the README's path", async () => {
      for (const script of ["collect-stats", "scripts/collect-stats.ts"]) {
        const r = await runFrom(script, "--rounds", "1");
        assertEquals(r.code, 0, `${script}: ${r.stderr}`);
        assertStringIncludes(r.stdout, "vmnic3");
      }
    });
    await t.step(
      "no such script: every path looked at is named; the usage lists every bundled script",
      async () => {
        const r = await runFrom("nope.ts");
        assertEquals(r.code, 2);
        assertStringIncludes(
          r.stderr,
          `no script nope.ts (looked for ${dir}/nope.ts, ${ROOT}nope.ts, ${ROOT}scripts/nope.ts)`,
        );
        for (
          const name of [
            "collect-stats",
            "flash-firmware",
            "fleet",
            "link-watch",
            "mtu-rollout",
            "nvme-inventory",
          ]
        ) {
          assertStringIncludes(r.stderr, name);
        }
      },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "durations: one rule in every script and the REPL — a unit, or a bare number of milliseconds",
  ...opts,
  fn: async (t) => {
    await t.step("parseDuration: a bare number is milliseconds; parseTimeout refuses 0", () => {
      assertEquals([parseDuration("250"), parseDuration("2s"), parseDuration("1.5m")], [250, 2000, 90_000]);
      assertEquals(parseTimeout("500ms"), 500);
      for (const bad of ["0", "0s", "soon", ""]) {
        assertThrows(() => parseTimeout(bad), RangeError, "expected a duration > 0");
      }
    });
    await using sim = await startSimProcess();
    await t.step("every script's duration option takes a unit", async () => {
      const dir = await Deno.makeTempDir();
      try {
        await Deno.writeFile(`${dir}/fw.bin`, new Uint8Array(1000).fill(7));
        for (
          const [script, ...args] of [
            ["flash-firmware.ts", `${dir}/fw.bin`, "--instance", "vmnic0", "--timeout", "5s"],
            ["mtu-rollout.ts", "--mtu", "1500", "--instances", "vmnic0", "--timeout", "5s"],
            ["nvme-inventory.ts", "--timeout", "5s"],
            ["collect-stats.ts", "--rounds", "1", "--interval", "1s"],
          ]
        ) {
          const r = await run(sim, script, ...args);
          assertEquals(r.code, 0, `${script}: ${r.stderr}`);
        }
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    });
    await t.step("and refuses 0 or a word with the same message", async () => {
      for (
        const [script, flag, ...rest] of [
          ["flash-firmware.ts", "--timeout", "x.bin", "--all"],
          ["mtu-rollout.ts", "--timeout", "--mtu", "1500", "--all"],
          ["nvme-inventory.ts", "--timeout"],
          ["collect-stats.ts", "--interval"],
          ["link-watch.ts", "--deadline"],
          ["fleet.ts", "--timeout", "--inventory", "hosts.txt", "stats"],
        ]
      ) {
        for (const value of ["0", "soon"]) {
          const r = await run(sim, script, flag, value, ...rest);
          assertEquals(r.code, 2, `${script} ${flag} ${value}: ${r.stderr}`);
          assertStringIncludes(r.stderr, `${flag}: expected a duration > 0`);
        }
      }
    });
  },
});
