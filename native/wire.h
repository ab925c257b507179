/* SPDX-License-Identifier: Apache-2.0 */
/*
 * wire.h -- the wire protocol of PROTOCOL.md for the library (internal): frame constants, the
 * byte offsets of every payload field, and little-endian pack/unpack helpers. sim/frames.ts and
 * sim/payloads.ts are the TypeScript side of the same document; test/layout_test.ts holds them
 * together.
 */
#ifndef VMKMGMT_WIRE_H
#define VMKMGMT_WIRE_H

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "vmkmgmt.h"

/* Where the simulator listens: $VMKMGMT_SIM_SOCKET, else this path with the caller's uid. */
#define WIRE_SOCKET_ENV "VMKMGMT_SIM_SOCKET"
#define WIRE_SOCKET_DEFAULT "/tmp/vmkmgmt-%u/sim.sock"

/* A kernel on another host (remote.c): $VMKMGMT_HOST names it, ssh runs the bridge there
 * ($VMKMGMT_BRIDGE, else this command) with the options in $VMKMGMT_SSH; this host name runs the
 * bridge command here, without ssh. */
#define WIRE_HOST_ENV "VMKMGMT_HOST"
#define WIRE_BRIDGE_ENV "VMKMGMT_BRIDGE"
#define WIRE_SSH_ENV "VMKMGMT_SSH"
#define WIRE_BRIDGE_DEFAULT "vmkmgmt-bridge"
#define WIRE_LOCAL_HOST "@local"
/* Calls a bridge runs in its library at once; more wait in the bridge (PROTOCOL.md). */
#define WIRE_BRIDGE_WORKERS 256

/* Who may be trusted at the other end (README, "Trust"): the socket's directory must belong to
 * the user or to root, with none of these mode bits (no one else may write there, as OpenSSH's
 * StrictModes asks); the peer must run as the user or as root. */
#define WIRE_DIR_WRITE_MASK 022

/* ---- Frame */
#define WIRE_MAGIC 0x4B4D4D56u
#define WIRE_VERSION 4
#define WIRE_HEADER_SIZE 16
#define WIRE_MAX_VECTOR (64u * 1024u * 1024u)
#define WIRE_MAX_PAYLOAD (WIRE_MAX_VECTOR + 4096u)

enum {
  WIRE_HELLO = 1,
  WIRE_HELLO_REPLY = 2,
  WIRE_INVOKE = 3,
  WIRE_INVOKE_REPLY = 4,
  WIRE_GET_INSTANCES = 5,
  WIRE_INSTANCES = 6,
  WIRE_EVENT = 7,
  WIRE_EVENT_ACK = 8,
  WIRE_CONTROL = 9,
  WIRE_CONTROL_REPLY = 10,
  WIRE_ERROR = 12,
  WIRE_EVENTS_DROPPED = 13,
  WIRE_COPY_REQUEST = 14,
  WIRE_COPY_REPLY = 15,
};

/* ---- Payloads: the offset of each field, then the size of the fixed part */

/* HELLO: u32 revnum, char name[32], char vendor[32], u32 pid, u32 numCallbacks, u32 numBuffers;
 * then a callback entry per callback, then a buffer entry per buffer field. */
#define WIRE_HELLO_REVNUM 0
#define WIRE_HELLO_NAME 4
#define WIRE_HELLO_VENDOR 36
#define WIRE_HELLO_PID 68
#define WIRE_HELLO_NUMCALLBACKS 72
#define WIRE_HELLO_NUMBUFFERS 76
#define WIRE_HELLO_SIZE 80
#define WIRE_NAME_SIZE 32
/* Callback entry: u64 callbackId, u8 location, u8 synchronous, u8 numParms, u8[5]; per parameter
 * (all four, unused ones zero) u32 size, u8 type, u8[3]. */
#define WIRE_CB_ID 0
#define WIRE_CB_LOCATION 8
#define WIRE_CB_SYNC 9
#define WIRE_CB_NUMPARMS 10
#define WIRE_CB_PARMS 16
#define WIRE_CB_PARM_SIZE 0
#define WIRE_CB_PARM_TYPE 4
#define WIRE_CB_PARM_ENTRY 8
#define WIRE_CB_ENTRY_SIZE 48
/* Buffer entry: u64 callbackId, u8 parm, u8 direction (1 in, 2 out, 3 inout), u8 lengthSize (0: a
 * fixed length; 1, 2, 4, 8: the size of the unsigned member holding it), u8; u32 offset (of the
 * pointer, in the parameter or in each element of a vector), u32 length, u32 lengthOffset. */
