/**
 * The real-driver types' behaviour and errors: bitfields, unions, full char arrays, enums in chosen
 * integers, pointers to caller buffers, record attributes, C-style revisions, and the JSON form of
 * all of it. (Layouts and bytes against the compiler: test/types_diff_test.ts.)
 */
import { assert, assertEquals, assertThrows } from "@std/assert";
import { SignatureError, ValueError } from "../mgmt/errors.ts";
import { defineSignature } from "../mgmt/signature.ts";
import { signatureFromJson } from "../mgmt/signature_json.ts";
import { t } from "../mgmt/t.ts";
import type { Type } from "../mgmt/types/type.ts";
import type { RecordType } from "../mgmt/types/record.ts";
import { typeFromJson } from "../mgmt/types/json.ts";
import { encodeParam } from "../mgmt/codec.ts";

function bytes(type: Type<unknown>, value: unknown): Uint8Array {
  const b = new Uint8Array(type.size);
  type.encode(new DataView(b.buffer), 0, value, "cmd");
  return b;
}
const decode = (type: Type<unknown>, b: Uint8Array) => type.decode(new DataView(b.buffer, b.byteOffset), 0);

function valueError(fn: () => unknown, ...parts: string[]): void {
  const e = assertThrows(fn, ValueError);
  for (const p of parts) {
    assert(e.message.includes(p), `${JSON.stringify(e.message)} lacks ${JSON.stringify(p)}`);
  }
}

const GetFeatures = t.struct({ featureID: t.bits(t.u32, 8), sel: t.bits(t.u32, 3), _r: t.pad(t.u32, 21) });
const Cdw10 = t.union({ raw: t.u32, getFeatures: GetFeatures, low: t.u8 }, "Cdw10");
const Cmd = t.struct({ opc: t.u8, cdw10: Cdw10, name: t.chars(10) }, { name: "Cmd", packed: true });

Deno.test("bitfields: values in their bits, signed ones sign-extended, range errors name the field", () => {
  assertEquals([...bytes(GetFeatures, { featureID: 7, sel: 5 })], [7, 5, 0, 0]);
  const Temp = t.struct({ celsius: t.bits(t.i32, 12), warn: t.bits(t.i32, 1), on: t.bits(t.bool, 1) });
  assertEquals(decode(Temp, bytes(Temp, { celsius: -40, warn: -1, on: true })), {
    celsius: -40,
    warn: -1,
    on: true,
  });
  valueError(
    () => bytes(GetFeatures, { featureID: 256, sel: 0 }),
    "cmd.featureID",
    "256 does not fit 8 bits (0..255",
  );
  valueError(() => bytes(Temp, { celsius: 2048, warn: 0, on: false }), "cmd.celsius", "-2048..2047");
  valueError(() => bytes(GetFeatures, { featureID: 1, sel: 0, _r: 0 }), "unknown field _r");
  const Lba = t.struct({ lba: t.bits(t.u64, 48), count: t.bits(t.u64, 16) }, { packed: true });
  assertEquals(decode(Lba, bytes(Lba, { lba: (1n << 48n) - 1n, count: 3n })), {
    lba: (1n << 48n) - 1n,
    count: 3n,
  });
  const Mode = t.enumOf({ off: 0, on: 1, auto: 2 }, t.u8);
  const Ctl = t.struct({ mode: t.bits(Mode, 2), x: t.bits(t.u8, 6) });
  assertEquals(decode(Ctl, bytes(Ctl, { mode: "auto", x: 1 })), { mode: "auto", x: 1 });
  assertEquals(decode(Ctl, Uint8Array.of(3)), { mode: 3, x: 0 });
});

