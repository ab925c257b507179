/* SPDX-License-Identifier: Apache-2.0 */
/*
 * trace.h -- the trace format of libvmkmgmt-record.so (TRACE.md is the specification; mgmt/trace/
 * reads it): record kinds, the record header, and each payload's fixed part. Little-endian; times
 * are nanoseconds since the recording started (CLOCK_MONOTONIC).
 */
#ifndef VMKMGMT_TRACE_H
#define VMKMGMT_TRACE_H

#define TRACE_VERSION 1u

/* Every record: u32 marker, u16 kind, u16 0, u32 payload length, u32 CRC-32 of the payload. */
#define TRACE_MARKER 0x52544b56u /* "VKTR" */
#define TRACE_HEADER_SIZE 16u
#define TRACE_MAX_PAYLOAD 0xffffffffu

enum trace_kind {
  TRACE_START = 1,      /* u32 version, u32 pid, u64 wall ns (Unix), u64 0, u32 program length, program */
  TRACE_INIT = 2,       /* see TRACE.md */
  TRACE_INSTANCES = 3,  /* u64 handle, u64 t, u64 dur, i32 status, u32 count; per instance u64 id, name[32] */
  TRACE_INVOKE = 4,     /* see TRACE.md */
  TRACE_EVENT = 5,      /* u64 handle, u64 t, u64 instance, u64 callback, u32 n, u32 0; u64 length each; bytes */
  TRACE_CONTROL = 6,    /* u64 handle, u64 t, u64 dur, u32 op (trace_op), i32 status */
  TRACE_DISCONNECT = 7, /* u64 handle, u64 t, i32 error, u32 0 */
  TRACE_DROPPED = 8,    /* u64 t, u64 records, u64 bytes: dropped so far (the disk could not keep up) */
  TRACE_END = 9,        /* u64 t, u64 records written, u64 records dropped, u64 bytes dropped */
};

enum trace_op { TRACE_BEGIN = 1, TRACE_CONTINUE = 2, TRACE_ENDOP = 3, TRACE_DESTROY = 4 };

/* INIT flags */
#define TRACE_INIT_WITH 1u       /* vmkmgmt_UserInitWith (a host may follow) */
#define TRACE_INIT_NO_EVENTS 2u  /* more user callbacks than trampolines: events not recorded */
#define TRACE_INIT_BEFORE 4u     /* (mgmt/recording.ts) open before the recording began: its Init not seen */

/* INIT: u64 handle (0 when Init failed), u64 t, u64 dur, i32 status, u32 flags, u64 cookie, u32 revision,
 * name[32], vendor[32], u32 numCallbacks, then per callback TRACE_CALLBACK_SIZE bytes, then u32 host
 * length and the host, then u32 numBuffers and per buffer field TRACE_BUFFER_FIELD_SIZE bytes. */
#define TRACE_INIT_FIXED 112u
#define TRACE_CALLBACK_SIZE 40u /* u64 id, u8 location, u8 sync, u8 numParms, u8 0, u32 size[4], u8 type[4], u32 0 */
/* u64 callbackId, u32 parm, u32 offset, u32 direction, u32 length, u32 lengthOffset, u32 lengthSize */
#define TRACE_BUFFER_FIELD_SIZE 32u

/* INVOKE: u64 handle, u64 t, u64 dur, u64 instance, u64 callback, i32 status, u32 thread, u32 argc,
 * u32 flags, then per argument TRACE_ARG_SIZE bytes, then every argument's bytes going in, in order,
 * then every argument's bytes coming out, in order. */
#define TRACE_INVOKE_FIXED 56u
#define TRACE_ARG_SIZE 24u /* u8 type, u8 flags (trace_arg), u16 0, u32 size, u64 in length, u64 out length */
#define TRACE_INVOKE_RAW 1u /* the callback is not in the handle's table (or the handle unknown): no bytes */
#define TRACE_INVOKE_BUFFERS 2u /* caller buffers follow the bytes coming out: */
#define TRACE_BUFFERS_FIXED 8u  /* u32 count, u32 0, then per buffer TRACE_BUFFER_SIZE bytes, the bytes going in, */
#define TRACE_BUFFER_SIZE 32u   /* out: u32 parm, u32 offset, u8 dir, u8 flags, u16 0, u32 0, u64 in, u64 out */

enum trace_arg {
  TRACE_ARG_UNREADABLE = 1, /* the caller's memory could not be read: no bytes */
  TRACE_ARG_TOO_LARGE = 2,  /* a vector longer than the protocol allows: no bytes */
};

#endif