#define WIRE_BUF_CALLBACK 0
#define WIRE_BUF_PARM 8
#define WIRE_BUF_DIR 9
#define WIRE_BUF_LENGTH_SIZE 10
#define WIRE_BUF_OFFSET 12
#define WIRE_BUF_LENGTH 16
#define WIRE_BUF_LENGTH_OFFSET 20
#define WIRE_BUF_ENTRY_SIZE 24
#define WIRE_BUF_IN 1u
#define WIRE_BUF_OUT 2u
#define WIRE_MAX_HELLO_ENTRIES 4096 /* callbacks, and buffer fields: more is a broken peer */

/* Every reply (HELLO_REPLY, INVOKE_REPLY, INSTANCES) starts with i32 status. */
#define WIRE_STATUS 0
/* HELLO_REPLY: i32 status, u64 sessionId, u8 flags, u8 peerLength, u8[2]; then the peer's text:
 * who answered (and, when status is not 0, why), UTF-8, at most 255 bytes. */
#define WIRE_HELLO_REPLY_SESSION 4
#define WIRE_HELLO_REPLY_FLAGS 12
#define WIRE_HELLO_REPLY_PEER_LENGTH 13
#define WIRE_HELLO_REPLY_SIZE 16
#define WIRE_PEER_BRIDGE 1u /* flag: a bridge answers (send every fixed parameter's bytes) */

/* INVOKE: u64 instanceId, u64 callbackId, u8 sync, u8 numParms, u8[6]; a descriptor per
 * parameter; then the bytes of every parameter that sends data. */
#define WIRE_INVOKE_INSTANCE 0
#define WIRE_INVOKE_CALLBACK 8
#define WIRE_INVOKE_SYNC 16
#define WIRE_INVOKE_NUMPARMS 17
#define WIRE_INVOKE_HEADER_SIZE 24
/* Parameter descriptor: u8 type (the caller's direction), u8 flags, u8[2], u32 size, u64 length */
#define WIRE_PARM_TYPE 0
#define WIRE_PARM_FLAGS 1
#define WIRE_PARM_DATA 1u /* flag: the caller's bytes of this parameter follow */
#define WIRE_PARM_SIZE 4
#define WIRE_PARM_LENGTH 8
#define WIRE_PARM_DESC_SIZE 16

/* INVOKE_REPLY: i32 status, u32 numParms, u32 returned (bit i: parameter i's bytes follow), u32;
 * u64 length per parameter; then the returned bytes. */
#define WIRE_REPLY_NUMPARMS 4
#define WIRE_REPLY_RETURNED 8
#define WIRE_REPLY_LENGTHS 16

/* INSTANCES: i32 status, u32 count; per instance u64 id, char name[32] */
#define WIRE_INSTANCES_COUNT 4
#define WIRE_INSTANCES_ENTRIES 8
#define WIRE_INSTANCE_ID 0
#define WIRE_INSTANCE_NAME 8
#define WIRE_INSTANCE_SIZE 40

/* EVENT: u64 instanceId, u64 callbackId, u32 numParms, u64 length per parameter; then bytes. */
#define WIRE_EVENT_INSTANCE 0
#define WIRE_EVENT_CALLBACK 8
#define WIRE_EVENT_NUMPARMS 16
#define WIRE_EVENT_LENGTHS 20

/* EVENT_ACK: u32 count */
#define WIRE_ACK_SIZE 4

/* EVENTS_DROPPED: u64 total */
#define WIRE_DROPPED_SIZE 8

/* COPY_REQUEST (request id: the INVOKE's): u32 copyId, u8 op, u8 target, u8[2], u64 where,
 * u64 length; a write carries its bytes after. */
#define WIRE_COPY_ID 0
#define WIRE_COPY_OP 4
#define WIRE_COPY_TARGET 5
#define WIRE_COPY_WHERE 8
#define WIRE_COPY_LENGTH 16
#define WIRE_COPY_REQUEST_SIZE 24
#define WIRE_COPY_FROM_USER 1 /* op: read the caller's memory */
#define WIRE_COPY_TO_USER 2   /* op: write the caller's memory */
#define WIRE_COPY_ADDRESS 0   /* target: `where` is an address in the caller's process */
#define WIRE_COPY_PARAMETER 1 /* target: `where` is the index of a parameter of the call */
/* COPY_REPLY (request id: the INVOKE's): u32 copyId, i32 status; a read's bytes after. */
#define WIRE_COPY_REPLY_STATUS 4
#define WIRE_COPY_REPLY_SIZE 8

/* ---- Little-endian helpers */

static inline void wire_put_u32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static inline void wire_put_u64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint32_t wire_get_u32(const uint8_t *p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}

static inline uint64_t wire_get_u64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}