Deno.test("bitfield and record definitions that C would refuse are errors naming what is wrong", () => {
  assertThrows(() => t.bits(t.u8, 9), RangeError, "width must be 1..8 (u8 has 8 bits)");
  assertThrows(() => t.bits(t.u32, 0), RangeError, "a : 0 field has no name (t.pad)");
  assertThrows(() => t.pad(t.u16, 17), RangeError, "0..16");
  assertThrows(() => t.bits(t.f32 as never, 3), TypeError, "must be an integer, an enum or bool");
  assertThrows(() => t.bits(t.bool, 2), RangeError, "1..1");
  assertThrows(
    () => t.struct({ a: t.u8 }, { name: "S", pack: 3 }),
    RangeError,
    "struct S: pack(3) must be a power of two",
  );
  assertThrows(
    () => t.struct({ a: t.u8 }, { name: "S", packd: true } as never),
    TypeError,
    "unknown option packd",
  );
  assertThrows(() => t.union({ a: t.u8 }, { pak: 2 } as never), TypeError, "unknown option pak");
  assertThrows(
    () => t.union({ a: t.u8, p: t.pad(t.u8, 3) }, "U"),
    TypeError,
    "union U.p: a union cannot hold unnamed bitfields",
  );
  assertThrows(
    () => t.struct({ p: t.pad(t.u32, 4) }, "S"),
    SignatureError,
    "struct S needs at least one named member",
  );
  assertThrows(() => t.field(t.u32, { aligned: 3 }), RangeError, "aligned(3) must be a power of two");
  assertThrows(() => t.array(t.aligned(t.u8, 4), 2), RangeError, "alignment 4 exceeds its size 1");
  assertThrows(
    () => t.struct({ addr: t.buffer({ dir: "in", lengthFrom: "len" }), size: t.u32 }, "Img"),
    SignatureError,
    'struct Img.addr: lengthFrom "len" must name an integer member of the same struct',
  );
  assertThrows(
    () => t.buffer({ dir: "sideways" } as never),
    RangeError,
    'dir must be "in", "out" or "inout"',
  );
  assertThrows(() => t.buffer({ dir: "in" }), RangeError, "exactly one of length");
});

Deno.test("unions: a value sets one member, decoding shows every view, disagreeing members are an error", () => {
  assertEquals(Cdw10.size, 4);
  const b = bytes(Cdw10, { getFeatures: { featureID: 0x12, sel: 1 } });
  assertEquals(decode(Cdw10, b), { raw: 0x112, getFeatures: { featureID: 0x12, sel: 1 }, low: 0x12 });
  // A decoded value (every view) encodes back to the same bytes.
  assertEquals(bytes(Cdw10, decode(Cdw10, b)), b);
  assertEquals(bytes(Cdw10, Cdw10.fromJson(Cdw10.toJson(decode(Cdw10, b) as never), "")), b);
  valueError(
    () => bytes(Cdw10, { raw: 1, low: 2 }),
    "cmd: a union value sets one member",
    "raw and low",
    "byte 0",
  );
  valueError(() => bytes(Cdw10, {}), "sets one member: one of raw, getFeatures, low");
  valueError(() => bytes(Cdw10, { nope: 1 }), "unknown member nope; members are raw, getFeatures, low");
  valueError(
    () => bytes(Cmd, { opc: 1, cdw10: { getFeatures: { featureID: 999, sel: 0 } }, name: "" }),
    "cmd.cdw10.getFeatures.featureID",
  );
});

Deno.test("char arrays may be full; one byte more is an error; strings still need their NUL", () => {
  const Name = t.struct({ status: t.u32, deviceName: t.chars(10) }, { name: "IfaceName", packed: true });
  assertEquals(Name.size, 14);
  const full = bytes(Name, { status: 0, deviceName: "0123456789" });
  assertEquals(full.subarray(4), new TextEncoder().encode("0123456789"));
  assertEquals(decode(Name, full), { status: 0, deviceName: "0123456789" });
  valueError(
    () => bytes(Name, { status: 0, deviceName: "0123456789A" }),
    "cmd.deviceName",
    "char[10] holds at most 10 (no NUL needed)",
  );
  valueError(() => bytes(t.string(10), "0123456789"), "holds at most 9 plus NUL");
});

Deno.test("enums in a chosen integer: one byte in a vmk_uint8 field, eight in a vmk_uint64", () => {
  const Type8 = t.enumOf({ IOCTL: 0, LOG: 1 }, t.u8);
  const Req = t.struct({ cmd: t.u32, type: Type8 }, { packed: true });
  assertEquals(Req.size, 5);
  assertEquals([...bytes(Req, { cmd: 1, type: "LOG" })], [1, 0, 0, 0, 1]);
  assertEquals(decode(Req, Uint8Array.of(0, 0, 0, 0, 9)), { cmd: 0, type: 9 });
  const Wide = t.enumOf({ A: 1 }, t.u64);
  assertEquals(Wide.size, 8);
  assertEquals(decode(Wide, bytes(Wide, "A")), "A");
  assertEquals(decode(Wide, bytes(Wide, 1n << 40n)), 1n << 40n);
});

