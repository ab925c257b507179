/** Every ABI rule of defineSignature and the JSON loader, each with its error message. */
import { assertEquals, assertThrows } from "@std/assert";
import { SignatureError } from "../mgmt/errors.ts";
import { defineSignature, formatVersion, parseVersion } from "../mgmt/signature.ts";
import { signatureFromJson } from "../mgmt/signature_json.ts";
import { t } from "../mgmt/t.ts";
import { acmeNic, acmeStorage } from "../demo.ts";

// deno-lint-ignore no-explicit-any
type Any = any;
const base = { name: "api", vendor: "acme", version: "1.2.3.4" };
const bad = (def: Any, message: string) => assertThrows(() => defineSignature(def), SignatureError, message);
const cb = (c: Any) => ({ ...base, callbacks: { c } });

Deno.test("name, vendor, version", () => {
  bad({ ...base, name: "", callbacks: {} }, 'signature name: "" is 0 bytes; must be 1..31');
  bad({ ...base, name: "x".repeat(32), callbacks: {} }, "is 32 bytes; must be 1..31");
  bad({ ...base, vendor: "", callbacks: {} }, "signature vendor:");
  bad({ ...base, vendor: 5, callbacks: {} }, "signature vendor: expected a string");
  bad({ ...base, version: "1.0", callbacks: {} }, 'expected "major.minor.update.patch"');
  bad({ ...base, version: "1.256.0.0", callbacks: {} }, "minor 256 is out of range 0..255");
  bad({ ...base, callbacks: null }, "signature callbacks: expected an object");
  assertEquals(defineSignature({ ...base, name: "x".repeat(31), callbacks: {} }).name.length, 31);
  assertEquals(parseVersion("1.2.3.4"), 0x01020304);
  assertEquals(formatVersion(0xff000001), "255.0.0.1");
});

Deno.test("callback ids, locations and sync", () => {
  bad(cb({ id: 15 }), "callback c.id: 15 is reserved (ids 0..15); use 16 or more");
  bad(cb({ id: 1.5 }), "callback c.id: expected an integer");
  bad(
    { ...base, callbacks: { a: { id: 16 }, b: { id: 16 } } },
    "callback b.id: 16 is already used by callback a",
  );
  bad(cb({ id: 16, location: "both" }), 'callback c.location: expected "kernel" or "user"');
  bad(
    cb({ id: 16, location: "user", sync: true }),
    "callback c.sync: user-location callbacks are always asynchronous",
  );
  bad(cb({ id: 16, sync: "yes" }), "callback c.sync: expected true or false");
  bad(cb({ id: 16, extra: 1 }), "callback c: unknown field extra");
  bad(
    { ...base, callbacks: { "bad-name": { id: 16 } } },
    "callback bad-name: the name must be an identifier",
  );
  const s = defineSignature(cb({ id: 16 }));
  assertEquals(s.callbacks.c.sync, true, "kernel callbacks default to sync");
  assertEquals(s.callbacks.c.location, "kernel");
});

Deno.test("parameters: count, directions, names, lengthFrom", () => {
  const p = t.in(t.u8);
  bad(cb({ id: 16, params: { a: p, b: p, c: p, d: p, e: p } }), "callback c.params: 5 parameters; at most 4");
  bad(
    cb({ id: 16, location: "user", params: { a: t.out(t.u8) } }),
    "callback c.params.a: user-location callbacks take only in and vectorIn parameters, not out",
  );
  bad(cb({ id: 16, location: "user", params: { a: t.vectorInOut(t.u8) } }), "not vectorInOut");
  for (const dir of ["out", "inout", "vectorOut", "vectorInOut"] as const) {
    bad(
      cb({ id: 16, sync: false, params: { a: t[dir](t.u8) } }),
      `callback c.params.a: ${dir} needs a synchronous callback`,
    );
  }
  bad(cb({ id: 16, params: { instance: p } }), '"instance" is reserved');
  bad(cb({ id: 16, params: { "a b": p } }), "callback c.params.a b: the name must be an identifier");
  bad(
    cb({ id: 16, params: { a: { dir: "sideways", type: t.u8 } } }),
    "expected a parameter such as t.in(t.u32)",
  );
  bad(cb({ id: 16, params: { a: { dir: "in", type: 5 } } }), "callback c.params.a.type: not a type");
  bad(
    cb({ id: 16, params: { a: t.in(t.u8, { lengthFrom: "n" }) } }),
    "lengthFrom: only vectorOut and vectorInOut",
  );
  bad(
    cb({ id: 16, params: { a: t.vectorOut(t.u8, { lengthFrom: "n" }) } }),
    '"n" must name an out or inout integer parameter',
  );
  bad(
    cb({ id: 16, params: { a: t.vectorOut(t.u8, { lengthFrom: "n" }), n: t.in(t.u32) } }),
    "must name an out or inout",
  );
  assertThrows(() => t.in(undefined as Any), TypeError, "t.in(…) needs a type");
  const ok = defineSignature(
    cb({ id: 16, params: { v: t.vectorOut(t.u8, { lengthFrom: "n" }), n: t.out(t.u32) } }),
  );
  assertEquals(ok.callbacks.c.params.map((x) => [x.name, x.index, x.size]), [["v", 0, 1], ["n", 1, 4]]);
});

