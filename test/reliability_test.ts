/**
 * When the kernel goes away, everyone waiting hears it at once — callers and event listeners
 * alike, with no health-check probing (it is disabled here) — and a new kernel gives a working
 * session. The figures (latency percentiles over many trials) are `deno task soak`'s; this checks
 * the behaviour, never the time.
 */
import { assert, assertEquals, assertRejects } from "@std/assert";
import { flood } from "../bench/soak.ts";
import { acmeNic } from "../demo.ts";
import { open, VmkMgmtError } from "../mod.ts";
import { startSimProcess } from "../sim/process.ts";
import { useSocket } from "./support/env.ts";
import { within } from "./support/wait.ts";

Deno.test({
  name: "a dead kernel fails pending calls and every kind of event listener with EIO, without probing",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const sim = await startSimProcess();
    using _socket = useSocket(sim.socketPath);
    const errors: unknown[] = [];
    const s = await open(acmeNic, { healthCheckMs: 0, onError: (e) => errors.push(e) });
    try {
      await sim.control({ op: "stall", instance: "*", count: "inf" });
      const call = s.invoke("getStats", { instance: "vmnic0" });
      const waiter = s.waitFor("linkEvent");
      const stream = s.events("linkEvent");
      const next = stream.next();
      s.on("linkEvent", () => {});
      // Delivery has begun once an event arrives: prove it, then kill the kernel.
      const first = s.waitFor("logEvent");
      await sim.control({ op: "emit", event: "logEvent", params: { message: "before" } });
      assertEquals((await within(first, 10_000, "the first event")).params.message, "before");
      const outcomes = [call, waiter, next].map((p) => p.then(() => undefined, (e: unknown) => e));
      await sim.kill();
      const failures = await within(Promise.all(outcomes), 10_000, "every waiter to fail");
      failures.forEach((e, i) => {
        const what = ["invoke", "waitFor", "events()"][i];
        assert(e instanceof VmkMgmtError, `${what}: ${e}`);
        assertEquals((e as VmkMgmtError).code, "EIO", what);
      });
      assert(
        errors.some((e) => e instanceof VmkMgmtError && e.code === "EIO"),
        "the on() handler's failure is reported",
      );
      const later = await assertRejects(() => s.invoke("getStats", { instance: "vmnic0" }), VmkMgmtError);
      assertEquals(later.code, "EIO");
    } finally {
      await s.close();
    }
    await using again = await startSimProcess([], { socketPath: sim.socketPath });
    await using s2 = await open(acmeNic);
    assertEquals((await s2.invoke("getStats", { instance: "vmnic0" })).stats.mtu, 1500, again.socketPath);
  },
});

Deno.test({
  name: "a flood the kernel cannot queue: its drops reach session.stats",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    // 5,000 at once: 64 in flight and 1,024 queued at most, the rest dropped by the kernel.
    const r = await within(flood(5000), 30_000, "the flood");
    assert(r.kernelSide >= 5000 - 64 - 1024, `the kernel dropped ${r.kernelSide}`);
    assertEquals(r.reported, r.kernelSide, "session.stats.kernelDropped");
    assertEquals(r.delivered, r.expected, "every event not dropped arrived");
    assertEquals(r.libraryDropped, 0);
    assertEquals(r.reportedAfterClose, r.kernelSide, "the count survives close");
  },
});

Deno.test("an event stream whose delivery failed lets go of the caller's signal: one long-lived signal, many failures, no listener left", async () => {
  await using sim = await startSimProcess();
  using _socket = useSocket(sim.socketPath);
  // Counts the abort listeners on the caller's signal (Deadline adds one per stream).
  const controller = new AbortController();
  const signal = controller.signal;
  let listeners = 0;
  const add = signal.addEventListener.bind(signal), remove = signal.removeEventListener.bind(signal);
  signal.addEventListener = ((type: string, fn: EventListener, o?: AddEventListenerOptions) => {
    if (type === "abort") listeners++;
    add(type, fn, o);
  }) as typeof signal.addEventListener;
  signal.removeEventListener = ((type: string, fn: EventListener, o?: EventListenerOptions) => {
    if (type === "abort") listeners--;
    remove(type, fn, o);
  }) as typeof signal.removeEventListener;
  for (let i = 0; i < 10; i++) {
    const s = await open(acmeNic, { healthCheckMs: 0, onError: () => {} });
    try {
      const stream = s.events("logEvent", { signal });
      const next = stream.next().then(() => undefined, (e: unknown) => e);
      // Delivery has begun once an event arrives; then the kernel drops this session.
      const first = s.waitFor("linkEvent");
      await sim.control({ op: "emit", event: "linkEvent", params: { state: { up: 1, speedMbps: 1 } } });
      await within(first, 10_000, "the first event");
      const mine = (await sim.control({ op: "sessions" }) as { id: number; pid: number }[])
        .filter((x) => x.pid === Deno.pid);
      for (const x of mine) await sim.control({ op: "drop", session: x.id });
      const e = await within(next, 10_000, "the stream to fail");
      assert(e instanceof VmkMgmtError && e.code === "EIO", `stream ${i}: ${e}`);
    } finally {
      await s.close().catch(() => {});
    }
  }
  assertEquals(listeners, 0, "every failed stream removed its listener from the caller's signal");
});
