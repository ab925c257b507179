/* SPDX-License-Identifier: Apache-2.0 */
/*
 * frames.c -- the bridge's writes on stdout (PROTOCOL.md): whole frames, one writer at a time
 * (reading is wire.h's wire_reader, as in the library).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bridge.h"

/* Sends one frame (header + pieces) as a whole; EIO once the client is gone. */
int frame_send(struct bridge *b, uint16_t type, uint32_t id, const struct iovec *pieces, int n) {
  uint8_t hdr[WIRE_HEADER_SIZE];
  struct iovec iov[8];
  size_t len = 0;
  if (n < 0 || n > 7) return EINVAL;
  for (int i = 0; i < n; i++) {
    iov[1 + i] = pieces[i];
    len += pieces[i].iov_len;
  }
  if (len > WIRE_MAX_PAYLOAD) return EINVAL;
  wire_put_header(hdr, type, id, (uint32_t)len);
  iov[0] = (struct iovec){hdr, sizeof hdr};
  pthread_mutex_lock(&b->wlock);
  int rc = b->out < 0 ? EIO : wire_write_all(b->out, iov, 1 + n, 0);
  pthread_mutex_unlock(&b->wlock);
  if (rc != 0) bridge_close(b);
  return rc;
}

/* Tells the client why the bridge is hanging up (an ERROR frame), as the simulator does. */
void frame_error(struct bridge *b, const char *why) {
  frame_send(b, WIRE_ERROR, 0, &(struct iovec){(void *)why, strlen(why)}, 1);
}

void bridge_close(struct bridge *b) {
  pthread_mutex_lock(&b->lock);
  b->closing = 1;
  pthread_cond_broadcast(&b->cond);
  pthread_cond_broadcast(&b->work);
  pthread_mutex_unlock(&b->lock);
}
