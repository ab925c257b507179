/**
 * Parameter blocks (mgmt/param_blocks.ts) are used again by later calls: a block must never be
 * shared by two calls C may still touch. Each call here carries contents of its own and checks it
 * gets exactly those back — thousands at once, more than the blocks kept, with calls timing out
 * and aborted while their instance answers late (their blocks come back only when C is done), on
 * whichever path the library takes (the completion queue, or the blocking pool of a vendor's).
 */
import { assert, assertEquals, assertThrows } from "@std/assert";
import { acmeNic } from "../demo.ts";
import { defineSignature, open, t, VmkMgmtError } from "../mod.ts";
import { KEPT_BLOCKS, KEPT_BYTES, ParamBlocks } from "../mgmt/param_blocks.ts";
import { startSimProcess } from "../sim/process.ts";
import { useSocket } from "./support/env.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

/** The payload of call `n`: its number in every byte run, so a mix-up shows. */
function payloadOf(n: number): Uint8Array {
  const p = new Uint8Array(56);
  for (let i = 0; i < p.length; i++) p[i] = (n * 31 + i) & 0xff;
  return p;
}

Deno.test("a block is zeroed when taken again, and one given back twice is refused", () => {
  const blocks = new ParamBlocks(acmeNic.callbacks.echo);
  const a = blocks.take();
  assertEquals(a.views[0]!.length, 64);
  a.views[0]!.fill(0xee);
  blocks.give(a);
  const b = blocks.take();
  assert(b === a, "the free block is used again");
  assertEquals(b.views[0]!.every((x) => x === 0), true);
  blocks.give(b);
  assertThrows(() => blocks.give(b), Error, "given back twice");
});

Deno.test({
  name:
    "each of thousands of calls at once gets its own contents back, with late, timed-out and aborted calls",
  ...opts,
  fn: async () => {
    await using sim = await startSimProcess();
    using _socket = useSocket(sim.socketPath);
    await using s = await open(acmeNic);
    // vmnic1 answers late: its calls are still in C when those that timed out or were aborted
    // have been settled, and while new calls take blocks.
    await sim.control({ op: "delay", instance: "vmnic1", ms: 20 });
    let seq = 0;
    const outcomes = { ok: 0, timedOut: 0, aborted: 0 };
    for (let round = 0; round < 4; round++) {
      const calls = Array.from({ length: 2 * KEPT_BLOCKS + 64 }, (_, i) => {
        const n = seq++;
        const late = i % 3 === 0;
        const abort = new AbortController();
        const options = i % 7 === 0 ? { timeout: 5 } : i % 11 === 0 ? { signal: abort.signal } : undefined;
        if (i % 11 === 0) setTimeout(() => abort.abort(new Error("aborted")), 2);
        return s.invoke("echo", {
          instance: late ? "vmnic1" : "vmnic0",
          msg: { seq: BigInt(n), payload: payloadOf(n) },
        }, options)
          .then(({ msg }) => {
            // (The demo driver answers with the next sequence number.)
            assertEquals(msg.seq, BigInt(n + 1), `call ${n} got another call's seq`);
            assertEquals(msg.payload, payloadOf(n), `call ${n} got another call's payload`);
            outcomes.ok++;
          }, (e) => {
            if (e instanceof VmkMgmtError && e.code === "ETIMEDOUT") outcomes.timedOut++;
            else if (e instanceof Error && e.message === "aborted") outcomes.aborted++;
            else throw e;
          });
      });
      await Promise.all(calls);
    }
    assert(outcomes.ok > 0 && outcomes.timedOut > 0 && outcomes.aborted > 0, JSON.stringify(outcomes));
    // invokeSync takes blocks too, between the async calls' rounds.
    for (let n = 0; n < 100; n++) {
      const { msg } = s.invokeSync("echo", {
        instance: "vmnic0",
        msg: { seq: BigInt(n), payload: payloadOf(n) },
      });
      assertEquals(msg.payload, payloadOf(n));
    }
  },
});

Deno.test("large parameters keep fewer free blocks: at most KEPT_BYTES of them, and always one", () => {
  const big = defineSignature({
    name: "big",
    vendor: "acme",
    version: "1.0.0.0",
    callbacks: { put: { id: 16, params: { blob: t.in(t.bytes(300_000)) } } },
  });
  const blocks = new ParamBlocks(big.callbacks.put);
  const taken = Array.from({ length: 10 }, () => blocks.take());
  for (const b of taken) blocks.give(b);
  const again = Array.from({ length: 10 }, () => blocks.take());
  const reused = again.filter((b) => taken.includes(b)).length;
  assertEquals(reused, Math.floor(KEPT_BYTES / 300_000), "3 blocks of 300,000 bytes fit in 1 MiB");
});
