/** Unit tests of the parameter type system: sizes, alignment, encode/decode, every error. */
import { assertEquals, assertThrows } from "@std/assert";
import { acmeNic } from "../demo.ts";
import { decodeParam } from "../mgmt/codec.ts";
import { cString, isCIdentifier } from "../abi/c_text.ts";
import { SignatureError, ValueError } from "../mgmt/errors.ts";
import { copyOut, POOLED_MAX, zeroBytes } from "../mgmt/types/byte_pool.ts";
import { t } from "../mgmt/t.ts";
import { typeFromJson } from "../mgmt/types/json.ts";
import { CallerBuffers } from "../mgmt/types/type.ts";

type Codec = {
  size: number;
  encode(v: DataView, o: number, x: unknown, p: string): void;
  decode(v: DataView, o: number): unknown;
};

function roundTrip<V>(type: Codec, value: V): V {
  const buf = new Uint8Array(type.size);
  const view = new DataView(buf.buffer);
  type.encode(view, 0, value, "x");
  return type.decode(view, 0) as V;
}

function err(fn: () => unknown, includes: string): void {
  const e = assertThrows(fn, ValueError);
  if (!e.message.includes(includes)) {
    throw new Error(`message ${JSON.stringify(e.message)} lacks ${JSON.stringify(includes)}`);
  }
}

Deno.test("integers: sizes, bounds, bigint for 64-bit", () => {
  const cases: [keyof typeof t, number, unknown, unknown][] = [
    ["u8", 1, 0, 255],
    ["u16", 2, 0, 65535],
    ["u32", 4, 0, 4294967295],
    ["i8", 1, -128, 127],
    ["i16", 2, -32768, 32767],
    ["i32", 4, -2147483648, 2147483647],
    ["u64", 8, 0n, 18446744073709551615n],
    ["i64", 8, -9223372036854775808n, 9223372036854775807n],
  ];
  for (const [name, size, min, max] of cases) {
    const type = t[name] as unknown as Codec & { align: number };
    assertEquals(type.size, size, name);
    assertEquals(type.align, size, name);
    assertEquals(roundTrip(type, min), min, `${name} min`);
    assertEquals(roundTrip(type, max), max, `${name} max`);
    const over = typeof max === "bigint" ? max + 1n : (max as number) + 1;
    err(() => roundTrip(type, over), "out of range");
    const under = typeof min === "bigint" ? min - 1n : (min as number) - 1;
    err(() => roundTrip(type, under), "out of range");
  }
  assertEquals(roundTrip(t.u64, 5), 5n, "a safe number is accepted for u64");
  err(() => roundTrip(t.u32, 1.5), "expected an integer");
  err(() => roundTrip(t.u32, "7"), "expected an integer");
  err(() => roundTrip(t.u64, 1.5), "expected an integer 0..18446744073709551615 (u64)");
});

Deno.test("floats and bool", () => {
  assertEquals(roundTrip(t.f64, Math.PI), Math.PI);
  assertEquals(roundTrip(t.f32, 1.5), 1.5);
  err(() => roundTrip(t.f32, "1"), "expected a number (f32)");
  assertEquals(roundTrip(t.bool, true), true);
  assertEquals(roundTrip(t.bool, 0), false);
  err(() => roundTrip(t.bool, "yes"), "expected true or false");
  assertEquals(t.bool.size, 1);
});

Deno.test("strings are NUL-terminated UTF-8 in a fixed char array", () => {
  const s = t.string(8);
  assertEquals(roundTrip(s, "héllo"), "héllo");
  assertEquals(roundTrip(s, "1234567"), "1234567");
  err(() => roundTrip(s, "12345678"), "holds at most 7 plus NUL");
  err(() => roundTrip(s, "ééééé"), "is 10 bytes of UTF-8");
  err(() => roundTrip(s, "a\0b"), "NUL");
  err(() => roundTrip(s, 5), "expected a string (char[8])");
  assertThrows(() => t.string(0), RangeError, "string length must be an integer 1..16777216");
});

