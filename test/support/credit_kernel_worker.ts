/**
 * A fake kernel in a worker of its own, so it sends while the test's own thread is busy (and so
 * drains nothing): it counts the event credits the library returns and answers getStats, the
 * second time with a burst of linkEvents (in one write) before the reply.
 *
 * Messages in: `{ events: [speed, callbackId][], held?: true }` to start, `"burst"` (with `held`,
 * the burst waits for it: a test starts it once its own thread is busy), then `"close"`. Out: `{ path }` once
 * listening, `{ acked }` (the total so far) after every EVENT_ACK, `{ closed: true }` at the end.
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
  let acked = 0;
  let invokes = 0;
  fake = await fakeKernel(async (type, id, payload) => {
    if (type === FrameType.EVENT_ACK) {
      acked += decodeEventAck(payload);
      self.postMessage({ acked });
      return null;
    }
    if (++invokes !== 2) return statsReply(id);
    await burst.promise;
    return concat(...events.map(([speed, callbackId]) => linkEvent(speed, callbackId)), statsReply(id));
  });
  self.postMessage({ path: fake.path });
};
