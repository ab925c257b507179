/** The typed API through the real library and a real simulator process: every row, type and error. */
import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertRejects,
  assertStringIncludes,
  assertThrows,
} from "@std/assert";
import { acmeNic, acmeStorage } from "../demo.ts";
import { crc32, MAX_VECTOR_BYTES, open, ValueError, VmkMgmtError } from "../mod.ts";
import { startSimProcess } from "../sim/process.ts";
import { useSocket } from "./support/env.ts";
import { waitUntil, within } from "./support/wait.ts";

const text = (b: Uint8Array) => new TextDecoder().decode(b);

// deno-lint-ignore no-explicit-any
type ErrorClass = new (...args: any[]) => Error;
/** A bad input: [callback, input, error class, what the message says, options]. */
type Bad = [string, unknown, ErrorClass, string, unknown?];

/** Every bad input the "every validation error" step tries, on acmeNicMgmt: none may reach the kernel. */
function badInputs(): Bad[] {
  const tooBig = "is not an instance id (a vmk_uint64, 0..18446744073709551615)";
  const mtu = { instance: 3, mtu: 9000 };
  const rows: Bad[] = [
    ["getStat", {}, TypeError, "has no callback getStat; did you mean getStats?"],
    ["linkEvent", {}, TypeError, "linkEvent is a user-location callback (a kernel event)"],
    ["setMtu", { instance: 1 }, ValueError, "invoke setMtu: mtu: missing parameter (u32)"],
    [
      "setMtu",
      { instance: 1, mtu: 1500, mtuu: 1 },
      ValueError,
      "mtuu: unknown parameter; did you mean mtu?",
    ],
    [
      "setMtu",
      { instance: 1, mtu: 1500, status: 0 },
      ValueError,
      "status: an out parameter is returned, not given",
    ],
    [
      "setMtu",
      { instance: 1, mtu: -1 },
      ValueError,
      "invoke setMtu: mtu: -1 is out of range 0..4294967295 (u32)",
    ],
    ["setMtu", { instance: 1, mtu: "9000" }, ValueError, "mtu: expected an integer"],
    ["echo", { instance: 1, msg: { seq: 1n } }, ValueError, "msg.payload: missing field (u8[56])"],
    [
      "echo",
      { instance: 1, msg: { seq: 1n, payload: new Uint8Array(57) } },
      ValueError,
      "msg.payload: 57 bytes do not fit u8[56]",
    ],
    [
      "echo",
      { instance: 1, msg: { seq: -1n, payload: new Uint8Array() } },
      ValueError,
      "msg.seq: -1 is out of range",
    ],
    [
      "flashFirmware",
      { instance: 1, image: new Uint8Array() },
      ValueError,
      "image: a vector needs at least one element",
    ],
    [
      "flashFirmware",
      { instance: 1, image: [1, 256] },
      ValueError,
      "image[1]: 256 is out of range 0..255",
    ],
    ["flashFirmware", { instance: 1, image: "abc" }, ValueError, "image: expected a vector"],
    [
      "readLog",
      { instance: 1 },
      ValueError,
      "buffer: missing parameter (capacity in elements (e.g. buffer: 4096))",
    ],
    [
      "readLog",
      { instance: 1, buffer: 0 },
      ValueError,
      "buffer: vectorOut capacity: expected a whole number of elements ≥ 1",
    ],
    ["getStats", { instance: "vmnic9" }, VmkMgmtError, "did you mean vmnic0?"],
    ["getStats", { instance: -1 }, ValueError, "instance: -1 is not an instance id"],
    ["getStats", { instance: 1.5 }, ValueError, "instance: 1.5 is not an instance id"],
    // Deno's FFI would wrap an id past 2^64-1 onto another instance: each form is refused.
    ["getStats", { instance: "18446744073709551617" }, ValueError, tooBig],
    ["getStats", { instance: 2n ** 64n + 1n }, ValueError, tooBig],
    ["getStats", { instance: { id: 2n ** 64n + 1n, name: "x" } }, ValueError, tooBig],
    ["getStats", { instance: { id: -1n, name: "x" } }, ValueError, tooBig],
    ["setMtu", mtu, RangeError, "timeout: expected milliseconds ≥ 0, got NaN", { timeout: NaN }],
    ["setMtu", mtu, TypeError, "signal: expected an AbortSignal", { signal: "stop" }],
    ["setMtu", mtu, Error, "gave up before starting", {
      signal: AbortSignal.abort(new Error("gave up before starting")),
    }],
  ];
  // Every kind of bad number, for every kind of slot; each names its field.
  const numbers = [NaN, Infinity, -Infinity, -1, 1.5, 2 ** 64, "9000", null, true, {}];
  for (const v of numbers) rows.push(["setMtu", { instance: 1, mtu: v }, ValueError, "mtu: "]);
  for (const v of [...numbers, -1n, 2n ** 64n]) {
    rows.push([
      "echo",
      { instance: 1, msg: { seq: v, payload: new Uint8Array(56) } },
      ValueError,
      "msg.seq: ",
    ]);
  }
  for (const v of [NaN, Infinity, -1, 1.5, MAX_VECTOR_BYTES + 1, "4096", null]) {
    rows.push(["readLog", { instance: 1, buffer: v }, ValueError, "buffer: "]);
  }
  for (const v of [new Uint8Array(MAX_VECTOR_BYTES + 1), [1.5], [NaN], [-1], ["a"], null, 7]) {
    rows.push(["flashFirmware", { instance: 1, image: v }, ValueError, "image"]);
  }
  for (const v of [-1, Infinity, "100", null]) {
    rows.push(["setMtu", mtu, RangeError, "timeout: ", { timeout: v }]);
  }
  for (const v of [{}, "stop", 1]) rows.push(["setMtu", mtu, TypeError, "signal: ", { signal: v }]);
  for (const v of [null, "fast", 5]) rows.push(["setMtu", mtu, TypeError, "options", v]);
  for (const v of [NaN, -1, 2 ** 64, 2n ** 64n, "18446744073709551616", { id: 2n ** 64n, name: "x" }]) {
    rows.push(["getStats", { instance: v }, ValueError, "instance: "]);
  }
  return rows;
}

