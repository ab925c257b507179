/**
 * A short variant of each `deno task soak` scenario (bench/soak.ts), checking what it counts —
 * every waiter ends with EIO, nothing lost, duplicated or mis-routed, everything released — and
 * never how long it took (the soak prints the times beside their targets).
 */
import { assertEquals } from "@std/assert";
import { killTrials, lifecycle, load } from "../bench/soak.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

Deno.test({
  name: "soak, short: a killed kernel fails every waiting C call, Deno invoke and event waiter with EIO",
  ...opts,
  fn: async () => {
    const r = await killTrials({ trials: 2, cCalls: 4, denoCalls: 4, waiters: 2 });
    assertEquals(r.wrong, []);
    assertEquals([r.c.length, r.deno.length, r.waiters.length], [8, 8, 4], "every waiter heard EIO");
    assertEquals(r.laterClean, 2, "later calls fail cleanly");
    assertEquals(r.newKernelWorks, 2, "a new kernel on the same socket gives a working session");
  },
});

Deno.test({
  name:
    "soak, short: sessions under load lose, duplicate and mis-route nothing; broadcasts arrive once, in order",
  ...opts,
  fn: async () => {
    const r = await load({ sessions: 4, invokesPerSession: 300, lanes: 4, events: 600, batch: 200 });
    assertEquals([r.invokes, r.lost, r.duplicated, r.misrouted], [1200, 0, 0, 0]);
    assertEquals([r.eventsDelivered, r.eventsDuplicated, r.eventsOutOfOrder], [2400, 0, 0]);
    assertEquals([r.kernelDropped, r.bindingDropped], [0, 0]);
  },
});

Deno.test({
  name: "soak, short: open/close cycles and invokes leave no fd, library thread or kernel session behind",
  ...opts,
  fn: async () => {
    const r = await lifecycle({ cycles: 40, invokes: 4000, lanes: 16 });
    assertEquals(r.failures, 0);
    assertEquals(r.after.fds, r.before.fds, "file descriptors");
    assertEquals(r.after.libraryThreads, r.before.libraryThreads, "vmkmgmt-* threads");
    assertEquals(r.after.sessions, r.before.sessions, "the kernel's sessions");
  },
});
