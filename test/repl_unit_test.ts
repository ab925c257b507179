/** REPL pieces without a terminal: tokenizer, call-argument parsing, completion and hints. */
import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
  assertStringIncludes,
  assertThrows,
} from "@std/assert";
import { isIncomplete, splitCommands, tokenize } from "../repl/tokenize.ts";
import { parseCallArgs } from "../repl/values.ts";
import { complete, hint } from "../repl/completer.ts";
import { ReplState } from "../repl/state.ts";
import { acmeNic, acmeStorage } from "../demo.ts";
import { signatureFromJson, ValueError } from "../mod.ts";
import type { Session, Signature } from "../mod.ts";
import { t } from "../mod.ts";
import { formatResult, integerText, paint } from "../repl/format.ts";
import { recordsTable } from "../repl/tables.ts";

Deno.test("tokenizer: quotes, JSON with spaces, command splitting, continuation", () => {
  assertEquals(tokenize(`call x a="two words" b={"k": [1, 2]} 'c d'`).map((t) => t.text), [
    "call",
    "x",
    "a=two words",
    `b={"k": [1, 2]}`,
    "c d",
  ]);
  assertEquals(splitCommands(`open a; call b {"x": ";"}; help`), ["open a", `call b {"x": ";"}`, "help"]);
  assertEquals(splitCommands("open a; js const x = 1; x + 1\nhelp"), [
    "open a",
    "js const x = 1; x + 1",
    "help",
  ]);
  assertEquals(isIncomplete(`call echo {"msg": {`), true);
  assertEquals(isIncomplete(`call echo {"msg": {}}`), false);
  assertEquals(isIncomplete(`x="abc`), true);
  assertThrows(() => tokenize(`a "b`), Error, "unterminated");
});

Deno.test("call arguments: typed by the signature", async (t) => {
  const cb = (name: string, sig: Signature = acmeNic as unknown as Signature) =>
    sig.list.find((c) => c.name === name)!;
  const read = (
    p: string,
  ) => (p === "fw.bin" ? Promise.resolve(new Uint8Array([9, 9])) : Promise.reject(new Error("No such file")));
  const parse = (name: string, line: string, sig?: Signature) =>
    parseCallArgs(cb(name, sig), tokenize(line), read);
  await t.step("integers, u64s and byte fields, by field or as one JSON object", async () => {
    assertEquals(await parse("setMtu", "vmnic1 mtu=9000"), { instance: "vmnic1", params: { mtu: 9000 } });
    assertEquals((await parse("echo", "1 msg.seq=18446744073709551615 msg.payload=0a0b")).params, {
      msg: { seq: 18446744073709551615n, payload: new Uint8Array([10, 11]) },
    });
    assertEquals((await parse("echo", `1 msg.seq=1 msg.payload="hi"`)).params.msg, {
      seq: 1n,
      payload: new Uint8Array([104, 105]),
    });
    assertEquals(
      await parse("echo", `{"instance": "vmnic0", "msg": {"seq": 18446744073709551615, "payload": "ff"}}`),
      {
        instance: "vmnic0",
        params: { msg: { seq: 18446744073709551615n, payload: new Uint8Array([255]) } },
      },
    );
  });
  await t.step("a byte vector as hex, as text, or @file; an unreadable file named", async () => {
    assertEquals((await parse("flashFirmware", "1 image=0x0102")).params.image, new Uint8Array([1, 2]));
    assertEquals((await parse("flashFirmware", `1 image="AB"`)).params.image, new Uint8Array([65, 66]));
    assertEquals((await parse("flashFirmware", "1 image=@fw.bin")).params.image, new Uint8Array([9, 9]));
    await assertRejects(
      () => parse("flashFirmware", "1 image=@nope.bin"),
      ValueError,
      "image: cannot read nope.bin",
    );
    await assertRejects(() => parse("flashFirmware", "1 image=xyz"), ValueError, "expected hex bytes");
  });
  await t.step(
    "a vector's capacity and --timeout; a bad value, a stray word, a field given twice",
    async () => {
      assertEquals(await parse("readLog", "1 buffer=64 --timeout 50"), {
        instance: "1",
        params: { buffer: 64 },
        timeout: 50,
      });
      await assertRejects(() => parse("setMtu", "1 mtu=abc"), ValueError, "mtu: expected u32");
      await assertRejects(() => parse("setMtu", "1 2"), ValueError, 'unexpected "2"');
      await assertRejects(
        () => parse("echo", `1 msg={"seq":1} msg.seq=2`),
        ValueError,
        "msg.seq: given twice",
      );
      // A JSON argument is a base that words change (a template with one value edited).
      assertEquals(
        ((await parse("echo", `1 {"msg":{"seq":1,"payload":"00"}} msg.seq=2`)).params.msg as { seq: bigint })
          .seq,
        2n,
      );
      assertEquals(
        (await parse("echo", `msg.seq=3 {"instance":"1","msg":{"seq":1,"payload":"00"}}`)).instance,
        "1",
      );
      await assertRejects(
        () => parse("echo", `1 {"msg":{"seq":1}} {"msg":{"seq":1}}`),
        ValueError,
        "msg: given twice",
      );
      await assertRejects(
        () => parse("echo", `1 msg="x" msg.seq=2`),
        ValueError,
        "msg: is given both as a whole value and by field",
      );
    },
  );
  await t.step("signed vectors, bools and record fields (acmeStorMgmt)", async () => {
    const st = acmeStorage as unknown as Signature;
    assertEquals((await parse("remapLbas", "1 lbas=[1, 2] offset=-1", st)).params, {
      lbas: [1n, 2n],
      offset: -1n,
    });
    assertEquals((await parse("setWriteCache", "1 enable=false", st)).params, { enable: false });
    assertEquals(
      (await parse(
        "thresholds",
        "1 value.warnC=-3 value.critC=9 value.hysteresis=1 value.offsetMilliC=0 value.sequence=0",
        st,
      )).params.value,
      {
        warnC: -3,
        critC: 9,
        hysteresis: 1,
        offsetMilliC: 0n,
        sequence: 0,
      },
    );
  });
});

