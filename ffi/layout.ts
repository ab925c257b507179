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
import { cString } from "../abi/c_text.ts";
import { MAX_CALLBACK_PARMS, MAX_INSTANCES, NAME_MAX_BYTES, NAME_SIZE } from "../abi/facts.ts";

/** Sizes, alignments and field offsets. */
export const LAYOUT = {
  vmk_Name: { size: NAME_SIZE, align: 1 },
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
  // Our library's extension structs (vmkmgmt.h), for vmkmgmt_UserInitWith.
  vmkmgmt_BufferField: {
    size: 32,
    align: 8,
    callbackId: 0,
    parm: 8,
    offset: 12,
    direction: 16,
    length: 20,
    lengthOffset: 24,
    lengthSize: 28,
  },
  vmkmgmt_InitOptions: {
    size: 48,
    align: 8,
    host: 0,
    buffers: 8,
    numBuffers: 16,
    why: 24,
    whyLen: 32,
    pid: 40,
  },
  // The head of each entry vmkmgmt_QueueDrain writes; an event's parts follow it (completion_queue.ts).
  vmkmgmt_QueueEntry: { size: 24, align: 8, kind: 0, length: 4, key: 8, status: 16 },
  enumSize: 4,
} as const;

/** The C-level description of one callback: `vmk_MgmtCallbackInfo` without its function pointer. */
export interface CCallback {
  /** `VMK_MGMT_CALLBACK_KERNEL` (1) or `_USER` (2). */
  location: number;
  /** 0 or 1. */
  synchronous: number;
  /** Parameter count, 0..4. */
  numParms: number;
  /** `parmSizes[4]`: fixed size, or for a vector the size of one element. */
  parmSizes: number[];
  /** `parmTypes[4]`: `vmk_MgmtParmType` numbers. */
  parmTypes: number[];
  callbackId: bigint;
  /** The callback's name, for diagnostics (not part of the ABI). */
  label?: string;
  /** The parameters' names, for diagnostics (not part of the ABI). */
  paramLabels?: readonly string[];
}

/** The C-level description of a signature: `vmk_MgmtApiSignature` and its callback table. */
export interface CSignature {
  /** `vmk_revnum`. */
  version: number;
  name: string;
  vendor: string;
  /** The callback table, in order. */
  callbacks: CCallback[];
}

const utf8 = new TextEncoder();

/** Writes a `vmk_Name` (NUL-padded; throws a RangeError when it does not fit). */
export function writeName(view: DataView, offset: number, name: string): void {
  const bytes = utf8.encode(name);
  if (bytes.length > NAME_MAX_BYTES) {
    throw new RangeError(`name ${JSON.stringify(name)} exceeds ${NAME_MAX_BYTES} bytes`);
  }
  const dst = new Uint8Array(view.buffer, view.byteOffset + offset, LAYOUT.vmk_Name.size);
  dst.fill(0);
  dst.set(bytes);
}

/** Reads a `vmk_Name`. */
export function readName(view: DataView, offset: number): string {
  return cString(new Uint8Array(view.buffer, view.byteOffset + offset, LAYOUT.vmk_Name.size));
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
    for (let k = 0; k < MAX_CALLBACK_PARMS; k++) {
      v.setUint32(o + L.parmSizes + 4 * k, c.parmSizes[k] ?? 0, true);
      v.setUint32(o + L.parmTypes + 4 * k, c.parmTypes[k] ?? 0, true);
    }
    v.setBigUint64(o + L.callbackId, c.callbackId, true);
  });
  return out;
}

