/**
 * Calls stalled in a kernel never take Deno's blocking pool from file I/O and timers. Through our
 * library's completion queue they take none of its threads at all, however many (10,000 here); on a
 * vendor's library (a build of ours without the queue stands in: `deno task test-vendor` runs this
 * file on it) at most 24 wait in C, the rest queue in JavaScript, and a queued call given up on never
 * reaches the kernel. A call that timed out in the kernel does not keep the process alive, on either
 * path (each in a process of its own).
 */
import { assert, assertEquals } from "@std/assert";
import { LIBRARY_ENV } from "../abi/facts.ts";
import { stalledCalls } from "../bench/soak.ts";
import { kernelWaits, MAX_KERNEL_WAITS } from "../ffi/blocking_pool.ts";
import { startSimProcess } from "../sim/process.ts";
import { within } from "./support/wait.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const OURS = `${ROOT}native/build/libvmkmgmt.so`;
const VENDOR = `${ROOT}native/build/vendor/libvmkmgmt.so`;
/** The suite's library: ours, unless this run stands in for a vendor's (deno task test-vendor). */
const VENDOR_RUN = Deno.env.get(LIBRARY_ENV) === VENDOR;
const opts = { sanitizeResources: false, sanitizeOps: false };

Deno.test({
  name:
    "10,000 calls stalled in the kernel through the completion queue: no Deno thread, reads and timers go on",
  ignore: VENDOR_RUN,
  ...opts,
  fn: async () => {
    const r = await within(
      stalledCalls(10_000, OURS),
      120_000,
      "10,000 stalled calls, a file read and a clear",
    );
    assert(r.viaQueue, "our library's calls go through its completion queue");
    assertEquals([r.inC, r.queued], [0, 0], "none on the blocking pool");
    assert(r.fileReadMs < 5_000, `a file read took ${r.fileReadMs} ms`);
    assert(r.timerLateMs < 5_000, `a 1 ms timer fired ${r.timerLateMs} ms late`);
    assertEquals(r.timedOut, "ETIMEDOUT");
    assertEquals(r.completed, 10_000, "every stalled call finished after clear");
    // Every call reached the kernel: there is no queue to wait in — through a bridge too, which submits
    // them to our library's completion queue (before, 256 at a time on its workers, the rest waiting).
    assertEquals(r.reachedKernel, 10_001, "every call reached the kernel: there is no queue to wait in");
  },
});

Deno.test({
  name: "a vendor's library: 33 calls stalled, 24 in C, file reads go on, a queued timeout never reaches it",
  // One library per process: this runs in the suite on the build without the queue (test-vendor).
  ignore: !VENDOR_RUN,
  ...opts,
  fn: async () => {
    const r = await within(stalledCalls(33), 30_000, "33 stalled calls, a file read and a clear");
    assert(!r.viaQueue, "a library without the queue takes the blocking pool");
    assertEquals([r.inC, r.queued], [MAX_KERNEL_WAITS, 33 + 1 - MAX_KERNEL_WAITS]);
    assertEquals(r.timedOut, "ETIMEDOUT");
    assertEquals(r.completed, 33, "every stalled call finished after clear");
    assertEquals(r.reachedKernel, 33, "the call given up on in the queue never reached the kernel");
    assertEquals([kernelWaits.running, kernelWaits.queued], [0, 0]);
  },
});

for (const [which, library] of [["our library", OURS], ["a vendor's library", VENDOR]] as const) {
  Deno.test({
    name: `${which}: a call that timed out in the kernel does not keep the process alive`,
    ignore: VENDOR_RUN && library === OURS,
    ...opts,
    fn: async () => {
      await using sim = await startSimProcess();
      await sim.control({ op: "stall", instance: "*", count: "inf" });
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "test/fixtures/exits_after_timeout.ts"],
        cwd: ROOT,
        env: { ...sim.env, [LIBRARY_ENV]: library },
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
}
