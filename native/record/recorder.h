/*
 * recorder.h -- the parts of libvmkmgmt-record.so: the interposer (record.c) builds records, the
 * writer (writer.c) puts them on disk from a thread of its own.
 */
#ifndef VMKMGMT_RECORDER_H
#define VMKMGMT_RECORDER_H

#include <stddef.h>
#include <stdint.h>

#include "trace.h"

/* A record being built: its header and payload in one allocation, the payload's length growing. */
struct record {
  struct record *next;
  size_t cap, len; /* payload bytes allocated, written */
  uint8_t bytes[];  /* TRACE_HEADER_SIZE bytes of header, then the payload */
};

/* Whether recording is on ($VMKMGMT_RECORD set, and its file could be opened). Never blocks. */
int writer_on(void);
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

#endif
