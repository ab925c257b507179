/**
 * Caller buffers behind pointer members, through the real path: invoke pins each Uint8Array and
 * writes its address; a simulator module reads and writes them with copyFromUser/copyToUser during
 * the sync call (COPY_REQUEST frames served by libvmkmgmt.so); a bad address is EFAULT for the
 * driver, never a crash; after the call, the caller's memory is out of reach.
 */
import { assert, assertEquals, assertRejects, assertStringIncludes } from "@std/assert";
import { open, ValueError } from "../mod.ts";
import { startSimProcess } from "../sim/process.ts";
import { useSocket } from "./support/env.ts";
import { copySig } from "./fixtures/copy_sig.ts";

const text = new TextEncoder();

Deno.test({
  name: "caller buffers: the kernel copies from and to them during the call, EFAULT for a bad address",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    await using sim = await startSimProcess(["--module", "test/fixtures/copy_module.ts"]);
    using _socket = useSocket(sim.socketPath);
    await using s = await open(copySig);

    const src = text.encode("hello, kernel");
    const dst = new Uint8Array(src.length);
    const { io } = await s.invoke("transfer", {
      instance: "dev0",
      io: { src, dst, len: src.length, status: 1 },
    });
    assertEquals(io.status, 0);
    assert(io.dst === dst, "the result gives back the caller's own buffer");
    assertEquals(new TextDecoder().decode(dst), "lenrek ,olleh");
    assert(io.src === src);

    // Large: 4 MiB each way.
    const big = Uint8Array.from({ length: 4 << 20 }, (_, i) => i & 0xff);
    const back = new Uint8Array(big.length);
    const r = await s.invoke("transfer", {
      instance: "dev0",
      io: { src: big, dst: back, len: big.length, status: 1 },
    });
    assertEquals(r.io.status, 0);
    assertEquals(back[0], big[big.length - 1]);
    assertEquals(back[big.length - 1], big[0]);

    // A bad address (an address given as a number) fails the driver's copy, not the caller.
    const bad = await s.invoke("transfer", { instance: "dev0", io: { src: 16n, dst, len: 4, status: 1 } });
    assertEquals(bad.io.status, -14, "EFAULT reported in the driver's status");

    // A length member saying more than the buffer holds is refused before any C call.
    await assertRejects(
      () => s.invoke("transfer", { instance: "dev0", io: { src, dst, len: src.length + 1, status: 0 } }),
      ValueError,
      "len says 14 bytes but the buffer holds 13",
    );
    // The refused call's buffers went with it: the next call pins none of them.
    const plain = await s.invoke("transfer", {
      instance: "dev0",
      io: { src: 16n, dst: 16n, len: 4, status: 1 },
    });
    assertEquals([plain.io.src, plain.io.dst], [16n, 16n]);

    // After the call, the caller's memory is out of reach.
    await s.invoke("late", { instance: "dev0", io: { src, dst, len: 4, status: 0 } });
    let message = "";
    for (let i = 0; i < 50 && !message; i++) {
      await new Promise((r) => setTimeout(r, 20));
      message = (await s.invoke("lastError", { instance: "dev0" })).message;
    }
    assertStringIncludes(message, "reachable only during a sync call");
  },
});
