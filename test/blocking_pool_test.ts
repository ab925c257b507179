/**
 * Calls stalled in a kernel never take all of Deno's blocking pool: at most 24 wait in C, the rest
 * queue in JavaScript, so file I/O goes on; a queued call given up on never reaches the kernel; a
 * call that timed out in C does not keep the process alive.
 */
import { assertEquals } from "@std/assert";
import { stalledCalls } from "../bench/soak.ts";
import { kernelWaits, MAX_KERNEL_WAITS } from "../ffi/blocking_pool.ts";
import { startSimProcess } from "../sim/process.ts";
import { within } from "./support/wait.ts";

const ROOT = new URL("../", import.meta.url).pathname;

Deno.test({
  name: "33 calls stalled in the kernel: file reads go on, a queued timeout never reaches it, all finish",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const r = await within(stalledCalls(33), 30_000, "33 stalled calls, a file read and a clear");
    assertEquals([r.inC, r.queued], [MAX_KERNEL_WAITS, 33 + 1 - MAX_KERNEL_WAITS]);
    assertEquals(r.timedOut, "ETIMEDOUT");
    assertEquals(r.completed, 33, "every stalled call finished after clear");
    assertEquals(r.reachedKernel, 33, "the call given up on in the queue never reached the kernel");
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
