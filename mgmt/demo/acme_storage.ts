/**
 * The `acmeStorMgmt` demo signature: a storage-adapter-like driver exercising enums, floats,
 * signed integers, bools, fixed arrays, vectors of structs and a VECTOR_INOUT parameter.
 *
 * @example
 * ```ts
 * import { acmeStorage } from "./acme_storage.ts";
 * acmeStorage.callbacks.getDeviceInfo.id; // 16
 * ```
 * @module
 */
import type { Param } from "../params.ts";
import { t } from "../t.ts";
import { defineSignature, type Signature } from "../signature.ts";
import type { EnumType } from "../types/enum.ts";
import type { StructType } from "../types/struct.ts";
import type { UnionType } from "../types/union.ts";

/** Values of {@link DeviceInfo}. */
export interface DeviceInfoValue {
  /** As the device reports it, up to 39 characters (a `char[40]`). */
  model: string;
  /** Up to 19 characters (a `char[20]`). */
  serial: string;
  /** Usable bytes (a u64: past 2^53 on large devices). */
  capacityBytes: bigint;
  /** Logical block size in bytes (the demo's devices: 4096). */
  blockSize: number;
  /** Health. */
  state: "online" | "offline" | "degraded" | number;
  /** Composite temperature in °C (an f32). */
  temperatureC: number;
  /** The volatile write cache is enabled (a C `bool`). */
  writeCache: boolean;
  /** Latency percentiles p50, p90, p99, p99.9 in µs. */
  latencyUs: number[];
}

/** Values of {@link Thresholds}. */
export interface ThresholdsValue {
  /** °C at which the driver warns (i16). */
  warnC: number;
  /** °C at which the driver takes the device offline (i16). */
  critC: number;
  /** °C the temperature must fall below a threshold before it re-arms (i8). */
  hysteresis: number;
  /** Sensor offset in milli-degrees. */
  offsetMilliC: bigint;
  /** Sequence number (returned +1). */
  sequence: number;
}

/** Values of {@link SmartAttr}. */
export interface SmartAttrValue {
  /** The SMART attribute number (e.g. 194, temperature). */
  id: number;
  /** Normalised value. */
  value: number;
  /** Worst value seen. */
  worst: number;
  /** The raw counter, vendor-specific in meaning (a u64). */
  raw: bigint;
}

/** Device state. */
export const DeviceState: EnumType<"online" | "offline" | "degraded"> = t.enumOf(
  { online: 0, offline: 1, degraded: 2 },
  t.u32,
  "DeviceState",
);

/** Identity and health of a device. */
export const DeviceInfo: StructType<DeviceInfoValue> = t.struct({
  model: t.string(40),
  serial: t.string(20),
  _pad0: t.pad(t.u32, 32),
  capacityBytes: t.u64,
  blockSize: t.u32,
  state: DeviceState,
  temperatureC: t.f32,
  writeCache: t.bool,
  _pad1: t.pad(t.u32, 24),
  latencyUs: t.array(t.f64, 4),
}, { name: "DeviceInfo", packed: true });

/** Temperature thresholds (signed fields of every width). */
export const Thresholds: StructType<ThresholdsValue> = t.struct({
  warnC: t.i16,
  critC: t.i16,
  hysteresis: t.i8,
  _pad0: t.pad(t.u32, 24),
  offsetMilliC: t.i64,
  sequence: t.i32,
  _pad1: t.pad(t.u32, 32),
}, { name: "Thresholds", packed: true });

/** One SMART attribute. */
export const SmartAttr: StructType<SmartAttrValue> = t.struct({
  id: t.u8,
  value: t.u8,
  worst: t.u8,
  _pad0: t.pad(t.u64, 40),
  raw: t.u64,
}, { name: "SmartAttr", packed: true });

/** Kind of a device event. */
export const DeviceEventKind: EnumType<"attached" | "detached" | "mediumError"> = t.enumOf(
  { attached: 1, detached: 2, mediumError: 3 },
  t.u8,
  "DeviceEventKind",
);

/** Admin command opcodes of {@link AdminCmd} (an NVMe-shaped command). */
export const AdminOpcode: EnumType<"getLogPage" | "identify" | "setFeatures" | "getFeatures"> = t.enumOf(
  { getLogPage: 2, identify: 6, setFeatures: 9, getFeatures: 10 },
  t.u32,
  "AdminOpcode",
);

