/**
 * vmkmgmt for Deno: drive VMware ESXi's kernel-module management channel (the `vmk_Mgmt` API)
 * from TypeScript, through `Deno.dlopen` on libvmkmgmt — the vendor's library on ESXi, or this
 * project's ABI-faithful library and simulated vmkernel anywhere else.
 *
 * Describe a signature once; invoke kernel callbacks with typed, checked parameters; receive
 * kernel events as handlers or async iterators; close with `await using`. The demo signatures
 * of the simulator are in `./demo.ts`.
 *
 * Errors: bad input is a `TypeError` ({@link ValueError} naming the parameter) or a `RangeError`
 * (an option), always before any C call; the library or kernel failing is a {@link VmkMgmtError}
 * with the errno, also for a timeout (`ETIMEDOUT`) and a closed session (`EBADF`).
 *
 * @example
 * ```ts ignore
 * import { open } from "./mod.ts";
 * import { acmeNic } from "./demo.ts";
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
export { t, type TypeNamespace } from "./mgmt/t.ts";
export type { Param, ParamMaker, ParamOptions } from "./mgmt/params.ts";
export type { IntName, IntType } from "./mgmt/types/int.ts";
export type { EnumType } from "./mgmt/types/enum.ts";
export type { RecordOptions, StructType, StructValue } from "./mgmt/types/struct.ts";
export type { UnionType, UnionValue } from "./mgmt/types/union.ts";
export { type Field, isRecord, type RecordType } from "./mgmt/types/record.ts";
export type { RecordAttributes } from "./mgmt/types/record_layout.ts";
export type {
  AnonymousMember,
  AnonymousValues,
  AttributedField,
  BitField,
  FieldAttributes,
  Member,
  MemberJson,
  MemberValue,
  PadBits,
} from "./mgmt/types/members.ts";
export type { BufferDirection, BufferSpec, PointerType } from "./mgmt/types/pointer.ts";
export type { ArrayType } from "./mgmt/types/array.ts";
export type { CommandType } from "./mgmt/types/command.ts";
export {
  type CallerBuffer,
  CallerBuffers,
  decodeBytes,
  type MemberJsonForm,
  type Type,
  type TypeJson,
  type TypeKind,
  type ValueOf,
} from "./mgmt/types/type.ts";
export { typeFromJson } from "./mgmt/types/json.ts";
export {
  type CallbackDef,
  type CallbackInfo,
  CallbackLookupError,
  defineSignature,
  formatVersion,
  type ParamInfo,
  parseVersion,
  resolveVersion,
  type Signature,
  type SignatureDef,
  type SignatureJson,
  type TypeDocs,
  type VersionDef,
} from "./mgmt/signature.ts";
export { signatureFromJson } from "./mgmt/signature_json.ts";
export type {
  EventName,
  EventParams,
  InvokeParams,
  InvokeResult,
  KernelCallbackName,
} from "./mgmt/signature_types.ts";
export { Session } from "./mgmt/session.ts";
export { open, type OpenOptions } from "./mgmt/open.ts";
export type {
  AnyEventOf,
  Callbacks,
  EventOf,
  InvokeArgs,
  InvokeInput,
  InvokeOptions,
  SessionStats,
} from "./mgmt/session_types.ts";
export type { Instance, InstanceRef } from "./mgmt/instance_ref.ts";
export type { EventStats, EventStream, KernelEvent, StreamOptions, WaitOptions } from "./mgmt/events.ts";
export { errnoMessage, type ErrorContext, SignatureError, ValueError, VmkMgmtError } from "./mgmt/errors.ts";
export {
  type Direction,
  ERRNO,
  type ErrnoName,
  errnoName,
  type Location,
  MAX_CALLBACK_PARMS,
  MAX_INSTANCES,
  MAX_VECTOR_BYTES,
  RESERVED_CALLBACKS,
} from "./abi/facts.ts";
export { LibraryError, type LibraryInfo, libraryInfo, type LibrarySource } from "./ffi/library.ts";
export { toJsonLine, writeJsonLine } from "./util/ndjson.ts";
export { type InterruptTrap, trapInterrupts } from "./util/interrupt.ts";
export { crc32 } from "./util/crc32.ts";
export { parseDuration, parseTimeout } from "./util/duration.ts";
