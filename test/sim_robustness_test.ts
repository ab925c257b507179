/** The simulator survives any bytes a client sends, and disconnects only the offender. */
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { startSimProcess } from "../sim/process.ts";
import {
  buildFrame,
  FrameParser,
  FrameType,
  HEADER_SIZE,
  MAGIC,
  PayloadWriter,
  VERSION,
} from "../sim/frames.ts";
import { concat, echoFrame, helloFrame } from "./support/bytes.ts";

async function exchange(
  path: string,
  bytes: Uint8Array,
  closeAfterWrite = false,
  waitMs = 3000,
): Promise<{ frames: number[]; text: string; closed: boolean }> {
  const conn = await Deno.connect({ transport: "unix", path });
  await conn.write(bytes).catch(() => {});
  if (closeAfterWrite) {
    conn.close();
    return { frames: [], text: "", closed: true };
  }
  const parser = new FrameParser();
  const frames: number[] = [];
  let text = "";
  const buf = new Uint8Array(65536);
  const timer = setTimeout(() => conn.close(), waitMs);
  let closed = false;
  try {
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) {
        closed = true;
        break;
      }
      for (const f of parser.push(buf.slice(0, n))) {
        frames.push(f.type);
        if (f.type === FrameType.ERROR) text = new TextDecoder().decode(f.payload);
      }
    }
  } catch {
    /* closed by the timer */
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch { /* closed */ }
  }
  return { frames, text, closed };
}

function header(type: number, len: number, version = VERSION, magic = MAGIC): Uint8Array {
  const b = new Uint8Array(HEADER_SIZE);
  const v = new DataView(b.buffer);
  v.setUint32(0, magic, true);
  v.setUint16(4, version, true);
  v.setUint16(6, type, true);
  v.setUint32(12, len, true);
  return b;
}

/** Frames the simulator must refuse: [what, the bytes, what its ERROR frame says]. */
function malformedFrames(): [string, Uint8Array, string][] {
  return [
    ["garbage", crypto.getRandomValues(new Uint8Array(1000)), "bad magic"],
    ["bad version", header(FrameType.HELLO, 0, 9), "unsupported protocol version 9"],
    ["oversized length", header(FrameType.HELLO, 0xffffffff), "exceeds"],
    [
      "INVOKE before HELLO",
      buildFrame(FrameType.INVOKE, 1, new Uint8Array(24)),
      "must start with HELLO or CONTROL",
    ],
    ["unknown type", buildFrame(77, 1), "must start with HELLO or CONTROL"],
    ["short HELLO", buildFrame(FrameType.HELLO, 1, new Uint8Array(5)), "truncated payload"],
    ["HELLO twice", concat(helloFrame(), helloFrame()), "HELLO sent twice"],
    [
      "bad INVOKE descriptor",
      concat(
        helloFrame(),
        buildFrame(
          FrameType.INVOKE,
          2,
          (() => {
            const w = new PayloadWriter().u64(1).u64(16).bytes(new Uint8Array([1, 1, 0, 0, 0, 0, 0, 0]));
            return w.bytes(new Uint8Array([9, 0, 0, 0])).u32(72).u64(72).finish();
          })(),
        ),
      ),
      "bad parameter descriptor",
    ],
    [
      "a COPY_REPLY nobody asked for",
      concat(helloFrame(), buildFrame(FrameType.COPY_REPLY, 2, new PayloadWriter().u32(99).u32(0).finish())),
      "COPY_REPLY for copy 99, which was not asked for",
    ],
    [
      // A 4-byte COPY_REPLY once closed the connection with a DataView RangeError and no ERROR frame.
      "a COPY_REPLY too short to hold its status",
      concat(helloFrame(), buildFrame(FrameType.COPY_REPLY, 2, new PayloadWriter().u32(1).finish())),
      "truncated payload",
    ],
    [
      "INVOKE length beyond payload",
      concat(
        helloFrame(),
        buildFrame(
          FrameType.INVOKE,
          2,
          (() => {
            const w = new PayloadWriter().u64(1).u64(17).bytes(new Uint8Array([1, 2, 0, 0, 0, 0, 0, 0]));
            w.bytes(new Uint8Array([0, 1, 0, 0])).u32(4).u64(4); // IN, its bytes follow
            w.bytes(new Uint8Array([1, 0, 0, 0])).u32(4).u64(4);
            return w.bytes(new Uint8Array([1])).finish(); // 1 of the 4 IN bytes
          })(),
        ),
      ),
      "truncated payload",
    ],
    [
      "over-acknowledged events",
      concat(helloFrame(), buildFrame(FrameType.EVENT_ACK, 0, new PayloadWriter().u32(5).finish())),
      "acknowledges more",
    ],
    [
      "GET_INSTANCES with a payload",
      concat(helloFrame(), buildFrame(FrameType.GET_INSTANCES, 2, new Uint8Array(3))),
      "carries no payload",
    ],
  ];
}

