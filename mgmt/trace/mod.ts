/**
 * vmk_Mgmt traces: what `libvmkmgmt-record.so` recorded of a program's calls at the C ABI boundary
 * (native/record/TRACE.md), read as typed records; and this process's own sessions recorded to one
 * (`startRecording`, `stopRecording`).
 *
 * @example
 * ```ts
 * import { readTrace } from "./mod.ts";
 * const { records, torn } = await readTrace("/tmp/t.vmktrace");
 * console.log(records.filter((r) => r.kind === "invoke").length, "calls", torn ? "(cut short)" : "");
 * ```
 * @module
 */
export * from "./reader.ts";
export { TRACE_VERSION } from "./format.ts";
export type { Direction } from "../../abi/facts.ts";
export { bufferList, type BufferListEntry } from "./buffer_list.ts";
export { bufferName, pointerBytes } from "./pointers.ts";
export {
  RecordingError,
  recordingFailure,
  recordingPath,
  startRecording,
  stopRecording,
} from "../recording.ts";