/* An unsigned little-endian integer of `size` bytes (1..8): a length member of a caller's struct. */
static inline uint64_t wire_get_unsigned(const uint8_t *p, uint32_t size) {
  uint64_t v = 0;
  for (int i = (int)size - 1; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}

static inline void wire_put_header(uint8_t *h, uint16_t type, uint32_t id, uint32_t len) {
  wire_put_u32(h, WIRE_MAGIC);
  h[4] = WIRE_VERSION;
  h[5] = 0;
  h[6] = (uint8_t)type;
  h[7] = (uint8_t)(type >> 8);
  wire_put_u32(h + 8, id);
  wire_put_u32(h + 12, len);
}

/* 0 when the header is well formed; the library then trusts nothing else in it. */
static inline int wire_get_header(const uint8_t *h, uint16_t *type, uint32_t *id, uint32_t *len) {
  if (wire_get_u32(h) != WIRE_MAGIC || h[4] != WIRE_VERSION || h[5] != 0) return -1;
  *type = (uint16_t)(h[6] | (h[7] << 8));
  *id = wire_get_u32(h + 8);
  *len = wire_get_u32(h + 12);
  return *len > WIRE_MAX_PAYLOAD ? -1 : 0;
}

/* The status every reply starts with (the caller has checked the payload holds 4 bytes). */
static inline int wire_get_status(const uint8_t *payload) {
  return (int)wire_get_u32(payload + WIRE_STATUS);
}

/* Copies a name into a zeroed char[WIRE_NAME_SIZE], cut to 31 bytes so it stays NUL-terminated. */
static inline void wire_put_name(uint8_t *dst, const char *name) {
  const char *end = memchr(name, 0, WIRE_NAME_SIZE - 1);
  memcpy(dst, name, end ? (size_t)(end - name) : WIRE_NAME_SIZE - 1);
}

/* Writes the fixed part of a HELLO payload. */
static inline void wire_put_hello(uint8_t p[WIRE_HELLO_SIZE], uint32_t revnum, const char *name,
                                  const char *vendor, uint32_t pid, uint32_t callbacks, uint32_t buffers) {
  memset(p, 0, WIRE_HELLO_SIZE);
  wire_put_u32(p + WIRE_HELLO_REVNUM, revnum);
  wire_put_name(p + WIRE_HELLO_NAME, name);
  wire_put_name(p + WIRE_HELLO_VENDOR, vendor);
  wire_put_u32(p + WIRE_HELLO_PID, pid);
  wire_put_u32(p + WIRE_HELLO_NUMCALLBACKS, callbacks);
  wire_put_u32(p + WIRE_HELLO_NUMBUFFERS, buffers);
}

/* Writes the fixed part of an INVOKE payload (descriptors zeroed). */
static inline void wire_put_invoke(uint8_t *p, uint64_t instance, uint64_t callback, int sync, unsigned n) {
  memset(p, 0, WIRE_INVOKE_HEADER_SIZE + (size_t)WIRE_PARM_DESC_SIZE * n);
  wire_put_u64(p + WIRE_INVOKE_INSTANCE, instance);
  wire_put_u64(p + WIRE_INVOKE_CALLBACK, callback);
  p[WIRE_INVOKE_SYNC] = sync ? 1 : 0;
  p[WIRE_INVOKE_NUMPARMS] = (uint8_t)n;
}

/* Writes parameter i's descriptor into an INVOKE payload. */
static inline void wire_put_parm(uint8_t *p, unsigned i, uint8_t type, uint8_t flags, uint32_t size,
                                 uint64_t length) {
  uint8_t *d = p + WIRE_INVOKE_HEADER_SIZE + (size_t)WIRE_PARM_DESC_SIZE * i;
  d[WIRE_PARM_TYPE] = type;
  d[WIRE_PARM_FLAGS] = flags;
  wire_put_u32(d + WIRE_PARM_SIZE, size);
  wire_put_u64(d + WIRE_PARM_LENGTH, length);
}

/* Offset of the data in an INVOKE payload of n parameters. */
static inline uint64_t wire_invoke_data(unsigned n) {
  return WIRE_INVOKE_HEADER_SIZE + (uint64_t)WIRE_PARM_DESC_SIZE * n;
}

/* Offset of the data in an INVOKE_REPLY payload of n parameters. */
static inline uint64_t wire_reply_data(unsigned n) {
  return WIRE_REPLY_LENGTHS + 8ull * n;
}

/* Offset of the data in an EVENT payload of n parameters. */
static inline uint64_t wire_event_data(uint32_t n) {
  return WIRE_EVENT_LENGTHS + 8ull * n;
}

/* ---- Writing and reading frames (the library and the bridge) */

/* Writes every byte of the pieces, advancing over partial writes (the pieces are consumed). On a
 * socket (`sock`) with sendmsg and MSG_NOSIGNAL, so a library never raises SIGPIPE in its host
 * process; else with writev (the bridge's stdout may be a pipe). EIO when the peer is gone. */
static inline int wire_write_all(int fd, struct iovec *iov, int n, int sock) {
  while (n > 0) {
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)n};
    ssize_t k = sock ? sendmsg(fd, &msg, MSG_NOSIGNAL) : writev(fd, iov, n);
    if (k < 0) {
      if (errno == EINTR) continue;
      return EIO;
    }
    while (n > 0 && (size_t)k >= iov->iov_len) {
      k -= (ssize_t)iov->iov_len;
      iov++;
      n--;
    }
    if (n > 0) {
      iov->iov_base = (uint8_t *)iov->iov_base + k;
      iov->iov_len -= (size_t)k;
    }
  }
  return 0;
}