Deno.test("completion and hints without a terminal (enum values, struct paths, flags)", async () => {
  const sig = signatureFromJson({
    name: "modes",
    vendor: "acme",
    version: "1.0.0.0",
    types: { Mode: { enum: { off: 0, eco: 1, turbo: 2 } } },
    callbacks: {
      setMode: {
        id: 16,
        params: {
          mode: { dir: "in", type: "Mode" },
          cfg: { dir: "in", type: { struct: { a: "u8", b: { struct: { c: "u8" } } } } },
        },
      },
      changed: { id: 32, location: "user", params: { mode: { dir: "in", type: "Mode" } } },
    },
  });
  const state = new ReplState({ json: false, color: false });
  state.signatures.set(sig.name, { signature: sig, source: "test" });
  const fake = { signature: sig, closed: true } as unknown as Session;
  state.sessions.set(sig.name, fake);
  state.current = sig.name;
  state.instanceCache.set(sig.name, [{ id: 1n, name: "m0" }]);
  assertEquals(await complete(state, "call setMode m0 mode="), [
    ["mode=off", "mode=eco", "mode=turbo"],
    "mode=",
  ]);
  assertEquals(await complete(state, "call setMode m0 mode=t"), [["mode=turbo "], "mode=t"]);
  assertEquals(await complete(state, "call setMode m0 "), [["mode=", "cfg."], ""]);
  assertEquals(await complete(state, "call setMode m0 cfg."), [["cfg.a=", "cfg.b."], "cfg."]);
  assertEquals(await complete(state, "call setMode m0 cfg.b."), [["cfg.b.c="], "cfg.b."]);
  assertEquals(await complete(state, "call setMode m0 mode=eco "), [["cfg."], ""]);
  assertEquals(await complete(state, "watch "), [["changed "], ""]);
  assertEquals(await complete(state, "watch changed --f"), [["--for", "--filter"], "--f"]);
  assertEquals(await complete(state, "use "), [["modes "], ""]);
  assertEquals(await complete(state, "js "), [[], ""]);
  assertEquals(hint(state, "call setMode "), "<instance> mode=<off|eco|turbo> cfg.<field>=… | cfg={…}");
  assertEquals(hint(state, "call setMode m0 mode=eco "), "cfg.<field>=… | cfg={…}");
  assertEquals(hint(state, "call nope "), "");
});