Deno.test("malformed input is refused with an ERROR frame and a disconnect; the simulator lives on", async () => {
  await using sim = await startSimProcess();
  const p = sim.socketPath;
  for (const [what, bytes, message] of malformedFrames()) {
    const r = await exchange(p, bytes);
    assert(r.closed, `${what}: connection closed`);
    assertStringIncludes(r.text, message, what);
  }
  // Truncated frames and vanished clients: no reply is possible, but nothing breaks.
  await exchange(p, header(FrameType.HELLO, 72).subarray(0, 9), true);
  await exchange(p, concat(header(FrameType.HELLO, 72), new Uint8Array(10)), true);
  const status = await sim.control({ op: "status" }) as { sessions: unknown[] };
  assertEquals(status.sessions, []);
});

Deno.test("a client vanishing mid-call, and random frames from many clients", async () => {
  await using sim = await startSimProcess();
  const p = sim.socketPath;
  await sim.control({ op: "stall", instance: 1, count: 3 });
  await exchange(p, concat(helloFrame(), echoFrame(2)), true);
  await new Promise((r) => setTimeout(r, 100));
  // The stalled call is released after its client has gone: the reply has nowhere to go.
  await sim.control({ op: "clear" });

  // Deterministic pseudo-random fuzzing of valid headers with random payloads of every type.
  let seed = 12345;
  const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  for (let i = 0; i < 150; i++) {
    const type = 1 + Math.floor(rnd() * 12);
    const payload = new Uint8Array(Math.floor(rnd() * 200));
    for (let k = 0; k < payload.length; k++) payload[k] = Math.floor(rnd() * 256);
    const prefix = rnd() < 0.5 ? helloFrame() : new Uint8Array(0);
    await exchange(p, concat(prefix, buildFrame(type, i, payload)), rnd() < 0.5, 100);
  }
  const status = await sim.control({ op: "status" }) as {
    apis: { instances: unknown[] }[];
    sessions: unknown[];
  };
  assertEquals(status.apis[0].instances.length, 4);
  await new Promise((r) => setTimeout(r, 200));
  assertEquals(
    (await sim.control({ op: "sessions" }) as unknown[]).length,
    0,
    "every session was cleaned up",
  );
  assert(!/Uncaught|panicked/.test(sim.stderr()), sim.stderr());
});

Deno.test("control ops: errors name what was wrong", async () => {
  await using sim = await startSimProcess();
  const bad = async (req: Record<string, unknown>, message: string) => {
    try {
      await sim.control(req as { op: string });
      throw new Error(`no error for ${JSON.stringify(req)}`);
    } catch (e) {
      assertStringIncludes((e as Error).message, message);
    }
  };
  await bad({ op: "nope" }, "unknown op nope; ops: status");
  await bad({ op: "fail", instance: "vmnic9", errno: 5 }, 'has no instance "vmnic9"');
  await bad({ op: "fail", instance: 1, errno: "EWHAT" }, "errno: expected a name such as EIO");
  await bad({ op: "fail", instance: 1, errno: 5, count: 0 }, "count: expected a whole number");
  await bad(
    { op: "emit", event: "getStats" },
    "event: acmeNicMgmt has no kernel event getStats (getStats is a kernel callback) — events (user-location callbacks) are: linkEvent, logEvent",
  );
  await bad({ op: "emit", event: "linkEvent", params: {} }, "params.state: missing");
  await bad(
    { op: "emit", event: "linkEvent", params: { state: { up: 1 } } },
    "params.state.speedMbps: missing field",
  );
  await bad({ op: "drop", session: 99 }, "no session 99");
  await bad({ op: "add", id: 1, name: "dup" }, "already exists");
  await bad({ op: "add", id: "x", name: "n" }, 'id: expected a whole number ≥ 1, got "x"');
  await bad({ op: "add", id: 0, name: "n" }, "instance id 0 must be 1..2^64-1");
  await bad({ op: "add", id: 50, name: "" }, "name: expected a string");
  await bad({ op: "status", api: "nope" }, "no API named nope");
  assertEquals(
    await sim.control({ op: "emit", event: "linkEvent", params: { state: { up: 1, speedMbps: 5 } } }),
    { sessions: 0 },
  );
  assertEquals(await sim.control({ op: "add", id: 9, name: "vmnic8" }), { id: "9", name: "vmnic8" });
  assertEquals(await sim.control({ op: "remove", instance: "vmnic8" }), {});
});

Deno.test("deno task sim ctl: a control command from the shell", async () => {
  await using sim = await startSimProcess();
  const root = new URL("../", import.meta.url).pathname;
  const run = (...args: string[]) =>
    new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", `${root}sim/main.ts`, "ctl", ...args, "--socket", sim.socketPath],
      stdout: "piped",
      stderr: "piped",
    }).output();
  let out = await run("delay", "ms=0");
  assertEquals(out.code, 0, "--socket may follow the op");
  const ctl = (...args: string[]) =>
    new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", `${root}sim/main.ts`, "--socket", sim.socketPath, "ctl", ...args],
      stdout: "piped",
      stderr: "piped",
    }).output();
  out = await ctl("fail", "instance=vmnic1", "errno=EIO", "count=2");
  assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
  const status = JSON.parse(new TextDecoder().decode((await ctl("status")).stdout));
  assertEquals(status.faults["acmeNicMgmt/2"].failCount, 2);
  out = await ctl("fail", "instance=nope", "errno=EIO");
  assertEquals(out.code, 1);
  assertStringIncludes(new TextDecoder().decode(out.stderr), 'has no instance "nope"');
});