Deno.test("pointers: an address as a bigint; caller buffers say their direction and length", () => {
  const Img = t.struct({ pFileBuffer: t.buffer({ dir: "in", lengthFrom: "size" }), size: t.u32 }, {
    packed: true,
  });
  assertEquals(Img.size, 12);
  assertEquals(decode(Img, bytes(Img, { pFileBuffer: 0x1000n, size: 4 })), { pFileBuffer: 0x1000n, size: 4 });
  assertEquals(Img.describe(), {
    struct: { pFileBuffer: { pointer: "u8", buffer: { dir: "in", lengthFrom: "size" } }, size: "u32" },
    packed: true,
  });
  valueError(() => bytes(t.ptr, -1n), "out of range 0..2^64-1");
  valueError(
    () => bytes(Img, { pFileBuffer: new Uint8Array(4), size: 4 }),
    "cmd.pFileBuffer",
    "caller buffer",
  );
});

Deno.test("revisions as the driver's C writes them: masked like VMK_REVISION_FROM_NUMBERS, shown both ways", () => {
  const def = { name: "nvmeMgmt", vendor: "VMware", callbacks: {} };
  const c = defineSignature({ ...def, version: [1, 0, 0, 1007] });
  assertEquals(c.revnum, 0x010000ef);
  assertEquals(c.version, "1.0.0.239");
  assertEquals(c.versionSource, "VMK_REVISION_FROM_NUMBERS(1, 0, 0, 1007)");
  const raw = defineSignature({ ...def, version: 0x01020304 });
  assertEquals([raw.version, raw.versionSource], ["1.2.3.4", "0x01020304"]);
  assertEquals(defineSignature({ ...def, version: "1.2.0.0" }).versionSource, undefined);
  const e = assertThrows(() => defineSignature({ ...def, version: "1.0.0.1007" }), SignatureError);
  assert(
    e.message.includes("patch 1007 is out of range 0..255") && e.message.includes("version: [1, 0, 0, 1007]"),
  );
  assertThrows(
    () => defineSignature({ ...def, version: [1, 0, 0] as never }),
    SignatureError,
    "four integers",
  );
  assertThrows(() => defineSignature({ ...def, version: 2 ** 32 }), SignatureError, "0..0xffffffff");
  // The JSON form keeps the way it was written.
  assertEquals(c.toJson().version, [1, 0, 0, 1007]);
  assertEquals(signatureFromJson(c.toJson()).revnum, 0x010000ef);
});

Deno.test("the JSON form round-trips every new type, layout included", () => {
  const sig = defineSignature({
    name: "nicMgmt",
    vendor: "acme",
    version: [1, 0, 0, 1007],
    callbacks: {
      passthru: {
        id: 16,
        params: {
          cmd: t.inout(Cmd),
          io: t.in(t.struct({
            addr: t.buffer({ dir: "inout", lengthFrom: "length" }),
            length: t.u32,
            base: t.field(t.u64, { aligned: 16 }),
            x: t.aligned(t.u64, 4),
            z: t.pad(t.u8, 0),
            tail: t.bits(t.u16, 3, { packed: true }),
          }, { name: "Io", pack: 4, aligned: 32 })),
        },
      },
    },
  });
  const json = JSON.parse(JSON.stringify(sig.toJson()));
  const again = signatureFromJson(json);
  assertEquals(again.toJson(), sig.toJson());
  for (const [a, b] of [[sig, again]]) {
    for (const p of a.callbacks.passthru.params) {
      const q = b.callbacks.passthru.params[p.index];
      assertEquals([q.size, q.type.align, q.type.describe()], [p.size, p.type.align, p.type.describe()]);
    }
  }
  // A struct given by JSON encodes the same bytes as the one written with t.
  const value = { opc: 2, cdw10: { getFeatures: { featureID: 7, sel: 1 } }, name: "nvme0" };
  const fromJsonType = typeFromJson(Cmd.describe(), "Cmd");
  assertEquals(bytes(fromJsonType, value), bytes(Cmd, value));
  assertEquals(encodeParam(sig.callbacks.passthru.params[0], value), bytes(Cmd, value));
});