Deno.test("control requests from key=value words (shared by `deno task sim ctl` and the REPL's sim)", async () => {
  const { controlRequest } = await import("../sim/client.ts");
  assertEquals(
    controlRequest("fail", [
      "instance=vmnic1",
      "errno=EIO",
      "count=2",
      "name=123",
      "id=18446744073709551615",
    ]),
    {
      op: "fail",
      instance: "vmnic1",
      errno: "EIO",
      count: 2,
      name: "123",
      id: "18446744073709551615",
    },
  );
  assertEquals(controlRequest("emit", ['params={"lba": 18446744073709551615}']).params, {
    lba: "18446744073709551615",
  });
  assertThrows(() => controlRequest("fail", ["oops"]), Error, 'expected key=value, got "oops"');
});

Deno.test("output that fits: a long list is cut with '… N more'; show -a (full) gives it all", () => {
  const cb = {
    name: "x",
    sync: true,
    params: [{ name: "v", dir: "out", type: t.array(t.u32, 300), size: 1200 }],
  } as unknown as Parameters<typeof formatResult>[0];
  const value = { v: Array.from({ length: 300 }, (_, i) => i * 1000) };
  const cut = formatResult(cb, value, paint(false));
  assertMatch(cut, /, … \d+ more\]$/);
  assert(cut.length < 400, cut);
  const full = formatResult(cb, value, paint(false), "all");
  assertStringIncludes(full, "299000]");
});

Deno.test("bytes you can read: short ones inline, long ones a hexdump cut to a few rows, show --hex all of them", () => {
  const cb = {
    name: "x",
    sync: true,
    params: [{ name: "page", dir: "out", type: t.bytes(200), size: 200 }],
  } as unknown as Parameters<typeof formatResult>[0];
  const page = new Uint8Array(200).map((_, i) => i);
  page.set(new TextEncoder().encode("ACME"), 0x40);
  const cut = formatResult(cb, { page }, paint(false)).split("\n");
  assertEquals(cut, [
    "page  (200 bytes)",
    "  0000  00 01 02 03 04 05 06 07  08 09 0a 0b 0c 0d 0e 0f  |................|",
    "  0010  10 11 12 13 14 15 16 17  18 19 1a 1b 1c 1d 1e 1f  |................|",
    "  0020  20 21 22 23 24 25 26 27  28 29 2a 2b 2c 2d 2e 2f  | !\"#$%&'()*+,-./|",
    "  0030  30 31 32 33 34 35 36 37  38 39 3a 3b 3c 3d 3e 3f  |0123456789:;<=>?|",
    "  … 136 more bytes (show --hex)",
  ]);
  const all = formatResult(cb, { page }, paint(false), "hex").split("\n");
  assertEquals(all.length, 1 + 13);
  assertStringIncludes(all[5], "|ACMEDEFGHIJKLMNO|");
  // Rows of zeros after the first are one '*' row; what is cut is counted from the rows shown.
  const zeros = formatResult(cb, { page: new Uint8Array(4096) }, paint(false)).split("\n");
  assertEquals(zeros.slice(2), [
    "  *",
    `  0ff0  ${"00 ".repeat(8)} ${"00 ".repeat(7)}00  |................|`,
  ]);
  const short = formatResult(cb, { page: new Uint8Array([1, 2, 0xff]) }, paint(false));
  assertEquals(short, "page  0x0102ff (3 bytes)");
  // Text stays text, except in show --hex.
  const text = { page: new TextEncoder().encode("acme-nic") };
  assertEquals(formatResult(cb, text, paint(false)), 'page  "acme-nic" (8 bytes)');
  assertStringIncludes(formatResult(cb, text, paint(false), "hex"), "|acme-nic|");
});

