/**
 * vmkmgmt for Deno: drive VMware ESXi's kernel-module management channel (the `vmk_Mgmt` API)
 * from TypeScript, through `Deno.dlopen` on libvmkmgmt — the vendor's library on ESXi, or this
 * project's ABI-faithful library and simulated vmkernel anywhere else.
 *
 * Describe a signature once; invoke kernel callbacks with typed, checked parameters; receive
 * kernel events as handlers or async iterators; close with `await using`.
 *
 * @example
 * ```ts ignore
 * import { acmeNic, open } from "./mod.ts";
 *
 * await using nic = await open(acmeNic);
 * for (const inst of await nic.instances()) {
 *   const { stats } = await nic.invoke("getStats", { instance: inst });
 *   console.log(inst.name, stats.mtu, stats.rxPackets);
 * }
 * const { status } = await nic.invoke("setMtu", { instance: "vmnic1", mtu: 9000 });
 * const link = nic.waitFor("linkEvent", { timeout: 5000 });
 * await nic.invoke("reset", { instance: "vmnic1" });
 * console.log((await link).params.state);
 * ```
 *
 * Permissions: `--allow-ffi` (and `--allow-env` for `VMKMGMT_LIB`/`VMKMGMT_SIM_SOCKET`,
 * `--allow-read`, and `--allow-run=make` the first time the simulator library is built).
 * @module
 */
export { t } from "./mgmt/params.ts";
export type { Direction, Param, VectorOptions } from "./mgmt/params.ts";
export {
  type EnumType,
  type Field,
  type StructType,
  type Type,
  type TypeJson,
  ValueError,
  type ValueOf,
} from "./mgmt/types.ts";
export {
  type CallbackDef,
  type CallbackInfo,
  defineSignature,
  type Elem,
  type EventName,
  type EventParams,
  formatVersion,
  type InvokeParams,
  type InvokeResult,
  type KernelCallbackName,
  type KeysWhere,
  MAX_CALLBACK_PARMS,
  MAX_INSTANCES,
  type ParamInfo,
  type ParamsOf,
  parseVersion,
  RESERVED_CALLBACKS,
  type Signature,
  type SignatureDef,
  SignatureError,
  signatureFromJson,
  type SignatureJson,
  type VectorResult,
  type VectorValue,
} from "./mgmt/signature.ts";
export { decodeParam, encodeParam, paramFromJson, paramToJson } from "./mgmt/codec.ts";
export {
  type AnyEventOf,
  type Callbacks,
  type EventOf,
  type InstanceRef,
  type InvokeArgs,
  type InvokeInput,
  type InvokeOptions,
  open,
  type OpenOptions,
  Session,
} from "./mgmt/session.ts";
export type {
  EventStats,
  EventStream,
  Instance,
  KernelEvent,
  StreamOptions,
  WaitOptions,
} from "./mgmt/events.ts";
export { ERRNO, errnoMessage, errnoName, type ErrorContext, VmkMgmtError } from "./ffi/errno.ts";
export { LibraryError, type LibraryInfo, libraryInfo, type LibrarySource } from "./ffi/library.ts";
export { toJsonLine, writeJsonLine } from "./util/ndjson.ts";
export { type InterruptTrap, trapInterrupts } from "./util/interrupt.ts";
export { crc32 } from "./util/crc32.ts";
export { parseDuration } from "./util/duration.ts";
export * from "./mgmt/demo/acme_nic.ts";
export * from "./mgmt/demo/acme_storage.ts";