Deno.test("the demo payload structs are packed, as VMware requires, with the sizes and offsets they had", async () => {
  const nic = await import("../mgmt/demo/acme_nic.ts");
  const storage = await import("../mgmt/demo/acme_storage.ts");
  const sizes: [RecordType<unknown>, number][] = [
    [nic.NicStats, 72],
    [nic.EchoMsg, 64],
    [nic.LinkState, 8],
    [storage.DeviceInfo, 120],
    [storage.Thresholds, 24],
    [storage.SmartAttr, 16],
  ];
  for (const [type, size] of sizes) {
    assertEquals([type.name, type.attributes.packed, type.size], [type.name, true, size]);
    // The same members without the explicit padding, naturally aligned: the same offsets.
    const natural = t.struct(Object.fromEntries(type.fields.map((f) => [f.name, f.type])));
    assertEquals(type.fields.map((f) => f.offset), natural.fields.map((f) => f.offset), type.name);
    assertEquals(natural.size, size, type.name);
  }
});

Deno.test("describe shows a C-style revision both ways", async () => {
  const { describeSignature } = await import("../repl/format.ts");
  const plain = { dim: (s: string) => s, bold: (s: string) => s } as Parameters<typeof describeSignature>[1];
  const sig = defineSignature({
    name: "nvmeMgmt",
    vendor: "VMware",
    version: [1, 0, 0, 1007],
    callbacks: {},
  });
  assert(
    describeSignature(sig, plain).startsWith(
      "nvmeMgmt 1.0.0.239 (VMK_REVISION_FROM_NUMBERS(1, 0, 0, 1007) = 0x010000ef)",
    ),
  );
});

Deno.test("anonymous members: their names are the record's, values merge, names must stay unique", () => {
  const Cmd = t.struct({
    cdw0: t.u32,
    _w: t.anon(t.union({
      cdw10: t.u32,
      _id: t.anon(t.struct({ cns: t.bits(t.u32, 8), _r: t.pad(t.u32, 8), cntid: t.bits(t.u32, 16) })),
    })),
  }, "AnonCmd");
  assertEquals(Cmd.size, 8);
  assertEquals(Cmd.fields.map((f) => [f.name, f.offset]), [["cdw0", 0], ["cdw10", 4], ["cns", 4], [
    "cntid",
    6,
  ]]);
  const b = bytes(Cmd, { cdw0: 1, cns: 1, cntid: 0x22 });
  assertEquals([...b], [1, 0, 0, 0, 1, 0, 0x22, 0]);
  assertEquals(decode(Cmd, b), { cdw0: 1, cdw10: 0x220001, cns: 1, cntid: 0x22 });
  assertEquals(bytes(Cmd, decode(Cmd, b)), b, "every view back in");
  assertEquals(bytes(Cmd, { cdw0: 1, cdw10: 0x220001 }), b);
  valueError(() => bytes(Cmd, { cdw0: 1 }), "cmd: a union value sets one member: one of cdw10, cns, cntid");
  valueError(() => bytes(Cmd, { cdw0: 1, cns: 1 }), "cmd.cntid: missing field");
  valueError(
    () => bytes(Cmd, { cdw0: 1, cdw10: 5, cns: 1, cntid: 0 }),
    "cdw10 and cns/cntid",
    "disagree at byte 0",
  );
  assertThrows(
    () => t.struct({ a: t.u32, _b: t.anon(t.struct({ a: t.u8 })) }, "S"),
    SignatureError,
    "struct S: member a is declared twice",
  );
  assertThrows(() => t.anon(t.u32 as never), TypeError, "t.anon(…) needs a t.struct or t.union, got u32");
  const again = typeFromJson(JSON.parse(JSON.stringify(Cmd.describe())), "AnonCmd");
  assertEquals(again.describe(), Cmd.describe());
  assertEquals(bytes(again, { cdw0: 1, cns: 1, cntid: 0x22 }), b);
});