Deno.test("text in a used block: ASCII and UTF-8 written whole and zero-padded, read back by either path", () => {
  const cases = [
    [t.string(8), "eth0"],
    [t.string(8), "abcé"], // (ASCII first, then a byte the by-hand writer and reader hand on)
    [t.chars(4), "abcd"], // (full: no NUL)
    [t.chars(40), "x".repeat(30)], // (past what is read by hand)
    [t.chars(40), "ünï"],
    [t.string(8), ""],
  ] as const;
  for (const [type, text] of cases) {
    const buf = new Uint8Array(type.size).fill(0xee);
    type.encode(new DataView(buf.buffer), 0, text, "x");
    const utf8 = new TextEncoder().encode(text);
    assertEquals(buf, Uint8Array.from({ length: type.size }, (_, i) => utf8[i] ?? 0), text);
    assertEquals(type.decode(new DataView(buf.buffer), 0), text);
  }
  err(() => roundTrip(t.chars(4), "abcde"), "string is 5 bytes of UTF-8; char[4] holds at most 4");
  err(() => roundTrip(t.chars(4), "ab\0"), "NUL");
});

Deno.test("bytes, arrays", () => {
  const b = t.bytes(4);
  assertEquals(
    roundTrip(b, new Uint8Array([1, 2])),
    new Uint8Array([1, 2, 0, 0]),
    "short input is zero-padded",
  );
  err(() => roundTrip(b, new Uint8Array(5)), "5 bytes do not fit u8[4]");
  err(() => roundTrip(b, "ab"), "expected bytes");
  const a = t.array(t.u16, 3);
  assertEquals(a.size, 6);
  assertEquals(roundTrip(a, [1, 2, 3]), [1, 2, 3]);
  err(() => roundTrip(a, [1, 2]), "expected exactly 3 elements, got 2");
  err(() => roundTrip(a, [1, 2, 70000]), "x[2]: 70000 is out of range");
});

Deno.test("decoded bytes share nothing with the parameter buffer or each other; writes zero what they leave", () => {
  const small = t.bytes(56);
  const big = t.bytes(POOLED_MAX + 1);
  for (const type of [small, big]) {
    const buf = new Uint8Array(type.size + 16).fill(0xee);
    const view = new DataView(buf.buffer, 8, type.size);
    type.encode(view, 0, new Uint8Array([1, 2, 3]), "x");
    assertEquals([...buf.subarray(0, 8)], Array(8).fill(0xee), "nothing before the field written");
    assertEquals([...buf.subarray(8 + type.size)], Array(8).fill(0xee), "nothing after it");
    assertEquals(buf[8 + type.size - 1], 0, "the rest zero-padded");
    const first = type.decode(view, 0);
    const second = type.decode(view, 0);
    buf.fill(7); // the parameter buffer is used again by the next call
    first[0] = 9;
    assertEquals([...first.subarray(0, 4)], [9, 2, 3, 0]);
    assertEquals([...second.subarray(0, 4)], [1, 2, 3, 0], "each copy its own bytes");
    assertEquals(first.length, type.size);
  }
  // A long run of small copies, each intact once the slab has been replaced many times over.
  // Every byte in its place (copied eight at a time, then the rest), from a view that does not
  // start its buffer, for lengths on either side of eight.
  const copies = Array.from({ length: 1000 }, (_, i) => {
    const view = new DataView(new Uint8Array(80).map((_, j) => (i + j) & 0xff).buffer, 5, 70);
    return copyOut(view, 3, 1 + (i % 64));
  });
  copies.forEach((c, i) =>
    assertEquals(c.every((b, k) => b === ((i + 5 + 3 + k) & 0xff)) && c.length === 1 + (i % 64), true)
  );
  // Past the loop's 64 bytes, up to the slab's largest, one native copy.
  for (const length of [65, 200, POOLED_MAX]) {
    const view = new DataView(new Uint8Array(600).map((_, j) => j & 0xff).buffer, 5, 590);
    const c = copyOut(view, 3, length);
    assertEquals(
      c.every((b, k) => b === ((5 + 3 + k) & 0xff)) && c.length === length,
      true,
      `${length} bytes`,
    );
  }
  const z = new Uint8Array(200).fill(1);
  zeroBytes(new DataView(z.buffer), 1, 7);
  zeroBytes(new DataView(z.buffer), 100, 99);
  assertEquals([z[0], z[1], z[7], z[8], z[99], z[100], z[198], z[199]], [1, 0, 0, 1, 1, 0, 0, 1]);
});

