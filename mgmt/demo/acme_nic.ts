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
import type { Param } from "../params.ts";
import { t } from "../t.ts";
import { defineSignature, type Signature } from "../signature.ts";
import type { StructType } from "../types/struct.ts";

/** Values of {@link NicStats}. */
export interface NicStatsValue {
  /** Packets received since the driver loaded (a u64: it may pass 2^53). */
  rxPackets: bigint;
  /** Packets sent since the driver loaded (u64). */
  txPackets: bigint;
  /** Bytes received since the driver loaded (u64). */
  rxBytes: bigint;
  /** Bytes sent since the driver loaded (u64). */
  txBytes: bigint;
  /** 1 when the link is up. */
  linkUp: number;
  /** The MTU in bytes, 68..9000 (`setMtu` refuses others with status 22). */
  mtu: number;
  /** The kernel module's name, up to 31 characters (a `char[32]`). */
  driver: string;
}

/** Values of {@link EchoMsg}. */
export interface EchoMsgValue {
  /** Sequence number; the kernel returns it plus one. */
  seq: bigint;
  /** 56 bytes echoed unchanged. */
  payload: Uint8Array;
}

/** Values of {@link LinkState}. */
export interface LinkStateValue {
  /** 1 up, 0 down. */
  up: number;
  /** Link speed, 0 when down. */
  speedMbps: number;
}

/** Interface counters and settings (72 bytes). */
export const NicStats: StructType<NicStatsValue> = t.struct({
  rxPackets: t.u64,
  txPackets: t.u64,
  rxBytes: t.u64,
  txBytes: t.u64,
  linkUp: t.u32,
  mtu: t.u32,
  driver: t.string(32),
}, { name: "NicStats", packed: true });

/** A sequence number and a payload echoed back by the kernel (64 bytes). */
export const EchoMsg: StructType<EchoMsgValue> = t.struct({ seq: t.u64, payload: t.bytes(56) }, {
  name: "EchoMsg",
  packed: true,
});

/** Link state carried by `linkEvent` (8 bytes). */
export const LinkState: StructType<LinkStateValue> = t.struct({ up: t.u32, speedMbps: t.u32 }, {
  name: "LinkState",
  packed: true,
});

/** The literal definition of {@link acmeNic}, from which invoke and event types are derived. */
export interface AcmeNicDef {
  /** What the kernel module registers; `open` finds the API by this and the vendor. */
  readonly name: "acmeNicMgmt";
  /** The vendor half of the API's key, as the driver registers it. */
  readonly vendor: "acme";
  /** Must match the driver's revision exactly, or `open` fails with ENODEV. */
  readonly version: "1.0.0.0";
  /** Shown by the REPL's `describe` and `sigs`. */
  readonly doc: string;
  /** The callbacks by the names typed calls use; each comment gives its id and kind. */
  readonly callbacks: {
    /** id 16, sync: counters of the instance. */
    readonly getStats: {
      readonly id: 16;
      readonly sync: true;
      readonly doc: string;
      readonly params: { readonly stats: Param<"out", StructType<NicStatsValue>> };
    };
    /** id 17, sync: set the MTU. */
    readonly setMtu: {
      readonly id: 17;
      readonly sync: true;
      readonly doc: string;
      readonly params: {
        readonly mtu: Param<"in", typeof t.u32>;
        readonly status: Param<"out", typeof t.i32>;
      };
    };
    /** id 18, async: link down then up. */
    readonly reset: { readonly id: 18; readonly sync: false; readonly doc: string };
    /** id 19, sync: flash an image, CRC-32 back. */
    readonly flashFirmware: {
      readonly id: 19;
      readonly sync: true;
      readonly doc: string;
      readonly params: {
        readonly image: Param<"vectorIn", typeof t.u8>;
        readonly crc: Param<"out", typeof t.u32>;
      };
    };
    /** id 20, sync: read the log. */
    readonly readLog: {
      readonly id: 20;
      readonly sync: true;
      readonly doc: string;
      readonly params: {
        readonly buffer: Param<"vectorOut", typeof t.u8>;
        readonly length: Param<"out", typeof t.u32>;
      };
    };
    /** id 21, sync: echo. */
    readonly echo: {
      readonly id: 21;
      readonly sync: true;
      readonly doc: string;
      readonly params: { readonly msg: Param<"inout", StructType<EchoMsgValue>> };
    };
    /** id 22, sync: send linkEvents to the caller. */
    readonly triggerEvents: {
      readonly id: 22;
      readonly sync: true;
      readonly doc: string;
      readonly params: { readonly count: Param<"in", typeof t.u32> };
    };
    /** id 32, user: the link changed. */
    readonly linkEvent: {
      readonly id: 32;
      readonly location: "user";
      readonly doc: string;
      readonly params: { readonly state: Param<"in", StructType<LinkStateValue>> };
    };
    /** id 33, user: a log line. */
    readonly logEvent: {
      readonly id: 33;
      readonly location: "user";
      readonly doc: string;
      readonly params: { readonly message: Param<"in", ReturnType<typeof t.string>> };
    };
  };
}

/** The `acmeNicMgmt` 1.0.0.0 signature by vendor `acme`. */
export const acmeNic: Signature<AcmeNicDef> = defineSignature({
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
