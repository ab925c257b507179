/**
 * A fake kernel for tests of the library against kernels that misbehave: it speaks PROTOCOL.md's
 * handshake properly and answers every other frame as the test says. Frames a test builds by hand
 * (acmeNic's linkEvent, getStats' reply) are here too.
 * @module
 */
import { buildFrame, FrameParser, FrameType, PayloadWriter } from "../../sim/frames.ts";
import { encodeEvent, encodeHelloReply } from "../../sim/payloads.ts";

/**
 * What a fake kernel sends for one frame the library sent (null: nothing); a promise holds back
 * this connection's later answers until it settles.
 */
export type Answer = (
  type: number,
  id: number,
  payload: Uint8Array,
) => Uint8Array | null | Promise<Uint8Array | null>;

/**
 * A fake kernel: a proper HELLO reply and instance list, then `answer` for every other frame;
 * `written` hears each answer once all of it is written.
 */
export async function fakeKernel(answer: Answer, written?: (out: Uint8Array) => void) {
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
              } else out = await answer(f.type, f.id, f.payload);
              if (!out) continue;
              // (a write may take only part of a large answer: the rest follows)
              for (let at = 0; at < out.length;) at += await conn.write(out.subarray(at));
              written?.(out);
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

/** An INVOKE_REPLY frame for request `id`. */
export const reply = (id: number, w: PayloadWriter) => buildFrame(FrameType.INVOKE_REPLY, id, w.finish());

/** A linkEvent's EVENT frame (or, with another callback id, one the signature does not have). */
export function linkEvent(speed: number, callbackId = 32n): Uint8Array {
  const state = new Uint8Array(8);
  new DataView(state.buffer).setUint32(0, 1, true);
  new DataView(state.buffer).setUint32(4, speed, true);
  return buildFrame(FrameType.EVENT, 0, encodeEvent({ instanceId: 1n, callbackId, params: [state] }));
}

/** getStats' reply (PROTOCOL.md: status, one parameter, returned, its length, then its bytes). */
export const statsReply = (id: number) =>
  reply(id, new PayloadWriter().i32(0).u32(1).u32(1).u32(0).u64(72).bytes(new Uint8Array(72)));
