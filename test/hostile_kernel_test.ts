/**
 * The library against a hostile or broken kernel: a fake simulator that answers with malformed
 * frames. Every call must fail cleanly with EIO — no crash, no hang, no memory written past a
 * caller's buffer.
 */
import { assert, assertEquals, assertRejects } from "@std/assert";
import { LOCATION_CODE } from "../abi/facts.ts";
import { acmeNic } from "../demo.ts";
import { NativeHandle } from "../ffi/handle.ts";
import { loadLibrary } from "../ffi/library.ts";
import { toCSignature } from "../mgmt/signature.ts";
import { open, type Session, VmkMgmtError } from "../mod.ts";
import { buildFrame, FrameParser, FrameType, PayloadWriter } from "../sim/frames.ts";
import { decodeEventAck, encodeEvent, encodeHelloReply } from "../sim/payloads.ts";
import { concat } from "./support/bytes.ts";
import { useSocket } from "./support/env.ts";
import { waitUntil, within } from "./support/wait.ts";

type Answer = (type: number, id: number, payload: Uint8Array) => Uint8Array | null;

/** A fake kernel: a proper HELLO reply and instance list, then `answer` for invokes. */
async function fakeKernel(answer: Answer) {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/fake.sock`;
  const listener = Deno.listen({ transport: "unix", path });
  const conns: Deno.Conn[] = [];
  const serving = (async () => {
    for await (const conn of listener) {
      conns.push(conn);
      (async () => {
        const parser = new FrameParser();
        const buf = new Uint8Array(65536);
        try {
          for (;;) {
            const n = await conn.read(buf);
            if (n === null) return;
            for (const f of parser.push(buf.slice(0, n))) {
              let out: Uint8Array | null;
              if (f.type === FrameType.HELLO) {
                out = buildFrame(
                  FrameType.HELLO_REPLY,
                  f.id,
                  encodeHelloReply({ status: 0, sessionId: 1n, peer: "a hostile kernel" }),
                );
              } else if (f.type === FrameType.GET_INSTANCES) {
                out = buildFrame(
                  FrameType.INSTANCES,
                  f.id,
                  new PayloadWriter().i32(0).u32(1).u64(1).name("vmnic0").finish(),
                );
              } else out = answer(f.type, f.id, f.payload);
              if (out) await conn.write(out);
            }
          }
        } catch { /* the library hung up */ }
      })();
    }
  })().catch(() => {});
  return {
    path,
    async [Symbol.asyncDispose]() {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch { /* closed */ }
      }
      await serving;
      await Deno.remove(dir, { recursive: true });
    },
  };
}

const reply = (id: number, w: PayloadWriter) => buildFrame(FrameType.INVOKE_REPLY, id, w.finish());

const cases: [string, Answer][] = [
  ["a reply with bad magic", () => new Uint8Array(16).fill(0xee)],
  ["a reply claiming a huge payload", (_t, id) => {
    const f = buildFrame(FrameType.INVOKE_REPLY, id, new Uint8Array(0));
    new DataView(f.buffer).setUint32(12, 0xfffffff0, true);
    return f;
  }],
  ["a reply for a request never made", (_t, id) => reply(id + 1000, new PayloadWriter().i32(0).u32(0))],
  [
    "a reply too short to hold a status",
    (_t, id) => buildFrame(FrameType.INVOKE_REPLY, id, new Uint8Array(2)),
  ],
  [
    "a reply with more data than the caller's buffer",
    (_t, id) => reply(id, new PayloadWriter().i32(0).u32(1).u64(72).bytes(new Uint8Array(4096))),
  ],
  [
    "a reply with a different parameter length",
    (_t, id) => reply(id, new PayloadWriter().i32(0).u32(1).u64(80).bytes(new Uint8Array(80))),
  ],
  [
    "a reply with the wrong parameter count",
    (_t, id) => reply(id, new PayloadWriter().i32(0).u32(3).u64(72).bytes(new Uint8Array(72))),
  ],
  [
    "an instance list of 200 instances",
    (t, id) =>
      t === FrameType.INVOKE
        ? buildFrame(FrameType.INSTANCES, id, new PayloadWriter().i32(0).u32(200).finish())
        : null,
  ],
  ["a frame type a library never receives", (_t, id) => buildFrame(FrameType.CONTROL, id, new Uint8Array(4))],
];

/**
 * getStats (one OUT parameter of 72 bytes) straight through ffi/, with the caller's buffer
 * filled with a pattern first, so a test can see whether anything was written into it.
 */
async function rawGetStats(): Promise<{ rc: number; buffer: Uint8Array }> {
  const { symbols } = await loadLibrary();
  const c = toCSignature(acmeNic);
  c.callbacks = c.callbacks.filter((cb) => cb.location === LOCATION_CODE.kernel);
  const { rc: initRc, handle } = await NativeHandle.init(symbols, c, 0n, c.callbacks.map(() => 0n));
  assertEquals(initRc, 0);
  try {
    const buffer = new Uint8Array(72).fill(0xa5);
    const rc = await handle!.call(c.callbacks.find((cb) => cb.label === "getStats")!).invoke(1n, [buffer]);
    return { rc, buffer };
  } finally {
    await handle!.destroy();
  }
}

Deno.test("the library against a hostile kernel: EIO, never a crash or a hang", async (t) => {
  for (const [what, answer] of cases) {
    await t.step(`a kernel sending ${what}: EIO, no crash`, async () => {
      await using fake = await fakeKernel(answer);
      using _socket = useSocket(fake.path);
      const s = await open(acmeNic, { healthCheckMs: 0 });
      try {
        const e = await assertRejects(() => s.invoke("getStats", { instance: 1n }), VmkMgmtError);
        assertEquals(e.code, "EIO");
        await assertRejects(() => s.invoke("getStats", { instance: 1n }), VmkMgmtError, "EIO");
      } finally {
        await s.close();
      }
    });
  }

  await t.step(
    "a kernel that answers a status but no data for an out parameter: EIO, the buffer untouched",
    async () => {
      await using fake = await fakeKernel((_t, id) => reply(id, new PayloadWriter().i32(0).u32(1).u64(72)));
      using _socket = useSocket(fake.path);
      await using s = await open(acmeNic, { healthCheckMs: 0 });
      await assertRejects(() => s.invoke("getStats", { instance: 1n }), VmkMgmtError, "EIO");
      const raw = await rawGetStats();
      assertEquals(raw.rc, 5, "EIO");
      assertEquals(
        raw.buffer,
        new Uint8Array(72).fill(0xa5),
        "not a byte of the caller's buffer was written",
      );
    },
  );

  await t.step("a kernel sending more data than the caller's buffer: the buffer untouched", async () => {
    await using fake = await fakeKernel((_t, id) =>
      reply(id, new PayloadWriter().i32(0).u32(1).u64(72).bytes(new Uint8Array(4096).fill(0x11)))
    );
    using _socket = useSocket(fake.path);
    const raw = await rawGetStats();
    assertEquals(raw.rc, 5, "EIO");
    assertEquals(raw.buffer, new Uint8Array(72).fill(0xa5), "not a byte of the caller's buffer was written");
  });

  await t.step("a kernel error status comes through as that errno", async () => {
    await using fake = await fakeKernel((_t, id) => reply(id, new PayloadWriter().i32(16).u32(0)));
    using _socket = useSocket(fake.path);
    await using s = await open(acmeNic, { healthCheckMs: 0 });
    const e = await assertRejects(() => s.invoke("getStats", { instance: 1n }), VmkMgmtError);
    assertEquals(e.code, "EBUSY");
  });
});

/** A linkEvent's EVENT frame (or, with another callback id, one the signature does not have). */
function linkEvent(speed: number, callbackId = 32n): Uint8Array {
  const state = new Uint8Array(8);
  new DataView(state.buffer).setUint32(0, 1, true);
  new DataView(state.buffer).setUint32(4, speed, true);
  return buildFrame(FrameType.EVENT, 0, encodeEvent({ instanceId: 1n, callbackId, params: [state] }));
}

/** getStats' reply (PROTOCOL.md: status, one parameter, returned, its length, then its bytes). */
const statsReply = (id: number) =>
  reply(id, new PayloadWriter().i32(0).u32(1).u32(1).u32(0).u64(72).bytes(new Uint8Array(72)));

/**
 * A fake kernel that counts the event credits the library returns and answers getStats; its second
 * getStats is answered with `burst(id)` (frames in one write, so the library reads them at once). With
 * a session on it, listening through `listen` and begun, before the second call.
 */
async function creditCountingKernel(burst: (id: number) => Uint8Array) {
  let acked = 0;
  let invokes = 0;
  const fake = await fakeKernel((type, id, payload) => {
    if (type === FrameType.EVENT_ACK) {
      acked += decodeEventAck(payload);
      return null;
    }
    return ++invokes === 2 ? burst(id) : statsReply(id);
  });
  const socket = useSocket(fake.path);
  return {
    acked: () => acked,
    async open(listen: (s: Session<typeof acmeNic.def>) => void) {
      const s = await open(acmeNic, { healthCheckMs: 0 });
      listen(s);
      await s.invoke("getStats", { instance: 1n });
      await new Promise((r) => setTimeout(r, 50)); // (Begin, started by the listener, is done)
      return s;
    },
    async [Symbol.asyncDispose]() {
      socket[Symbol.dispose]();
      await fake[Symbol.asyncDispose]();
    },
  };
}

/** Waits for `n` credits back, then a moment more, and checks no more came. */
async function assertCreditsBack(acked: () => number, n: number, why: string): Promise<void> {
  await waitUntil(() => acked() >= n, "every event's credit back");
  await within(new Promise((r) => setTimeout(r, 100)), 1000, "a moment for any further acknowledgement");
  assertEquals(acked(), n, why);
}

Deno.test("events the library cannot use, read together with good ones: each one's credit goes back once", async () => {
  // Events for a callback the signature does not have (99) between linkEvents, then the reply.
  await using kernel = await creditCountingKernel((id) =>
    concat(...Array.from({ length: 20 }, (_, i) => linkEvent(i, i % 2 ? 99n : 32n)), statsReply(id))
  );
  const speeds: number[] = [];
  await using s = await kernel.open((s) =>
    s.on("linkEvent", (e) => void speeds.push(e.params.state.speedMbps))
  );
  await s.invoke("getStats", { instance: 1n });
  await waitUntil(() => speeds.length === 10, "the ten linkEvents");
  assertEquals(speeds, [0, 2, 4, 6, 8, 10, 12, 14, 16, 18]);
  await assertCreditsBack(
    kernel.acked,
    20,
    "credits returned for 20 events: more would tell the kernel of events never sent",
  );
});

Deno.test("a kernel that ignores its credits: what the library cannot hold is dropped, counted, its credit back once", async () => {
  const sent = 3000; // well past the 1,024 events of one session the library's queue holds
  await using kernel = await creditCountingKernel((id) =>
    concat(...Array.from({ length: sent }, (_, i) => linkEvent(i)), statsReply(id))
  );
  let delivered = 0;
  await using s = await kernel.open((s) => s.on("linkEvent", () => void delivered++));
  const call = s.invoke("getStats", { instance: 1n });
  await null; // (sent)
  const until = performance.now() + 300;
  while (performance.now() < until) { /* busy: nothing drains, the library's queue fills */ }
  await call;
  // (through a bridge, its library's drops reach this session as the kernel's)
  const dropped = () => (s.stats.libraryDropped ?? 0) + (s.stats.kernelDropped ?? 0);
  await waitUntil(() => delivered + dropped() === sent, "every event delivered or dropped");
  // (how many were drained before the busy loop began is the machine's: at most 1,024 after it)
  assert(dropped() > 0 && delivered >= 1024, `${delivered} delivered, ${dropped()} dropped`);
  await assertCreditsBack(kernel.acked, sent, "one credit for each event, dropped or not");
});