Deno.test("a checksum is shown in hex, as the scripts print it; other integers in decimal", () => {
  const cb = {
    name: "flash",
    sync: true,
    params: [{ name: "crc", dir: "out", type: t.u32, size: 4 }, {
      name: "nsid",
      dir: "out",
      type: t.u32,
      size: 4,
    }],
  } as unknown as Parameters<typeof formatResult>[0];
  assertEquals(formatResult(cb, { crc: 0x1a2b3c, nsid: 16 }, paint(false)), "crc   0x001a2b3c\nnsid  16");
  assertEquals(integerText(0xdeadbeefn, "imageCrc32"), "0xdeadbeef");
  assertEquals(integerText(42, "checksum"), "0x0000002a");
  assertEquals(integerText(42, "count"), "42");
});

Deno.test("a list of records of scalars is a table (numbers right-aligned); one that is not, or too wide, is not", () => {
  const cb = {
    name: "x",
    sync: true,
    params: [{ name: "rows", dir: "out", type: t.u32, size: 4 }],
  } as unknown as Parameters<typeof formatResult>[0];
  const rows = [{ name: "a", n: 5, id: new Uint8Array([1, 2]) }, {
    name: "bb",
    n: 120,
    id: new Uint8Array([3, 4]),
  }];
  assertEquals(formatResult(cb, { rows }, paint(false)).split("\n"), [
    "rows  ",
    "  #  name    n  id",
    "  0  a       5  0x0102",
    "  1  bb    120  0x0304",
  ]);
  // A nested list does not fit a cell: each record on its own, as before.
  const nested = formatResult(cb, { rows: [{ a: 1, list: [1, 2] }] }, paint(false));
  assertStringIncludes(nested, "[0]");
  assertEquals(recordsTable([{ label: "x", value: { a: "y".repeat(200) } }], "#", 80, paint(false)), null);
  assertEquals(
    recordsTable([{ label: "x", value: { a: 1 } }, { label: "y", value: { b: 1 } }], "#", 80, paint(false)),
    null,
    "rows of different shapes",
  );
  // Columns are named less a first part every row shares.
  assertEquals(
    recordsTable([{ label: "vmnic0", value: { stats: { mtu: 1500 } } }], "INSTANCE", 80, paint(false)),
    "INSTANCE   mtu\nvmnic0    1500",
  );
});

Deno.test("hints: the struct fields still missing, the rest of a partly typed name", () => {
  const state = new ReplState({ json: false, color: false });
  state.signatures.set(acmeNic.name, { signature: acmeNic as unknown as Signature, source: "built-in" });
  state.sessions.set(acmeNic.name, { signature: acmeNic } as unknown as Session);
  state.current = acmeNic.name;
  assertEquals(hint(state, "call echo vmnic0 msg.seq=1 "), "msg.payload=<u8[56]>");
  assertEquals(hint(state, "call echo vmnic0 msg.seq=1 msg.payload=00 "), "");
  // A partly typed name that only one callback (or op) starts with: the rest, then what it takes.
  assertEquals(hint(state, "call setM"), "tu <instance> mtu=<u32>");
  assertEquals(hint(state, "sim fa"), "il instance=… errno=… [count=…] [after=…] [api=…]");
});

Deno.test("@~/ completes files in the home directory and keeps the ~", async () => {
  const home = await Deno.makeTempDir({ prefix: "vmkmgmt-home-" });
  const before = Deno.env.get("HOME");
  try {
    await Deno.writeTextFile(`${home}/fw.bin`, "x");
    Deno.env.set("HOME", home);
    const state = new ReplState({ json: false, color: false });
    state.signatures.set(acmeNic.name, { signature: acmeNic as unknown as Signature, source: "built-in" });
    state.sessions.set(
      acmeNic.name,
      { signature: acmeNic, instances: () => Promise.resolve([]) } as unknown as Session,
    );
    state.current = acmeNic.name;
    const [list] = await complete(state, "call flashFirmware vmnic0 image=@~/f");
    assertEquals(list, ["image=@~/fw.bin "]);
  } finally {
    if (before !== undefined) Deno.env.set("HOME", before);
    await Deno.remove(home, { recursive: true });
  }
});