Deno.test("a plain struct's generated code: padding zeroed, nine members, an out member left out, the shared loop's errors", () => {
  const s = t.struct({
    a: t.u8,
    b: t.u64,
    c: t.u16,
    d: t.bytes(3),
    e: t.array(t.u16, 2),
    f: t.struct({ g: t.i8 }),
    h: t.chars(4),
    i: t.bool,
    status: t.field(t.i32, { out: true }),
  });
  const buf = new Uint8Array(s.size).fill(0xee); // (a block used before: every byte must be written)
  const view = new DataView(buf.buffer);
  const v = { a: 1, b: 2n, c: 3, d: new Uint8Array([4, 5, 6]), e: [7, 8], f: { g: -9 }, h: "ab", i: true };
  s.encode(view, 0, v, "x");
  assertEquals([...buf.subarray(1, 8)], [0, 0, 0, 0, 0, 0, 0]); // (padding after a)
  assertEquals([...buf.subarray(32)], [0, 0, 0, 0, 0, 0, 0, 0]); // (status, left out; the tail padding)
  assertEquals(s.decode(view, 0), { ...v, status: 0 });
  assertEquals(Object.keys(s.decode(view, 0) as object), ["a", "b", "c", "d", "e", "f", "h", "i", "status"]);
  err(() => s.encode(view, 0, { ...v, j: 1 }, "x"), "unknown field j");
  err(() => s.encode(view, 0, { ...v, h: undefined }, "x"), "x.h: expected");
  err(() => s.encode(view, 0, { ...v, f: { g: 200 } }, "x"), "x.f.g: 200 is out of range");
  const { a: _, ...noA } = v;
  err(() => s.encode(view, 0, noA, "x"), "x.a: missing field (u8)");
  err(() => s.encode(view, 0, null, "x"), "expected an object with fields a, b, c");
});

Deno.test("structs follow C alignment and padding", () => {
  const s = t.struct({ a: t.u8, b: t.u64, c: t.u16 }, "S");
  assertEquals(s.fields.map((f) => f.offset), [0, 8, 16]);
  assertEquals(s.size, 24);
  assertEquals(s.align, 8);
  const v = { a: 1, b: 2n, c: 3 };
  assertEquals(roundTrip(s, v), v);
  err(() => roundTrip(s, { a: 1, b: 2n }), "x.c: missing field (u16)");
  err(() => roundTrip(s, { a: 1, b: 2n, c: 3, d: 4 }), "unknown field d");
  err(() => roundTrip(s, { a: 1, b: 2n, c: -1 }), "x.c: -1 is out of range");
  err(() => roundTrip(s, [1]), "expected an object with fields a, b, c");
  const nested = t.struct({ x: t.u8, inner: t.struct({ y: t.u32 }) });
  assertEquals(nested.size, 8);
  assertThrows(() => t.struct({}), SignatureError, "needs at least one named member");
  assertThrows(() => t.struct({ "bad name": t.u8 }), SignatureError, "not an identifier");
});

Deno.test("enums: names in, names out, unknown numbers kept", () => {
  const e = t.enumOf({ off: 0, on: 1 }, t.u8);
  assertEquals(e.size, 1);
  assertEquals(roundTrip(e, "on"), "on");
  assertEquals(roundTrip(e, 1), "on");
  assertEquals(roundTrip(e, 7), 7);
  err(() => roundTrip(e, "maybe"), "expected one of off, on");
  assertThrows(() => t.enumOf({}), SignatureError, "at least one named value");
  assertThrows(() => t.enumOf({ a: 1 }, t.f32 as never), TypeError, "base must be an integer type");
});

