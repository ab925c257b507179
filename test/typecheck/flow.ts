/**
 * Type-level proof that the signature's types flow into invoke and events. Never run: only
 * `deno check`ed (by test/typecheck_test.ts). Each `@ts-expect-error` must be an error, or the
 * check fails because the directive is unused.
 */
import type { acmeNic, acmeStorage } from "../../demo.ts";
import { type Session, signatureFromJson } from "../../mod.ts";

export async function typed(s: Session<typeof acmeNic.def>, st: Session<typeof acmeStorage.def>) {
  const { stats } = await s.invoke("getStats", { instance: "vmnic0" });
  const rx: bigint = stats.rxPackets;
  const mtu: number = stats.mtu;
  const driver: string = stats.driver;
  const { status } = await s.invoke("setMtu", { instance: 1n, mtu: 9000 });
  const st32: number = status;
  const { crc } = await s.invoke("flashFirmware", { instance: 1, image: new Uint8Array(4) });
  const { buffer, length } = await s.invoke("readLog", { instance: 1, buffer: 4096 });
  const bytes: Uint8Array = buffer;
  const { msg } = await s.invoke("echo", { msg: { seq: 1n, payload: new Uint8Array() } });
  const seq: bigint = msg.seq;
  await s.invoke("reset", { instance: "vmnic1" });
  await s.invoke("reset");
  void [rx, mtu, driver, st32, crc, bytes, length, seq];

  // @ts-expect-error unknown callback name
  await s.invoke("getStat", { instance: 1 });
  // @ts-expect-error a user-location callback cannot be invoked
  await s.invoke("linkEvent", { state: { up: 1, speedMbps: 1 } });
  // @ts-expect-error missing parameter mtu
  await s.invoke("setMtu", { instance: 1 });
  // @ts-expect-error unknown parameter mtuu
  await s.invoke("setMtu", { instance: 1, mtu: 1, mtuu: 2 });
  // @ts-expect-error wrong value type: string for u32
  await s.invoke("setMtu", { instance: 1, mtu: "9000" });
  // @ts-expect-error wrong value type: number for u64 field of a struct
  await s.invoke("echo", { msg: { seq: "1", payload: new Uint8Array() } });
  // @ts-expect-error out parameters are not given
  await s.invoke("getStats", { instance: 1, stats: {} });
  // @ts-expect-error vector-out capacity is a number of elements
  await s.invoke("readLog", { instance: 1, buffer: new Uint8Array(10) });
  // @ts-expect-error the result has no such field
  void (await s.invoke("getStats")).stats.nope;
  // @ts-expect-error setMtu's status is a number
  const wrong: string = (await s.invoke("setMtu", { mtu: 1 })).status;
  void wrong;

  for await (const ev of s.events("linkEvent")) {
    const up: number = ev.params.state.up;
    // @ts-expect-error linkEvent has no message
    void ev.params.message;
    void up;
  }
  s.on("logEvent", (ev) => {
    const m: string = ev.params.message;
    void m;
  });
  const any = await s.waitFor("logEvent");
  void any.params.message;
  // @ts-expect-error getStats is not an event
  s.events("getStats");
  // @ts-expect-error unknown event
  s.on("nope", () => {});

  const info = (await st.invoke("getDeviceInfo")).info;
  const state: "online" | "offline" | "degraded" | number = info.state;
  const lat: number[] = info.latencyUs;
  const { attrs } = await st.invoke("readSmart", { attrs: 8 });
  const raw: bigint = attrs[0].raw;
  const { lbas } = await st.invoke("remapLbas", { lbas: [1n], offset: -1n });
  const l0: bigint = lbas[0];
  // @ts-expect-error enum takes its names
  await st.invoke("getDeviceInfo", { instance: 1, info: "x" });
  // @ts-expect-error vectorInOut of u64 takes bigint elements
  await st.invoke("remapLbas", { lbas: ["1"], offset: 0n });
  void [state, lat, raw, l0];

  // A JSON signature is untyped: any name compiles, and the check moves to run time.
  const loose = signatureFromJson({});
  void loose;
}

/** Real-driver types flow too: packed structs, bitfields (padding carries no value), unions, chars, pointers. */
export async function realDriverTypes() {
  const { defineSignature, t } = await import("../../mod.ts");
  const Cdw10 = t.union({
    raw: t.u32,
    getFeatures: t.struct({ featureID: t.bits(t.u32, 8), sel: t.bits(t.u32, 3), _r: t.pad(t.u32, 21) }),
  }, "Cdw10");
  const Cmd = t.struct({
    opCode: t.bits(t.u8, 8),
    lba: t.bits(t.u64, 48),
    cdw10: Cdw10,
    name: t.chars(10),
    addr: t.buffer({ dir: "out", length: 4096 }),
  }, { name: "Cmd", packed: true });
  const sig = defineSignature({
    name: "nvmeMgmt",
    vendor: "VMware",
    version: [1, 0, 0, 1007],
    callbacks: { passthru: { id: 16, params: { cmd: t.inout(Cmd) } } },
  });
  const s = null as unknown as Session<typeof sig.def>;
  const { cmd } = await s.invoke("passthru", {
    cmd: { opCode: 6, lba: 1n, cdw10: { getFeatures: { featureID: 7, sel: 0 } }, name: "nvme0", addr: 0n },
  });
  const fid: number | undefined = cmd.cdw10.getFeatures?.featureID;
  const lba: bigint = cmd.lba;
  void [fid, lba];
  // @ts-expect-error padding bits carry no value
  void cmd.cdw10.getFeatures?._r;
  // @ts-expect-error a 64-bit bitfield is a bigint
  await s.invoke("passthru", { cmd: { opCode: 6, lba: 1, cdw10: { raw: 0 }, name: "", addr: 0n } });
  // @ts-expect-error union members are named
  await s.invoke("passthru", { cmd: { opCode: 6, lba: 1n, cdw10: { nope: 0 }, name: "", addr: 0n } });

  // Anonymous members: their names are the record's (a union's optional, a struct's required).
  const Anon = t.struct({
    cdw0: t.u32,
    _w: t.anon(
      t.union({ cdw10: t.u32, _id: t.anon(t.struct({ cns: t.bits(t.u32, 8), cntid: t.bits(t.u32, 16) })) }),
    ),
  });
  const a: import("../../mod.ts").ValueOf<typeof Anon> = { cdw0: 1, cdw10: 2 };
  const cns: number | undefined = a.cns;
  void cns;
  // @ts-expect-error cdw0 is not in an anonymous union: it is required
  const b: import("../../mod.ts").ValueOf<typeof Anon> = { cdw10: 2 };
  void b;
}
