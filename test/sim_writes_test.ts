/**
 * How the simulator writes its answers: the calls of one read are answered in one write (one
 * wake-up of the client for them all, not one a reply), and a call that waits does not hold back
 * the others' answers. Over a raw socket, so what arrives in which read is seen.
 */
import { assert, assertEquals } from "@std/assert";
import { startSimProcess } from "../sim/process.ts";
import { type Frame, FrameParser, FrameType } from "../sim/frames.ts";
import { concat, echoFrame, helloFrame } from "./support/bytes.ts";
import { waitUntil } from "./support/wait.ts";

/** A connection that keeps, for every read, the frames it brought. */
class RawClient {
  readonly reads: Frame[][] = [];
  readonly #parser = new FrameParser();
  readonly #done: Promise<void>;

  constructor(readonly conn: Deno.Conn) {
    this.#done = this.#pump();
  }

  async #pump(): Promise<void> {
    const buf = new Uint8Array(1 << 20);
    try {
      for (;;) {
        const n = await this.conn.read(buf);
        if (n === null) return;
        this.reads.push([...this.#parser.push(buf.slice(0, n))]);
      }
    } catch { /* closed */ }
  }

  /** The frames of `type`, in order, over every read. */
  frames(type: number): Frame[] {
    return this.reads.flat().filter((f) => f.type === type);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    try {
      this.conn.close();
    } catch { /* closed */ }
    await this.#done;
  }
}

Deno.test("the simulator answers the calls of one read in one write, and a stalled call holds no other back", async () => {
  await using sim = await startSimProcess();
  await using client = new RawClient(await Deno.connect({ transport: "unix", path: sim.socketPath }));
  await client.conn.write(helloFrame());
  await waitUntil(() => client.frames(FrameType.HELLO_REPLY).length === 1, "the HELLO_REPLY");

  // 32 calls in one write: their 32 answers come in one read (they were written in one).
  const ids = Array.from({ length: 32 }, (_, i) => 100 + i);
  const before = client.reads.length;
  await client.conn.write(concat(...ids.map(echoFrame)));
  await waitUntil(() => client.frames(FrameType.INVOKE_REPLY).length === 32, "32 answers");
  const answers = client.reads.slice(before)
    .map((r) => r.filter((f) => f.type === FrameType.INVOKE_REPLY)).filter((r) => r.length > 0);
  assertEquals(
    answers.map((r) => r.length),
    [32],
    "the answers came in more than one write: the simulator wakes its client once for each",
  );
  assertEquals(answers[0].map((f) => f.id), ids, "every call answered once, in order");

  // The first of four calls stalls: the other three are answered without it, and it after.
  await sim.control({ op: "stall", instance: 1, count: 1 });
  await client.conn.write(concat(...[200, 201, 202, 203].map(echoFrame)));
  await waitUntil(() => client.frames(FrameType.INVOKE_REPLY).length === 35, "the three calls not stalled");
  assertEquals(client.frames(FrameType.INVOKE_REPLY).slice(32).map((f) => f.id), [201, 202, 203]);
  await sim.control({ op: "clear" });
  await waitUntil(
    () => client.frames(FrameType.INVOKE_REPLY).length === 36,
    "the stalled call, once released",
  );
  assertEquals(client.frames(FrameType.INVOKE_REPLY)[35].id, 200);
  assert(!/Uncaught|panicked/.test(sim.stderr()), sim.stderr());
});