Deno.test("the demo signatures and their JSON round trip", () => {
  assertEquals(acmeNic.callbacks.getStats.params[0].size, 72);
  assertEquals(acmeNic.callbacks.echo.params[0].size, 64);
  assertEquals(acmeNic.callbacks.linkEvent.params[0].size, 8);
  assertEquals(acmeNic.byId(33)?.name, "logEvent");
  for (const sig of [acmeNic, acmeStorage]) {
    const json = JSON.parse(JSON.stringify(sig.toJson()));
    const back = signatureFromJson(json);
    assertEquals(back.toJson(), sig.toJson());
    assertEquals(back.revnum, sig.revnum);
    assertEquals(
      back.list.map((c) => c.params.map((p) => [p.dir, p.size])),
      sig.list.map((c) => c.params.map((p) => [p.dir, p.size])),
    );
  }
});

Deno.test("JSON loader: named types and clear errors", () => {
  const json = {
    name: "j",
    vendor: "v",
    version: "1.0.0.0",
    types: { Pair: { struct: { a: "u32", b: "u32" } } },
    callbacks: { get: { id: 16, params: { p: { dir: "out", type: "Pair" } } } },
  };
  const s = signatureFromJson(json);
  assertEquals(s.callbacks.get.params[0].type.name, "Pair");
  assertEquals(s.callbacks.get.params[0].size, 8);
  assertThrows(
    () => signatureFromJson([]),
    SignatureError,
    "expected an object with name, vendor, version, callbacks",
  );
  assertThrows(
    () => signatureFromJson({ ...json, callbacks: [] }),
    SignatureError,
    "callbacks: expected an object",
  );
  assertThrows(
    () =>
      signatureFromJson({
        ...json,
        callbacks: { get: { id: 16, params: { p: { dir: "out", type: "Nope" } } } },
      }),
    SignatureError,
    'callback get.params.p.type: unknown type "Nope"',
  );
  assertThrows(
    () =>
      signatureFromJson({
        ...json,
        callbacks: { get: { id: 16, params: { p: { dir: "up", type: "u8" } } } },
      }),
    SignatureError,
    "callback get.params.p.dir: expected one of in, out, inout, vectorIn, vectorOut, vectorInOut",
  );
  assertThrows(
    () => signatureFromJson({ ...json, types: { T: { string: -1 } } }),
    SignatureError,
    "types.T: string length",
  );
  assertThrows(() => signatureFromJson({ ...json, version: "x" }), SignatureError, "signature version");
});

Deno.test("typeDocs: the C's comments on types and members ride along, through JSON too; bad ones are refused", () => {
  const def = {
    name: "docs",
    vendor: "acme",
    version: "1.0.0.0",
    callbacks: { get: { id: 16, params: { info: t.out(t.struct({ speed: t.u32 }, "info_t")) } } },
    typeDocs: { info_t: { doc: "One adapter.", members: { speed: "negotiated speed, Gb/s" } } },
  } as const;
  const sig = defineSignature(def);
  assertEquals(sig.typeDocs?.info_t.members?.speed, "negotiated speed, Gb/s");
  const json = sig.toJson();
  assertEquals(json.typeDocs, def.typeDocs);
  assertEquals(signatureFromJson(json).typeDocs, def.typeDocs);
  assertEquals(defineSignature({ ...def, typeDocs: undefined }).toJson().typeDocs, undefined);
  assertThrows(
    () => signatureFromJson({ ...json, typeDocs: { info_t: { members: { speed: 5 } } } }),
    SignatureError,
    "signature typeDocs.info_t.members.speed: expected text",
  );
  assertThrows(
    () => signatureFromJson({ ...json, typeDocs: { info_t: { comment: "x" } } }),
    SignatureError,
    "signature typeDocs.info_t: unknown key comment (doc, members)",
  );
});