/** Values of {@link AdminCdw10}: a command sets one member; a result shows every view. */
export interface AdminCdw10Value {
  /** The whole word. */
  raw?: number;
  /** Identify: what to identify (1 = controller) and the controller id. */
  identify?: { cns: number; cntid: number };
  /** Get/Set Features: the feature and which value (0 current, 1 default, 2 saved). */
  getFeatures?: { featureID: number; sel: number };
}

/** Command dword 10: one word, three layouts (a union of bitfield structs). */
export const AdminCdw10: UnionType<AdminCdw10Value> = t.union({
  raw: t.u32,
  identify: t.struct(
    { cns: t.bits(t.u32, 8), _r0: t.pad(t.u32, 8), cntid: t.bits(t.u32, 16) },
    "Cdw10Identify",
  ),
  getFeatures: t.struct(
    { featureID: t.bits(t.u32, 8), sel: t.bits(t.u32, 3), _r0: t.pad(t.u32, 21) },
    "Cdw10Features",
  ),
}, "AdminCdw10");

/** Values of {@link AdminStatus}. */
export interface AdminStatusValue {
  /** Phase tag. */
  phase: number;
  /** Status code: 0 success, 1 invalid opcode, 2 invalid field. */
  sc: number;
  /** Status code type (0 generic). */
  sct: number;
  /** More status in a log page. */
  more: number;
  /** Do not retry. */
  dnr: number;
}

/** Completion status: one 16-bit word of bitfields. */
export const AdminStatus: StructType<AdminStatusValue> = t.struct({
  phase: t.bits(t.u16, 1),
  sc: t.bits(t.u16, 8),
  sct: t.bits(t.u16, 3),
  _r0: t.pad(t.u16, 2),
  more: t.bits(t.u16, 1),
  dnr: t.bits(t.u16, 1),
}, "AdminStatus");

/** Values of {@link AdminCmd}. */
export interface AdminCmdValue {
  /** The admin opcode by name, or its number for one this signature does not name. */
  opcode: "getLogPage" | "identify" | "setFeatures" | "getFeatures" | number;
  /** Fused-operation bits (2 bits: 0 normal, 1 first, 2 second). */
  fuse: number;
  /** Command id, echoed in the completion. */
  cid: number;
  /** Namespace id. */
  nsid: number;
  /** Command dword 10. */
  cdw10: AdminCdw10Value;
  /** Completion dword 0: the command's result. */
  result: number;
  /** The completion's status bitfields (16 bits, as NVMe packs them). */
  status: AdminStatusValue;
  /** Identify: the model, filled as strncpy fills it (may have no NUL). */
  model: string;
}

/** An NVMe-shaped admin command and its completion, packed (34 bytes; 36 if it were not). */
export const AdminCmd: StructType<AdminCmdValue> = t.struct({
  opcode: t.bits(AdminOpcode, 8),
  fuse: t.bits(t.u32, 2),
  _r0: t.pad(t.u32, 6),
  cid: t.bits(t.u32, 16),
  nsid: t.u32,
  cdw10: AdminCdw10,
  result: t.u32,
  status: AdminStatus,
  model: t.chars(16),
}, { name: "AdminCmd", packed: true });

/** Values of {@link AsyncEventInfo}. */
export interface AsyncEventInfoValue {
  /** Event type: 0 error, 1 SMART/health, 2 notice. */
  type: number;
  /** Event information (here: the feature that changed). */
  info: number;
  /** The log page that tells more. */
  logPage: number;
}

/** An NVMe-shaped asynchronous event: one word of bitfields. */
export const AsyncEventInfo: StructType<AsyncEventInfoValue> = t.struct({
  type: t.bits(t.u32, 3),
  _r0: t.pad(t.u32, 5),
  info: t.bits(t.u32, 8),
  logPage: t.bits(t.u32, 8),
  _r1: t.pad(t.u32, 8),
}, "AsyncEventInfo");