Deno.test({
  name: "the typed API through the real library and a real simulator process",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    await using sim = await startSimProcess();
    using _socket = useSocket(sim.socketPath);
    await t.step("acmeNicMgmt: every row through the typed API", async () => {
      await using s = await open(acmeNic);
      assertEquals((await s.instances()).map((i) => [i.id, i.name]), [[1n, "vmnic0"], [2n, "vmnic1"], [
        3n,
        "vmnic2",
      ], [4n, "vmnic3"]]);
      const { stats } = await s.invoke("getStats", { instance: "vmnic0" });
      assertEquals([stats.mtu, stats.linkUp, stats.driver], [1500, 1, "acme-nic"]);
      assertEquals(typeof stats.rxPackets, "bigint");
      assertEquals(await s.invoke("setMtu", { instance: "vmnic1", mtu: 9000 }), { status: 0 });
      assertEquals(await s.invoke("setMtu", { instance: "vmnic1", mtu: 67 }), { status: 22 });
      assertEquals((await s.invoke("getStats", { instance: 2n })).stats.mtu, 9000);
      assertEquals(
        await s.invoke("flashFirmware", { instance: 1, image: new TextEncoder().encode("123456789") }),
        { crc: 0xcbf43926 },
      );
      assertEquals(
        await s.invoke("flashFirmware", {
          instance: 1,
          image: [0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39],
        }),
        { crc: 0xcbf43926 },
      );
      const log = await s.invoke("readLog", { instance: "vmnic1", buffer: 4096 });
      assertEquals(log.buffer.length, log.length, "the vector is cut to the returned length");
      assert(text(log.buffer).startsWith("vmnic1: acme-nic driver"));
      assertStringIncludes(text(log.buffer), "mtu set to 9000");
      const short = await s.invoke("readLog", { instance: "vmnic1", buffer: 12 });
      assertEquals([short.length, short.buffer.length], [12, 12]);
      const payload = Uint8Array.from({ length: 56 }, (_, i) => i);
      assertEquals(await s.invoke("echo", { instance: "vmnic3", msg: { seq: 41n, payload } }), {
        msg: { seq: 42n, payload },
      });
      const events = s.events("linkEvent");
      assertEquals(await s.invoke("triggerEvents", { instance: "vmnic2", count: 3 }), {});
      for (let i = 0; i < 3; i++) {
        const { value } = await within(events.next(), 5000, "a linkEvent");
        assertEquals(value!.instance, { id: 3n, name: "vmnic2" });
        assertEquals(value!.params.state, { up: 1, speedMbps: 10000 });
      }
      const seen: number[] = [];
      const off = s.on("linkEvent", (ev) => void seen.push(ev.params.state.up));
      assertEquals(await s.invoke("reset", { instance: "vmnic0" }), {}, "async: resolves once queued");
      await s.waitFor("linkEvent", { filter: (e) => e.params.state.up === 1, timeout: 5000 });
      assertEquals(seen, [0, 1]);
      off();
      await events.return!();
      await s.invoke("setMtu", { instance: "vmnic1", mtu: 1500 });
    });
    await t.step("acmeStorMgmt: records, enums, floats, bools and a fixed array out", async () => {
      await using s = await open(acmeStorage);
      const { info } = await s.invoke("getDeviceInfo", { instance: "vmhba1" });
      assertEquals(info, {
        model: "ACME UltraStor 9000",
        serial: "AC00000002",
        capacityBytes: 3_840_755_982_336n,
        blockSize: 4096,
        state: "degraded",
        temperatureC: 36.5,
        writeCache: true,
        latencyUs: [85.5, 120.25, 410, 1999.75],
      });
      assertEquals(await s.invoke("setWriteCache", { instance: "vmhba1", enable: false }), { status: 0 });
      assertEquals((await s.invoke("getDeviceInfo", { instance: "vmhba1" })).info.writeCache, false);
    });
    await t.step("acmeStorMgmt: an inout record of signed integers at their limits", async () => {
      await using s = await open(acmeStorage);
      const t1 = {
        warnC: -5,
        critC: 32767,
        hysteresis: -128,
        offsetMilliC: -9223372036854775808n,
        sequence: -2147483648,
      };
      const prev = await s.invoke("thresholds", { instance: 1n, value: t1 });
      assertEquals(prev.value, {
        warnC: 60,
        critC: 70,
        hysteresis: 2,
        offsetMilliC: 0n,
        sequence: -2147483647,
      });
      assertEquals((await s.invoke("thresholds", { instance: 1n, value: { ...t1, sequence: 0 } })).value, {
        ...t1,
        sequence: 1,
      });
    });
    await t.step("acmeStorMgmt: vectors of structs cut by lengthFrom, and signed vectors inout", async () => {
      await using s = await open(acmeStorage);
      const smart = await s.invoke("readSmart", { instance: 1n, attrs: 16 });
      assertEquals(smart.count, 5);
      assertEquals(smart.attrs.length, 5, "vector of structs cut by lengthFrom");
      assertEquals(smart.attrs[3], { id: 194, value: 64, worst: 51, raw: 36n });
      assertEquals((await s.invoke("readSmart", { instance: 1n, attrs: 2 })).attrs.length, 2);
      assertEquals(await s.invoke("remapLbas", { instance: 2n, lbas: [1n, 2n, 1000n], offset: -1n }), {
        lbas: [0n, 1n, 999n],
      });
    });
    await t.step("acmeStorMgmt: events with an enum, a u64 and a byte vector", async () => {
      await using s = await open(acmeStorage);
      const devs = s.events("deviceEvent");
      await s.invoke("scan");
      const got = [
        (await within(devs.next(), 5000, "a deviceEvent")).value!,
        (await within(devs.next(), 5000, "a second deviceEvent")).value!,
      ];
      assertEquals(got.map((e) => [e.instance?.name, e.params.kind, e.params.lba, text(e.params.detail)]), [
        ["vmhba0", "attached", 0n, "vmhba0"],
        ["vmhba1", "attached", 0n, "vmhba1"],
      ]);
      await devs.return!();
    });
    await t.step("events to one session and to all; two sessions in one process", async () => {
      await using a = await open(acmeNic);
      await using b = await open(acmeNic);
      const seenA: string[] = [], seenB: string[] = [];
      const offA = a.on("linkEvent", (e) => void seenA.push(`${e.instance?.name}:${e.params.state.up}`));
      const offB = b.on("linkEvent", (e) => void seenB.push(`${e.instance?.name}:${e.params.state.up}`));
      await a.invoke("triggerEvents", { instance: "vmnic1", count: 2 });
      await a.invoke("reset", { instance: "vmnic2" });
      await b.waitFor("linkEvent", {
        filter: (e) => e.params.state.up === 1 && e.instance?.name === "vmnic2",
        timeout: 5000,
      });
      await new Promise((r) => setTimeout(r, 50));
      assertEquals(seenA, ["vmnic1:1", "vmnic1:1", "vmnic2:0", "vmnic2:1"]);
      assertEquals(
        seenB,
        ["vmnic2:0", "vmnic2:1"],
        "triggerEvents reached only the caller; reset reached both",
      );
      offA();
      offB();
    });
    await t.step("the event loop stays free while a sync kernel callback waits", async () => {
      await using s = await open(acmeNic);
      await sim.control({ op: "delay", instance: "vmnic0", ms: 400 });
      try {
        let ticks = 0;
        const timer = setInterval(() => ticks++, 10);
        const started = performance.now();
        await s.invoke("getStats", { instance: "vmnic0" });
        clearInterval(timer);
        assert(performance.now() - started >= 350, "the delay applied");
        assert(ticks >= 10, `timers fired ${ticks} times while the call waited`);
      } finally {
        await sim.control({ op: "delay", instance: "vmnic0", ms: 0 });
      }
    });
    await t.step("faults: fail with an errno, stall past a timeout, abort", async () => {
      await using s = await open(acmeNic);
      await sim.control({ op: "fail", instance: "vmnic2", errno: "EBUSY", count: 1 });
      const e = await assertRejects(() => s.invoke("getStats", { instance: "vmnic2" }), VmkMgmtError);
      assertEquals([e.code, e.errno, e.callback, e.instance], ["EBUSY", 16, "getStats", "vmnic2 (3)"]);
      await s.invoke("getStats", { instance: "vmnic2" }); // the fault was for one call
      await sim.control({ op: "stall", instance: "vmnic2", count: 2 });
      const t = await assertRejects(
        () => s.invoke("getStats", { instance: "vmnic2" }, { timeout: 100 }),
        VmkMgmtError,
      );
      assertEquals(t.code, "ETIMEDOUT");
      assertStringIncludes(t.message, "may still complete");
      assertEquals([t.callback, t.instance], ["getStats", "vmnic2 (3)"]);
      // Options that set no limit: the call goes as one without options.
      await s.invoke("getStats", { instance: "vmnic0" }, {});
      const ac = new AbortController();
      const p = s.invoke("echo", { instance: "vmnic2", msg: { seq: 1n, payload: new Uint8Array() } }, {
        signal: ac.signal,
      });
      // (A turn later: the call has gone out. One aborted in the same turn would never reach the kernel.)
      await new Promise((r) => setTimeout(r, 0));
      ac.abort(new Error("user gave up"));
      await assertRejects(() => p, Error, "user gave up");
      // The abandoned call still reaches the kernel: both stalled calls are held there.
      await waitUntil(
        async () => (await sim.control({ op: "status" }) as { stalledCalls: number }).stalledCalls >= 2,
        "both stalled calls to reach the kernel",
      );
      assertEquals((await sim.control({ op: "clear" }) as { released: number }).released, 2);
    });
    await t.step("calls in flight, answered out of order: each gets its own answer", async () => {
      // More calls than the library's table of awaited replies has buckets, answered in another
      // order than sent (vmnic0's held until vmnic1's are done), each one's bytes its own. A vendor's
      // library waits for at most 24 calls at once (blocking_pool.ts): it holds fewer, so that the
      // others can pass.
      await using s = await open(acmeNic);
      const holding = s.library.completionQueue ? 1500 : 16;
      await sim.control({ op: "stall", instance: "vmnic0", count: "inf" });
      const echo = (instance: string, i: number) => {
        const payload = new Uint8Array(56).fill(i & 0xff);
        payload[0] = i >> 8;
        return s.invoke("echo", { instance, msg: { seq: BigInt(i), payload } }).then((r) => ({ i, r }));
      };
      const held = Array.from({ length: holding }, (_, i) => echo("vmnic0", 2 * i));
      const answered = await Promise.all(Array.from({ length: 1500 }, (_, i) => echo("vmnic1", 2 * i + 1)));
      await waitUntil(
        async () =>
          (await sim.control({ op: "status" }) as { stalledCalls: number }).stalledCalls === holding,
        `vmnic0's ${holding} calls to be held in the kernel`,
      );
      assertEquals((await sim.control({ op: "clear" }) as { released: number }).released, holding);
      for (const { i, r } of [...answered, ...await Promise.all(held)]) {
        assertEquals(r.msg.seq, BigInt(i) + 1n, `call ${i}'s answer`);
        assertEquals([r.msg.payload[0], r.msg.payload[55]], [i >> 8, i & 0xff], `call ${i}'s bytes`);
      }
    });
    await t.step("every validation error names the parameter, before any C call", async () => {
      await using s = await open(acmeNic);
      // The kernel counts the calls that reach it: none of the bad inputs below may.
      const kernelCalls = async () =>
        (await sim.control({ op: "sessions" }) as { calls: number }[]).reduce((n, x) => n + x.calls, 0);
      const callsBefore = await kernelCalls();
      for (const [cb, input, cls, says, options] of badInputs()) {
        const e = await assertRejects(() => s.invoke(cb as never, input as never, options as never), cls);
        assertStringIncludes(e.message, says, `${cb} ${Deno.inspect(input)}`);
      }
      assertEquals(await kernelCalls(), callsBefore, "no bad input reached the kernel");
      assertEquals(
        (await s.invoke("getStats", { instance: 3 })).stats.mtu,
        1500,
        "vmnic2's MTU is unchanged",
      );
      assertEquals(s.stats.inFlight, 0);
    });

    await t.step(
      "instance lookups and event listeners refuse bad input too; an unknown id is the kernel's ENOENT",
      async () => {
        await using s = await open(acmeNic);
        await assertRejects(() => s.instance(1.5), ValueError, "instance: 1.5 is not an instance id");
        await assertRejects(
          () => s.instance(null as never),
          ValueError,
          "instance: expected an instance id or name",
        );
        const ns = await assertRejects(() => s.invoke("getStats", { instance: 99n }), VmkMgmtError);
        assertEquals(ns.code, "ENOENT", "an id the kernel does not know: ENOENT from the kernel");
        assertThrows(
          () => s.events("getStats" as never),
          TypeError,
          "has no kernel event getStats (getStats is a kernel callback) — events (user-location callbacks) are: linkEvent, logEvent",
        );
        assertThrows(() => s.waitFor("linkEvent", { timeout: -1 }), RangeError, "timeout");
        assertEquals(s.stats.inFlight, 0);
      },
    );
    await t.step(
      "events: a throwing handler is reported and delivery goes on; bounded buffers; waitFor",
      async () => {
        const errors: string[] = [];
        await using s = await open(acmeNic, {
          onError: (e, ctx) => void errors.push(`${ctx}: ${(e as Error).message}`),
        });
        let calls = 0;
        const off = s.on("linkEvent", () => {
          calls++;
          throw new Error("boom");
        });
        const offAsync = s.on("linkEvent", () => Promise.reject(new Error("async boom")));
        const slow = s.events("linkEvent", { buffer: 2 });
        await s.invoke("triggerEvents", { instance: 1, count: 6 });
        await s.waitFor("linkEvent", { timeout: 5000 }).catch(() => {});
        await waitUntil(() => calls >= 6, "six linkEvents at the throwing handler");
        assertEquals(calls, 6, "delivery went on after the handler threw");
        assertEquals(errors.filter((e) => e.includes("boom")).length, 12);
        assertStringIncludes(errors[0], "handler for linkEvent");
        assertEquals(s.stats.handlerErrors, 12);
        assertEquals(slow.dropped, 4, "a full iterator drops the oldest and counts it");
        assertEquals((await within(slow.next(), 5000, "a buffered event")).done, false);
        off();
        offAsync();
        await slow.return!();
        const timeout = await assertRejects(() => s.waitFor("linkEvent", { timeout: 50 }), VmkMgmtError);
        assertEquals([timeout.code, timeout.operation, timeout.callback], [
          "ETIMEDOUT",
          "waitFor",
          "linkEvent",
        ]);
        assertStringIncludes(timeout.message, "no linkEvent within 50 ms");
        const ac = new AbortController();
        const w = s.waitFor("logEvent", { signal: ac.signal });
        ac.abort(new Error("stop waiting"));
        await assertRejects(() => w, Error, "stop waiting");
        const pending = s.waitFor("linkEvent").then(() => null, (e: Error) => e);
        const it = s.events();
        await s.close();
        const closedWait = await within(pending, 5000, "the wait to end at close") as VmkMgmtError;
        assertInstanceOf(closedWait, VmkMgmtError);
        assertEquals(closedWait.code, "EBADF");
        assertStringIncludes(closedWait.message, "closed while waiting for linkEvent");
        assertEquals(
          (await within(it.next(), 5000, "the iterator to end at close")).done,
          true,
          "iterators end when the session closes",
        );
      },
    );
    await t.step("the largest vector: a 64 MiB firmware image goes through whole", async () => {
      await using s = await open(acmeNic);
      const image = new Uint8Array(MAX_VECTOR_BYTES);
      const words = new Uint32Array(image.buffer);
      for (let i = 0; i < words.length; i++) words[i] = Math.imul(i, 2654435761);
      assertEquals(await s.invoke("flashFirmware", { instance: 1, image }), { crc: crc32(image) });
      const over = await assertRejects(
        () => s.invoke("flashFirmware", { instance: 1, image: new Uint8Array(MAX_VECTOR_BYTES + 1) }),
        ValueError,
      );
      assertStringIncludes(over.message, `exceed ${MAX_VECTOR_BYTES}`);
    });

    await t.step("close: invoke after close, double close, blocking invokeSync", async () => {
      const s = await open(acmeNic);
      assertEquals(
        s.invokeSync("echo", { instance: 1, msg: { seq: 9n, payload: new Uint8Array() } }).msg.seq,
        10n,
      );
      await s.close();
      await s.close();
      assert(s.closed);
      const e = await assertRejects(() => s.invoke("getStats", { instance: 1 }), VmkMgmtError);
      assertEquals(e.code, "EBADF");
      assertStringIncludes(e.message, "the session is closed");
      assertThrows(() => s.invokeSync("getStats", { instance: 1 }), VmkMgmtError, "closed");
      await assertRejects(() => s.instances(), VmkMgmtError, "closed");
      assertThrows(() => s.on("linkEvent", () => {}), Error, "closed");
    });
    await t.step("open errors: no such API, wrong version, no simulator", async () => {
      const { defineSignature } = await import("../mod.ts");
      const other = defineSignature({ ...acmeNic.def, version: "1.1.0.0" });
      const e = await assertRejects(() => open(other), VmkMgmtError);
      assertEquals(e.code, "ENODEV");
      assertStringIncludes(e.message, "no kernel module registered acmeNicMgmt by acme at version 1.1.x.x");
      const compatible = defineSignature({ ...acmeNic.def, version: "1.0.9.9" });
      await (await open(compatible)).close();
      {
        using _missing = useSocket(`${sim.socketPath}.missing`);
        const e2 = await assertRejects(() => open(acmeNic), VmkMgmtError);
        assertEquals(e2.code, "EIO");
        assertStringIncludes(e2.message, "start it with `deno task sim`");
        assertStringIncludes(e2.message, `${sim.socketPath}.missing`, "the message names the socket tried");
      }
      await assertRejects(() => open({} as never), TypeError, "expected a signature");
      await assertRejects(
        () => open(acmeNic, { healthCheckMs: -1 }),
        RangeError,
        "healthCheckMs must be milliseconds",
      );
    });
    await t.step("simulator killed mid-call: the promise rejects with EIO, no hang", async () => {
      await using own = await startSimProcess();
      using _own = useSocket(own.socketPath);
      {
        const s = await open(acmeNic, { healthCheckMs: 100 });
        const other = await open(acmeNic, { healthCheckMs: 100 });
        const waiting = other.waitFor("linkEvent").then(() => null, (e: Error) => e);
        const events = s.events("linkEvent");
        const next = events.next().then(() => null, (e: Error) => e);
        await own.control({ op: "stall", instance: 1 });
        const call = s.invoke("getStats", { instance: 1 }).then(() => null, (e: Error) => e);
        await new Promise((r) => setTimeout(r, 100));
        await own.kill();
        const e = await within(call, 5000, "the stalled call to fail") as VmkMgmtError;
        assertInstanceOf(e, VmkMgmtError);
        assertEquals(e.code, "EIO");
        assertStringIncludes(e.message, "simulator went away");
        await assertRejects(() => s.invoke("getStats", { instance: 1 }), VmkMgmtError, "EIO");
        // Listeners with nothing in flight learn of the dead kernel from the health check.
        const lost = await within(waiting, 5000, "the waiter to hear of the dead kernel") as VmkMgmtError;
        assertInstanceOf(lost, VmkMgmtError);
        assertEquals([lost.code, lost.operation], ["EIO", "event delivery"]);
        assertStringIncludes(lost.message, "connection to the simulator was lost");
        assertStringIncludes(
          String(await within(next, 5000, "the iterator to hear of the dead kernel")),
          "connection to the simulator was lost",
        );
        await s.close();
        await other.close();
      }
    });
  },
});

