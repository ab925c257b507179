/**
 * A callback's generated argument code (mgmt/arguments_codegen.ts) against the shared functions of
 * mgmt/arguments.ts: the same bytes for C, the same results back, the same errors word for word —
 * for a callback of every parameter direction with fixed size, with a caller buffer, and for one
 * whose vector keeps it on the shared code.
 */
import { assert, assertEquals, assertThrows } from "@std/assert";
import { defineSignature, t, ValueError } from "../mod.ts";
import { argumentCodec } from "../mgmt/arguments_codegen.ts";
import { decodeResults, encodeArguments } from "../mgmt/arguments.ts";
import { ParamBlocks } from "../mgmt/param_blocks.ts";
import { CallerBuffers } from "../mgmt/types/type.ts";

const sig = defineSignature({
  name: "codegen",
  vendor: "acme",
  version: "1.0.0.0",
  callbacks: {
    put: {
      id: 16,
      params: {
        cfg: t.inout(t.struct({ mtu: t.u32, name: t.chars(8), img: t.buffer({ dir: "out", length: 4 }) })),
        arm: t.inout(t.union({ small: t.u8, wide: t.u64 })),
        seq: t.inout(t.u64),
        status: t.out(t.i32),
      },
    },
    none: { id: 17, params: {} },
    dump: { id: 18, params: { n: t.out(t.u32), log: t.vectorOut(t.u8, { lengthFrom: "n" }) } },
  },
});
const put = sig.callbacks.put;

/** What `encode` gives C, the buffers pointed to, and, after `kernel` wrote, what decodes. */
function run(
  encode: typeof encodeArguments,
  decode: typeof decodeResults,
  input: Record<string, unknown> | undefined,
  kernel: (data: readonly Uint8Array[]) => void = () => {},
) {
  const blocks = new ParamBlocks(put);
  const block = blocks.take();
  const buffers = new CallerBuffers();
  const data = encode(put, input, buffers, block);
  // (the pointer's address is written just before the call: not part of what is compared)
  const sent = data.map((d) => [...d]);
  kernel(data);
  return {
    sent,
    pointed: buffers.list.map((b) => b.bytes),
    result: decode(put, data, buffers, block, input),
  };
}

const codec = argumentCodec(put);
const generated = {
  encode: ((_cb, input, buffers, block) => codec.encode(input, buffers, block!)) as typeof encodeArguments,
  decode:
    ((_cb, data, buffers, block, input) =>
      codec.decode(data, buffers, block!, input)) as typeof decodeResults,
};

Deno.test("generated argument code: the bytes, caller buffers and results of the shared functions", () => {
  const img = new Uint8Array(4);
  const input = { instance: 1n, cfg: { mtu: 9000, name: "eth0", img }, arm: { wide: 7n }, seq: 41n };
  const kernel = (data: readonly Uint8Array[]) => {
    new DataView(data[2].buffer, data[2].byteOffset).setBigUint64(0, 42n, true);
    data[3][0] = 0xfe;
    data[1][0] = 9;
  };
  const want = run(encodeArguments, decodeResults, input, kernel);
  const got = run(generated.encode, generated.decode, input, kernel);
  assertEquals(got, want);
  assertEquals(Object.keys(got.result), ["cfg", "arm", "seq", "status"], "out and inout only, in order");
  assert(
    (got.result.cfg as { img: Uint8Array }).img === img,
    "the caller buffer in the result, not its address",
  );
  assertEquals(got.result.seq, 42n);
  assert(got.pointed[0] === img, "the caller's own buffer");
  // No parameters: nothing to send, nothing back.
  const none = argumentCodec(sig.callbacks.none);
  const block = new ParamBlocks(sig.callbacks.none).take();
  assertEquals(none.encode({ instance: 1n }, undefined, block), []);
  assertEquals(none.decode([], undefined, block, {}), {});
});

Deno.test("generated argument code: every bad input gets the shared functions' error", () => {
  const good = { cfg: { mtu: 1, name: "a", img: new Uint8Array(4) }, arm: { small: 1 }, seq: 1n };
  const bad: unknown[] = [
    5,
    null,
    "text",
    { ...good, mtuu: 3 },
    { ...good, status: 0 },
    { cfg: good.cfg, arm: good.arm },
    { ...good, seq: "one" },
    { ...good, cfg: { ...good.cfg, mtu: -1 } },
    { ...good, cfg: { ...good.cfg, img: new Uint8Array(2) } },
    { ...good, arm: { small: 1, wide: 2n } },
    Object.assign(Object.create({ inherited: 1 }), good),
  ];
  for (const input of bad) {
    const message = (encode: typeof encodeArguments) => {
      const e = assertThrows(() => run(encode, decodeResults, input as Record<string, unknown>));
      return `${(e as Error).constructor.name}: ${(e as Error).message}`;
    };
    const want = message(encodeArguments);
    assert(want.startsWith("TypeError") || want.startsWith("ValueError"), want);
    assertEquals(message(generated.encode), want, `for ${Deno.inspect(input)}`);
  }
  const e = assertThrows(() => run(generated.encode, decodeResults, { ...good, seq: "one" }), ValueError);
  assertEquals(e.message.startsWith("invoke put: seq"), true, e.message);
});

Deno.test("a callback with a vector keeps the shared code, and still works through the codec", () => {
  const dump = sig.callbacks.dump;
  const codecOf = argumentCodec(dump);
  const blocks = new ParamBlocks(dump);
  const block = blocks.take();
  const data = codecOf.encode({ log: 16 }, undefined, block);
  assertEquals(data.map((d) => d.length), [4, 16]);
  data[0][0] = 3;
  data[1].set([1, 2, 3, 4]);
  assertEquals(codecOf.decode(data, undefined, block, { log: 16 }), { n: 3, log: new Uint8Array([1, 2, 3]) });
});
