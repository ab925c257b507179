/**
 * The simulator's frame parser: any split of the byte stream gives the same frames, a large
 * payload can be read straight into its own buffer, and bad headers are refused before their
 * payload arrives.
 */
import { assertEquals, assertThrows } from "@std/assert";
import { buildFrame, FrameParser, FrameType, PayloadWriter, ProtocolError } from "../sim/frames.ts";

const frames = [
  buildFrame(FrameType.HELLO, 1, Uint8Array.from({ length: 72 }, (_, i) => i)),
  buildFrame(FrameType.GET_INSTANCES, 2),
  buildFrame(FrameType.INVOKE, 3, Uint8Array.from({ length: 300 }, (_, i) => 255 - (i % 256))),
  buildFrame(FrameType.EVENT_ACK, 0, new Uint8Array([1, 0, 0, 0])),
];
const stream = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
frames.reduce((o, f) => (stream.set(f, o), o + f.length), 0);
const expected = frames.map((f) => ({ type: f[6], id: f[8], payload: [...f.subarray(16)] }));
const simple = (fs: { type: number; id: number; payload: Uint8Array }[]) =>
  fs.map((f) => ({ type: f.type, id: f.id, payload: [...f.payload] }));

Deno.test("frames come out the same whatever the split of the stream", () => {
  for (let cut = 0; cut <= stream.length; cut++) {
    const p = new FrameParser();
    const got = [...p.push(stream.slice(0, cut)), ...p.push(stream.slice(cut))];
    assertEquals(simple(got), expected, `split at ${cut}`);
    assertEquals(p.pending, 0);
  }
  const p = new FrameParser();
  const got = [...stream].flatMap((b) => p.push(new Uint8Array([b])));
  assertEquals(simple(got), expected, "one byte at a time");
});

Deno.test("a large payload is read straight into its own buffer, then parsing goes on", () => {
  const big = Uint8Array.from({ length: 1 << 20 }, (_, i) => (i * 7) & 0xff);
  const all = new Uint8Array([...buildFrame(FrameType.INVOKE, 9, big), ...frames[1]]);
  const p = new FrameParser();
  assertEquals(p.sink(), null, "nothing awaited yet");
  assertEquals(p.push(all.slice(0, 1000)), []);
  let off = 1000;
  const got = [];
  for (let sink = p.sink(); sink; sink = p.sink()) {
    const n = Math.min(sink.length, 70_000, all.length - off);
    sink.set(all.subarray(off, off + n));
    off += n;
    got.push(...p.filled(n));
  }
  got.push(...p.push(all.slice(off)));
  assertEquals(got.map((f) => [f.type, f.id, f.payload.length]), [[FrameType.INVOKE, 9, big.length], [
    FrameType.GET_INSTANCES,
    2,
    0,
  ]]);
  assertEquals(got[0].payload, big);
  assertThrows(() => p.filled(1), RangeError);
});

Deno.test("a bad or oversized header is refused before its payload arrives", () => {
  const huge = buildFrame(FrameType.INVOKE, 1);
  new DataView(huge.buffer).setUint32(12, 0xffffffff, true);
  assertThrows(() => new FrameParser().push(huge), ProtocolError, "exceeds");
  const bad = buildFrame(FrameType.INVOKE, 1);
  bad[0] ^= 1;
  assertThrows(() => new FrameParser().push(bad), ProtocolError, "bad magic");
});

Deno.test("a payload written past its writer's first buffer keeps every field where it was put", () => {
  const w = new PayloadWriter().u8(7).zeros(3).u32(0xfffffffe).i32(-2);
  for (let i = 0; i < 40; i++) w.u64(BigInt(i) << 40n).name(`n${i}`, 8); // (~640 bytes: it grows)
  const tail = new Uint8Array(300).fill(0xab);
  const p = w.bytes(tail).finish();
  assertEquals(p.length, 12 + 40 * 16 + 300);
  assertEquals(p.byteOffset, 0);
  assertEquals(p.buffer.byteLength, p.length); // (its own buffer, not a view of the writer's)
  const v = new DataView(p.buffer);
  assertEquals([v.getUint8(0), v.getUint8(1), v.getUint32(4, true), v.getInt32(8, true)], [
    7,
    0,
    0xfffffffe,
    -2,
  ]);
  for (let i = 0; i < 40; i++) {
    const at = 12 + i * 16;
    assertEquals(v.getBigUint64(at, true), BigInt(i) << 40n);
    const name = p.subarray(at + 8, at + 16);
    assertEquals(new TextDecoder().decode(name.subarray(0, name.indexOf(0))), `n${i}`);
  }
  assertEquals(p.subarray(12 + 40 * 16), tail);
});

Deno.test("a name is cut to leave its terminating zero, and what pads it is zero", () => {
  const p = new PayloadWriter().name("abcdefghij", 8).zeros(4).finish();
  assertEquals([...p], [..."abcdefg"].map((c) => c.charCodeAt(0)).concat([0, 0, 0, 0, 0]));
});
