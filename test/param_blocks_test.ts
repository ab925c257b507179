/**
 * Parameter blocks (mgmt/param_blocks.ts) are used again by later calls: a block must never be
 * shared by two calls C may still touch. Each call here carries contents of its own and checks it
 * gets exactly those back — thousands at once, more than the blocks kept, with calls timing out
 * and aborted while their instance answers late (their blocks come back only when C is done), on
 * whichever path the library takes (the completion queue, or the blocking pool of a vendor's).
 */
import { assert, assertEquals, assertThrows } from "@std/assert";
import { acmeNic } from "../demo.ts";
import { defineSignature, open, type Session, t, VmkMgmtError } from "../mod.ts";
import { addressOf } from "../ffi/address.ts";
import { wholeCacheLines } from "../ffi/aligned_bytes.ts";
import { KEPT_BLOCKS, KEPT_BYTES, ParamBlocks } from "../mgmt/param_blocks.ts";
import { encodeArguments } from "../mgmt/arguments.ts";
import { startSimProcess } from "../sim/process.ts";
import { useSocket } from "./support/env.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

/** The payload of call `n`: its number in every byte run, so a mix-up shows. */
function payloadOf(n: number): Uint8Array {
  const p = new Uint8Array(56);
  for (let i = 0; i < p.length; i++) p[i] = (n * 31 + i) & 0xff;
  return p;
}

Deno.test("a block taken again holds exactly a new block's bytes once encoded; one given back twice is refused", () => {
  const sig = defineSignature({
    name: "reuse",
    vendor: "acme",
    version: "1.0.0.0",
    callbacks: {
      put: {
        id: 16,
        params: {
          padded: t.in(t.struct({ x: t.u8, y: t.u32 })), // (three bytes of padding)
          arm: t.inout(t.union({ small: t.u8, wide: t.u64 })), // (one arm written: not whole)
          list: t.in(t.array(t.i16, 3)),
          status: t.out(t.i32),
        },
      },
    },
  });
  const cb = sig.callbacks.put;
  const blocks = new ParamBlocks(cb);
  const encoded = (block: ReturnType<typeof blocks.take>) => {
    encodeArguments(cb, { padded: { x: 1, y: 2 }, arm: { small: 3 }, list: [4, 5, 6] }, undefined, block);
    // (what C is given: each parameter's own bytes; the gaps between them never reach it)
    return block.views.map((v) => [...v!]);
  };
  const fresh = blocks.take();
  const want = encoded(fresh);
  fresh.bytes.fill(0xee); // (the kernel and the last call left bytes everywhere)
  blocks.give(fresh);
  const again = blocks.take();
  assert(again === fresh, "the free block is used again");
  assertEquals(again.views[3]!.every((x) => x === 0), true, "the out parameter zeroed");
  assertEquals(again.views[1]!.every((x) => x === 0), true, "the union zeroed (only its arm is written)");
  assertEquals(encoded(again), want, "padding and all, as a new block");
  blocks.give(again);
  assertThrows(() => blocks.give(again), Error, "given back twice");
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

Deno.test("new blocks are carved from shared slabs, each on cache lines of its own", () => {
  const small = defineSignature({
    name: "small",
    vendor: "acme",
    version: "1.0.0.0",
    callbacks: { put: { id: 16, params: { a: t.in(t.u32), b: t.inout(t.u8) } } }, // 32 bytes a block
  });
  for (const cb of [acmeNic.callbacks.echo, small.callbacks.put]) {
    const blocks = new ParamBlocks(cb);
    const taken = Array.from({ length: 100 }, () => blocks.take());
    const size = taken[0].bytes.length;
    const at = taken.map((b) => addressOf(b.bytes)).sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
    for (const [i, a] of at.entries()) {
      assertEquals(a % 64n, 0n, `block ${i} starts on a cache line`);
      if (i > 0) assert(a - at[i - 1] >= BigInt(wholeCacheLines(size)), `block ${i} shares no line`);
    }
    assert(new Set(taken.map((b) => b.bytes.buffer)).size < 10, "blocks share slabs");
    // A block is exactly its parameters' bytes: filling it reaches no other block.
    taken[1].bytes.fill(0xee);
    assert(taken.every((b, i) => i === 1 || b.bytes.every((x) => x === 0)), "the others stay zeroed");
    for (const b of taken) blocks.give(b);
  }
});

Deno.test("after a burst, calls take the first blocks carved again, whatever order the burst's came back in", () => {
  const blocks = new ParamBlocks(acmeNic.callbacks.echo);
  const burst = Array.from({ length: 1000 }, () => blocks.take());
  // Its answers came back in their own order: every third first, then the rest backwards.
  const order = [...burst.filter((_, i) => i % 3 === 0), ...burst.filter((_, i) => i % 3 !== 0).reverse()];
  for (const b of order) blocks.give(b);
  const next = Array.from({ length: 32 }, () => blocks.take());
  assertEquals(next, burst.slice(0, 32), "the first 32 carved, in carving order");
  // Given back and taken one at a time, a call keeps getting the lowest free block.
  blocks.give(next[5]);
  blocks.give(next[20]);
  assert(blocks.take() === burst[5] && blocks.take() === burst[20] && blocks.take() === burst[32]);
});

Deno.test({
  name: "sessions of one signature share its blocks: two at once, one closed with its calls still in C",
  ...opts,
  fn: async () => {
    assert(ParamBlocks.of(acmeNic.callbacks.echo) === ParamBlocks.of(acmeNic.callbacks.echo));
    assert(ParamBlocks.of(acmeNic.callbacks.echo) !== ParamBlocks.of(acmeNic.callbacks.getStats));
    await using sim = await startSimProcess();
    using _socket = useSocket(sim.socketPath);
    await sim.control({ op: "delay", instance: "vmnic1", ms: 20 });
    let seq = 0;
    const echoOn = (s: Session<typeof acmeNic.def>, instance: string) => {
      const n = seq++;
      return s.invoke("echo", { instance, msg: { seq: BigInt(n), payload: payloadOf(n) } }).then(
        ({ msg }) => {
          assertEquals(msg.seq, BigInt(n + 1), `call ${n} got another call's seq`);
          assertEquals(msg.payload, payloadOf(n), `call ${n} got another call's payload`);
          return "ok";
        },
      );
    };
    await using kept = await open(acmeNic);
    const closing = await open(acmeNic);
    // The closing session's calls are in C (vmnic1 answers late) when it closes; their blocks come
    // back only once the library is done with them, and the kept session takes blocks all along.
    const lost = Array.from({ length: 600 }, () => echoOn(closing, "vmnic1").catch((e) => e));
    const before = Array.from({ length: 600 }, (_, i) => echoOn(kept, i % 2 ? "vmnic1" : "vmnic0"));
    await new Promise((r) => setTimeout(r, 5));
    const closed = closing.close();
    const during = Array.from(
      { length: 2 * KEPT_BLOCKS },
      (_, i) => echoOn(kept, i % 2 ? "vmnic1" : "vmnic0"),
    );
    await closed;
    const after = Array.from({ length: 600 }, () => echoOn(kept, "vmnic0"));
    for (const r of await Promise.all([...before, ...during, ...after])) assertEquals(r, "ok");
    let refused = 0;
    for (const r of await Promise.all(lost)) {
      // (refused as the library refuses a call of a closed session: EIO, EBADF, or a vendor's EINVAL)
      assert(r === "ok" || r instanceof VmkMgmtError, String(r));
      if (r !== "ok") refused++;
    }
    assert(refused > 0, "the session closed with none of its calls still in C: the test tests nothing");
  },
});