Deno.test("a Destroy that fails keeps the callbacks (the library may still call one): no crash, a counted leak", async () => {
  await using sim = await startSimProcess();
  const ROOT = new URL("../", import.meta.url).pathname;
  const dir = await Deno.makeTempDir({ prefix: "vmkmgmt-destroy-fails-" });
  // native/test/destroy_fails.c: our library, but Destroy fails (EBUSY) and a thread of it calls
  // the handle's first user callback 100 ms later, as a vendor library's monitor thread may.
  await Deno.writeTextFile(
    `${dir}/client.ts`,
    `import { open, VmkMgmtError } from "${ROOT}mod.ts";
import { acmeNic } from "${ROOT}demo.ts";
import { abandonedCallbackSets } from "${ROOT}ffi/callbacks.ts";
const s = await open(acmeNic);
s.on("linkEvent", () => {});
const e = await s.close().then(() => null, (e) => e);
console.log("close", e instanceof VmkMgmtError ? e.code + " " + e.message : String(e));
await new Promise((r) => setTimeout(r, 400)); // (the library's late call comes at 100 ms)
console.log("alive", abandonedCallbackSets());
`,
  );
  const out = await within(
    new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", "--no-lock", `${dir}/client.ts`],
      env: { ...sim.env, VMKMGMT_LIB: `${ROOT}native/build/libdestroy_fails.so` },
    }).output(),
    30_000,
    "the client of a library whose Destroy fails",
  );
  const stdout = new TextDecoder().decode(out.stdout);
  assertEquals([out.code, out.signal], [0, null], stdout + new TextDecoder().decode(out.stderr));
  assertStringIncludes(stdout, "close EBUSY vmk_MgmtUserDestroy failed");
  assertStringIncludes(stdout, "alive 1");
  await Deno.remove(dir, { recursive: true });
});
