/**
 * The trace format's facts (native/record/TRACE.md), the TypeScript side of `native/record/trace.h`:
 * the record header, the kinds, and the fixed sizes a reader checks lengths against.
 * @module
 */

/** The format's version this reader reads. */
export const TRACE_VERSION = 1;
/** The first four bytes of every record (`V K T R`). */
export const TRACE_MARKER = 0x52544b56;
/** Bytes of a record's header: marker, kind, 0, payload length, CRC-32 of the payload. */
export const TRACE_HEADER_SIZE = 16;

/** Record kinds. */
export const TRACE_KIND = {
  start: 1,
  init: 2,
  instances: 3,
  invoke: 4,
  event: 5,
  control: 6,
  disconnect: 7,
  dropped: 8,
  end: 9,
} as const;

/** CONTROL ops, by number. */
export const TRACE_OPS: Record<number, "begin" | "continue" | "end" | "destroy"> = {
  1: "begin",
  2: "continue",
  3: "end",
  4: "destroy",
};

/** INIT flags. */
export const TRACE_INIT_FLAGS = { initWith: 1, noEvents: 2, openedBefore: 4 } as const;
/** INVOKE flags. */
export const TRACE_INVOKE_FLAGS = { raw: 1, buffers: 2 } as const;
/** Per-argument flags of an INVOKE. */
export const TRACE_ARG_FLAGS = { unreadable: 1, tooLarge: 2 } as const;

/** Bytes of one callback-table entry in an INIT record (the other fixed parts are read field by field). */
export const TRACE_CALLBACK_SIZE = 40;
/** Bytes of one buffer field in an INIT record. */
export const TRACE_BUFFER_FIELD_SIZE = 32;
/** Bytes of one caller buffer's description in an INVOKE record. */
export const TRACE_BUFFER_SIZE = 32;
/** A caller buffer's direction, by its number in a trace (`VMKMGMT_BUFFER_*`). */
export const TRACE_BUFFER_DIRECTIONS: Record<number, "in" | "out" | "inout"> = {
  1: "in",
  2: "out",
  3: "inout",
};
