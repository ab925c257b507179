/**
 * No client can make the simulator hold memory out of proportion to what it sent: a small INVOKE
 * asking for a reply no frame could carry gets EINVAL and no allocation; a client that sends and
 * never reads stops being read from (backpressure), and is disconnected once its replies stop moving.
 */
import { assert, assertEquals } from "@std/assert";
import { startSimProcess } from "../sim/process.ts";
import {
  buildFrame,
  encodeHello,
  encodeInvoke,
  FrameParser,
  FrameType,
  type ParamDescriptor,
} from "../sim/protocol.ts";
import { startSimulator } from "../sim/server.ts";
import { waitUntil, within } from "./support/wait.ts";

const READ_LOG = 20n; // acmeNicMgmt readLog(vectorOut u8 buffer, out u32 length)
const hello = buildFrame(
  FrameType.HELLO,
  1,
  encodeHello({ revnum: 0x01000000, name: "acmeNicMgmt", vendor: "acme", pid: 1 }),
);
const readLog = (id: number, bytes: number) => {
  const params: ParamDescriptor[] = [{ dir: "vectorOut", size: 1, length: bytes }, {
    dir: "out",
    size: 4,
    length: 4,
  }];
  return buildFrame(
    FrameType.INVOKE,
    id,
    encodeInvoke({ instanceId: 1n, callbackId: READ_LOG, sync: true, params }),
  );
};
const concat = (parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((o, p) => (out.set(p, o), o + p.length), 0);
  return out;
};

/** Resident memory of a process, in MiB. */
function rssMiB(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)![1]) / 1024;
}

Deno.test({
  name: "a reply no frame could carry: EINVAL, nothing allocated",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    await using sim = await startSimProcess();
    const conn = await Deno.connect({ transport: "unix", path: sim.socketPath });
    try {
      // Ten 72-byte requests, each for a 128 MiB vector-out (twice the protocol's maximum).
      await conn.write(concat([hello, ...Array.from({ length: 10 }, (_, i) => readLog(2 + i, 2 ** 27))]));
      const parser = new FrameParser();
      const replies: { type: number; length: number; status: number }[] = [];
      const buf = new Uint8Array(65536);
      await within(
        (async () => {
          while (replies.length < 11) {
            const n = await conn.read(buf);
            if (n === null) throw new Error("the simulator hung up");
            for (const f of parser.push(buf.slice(0, n))) {
              replies.push({ type: f.type, length: f.payload.length, status: f.payload[0] });
            }
          }
        })(),
        10_000,
        "eleven replies",
      );
      assertEquals(replies[0].type, FrameType.HELLO_REPLY);
      for (const r of replies.slice(1)) {
        assertEquals(r, { type: FrameType.INVOKE_REPLY, length: 8, status: 22 });
      }
      assert(rssMiB(sim.pid) < 600, `the simulator holds ${rssMiB(sim.pid).toFixed(0)} MiB`);
    } finally {
      conn.close();
    }
  },
});

Deno.test({
  name: "a client that does not read is not read from, and its memory stays bounded",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    await using sim = await startSimProcess();
    const before = rssMiB(sim.pid);
    const conn = await Deno.connect({ transport: "unix", path: sim.socketPath });
    try {
      // A hundred 60 MiB replies (6 GB) asked for, none read.
      const requests = concat([hello, ...Array.from({ length: 100 }, (_, i) => readLog(2 + i, 60 << 20))]);
      conn.write(requests).catch(() => {}); // blocks once the simulator stops reading: by design
      await new Promise((r) => setTimeout(r, 1500));
      const status = await sim.control({ op: "status" }) as { sessions: { calls: number }[] };
      assertEquals(status.sessions.length, 1, "the simulator still answers others");
      assert(status.sessions[0].calls < 5, `${status.sessions[0].calls} calls were taken on, not 100`);
      const grew = rssMiB(sim.pid) - before;
      assert(grew < 400, `the simulator grew by ${grew.toFixed(0)} MiB for an unread client`);
    } finally {
      conn.close();
    }
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
      conn.write(concat([hello, ...Array.from({ length: 20 }, (_, i) => readLog(2 + i, 4 << 20))])).catch(
        () => {},
      );
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
