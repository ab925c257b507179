/**
 * No client can make the simulator hold memory out of proportion to what it sent: a small INVOKE
 * asking for a reply no frame could carry gets EINVAL and no allocation; a client that sends and
 * never reads stops being read from (backpressure), and is disconnected once its replies stop moving.
 */
import { assert, assertEquals } from "@std/assert";
import { oversizedAsks, readLogFlood, unreadClient } from "../bench/soak.ts";
import { startSimulator } from "../sim/server.ts";
import { waitUntil, within } from "./support/wait.ts";

Deno.test({
  name: "a reply no frame could carry: EINVAL, nothing allocated",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    // Ten 72-byte requests, each for a 128 MiB vector-out (twice the protocol's maximum).
    const r = await within(oversizedAsks(10), 20_000, "ten replies");
    assertEquals(r.replies, 10);
    assertEquals(r.statuses, Array(10).fill(22), "EINVAL for each");
    assertEquals(r.largestReply, 16, "status, count and the returned mask only");
    assert(r.rssGrowthMiB < 200, `the simulator grew by ${r.rssGrowthMiB.toFixed(0)} MiB`);
  },
});

Deno.test({
  name: "a client that does not read is not read from, and its memory stays bounded",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    // A hundred 60 MiB replies (6 GB) asked for, none read.
    const r = await within(unreadClient(100, 60 << 20, 1500), 30_000, "the unread client");
    assert(r.othersServed, "the simulator still answers others");
    assert(r.callsTaken < 5, `${r.callsTaken} calls were taken on, not 100`);
    assert(
      r.rssGrowthMiB < 400,
      `the simulator grew by ${r.rssGrowthMiB.toFixed(0)} MiB for an unread client`,
    );
  },
});

Deno.test({
  name: "a client whose replies stop moving is disconnected",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "vmkmgmt-limits-" });
    const log: string[] = [];
    await using sim = await startSimulator({
      socketPath: `${dir}/sim.sock`,
      log: (l) => log.push(l),
      limits: { pendingBytes: 1 << 20, stalledWriteMs: 300 },
    });
    const conn = await Deno.connect({ transport: "unix", path: sim.socketPath });
    try {
      conn.write(readLogFlood(20, 4 << 20)).catch(() => {});
      await waitUntil(() => log.some((l) => l.includes("stopped reading")), "the disconnect", 15_000);
      await waitUntil(
        () => (sim.control({ op: "sessions" }) as unknown[]).length === 0,
        "the session to end",
      );
    } finally {
      try {
        conn.close();
      } catch { /* closed */ }
      await Deno.remove(dir, { recursive: true });
    }
  },
});