Deno.test("JSON forms: lossless and validated", () => {
  assertEquals(t.u64.fromJson("18446744073709551615", "v"), 18446744073709551615n);
  assertEquals(t.u64.toJson(5n), "5");
  assertEquals(t.u32.fromJson("0x10", "v"), 16);
  assertEquals(t.bytes(2).fromJson("0a0b", "v"), new Uint8Array([10, 11]));
  assertEquals(t.bytes(2).toJson(new Uint8Array([10, 11])), "0a0b");
  err(() => t.u8.fromJson("300", "v"), "300 is out of range");
  err(() => t.bytes(2).fromJson("zz", "v"), "expected hex bytes");
  const s = typeFromJson({
    struct: { a: "u8", b: { string: 4 }, c: { enum: { x: 1 } }, d: { array: "i16", length: 2 } },
  }, "T");
  assertEquals(s.size, 1 + 4 + 3 + 4 + 4);
  assertEquals(s.describe(), {
    struct: { a: "u8", b: { string: 4 }, c: { enum: { x: 1 }, base: "u32" }, d: { array: "i16", length: 2 } },
  });
  err(() => typeFromJson("u128", "p.type"), 'p.type: unknown type "u128"');
  err(() => typeFromJson({ string: 0 }, "p.type"), "p.type: string length must be");
  err(() => typeFromJson({ weird: 1 } as never, "p.type"), "unknown type form with keys weird");
});

Deno.test("decodeParam through a view of the whole buffer: the same values; a short parameter still fails", () => {
  const link = acmeNic.event("linkEvent").params[0];
  const whole = new Uint8Array(64);
  const view = new DataView(whole.buffer);
  view.setUint32(16, 1, true);
  view.setUint32(20, 25000, true);
  const bytes = whole.subarray(16, 24);
  assertEquals(decodeParam(link, bytes, undefined, view), { up: 1, speedMbps: 25000 });
  assertEquals(decodeParam(link, bytes, undefined, view), decodeParam(link, bytes));
  // Four bytes of an eight-byte struct: a RangeError, not the next four bytes of the buffer.
  assertThrows(() => decodeParam(link, whole.subarray(16, 20), undefined, view), RangeError);
  // A view of another buffer is not used.
  assertEquals(decodeParam(link, bytes, undefined, new DataView(new ArrayBuffer(64))), {
    up: 1,
    speedMbps: 25000,
  });
  // A vector of records: only whole elements, each read in place.
  const vec = { ...link, dir: "vectorIn" as const };
  view.setUint32(24, 0, true);
  view.setUint32(28, 100, true);
  assertEquals(decodeParam(vec, whole.subarray(16, 36), undefined, view), [
    { up: 1, speedMbps: 25000 },
    { up: 0, speedMbps: 100 },
  ]);
});

Deno.test("C text: a char[n] up to its first NUL, and C identifiers", () => {
  assertEquals(cString(new Uint8Array([0x6f, 0x6b, 0, 0x78])), "ok");
  assertEquals(cString(new Uint8Array([0x6f, 0x6b])), "ok", "no NUL: every byte");
  assertEquals(cString(new Uint8Array([0xc3, 0xa9, 0])), "é", "UTF-8");
  assertEquals(cString(new Uint8Array(4)), "");
  for (const good of ["a", "_x9", "mtu_9000", "A"]) assertEquals(isCIdentifier(good), true, good);
  for (const bad of ["", "9a", "a-b", "a b", "é", 7, undefined, null]) {
    assertEquals(isCIdentifier(bad), false, String(bad));
  }
});

Deno.test("a member the driver fills in (out): may be left out of a value, goes as zero, kept by the JSON form", () => {
  const Req = t.struct({
    cns: t.u8,
    status: t.field(t.i32, { out: true }),
    sc: t.bits(t.u8, 7, { out: true }),
  }, { name: "Req", packed: true });
  assertEquals(
    [Req.size, Req.fields.map((f) => f.out ?? false)],
    [6, [false, true, true]],
    "no layout change",
  );
  const buf = new Uint8Array(Req.size).fill(0xff);
  Req.encode(new DataView(buf.buffer), 0, { cns: 1 } as never, "req", new CallerBuffers());
  assertEquals([...buf], [1, 0, 0, 0, 0, 0], "what was left out is zero");
  assertThrows(
    () => Req.encode(new DataView(buf.buffer), 0, { status: 0 } as never, "req", new CallerBuffers()),
    ValueError,
    "req.cns: missing field",
  );
  assertEquals(Req.fromJson({ cns: 2 }, "req"), { cns: 2 } as never);
  const json = Req.describe();
  assertEquals((json as { struct: Record<string, unknown> }).struct.status, { field: "i32", out: true });
  const again = typeFromJson(json, "Req") as typeof Req;
  assertEquals(again.fields.map((f) => f.out ?? false), [false, true, true]);
  assertThrows(() => t.field(t.u32, { out: "yes" as never }), TypeError, "out must be true or false");
});
