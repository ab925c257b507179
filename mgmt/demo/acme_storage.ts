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
import { t } from "../params.ts";
import { defineSignature } from "../signature.ts";

/** Device state. */
export const DeviceState = t.enumOf({ online: 0, offline: 1, degraded: 2 }, t.u32, "DeviceState");

/** Identity and health of a device. */
export const DeviceInfo = t.struct({
  model: t.string(40),
  serial: t.string(20),
  capacityBytes: t.u64,
  blockSize: t.u32,
  state: DeviceState,
  temperatureC: t.f32,
  writeCache: t.bool,
  latencyUs: t.array(t.f64, 4),
}, "DeviceInfo");

/** Temperature thresholds (signed fields of every width). */
export const Thresholds = t.struct({
  warnC: t.i16,
  critC: t.i16,
  hysteresis: t.i8,
  offsetMilliC: t.i64,
  sequence: t.i32,
}, "Thresholds");

/** One SMART attribute. */
export const SmartAttr = t.struct({ id: t.u8, value: t.u8, worst: t.u8, raw: t.u64 }, "SmartAttr");

/** Kind of a device event. */
export const DeviceEventKind = t.enumOf({ attached: 1, detached: 2, mediumError: 3 }, t.u8, "DeviceEventKind");

/** The `acmeStorMgmt` 2.1.0.0 signature by vendor `acme`. */
export const acmeStorage = defineSignature({
  name: "acmeStorMgmt",
  vendor: "acme",
  version: "2.1.0.0",
  doc: "Demo storage adapter: device info, write cache, thresholds, SMART, LBA remap, device events",
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
    deviceEvent: {
      id: 32,
      location: "user",
      doc: "A device came or went, or reported an error",
      params: { kind: t.in(DeviceEventKind), lba: t.in(t.u64), detail: t.vectorIn(t.u8) },
    },
  },
});