/** The literal definition of {@link acmeStorage}. */
export interface AcmeStorageDef {
  /** What the kernel module registers; `open` finds the API by this and the vendor. */
  readonly name: "acmeStorMgmt";
  /** The vendor half of the API's key, as the driver registers it. */
  readonly vendor: "acme";
  /** Must match the driver's revision exactly, or `open` fails with ENODEV. */
  readonly version: "2.1.0.0";
  /** Shown by the REPL's `describe` and `sigs`. */
  readonly doc: string;
  /** The callbacks by the names typed calls use; each comment gives its id and kind. */
  readonly callbacks: {
    /** id 16: identity and health. */
    readonly getDeviceInfo: {
      readonly id: 16;
      readonly sync: true;
      readonly doc: string;
      readonly params: { readonly info: Param<"out", StructType<DeviceInfoValue>> };
    };
    /** id 17: write cache on/off. */
    readonly setWriteCache: {
      readonly id: 17;
      readonly sync: true;
      readonly doc: string;
      readonly params: {
        readonly enable: Param<"in", typeof t.bool>;
        readonly status: Param<"out", typeof t.i32>;
      };
    };
    /** id 18: thresholds in, previous out. */
    readonly thresholds: {
      readonly id: 18;
      readonly sync: true;
      readonly doc: string;
      readonly params: { readonly value: Param<"inout", StructType<ThresholdsValue>> };
    };
    /** id 19: SMART attributes. */
    readonly readSmart: {
      readonly id: 19;
      readonly sync: true;
      readonly doc: string;
      readonly params: {
        readonly attrs: Param<"vectorOut", StructType<SmartAttrValue>>;
        readonly count: Param<"out", typeof t.u32>;
      };
    };
    /** id 20: LBA translation. */
    readonly remapLbas: {
      readonly id: 20;
      readonly sync: true;
      readonly doc: string;
      readonly params: {
        readonly lbas: Param<"vectorInOut", typeof t.u64>;
        readonly offset: Param<"in", typeof t.i64>;
      };
    };
    /** id 21, async: rescan. */
    readonly scan: { readonly id: 21; readonly sync: false; readonly doc: string };
    /** id 22: an NVMe-shaped admin command. */
    readonly adminCommand: {
      readonly id: 22;
      readonly sync: true;
      readonly doc: string;
      readonly params: { readonly cmd: Param<"inout", StructType<AdminCmdValue>> };
    };
    /** id 32, user: a device event. */
    readonly deviceEvent: {
      readonly id: 32;
      readonly location: "user";
      readonly doc: string;
      readonly params: {
        readonly kind: Param<"in", EnumType<"attached" | "detached" | "mediumError">>;
        readonly lba: Param<"in", typeof t.u64>;
        readonly detail: Param<"vectorIn", typeof t.u8>;
      };
    };
    /** id 33, user: an NVMe-shaped asynchronous event. */
    readonly asyncEvent: {
      readonly id: 33;
      readonly location: "user";
      readonly doc: string;
      readonly params: { readonly event: Param<"in", StructType<AsyncEventInfoValue>> };
    };
  };
}

/** The `acmeStorMgmt` 2.1.0.0 signature by vendor `acme`. */
export const acmeStorage: Signature<AcmeStorageDef> = defineSignature({
  name: "acmeStorMgmt",
  vendor: "acme",
  version: "2.1.0.0",
  doc: "Demo storage adapter: device info, write cache, thresholds, SMART, LBA remap, admin commands, events",
  callbacks: {
    getDeviceInfo: { id: 16, sync: true, doc: "Identity and health", params: { info: t.out(DeviceInfo) } },
    setWriteCache: {
      id: 17,
      sync: true,
      doc: "Enable or disable the write cache",
      params: { enable: t.in(t.bool), status: t.out(t.i32) },
    },
    thresholds: {
      id: 18,
      sync: true,
      doc: "Set thresholds; returns the previous ones with sequence+1",
      params: { value: t.inout(Thresholds) },
    },
    readSmart: {
      id: 19,
      sync: true,
      doc: "SMART attributes; count says how many were written",
      params: { attrs: t.vectorOut(SmartAttr, { lengthFrom: "count" }), count: t.out(t.u32) },
    },
    remapLbas: {
      id: 20,
      sync: true,
      doc: "Each LBA comes back translated by the adapter's offset",
      params: { lbas: t.vectorInOut(t.u64), offset: t.in(t.i64) },
    },
    scan: { id: 21, sync: false, doc: "Rescan the bus: a deviceEvent per device to all sessions" },
    adminCommand: {
      id: 22,
      sync: true,
      doc:
        "An NVMe-shaped admin command: identify, getFeatures, setFeatures (the value in result; sends an asyncEvent)",
      params: { cmd: t.inout(AdminCmd) },
    },
    deviceEvent: {
      id: 32,
      location: "user",
      doc: "A device came or went, or reported an error",
      params: { kind: t.in(DeviceEventKind), lba: t.in(t.u64), detail: t.vectorIn(t.u8) },
    },
    asyncEvent: {
      id: 33,
      location: "user",
      doc: "An asynchronous event: a feature changed (type 2, notice)",
      params: { event: t.in(AsyncEventInfo) },
    },
  },
});
