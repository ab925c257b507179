/**
 * C struct layouts of the vmk_Mgmt ABI (x86_64, LP64) and their codecs. Pure byte work: the
 * addresses to store are passed in as bigint; `test/layout_test.ts` holds every number here to
 * what a C program compiled from `native/vmkmgmt.h` prints.
 *
 * @example
 * ```ts
 * import { LAYOUT } from "./layout.ts";
 * LAYOUT.vmk_MgmtCallbackInfo.size; // 64
 * ```
 * @module
 */
import type { CCallback } from "../mgmt/signature.ts";

/** Sizes, alignments and field offsets. */
export const LAYOUT = {
  vmk_Name: { size: 32, align: 1 },
  vmk_MgmtCallbackInfo: {
    size: 64,
    align: 8,
    location: 0,
    callback: 8,
    synchronous: 16,
    numParms: 17,
    parmSizes: 20,
    parmTypes: 36,
    callbackId: 56,
  },
  vmk_MgmtApiSignature: {
    size: 80,
    align: 8,
    version: 0,
    name: 4,
    vendor: 36,
    numCallbacks: 68,
    callbacks: 72,
  },
  vmk_MgmtInstances: { size: 1288, align: 8, numInstances: 0, instanceIds: 8, instanceNames: 264 },
  vmk_MgmtVectorParm: { size: 16, align: 8, length: 0, dataPtr: 8 },
  enumSize: 4,
} as const;

const utf8 = new TextEncoder();

/** Writes a `vmk_Name` (NUL-padded; throws if it does not fit 31 bytes). */
export function writeName(view: DataView, offset: number, name: string): void {
  const bytes = utf8.encode(name);
  if (bytes.length > LAYOUT.vmk_Name.size - 1) {
    throw new RangeError(`name ${JSON.stringify(name)} exceeds 31 bytes`);
  }
  const dst = new Uint8Array(view.buffer, view.byteOffset + offset, LAYOUT.vmk_Name.size);
  dst.fill(0);
  dst.set(bytes);
}

/** Reads a `vmk_Name`. */
export function readName(view: DataView, offset: number): string {
  const src = new Uint8Array(view.buffer, view.byteOffset + offset, LAYOUT.vmk_Name.size);
  const end = src.indexOf(0);
  return new TextDecoder().decode(src.subarray(0, end < 0 ? src.length : end));
}

/** Encodes the `vmk_MgmtCallbackInfo[]` table; `fnPtrs[i]` is the user callback's address or 0n. */
export function encodeCallbackInfos(
  callbacks: readonly CCallback[],
  fnPtrs: readonly bigint[],
): Uint8Array<ArrayBuffer> {
  const L = LAYOUT.vmk_MgmtCallbackInfo;
  const out = new Uint8Array(Math.max(1, callbacks.length) * L.size);
  const v = new DataView(out.buffer);
  callbacks.forEach((c, i) => {
    const o = i * L.size;
    v.setUint32(o + L.location, c.location, true);
    v.setBigUint64(o + L.callback, fnPtrs[i] ?? 0n, true);
    v.setUint8(o + L.synchronous, c.synchronous);
    v.setUint8(o + L.numParms, c.numParms);
    for (let k = 0; k < 4; k++) {
      v.setUint32(o + L.parmSizes + 4 * k, c.parmSizes[k] ?? 0, true);
      v.setUint32(o + L.parmTypes + 4 * k, c.parmTypes[k] ?? 0, true);
    }
    v.setBigUint64(o + L.callbackId, c.callbackId, true);
  });
  return out;
}

/** Decodes a `vmk_MgmtCallbackInfo[]` table (for tests and diagnostics). */
export function decodeCallbackInfos(bytes: Uint8Array, count: number): (CCallback & { callback: bigint })[] {
  const L = LAYOUT.vmk_MgmtCallbackInfo;
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Array.from({ length: count }, (_, i) => {
    const o = i * L.size;
    return {
      location: v.getUint32(o + L.location, true),
      callback: v.getBigUint64(o + L.callback, true),
      synchronous: v.getUint8(o + L.synchronous),
      numParms: v.getUint8(o + L.numParms),
      parmSizes: [0, 1, 2, 3].map((k) => v.getUint32(o + L.parmSizes + 4 * k, true)),
      parmTypes: [0, 1, 2, 3].map((k) => v.getUint32(o + L.parmTypes + 4 * k, true)),
      callbackId: v.getBigUint64(o + L.callbackId, true),
    };
  });
}

/** Encodes a `vmk_MgmtApiSignature` whose `callbacks` pointer is `callbacksAddr` (0n for none). */
export function encodeApiSignature(
  sig: { version: number; name: string; vendor: string; numCallbacks: number },
  callbacksAddr: bigint,
): Uint8Array<ArrayBuffer> {
  const L = LAYOUT.vmk_MgmtApiSignature;
  const out = new Uint8Array(L.size);
  const v = new DataView(out.buffer);
  v.setUint32(L.version, sig.version >>> 0, true);
  writeName(v, L.name, sig.name);
  writeName(v, L.vendor, sig.vendor);
  v.setInt32(L.numCallbacks, sig.numCallbacks, true);
  v.setBigUint64(L.callbacks, callbacksAddr, true);
  return out;
}

/** An instance as `vmk_MgmtUserGetInstances` reports it. */
export interface InstanceEntry {
  /** Instance id. */
  id: bigint;
  /** Instance name. */
  name: string;
}

/** Decodes a filled `vmk_MgmtInstances` (at most 32 entries are trusted). */
export function decodeInstances(bytes: Uint8Array): InstanceEntry[] {
  const L = LAYOUT.vmk_MgmtInstances;
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Math.min(v.getUint8(L.numInstances), 32);
  return Array.from({ length: n }, (_, i) => ({
    id: v.getBigUint64(L.instanceIds + 8 * i, true),
    name: readName(v, L.instanceNames + LAYOUT.vmk_Name.size * i),
  }));
}

/** Encodes a `vmk_MgmtVectorParm`. */
export function encodeVectorParm(length: number, dataAddr: bigint): Uint8Array<ArrayBuffer> {
  const L = LAYOUT.vmk_MgmtVectorParm;
  const out = new Uint8Array(L.size);
  const v = new DataView(out.buffer);
  v.setBigUint64(L.length, BigInt(length), true);
  v.setBigUint64(L.dataPtr, dataAddr, true);
  return out;
}
