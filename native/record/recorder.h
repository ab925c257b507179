/* SPDX-License-Identifier: Apache-2.0 */
/*
 * recorder.h -- the parts of libvmkmgmt-record.so: the interposer (record.c) builds records, the
 * writer (writer.c) puts them on disk from a thread of its own, and buffers.c finds the caller
 * buffers behind pointer members.
 */
#ifndef VMKMGMT_RECORDER_H
#define VMKMGMT_RECORDER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../vmkmgmt.h"
#include "trace.h"

/* A record being built: its header and payload in one allocation, the payload's length growing. */
struct record {
  struct record *next;
  size_t cap, len; /* payload bytes allocated, written */
  uint8_t bytes[];  /* TRACE_HEADER_SIZE bytes of header, then the payload */
};

/* Whether recording is on ($VMKMGMT_RECORD set, and its file could be opened). Never blocks. */
int writer_on(void);
/* This process's id, asked once (getpid is a system call every time; a child of fork() asks again). */
pid_t writer_pid(void);
/* Nanoseconds since the recording started. */
uint64_t writer_now(void);
/* A record of `kind` with room for `cap` payload bytes; NULL without memory (the record is lost and
 * counted). */
struct record *record_new(uint16_t kind, size_t cap);
/* Appends bytes (within the room asked for). */
void record_put(struct record *r, const void *p, size_t n);
void record_u8(struct record *r, uint8_t v);
void record_u16(struct record *r, uint16_t v);
void record_u32(struct record *r, uint32_t v);
void record_u64(struct record *r, uint64_t v);
/* Hands a record to the writer (which frees it). When its queue holds too much already, the record is
 * dropped and counted: the client never waits for the disk. */
void record_submit(struct record *r);

/* Copies n bytes of the caller's memory; 0 when it cannot be read (the process is never harmed). */
int caller_read(void *dst, const void *src, size_t n);

/* One argument of an invoke as the callback's table describes it: where its bytes are, going in
 * and coming out. */
struct arg {
  uint8_t type, flags; /* flags: trace_arg */
  uint32_t size;
  const void *data; /* the fixed parameter, or the vector's data (the caller's memory) */
  uint64_t length;  /* its bytes */
  int in, out;      /* whether bytes go in, come out */
};

/* One caller buffer of a call: behind the pointer at `offset` of parameter `parm`. */
struct call_buffer {
  uint32_t parm, offset;
  uint8_t dir, flags; /* dir: VMKMGMT_BUFFER_*; flags: trace_arg */
  const void *address;
  uint64_t length;
  uint64_t in, out; /* bytes recorded going in, coming out */
};

/* Buffers of one call followed at most (the bridge's own limit). */
#define MAX_CALL_BUFFERS 4096u

/* The buffer fields to follow for a handle of API `name` from `vendor`: the client's own (`options`,
 * or the list a bridge handed over on this thread), else $VMKMGMT_RECORD_SIG's for the API. `*out`
 * is a copy to free (NULL, 0 for none). ENOMEM, else 0. */
int buffers_for(const char *name, const char *vendor, const vmkmgmt_InitOptions *options, vmkmgmt_BufferField **out,
                uint32_t *count);

/* How many caller buffers a call of `callbackId` can have at most (a member per element of each
 * argument it sends; at most MAX_CALL_BUFFERS), from the arguments' sizes alone: 0 for a call with
 * none, so no plan is made for it. */
unsigned buffers_bound(const vmkmgmt_BufferField *fields, uint32_t nfields, vmk_uint64 callbackId,
                       const struct arg *args, unsigned argc);

/* The caller buffers of a call of `callbackId`, found through the members of the arguments it
 * sends (each element of a vector): up to `max` into `plan`; how many. */
unsigned buffers_plan(const vmkmgmt_BufferField *fields, uint32_t nfields, vmk_uint64 callbackId,
                      const struct arg *args, unsigned argc, struct call_buffer *plan, unsigned max);

#endif