/** Decodes a `vmk_MgmtCallbackInfo[]` table (for tests and diagnostics). */
export function decodeCallbackInfos(
  bytes: Uint8Array,
  count: number,
): (Omit<CCallback, "label" | "paramLabels"> & { callback: bigint })[] {
  const L = LAYOUT.vmk_MgmtCallbackInfo;
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Array.from({ length: count }, (_, i) => {
    const o = i * L.size;
    return {
      location: v.getUint32(o + L.location, true),
      callback: v.getBigUint64(o + L.callback, true),
      synchronous: v.getUint8(o + L.synchronous),
      numParms: v.getUint8(o + L.numParms),
      parmSizes: Array.from(
        { length: MAX_CALLBACK_PARMS },
        (_, k) => v.getUint32(o + L.parmSizes + 4 * k, true),
      ),
      parmTypes: Array.from(
        { length: MAX_CALLBACK_PARMS },
        (_, k) => v.getUint32(o + L.parmTypes + 4 * k, true),
      ),
      callbackId: v.getBigUint64(o + L.callbackId, true),
    };
  });
}

/** Encodes a `vmk_MgmtApiSignature` whose `callbacks` pointer is `callbacksAddr` (0n for none). */
export function encodeApiSignature(sig: CSignature, callbacksAddr: bigint): Uint8Array<ArrayBuffer> {
  const L = LAYOUT.vmk_MgmtApiSignature;
  const out = new Uint8Array(L.size);
  const v = new DataView(out.buffer);
  v.setUint32(L.version, sig.version >>> 0, true);
  writeName(v, L.name, sig.name);
  writeName(v, L.vendor, sig.vendor);
  v.setInt32(L.numCallbacks, sig.callbacks.length, true);
  v.setBigUint64(L.callbacks, callbacksAddr, true);
  return out;
}

/** An instance as `vmk_MgmtUserGetInstances` reports it. */
export interface InstanceEntry {
  id: bigint;
  name: string;
}

/** Decodes a filled `vmk_MgmtInstances` (at most `VMK_MGMT_MAX_INSTANCES` entries are trusted). */
export function decodeInstances(bytes: Uint8Array): InstanceEntry[] {
  const L = LAYOUT.vmk_MgmtInstances;
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Math.min(v.getUint8(L.numInstances), MAX_INSTANCES);
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

/** One `vmkmgmt_BufferField`: a pointer member to a caller buffer, as HELLO tells a bridge. */
export interface CBufferField {
  callbackId: bigint;
  /** The parameter's index. */
  parm: number;
  /** Offset of the pointer in the parameter (in each element of a vector). */
  offset: number;
  /** `VMKMGMT_BUFFER_IN` (1), `_OUT` (2) or `_INOUT` (3). */
  direction: number;
  /** A fixed length in bytes, or the unsigned member holding it. */
  length: number | { offset: number; size: number };
}

/** Encodes `vmkmgmt_BufferField[]`. */
export function encodeBufferFields(fields: readonly CBufferField[]): Uint8Array<ArrayBuffer> {
  const L = LAYOUT.vmkmgmt_BufferField;
  const out = new Uint8Array(Math.max(1, fields.length) * L.size);
  const view = new DataView(out.buffer);
  fields.forEach((f, i) => {
    const o = i * L.size;
    view.setBigUint64(o + L.callbackId, f.callbackId, true);
    view.setUint32(o + L.parm, f.parm, true);
    view.setUint32(o + L.offset, f.offset, true);
    view.setUint32(o + L.direction, f.direction, true);
    if (typeof f.length === "number") {
      view.setUint32(o + L.length, f.length, true);
    } else {
      view.setUint32(o + L.lengthOffset, f.length.offset, true);
      view.setUint32(o + L.lengthSize, f.length.size, true);
    }
  });
  return out;
}

/** Encodes a `vmkmgmt_InitOptions` from the addresses of its parts (0n for none). */
export function encodeInitOptions(
  o: { host: bigint; buffers: bigint; numBuffers: number; why: bigint; whyLen: number },
): Uint8Array<ArrayBuffer> {
  const L = LAYOUT.vmkmgmt_InitOptions;
  const out = new Uint8Array(L.size);
  const view = new DataView(out.buffer);
  view.setBigUint64(L.host, o.host, true);
  view.setBigUint64(L.buffers, o.buffers, true);
  view.setUint32(L.numBuffers, o.numBuffers, true);
  view.setBigUint64(L.why, o.why, true);
  view.setBigUint64(L.whyLen, BigInt(o.whyLen), true);
  return out;
}
