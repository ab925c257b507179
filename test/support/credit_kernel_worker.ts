/**
 * A fake kernel in a worker of its own, so it sends while the test's own thread is busy (and so
 * drains nothing): it counts the event credits the library returns and answers getStats, the
 * second time with a burst of linkEvents (in one write) before the reply.
 *
 * Messages in: `{ events: [speed, callbackId][], held?: true, progress?: SharedArrayBuffer }` to
 * start, `"burst"` (with `held`, the burst waits for it: a test releases it once its call has come,
 * right before it busies its own thread), then `"close"`. `progress`'s first Int32 becomes 1 when the
 * call the burst answers has come, 2 once the burst is written (a test busy on its own thread cannot
 * hear a message). Out: `{ path }` once listening, `{ acked }` (the total so far) after every
 * EVENT_ACK, `{ closed: true }` at the end.
 * @module
 */
import { FrameType } from "../../sim/frames.ts";
import { decodeEventAck } from "../../sim/payloads.ts";
import { concat } from "./bytes.ts";
import { fakeKernel, linkEvent, statsReply } from "./fake_kernel.ts";

const self = globalThis as unknown as {
  onmessage: ((e: MessageEvent) => void) | null;
  postMessage(message: unknown): void;
};

let fake: Awaited<ReturnType<typeof fakeKernel>> | undefined;
const burst = Promise.withResolvers<void>();

self.onmessage = async (e: MessageEvent) => {
  if (e.data === "close") {
    await fake?.[Symbol.asyncDispose]();
    self.postMessage({ closed: true });
    return;
  }
  if (e.data === "burst") {
    burst.resolve();
    return;
  }
  if (!e.data.held) burst.resolve();
  const events = e.data.events as [number, bigint][];
  const progress = e.data.progress ? new Int32Array(e.data.progress) : undefined;
  let burstFrames: Uint8Array | undefined;
  let acked = 0;
  let invokes = 0;
  fake = await fakeKernel(async (type, id, payload) => {
    if (type === FrameType.EVENT_ACK) {
      acked += decodeEventAck(payload);
      self.postMessage({ acked });
      return null;
    }
    if (++invokes !== 2) return statsReply(id);
    if (progress) Atomics.store(progress, 0, 1);
    await burst.promise;
    burstFrames = concat(
      ...events.map(([speed, callbackId]) => linkEvent(speed, callbackId)),
      statsReply(id),
    );
    return burstFrames;
  }, (out) => {
    if (out === burstFrames && progress) Atomics.store(progress, 0, 2);
  });
  self.postMessage({ path: fake.path });
};