/* Reads exactly len bytes; EIO at EOF or on an error. */
static inline int wire_read_all(int fd, void *buf, size_t len) {
  uint8_t *p = (uint8_t *)buf;
  while (len > 0) {
    ssize_t n = read(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return EIO;
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

/* The frame reader: through a buffer, so one read(2) takes every frame the peer has sent so far,
 * where reading a header and then its payload cost two system calls a frame (and the reader slept
 * and was woken between them). `buf` holds WIRE_READER_SIZE bytes; a payload larger than what is left
 * is read straight into its own memory. */
#define WIRE_READER_SIZE (64u * 1024u)
struct wire_reader {
  int fd;
  uint8_t *buf;
  size_t start, end; /* the bytes read and not yet taken */
};

/* Whether a whole frame is already buffered (the next wire_reader_next needs no system call). */
static inline int wire_reader_ready(const struct wire_reader *r) {
  uint16_t type;
  uint32_t id, len;
  if (r->end - r->start < WIRE_HEADER_SIZE) return 0;
  if (wire_get_header(r->buf + r->start, &type, &id, &len) != 0) return 1; /* (its error, at once) */
  return r->end - r->start - WIRE_HEADER_SIZE >= len;
}

/* Reads until at least `want` bytes are buffered (want <= WIRE_READER_SIZE); EIO at EOF. */
static inline int wire_reader_fill(struct wire_reader *r, size_t want) {
  if (r->end - r->start >= want) return 0;
  memmove(r->buf, r->buf + r->start, r->end - r->start);
  r->end -= r->start;
  r->start = 0;
  while (r->end < want) {
    ssize_t n = read(r->fd, r->buf + r->end, WIRE_READER_SIZE - r->end);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return EIO;
    r->end += (size_t)n;
  }
  return 0;
}

/* Reads one frame, its header checked before a byte of payload is allocated. On 0 the caller owns
 * *payload (NULL when empty); EIO at EOF, EPROTO for a bad header, ENOMEM. */
static inline int wire_reader_next(struct wire_reader *r, uint16_t *type, uint32_t *id, uint8_t **payload,
                                   uint32_t *len) {
  uint8_t *p = NULL;
  int rc = wire_reader_fill(r, WIRE_HEADER_SIZE);
  if (rc != 0) goto fail;
  rc = EPROTO;
  if (wire_get_header(r->buf + r->start, type, id, len) != 0) goto fail;
  r->start += WIRE_HEADER_SIZE;
  if (*len > 0) {
    rc = ENOMEM;
    if ((p = (uint8_t *)malloc(*len)) == NULL) goto fail;
    size_t have = r->end - r->start < *len ? r->end - r->start : *len;
    memcpy(p, r->buf + r->start, have);
    r->start += have;
    rc = have < *len ? wire_read_all(r->fd, p + have, *len - have) : 0;
    if (rc != 0) goto fail;
  }
  *payload = p;
  return 0;
fail:
  free(p);
  return rc;
}

/* Parameter directions, as the ABI numbers them. */
static inline int parm_is_vector(vmk_MgmtParmType t) {
  return t == VMK_MGMT_PARMTYPE_VECTOR_IN || t == VMK_MGMT_PARMTYPE_VECTOR_OUT ||
         t == VMK_MGMT_PARMTYPE_VECTOR_INOUT;
}

static inline int parm_sends(vmk_MgmtParmType t) {
  return t == VMK_MGMT_PARMTYPE_IN || t == VMK_MGMT_PARMTYPE_INOUT || t == VMK_MGMT_PARMTYPE_VECTOR_IN ||
         t == VMK_MGMT_PARMTYPE_VECTOR_INOUT;
}

static inline int parm_returns(vmk_MgmtParmType t) {
  return t == VMK_MGMT_PARMTYPE_OUT || t == VMK_MGMT_PARMTYPE_INOUT || t == VMK_MGMT_PARMTYPE_VECTOR_OUT ||
         t == VMK_MGMT_PARMTYPE_VECTOR_INOUT;
}

#endif
