/**
 * Calls stalled in a kernel never take all of Deno's blocking pool: at most 24 wait in C, the rest
 * queue in JavaScript, so file I/O goes on; a queued call given up on never reaches the kernel; a
 * call that timed out in C does not keep the process alive.
 */
import { assert, assertEquals, assertRejects } from "@std/assert";
import { acmeNic } from "../demo.ts";
import { kernelWaits, MAX_KERNEL_WAITS } from "../ffi/blocking_pool.ts";
import { open, VmkMgmtError } from "../mod.ts";
import { startSimProcess } from "../sim/process.ts";
import { useSocket } from "./support/env.ts";
import { waitUntil, within } from "./support/wait.ts";

const ROOT = new URL("../", import.meta.url).pathname;

Deno.test({
  name: "33 calls stalled in the kernel: file reads go on, a queued timeout never reaches it, all finish",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    await using sim = await startSimProcess();
    using _socket = useSocket(sim.socketPath);
    await using s = await open(acmeNic);
    const calls = async () => ((await sim.control({ op: "sessions" })) as { calls: number }[])[0].calls;
    const before = await calls();
    await sim.control({ op: "stall", instance: "*", count: "inf" });
    const stalled = Array.from({ length: 33 }, () => s.invoke("getStats", { instance: 1 }));
    const givenUp = s.invoke("getStats", { instance: 2 }, { timeout: 200 });
    await waitUntil(async () => (await calls()) - before === MAX_KERNEL_WAITS, "24 calls in the kernel");
    assertEquals([kernelWaits.running, kernelWaits.queued], [MAX_KERNEL_WAITS, 33 + 1 - MAX_KERNEL_WAITS]);
    const text = await within(
      Deno.readTextFile(`${ROOT}deno.json`),
      10_000,
      "a file read beside 33 stalled calls",
    );
    assert(text.includes("tasks"));
    const e = await assertRejects(() => givenUp, VmkMgmtError);
    assertEquals(e.code, "ETIMEDOUT");
    assertEquals(kernelWaits.queued, 33 - MAX_KERNEL_WAITS, "the timed-out call left the queue");
    await sim.control({ op: "clear" });
    const results = await within(Promise.all(stalled), 20_000, "the 33 calls after clear");
    assertEquals(results.map((r) => r.stats.mtu), Array(33).fill(1500));
    assertEquals((await calls()) - before, 33, "the call given up on in the queue never reached the kernel");
    assertEquals([kernelWaits.running, kernelWaits.queued], [0, 0]);
  },
});

Deno.test({
  name: "a call that timed out in the kernel does not keep the process alive",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    await using sim = await startSimProcess();
    await sim.control({ op: "stall", instance: "*", count: "inf" });
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "test/fixtures/exits_after_timeout.ts"],
      cwd: ROOT,
      env: sim.env,
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const killer = setTimeout(() => child.kill("SIGKILL"), 20_000);
    const out = await child.output();
    clearTimeout(killer);
    const stderr = new TextDecoder().decode(out.stderr);
    assertEquals(out.signal, null, `killed: it hung\n${stderr}`);
    assertEquals([out.code, new TextDecoder().decode(out.stdout).trim()], [0, "ETIMEDOUT"], stderr);
  },
});
