/**
 * The `acmeNicMgmt` demo signature: a NIC-like driver served by the simulator's demo module.
 * User code, the REPL, the scripts and the simulator all import this one definition.
 *
 * @example
 * ```ts
 * import { acmeNic } from "./acme_nic.ts";
 * acmeNic.callbacks.setMtu.id; // 17
 * ```
 * @module
 */
import { t } from "../params.ts";
import { defineSignature } from "../signature.ts";

/** Interface counters and settings (72 bytes). */
export const NicStats = t.struct({
  rxPackets: t.u64,
  txPackets: t.u64,
  rxBytes: t.u64,
  txBytes: t.u64,
  linkUp: t.u32,
  mtu: t.u32,
  driver: t.string(32),
}, "NicStats");

/** A sequence number and a payload echoed back by the kernel (64 bytes). */
export const EchoMsg = t.struct({ seq: t.u64, payload: t.bytes(56) }, "EchoMsg");

/** Link state carried by `linkEvent` (8 bytes). */
export const LinkState = t.struct({ up: t.u32, speedMbps: t.u32 }, "LinkState");

/** The `acmeNicMgmt` 1.0.0.0 signature by vendor `acme`. */
export const acmeNic = defineSignature({
  name: "acmeNicMgmt",
  vendor: "acme",
  version: "1.0.0.0",
  doc: "Demo NIC driver: counters, MTU, reset, firmware flash, log, echo and link events",
  callbacks: {
    getStats: {
      id: 16,
      sync: true,
      doc: "Counters and settings of the instance",
      params: { stats: t.out(NicStats) },
    },
    setMtu: {
      id: 17,
      sync: true,
      doc: "Set the MTU (68..9000); status 0, or 22 (EINVAL) and nothing changes",
      params: { mtu: t.in(t.u32), status: t.out(t.i32) },
    },
    reset: { id: 18, sync: false, doc: "Link goes down then up: two linkEvent callbacks to all sessions" },
    flashFirmware: {
      id: 19,
      sync: true,
      doc: "Flash a firmware image; crc is the CRC-32 (IEEE) of what the kernel received",
      params: { image: t.vectorIn(t.u8), crc: t.out(t.u32) },
    },
    readLog: {
      id: 20,
      sync: true,
      doc: "Read the instance's log text into a buffer of the given capacity",
      params: { buffer: t.vectorOut(t.u8, { lengthFrom: "length" }), length: t.out(t.u32) },
    },
    echo: {
      id: 21,
      sync: true,
      doc: "Returns seq+1 with the payload unchanged",
      params: { msg: t.inout(EchoMsg) },
    },
    triggerEvents: {
      id: 22,
      sync: true,
      doc: "Send count linkEvent callbacks to the calling session, then return",
      params: { count: t.in(t.u32) },
    },
    linkEvent: { id: 32, location: "user", doc: "The link changed", params: { state: t.in(LinkState) } },
    logEvent: { id: 33, location: "user", doc: "A log line", params: { message: t.in(t.string(64)) } },
  },
});
