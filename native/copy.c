/* SPDX-License-Identifier: Apache-2.0 */
/*
 * copy.c -- the kernel's copies from and to the caller's memory (vmk_CopyFromUser and
 * vmk_CopyToUser): a sync kernel callback runs in the caller's context, and drivers pass buffer
 * addresses inside payload structs. The simulator asks with a COPY_REQUEST while the INVOKE is in
 * flight; the reader thread answers with a COPY_REPLY.
 *
 * An address is read or written by the kernel through a pipe (write(2) from it, read(2) into it),
 * never dereferenced here: a bad or unmapped address fails with EFAULT instead of a signal, as a
 * real kernel's copy does.
 */
#define _GNU_SOURCE /* pipe2, F_GETPIPE_SZ */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "handle.h"
#include "wire.h"

/* Moves `len` bytes from `src` to `dst` through a pipe, so the kernel checks both addresses:
 * 0, EFAULT (a bad address on either side), or the errno of a failed pipe. */
static int copy_checked(void *dst, const void *src, uint64_t len) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return errno;
  int rc = 0;
  long capacity = fcntl(fds[1], F_GETPIPE_SZ);
  size_t chunk = capacity > 0 ? (size_t)capacity : 4096;
  for (uint64_t off = 0; off < len && rc == 0;) {
    size_t n = len - off < chunk ? (size_t)(len - off) : chunk;
    ssize_t w = write(fds[1], (const uint8_t *)src + off, n);
    if (w <= 0) {
      rc = w < 0 && errno != EFAULT ? errno : EFAULT;
      break;
    }
    for (ssize_t got = 0; got < w && rc == 0;) {
      ssize_t r = read(fds[0], (uint8_t *)dst + off + got, (size_t)(w - got));
      if (r <= 0) rc = r < 0 && errno != EFAULT ? errno : EFAULT;
      else got += r;
    }
    off += (uint64_t)w;
  }
  close(fds[0]);
  close(fds[1]);
  return rc;
}

#ifdef VMKMGMT_FUZZ_COPY_SANDBOX
/* The fuzz harness's fake kernel asks for random addresses, and a real write there would corrupt
 * the fuzzer itself: in that build an address copy lands in this scratch area instead (odd
 * addresses), or at an unmapped one (even), so both outcomes stay covered. */
static uint8_t sandbox[4096];
static void *sandboxed(uint64_t where, uint64_t *n) {
  if (*n > sizeof sandbox) *n = sizeof sandbox;
  return (where & 1) ? (void *)sandbox : (void *)(uintptr_t)16;
}
#define USER_ADDRESS(where, n) sandboxed((where), (n))
#else
#define USER_ADDRESS(where, n) ((void)(n), (void *)(uintptr_t)(where))
#endif

/* Sends a COPY_REPLY: the status, and a read's bytes. */
static int reply(handle_t *h, uint32_t id, uint32_t copy_id, int status, const void *data, uint64_t len) {
  uint8_t head[WIRE_COPY_REPLY_SIZE];
  wire_put_u32(head + WIRE_COPY_ID, copy_id);
  wire_put_u32(head + WIRE_COPY_REPLY_STATUS, (uint32_t)status);
  struct iovec iov[2] = {{head, sizeof head}, {(void *)data, status == 0 ? (size_t)len : 0}};
  return transport_send(h, WIRE_COPY_REPLY, id, iov, status == 0 && len > 0 ? 2 : 1);
}

int copy_serve(handle_t *h, uint32_t id, const uint8_t *p, uint32_t len) {
  if (len < WIRE_COPY_REQUEST_SIZE) return EIO;
  uint32_t copy_id = wire_get_u32(p + WIRE_COPY_ID);
  uint8_t op = p[WIRE_COPY_OP], target = p[WIRE_COPY_TARGET];
  uint64_t where = wire_get_u64(p + WIRE_COPY_WHERE), n = wire_get_u64(p + WIRE_COPY_LENGTH);
  /* A frame whose size does not match what it says is a broken peer; a request that cannot be
   * served (no such call, bad target) is answered with EINVAL and the connection goes on. */
  uint64_t carried = op == WIRE_COPY_TO_USER ? n : 0;
  if (n > WIRE_MAX_VECTOR || (uint64_t)len != WIRE_COPY_REQUEST_SIZE + carried) return EIO;

  pthread_mutex_lock(&h->lock);
  const struct call *call = transport_call_locked(h, id);
  pthread_mutex_unlock(&h->lock);
  int status = EINVAL;
  uint8_t *buf = NULL;
  const void *out = NULL;
  /* A program that abandoned its memory (it is exiting) has none left to copy from or to. */
  int touching = h->queue != NULL;
  if (touching && !queue_touch_begin(h->queue)) {
    touching = 0;
    status = EFAULT;
    goto done;
  }
  if (!call || !call->sync || (op != WIRE_COPY_FROM_USER && op != WIRE_COPY_TO_USER)) goto done;
  if (target == WIRE_COPY_PARAMETER) {
    /* The caller's bytes of a parameter it did not send (its direction differs from the kernel's). */
    if (op != WIRE_COPY_FROM_USER || where >= call->n || n != call->length[where]) goto done;
    out = call->data[where];
    status = 0;
  } else if (target == WIRE_COPY_ADDRESS) {
    uint64_t reach = n;
    void *addr = USER_ADDRESS(where, &reach);
    if (reach != n) goto done; /* (fuzz builds only) more than the sandbox holds */
    if (op == WIRE_COPY_TO_USER) {
      status = n == 0 ? 0 : copy_checked(addr, p + WIRE_COPY_REQUEST_SIZE, n);
    } else {
      status = ENOMEM;
      if ((buf = malloc(n ? n : 1)) == NULL) goto done;
      status = n == 0 ? 0 : copy_checked(buf, addr, n);
      out = buf;
    }
  }
done:;
  int rc = reply(h, id, copy_id, status, out, op == WIRE_COPY_FROM_USER ? n : 0);
  if (touching) queue_touch_end(h->queue);
  free(buf);
  return rc;
}
