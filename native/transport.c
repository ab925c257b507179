/*
 * transport.c -- the handle's socket to the kernel (connected by trust.c): framed writes, and the reader
 * thread. The reader owns the receive side and routes every reply to the thread waiting for it,
 * so a reply never depends on the monitor thread (which may be blocked inside a user callback
 * waiting for the caller); EVENT frames go to the monitor's queue.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "handle.h"
#include "wire.h"

/* The payload goes straight from the caller's buffers to the socket, never through a copy (a 64 MiB
 * vector costs no 64 MiB malloc). */
int transport_send(handle_t *h, uint16_t type, uint32_t id, const struct iovec *payload, int n) {
  uint8_t hdr[WIRE_HEADER_SIZE];
  struct iovec iov[1 + TRANSPORT_MAX_PIECES];
  size_t len = 0;
  if (n < 0 || n > TRANSPORT_MAX_PIECES) return EINVAL;
  for (int i = 0; i < n; i++) {
    iov[1 + i] = payload[i];
    len += payload[i].iov_len;
  }
  if (len > WIRE_MAX_PAYLOAD) return EINVAL;
  wire_put_header(hdr, type, id, (uint32_t)len);
  iov[0] = (struct iovec){hdr, sizeof hdr};
  pthread_mutex_lock(&h->wlock);
  int rc = wire_write_all(h->fd, iov, 1 + n, 1);
  pthread_mutex_unlock(&h->wlock);
  return rc;
}

/* Returns `n` event credits to the simulator (PROTOCOL.md, flow control). */
void transport_ack(handle_t *h, uint32_t n) {
  uint8_t ack[WIRE_ACK_SIZE];
  wire_put_u32(ack, n);
  transport_send(h, WIRE_EVENT_ACK, 0, &(struct iovec){ack, sizeof ack}, 1);
}

/* The connection is gone: every waiting request fails with EIO, and so does every later call. */
static void fail_all_locked(handle_t *h) {
  h->dead = 1;
  for (struct pending *p = h->pending; p; p = p->next) {
    if (!p->done) {
      p->done = 1;
      p->status = EIO;
    }
  }
  pthread_cond_broadcast(&h->replies);
  pthread_cond_broadcast(&h->events);
  pthread_cond_broadcast(&h->state);
}

/* The INVOKE in flight with request id `id`, else NULL (for copy.c). */
const struct call *transport_call_locked(handle_t *h, uint32_t id) {
  for (struct pending *p = h->pending; p; p = p->next) {
    if (p->id == id && !p->done) return p->call;
  }
  return NULL;
}

/* Hands a reply to its request (which then owns the payload); EIO for a frame nobody asked for. */
static int route_reply_locked(handle_t *h, uint16_t type, uint32_t id, uint8_t *payload, uint32_t len) {
  struct pending *p = h->pending;
  while (p && !(p->id == id && !p->done)) p = p->next;
  if (!p || (type != WIRE_HELLO_REPLY && type != WIRE_INVOKE_REPLY && type != WIRE_INSTANCES) || len < 4) {
    return EIO;
  }
  p->done = 1;
  p->status = wire_get_status(payload);
  p->payload = payload;
  p->length = len;
  pthread_cond_broadcast(&h->replies);
  return 0;
}

static void *reader_main(void *arg) {
  handle_t *h = arg;
  pthread_setname_np(pthread_self(), "vmkmgmt-reader"); /* so ps, gdb and the soak can tell it */
  for (;;) {
    uint16_t type;
    uint32_t id, len;
    uint8_t *payload = NULL;
    if (wire_read_frame(h->fd, &type, &id, &payload, &len) != 0) break;
    pthread_mutex_lock(&h->lock);
    int rc;
    if (type == WIRE_EVENT) {
      rc = monitor_queue_locked(h, payload, len);
      if (rc == EOVERFLOW) h->library_dropped++;
    } else if (type == WIRE_COPY_REQUEST) {
      /* Served here, on the reader: the caller it is for waits for its reply, which only this
       * thread can deliver, so its buffers stay put while the copy runs. */
      pthread_mutex_unlock(&h->lock);
      rc = copy_serve(h, id, payload, len);
      pthread_mutex_lock(&h->lock);
      free(payload);
      payload = NULL;
    } else if (type == WIRE_EVENTS_DROPPED) {
      rc = len == WIRE_DROPPED_SIZE ? 0 : EIO;
      if (rc == 0 && wire_get_u64(payload) > h->kernel_dropped) h->kernel_dropped = wire_get_u64(payload);
      free(payload);
      payload = NULL;
    } else {
      rc = route_reply_locked(h, type, id, payload, len);
    }
    pthread_mutex_unlock(&h->lock);
    if (rc == 0) continue;
    free(payload);
    if (rc != EOVERFLOW) break; /* a broken peer, or no memory: the connection is done */
    transport_ack(h, 1);        /* dropped: its credit goes back at once */
  }
  pthread_mutex_lock(&h->lock);
  fail_all_locked(h);
  pthread_mutex_unlock(&h->lock);
  return NULL;
}

int transport_start_reader(handle_t *h) {
  return pthread_create(&h->reader, NULL, reader_main, h) == 0 ? 0 : EAGAIN;
}

/* Ends the connection; the reader sees EOF, fails every waiting request with EIO and exits. */
void transport_stop_reader(handle_t *h) {
  shutdown(h->fd, SHUT_RDWR);
  pthread_join(h->reader, NULL);
}

/* Sends a request and waits for its reply. On 0 the caller owns *reply (free it). `call`: an
 * INVOKE's parameters, which the kernel may copy from while it runs. */
int transport_request(handle_t *h, uint16_t type, const struct iovec *payload, int n, const struct call *call,
                      uint8_t **reply, uint32_t *reply_len) {
  struct pending p = {.call = call};
  pthread_mutex_lock(&h->lock);
  if (h->dead || h->closing) {
    pthread_mutex_unlock(&h->lock);
    return EIO;
  }
  p.id = ++h->next_id;
  if (p.id == 0) p.id = ++h->next_id;
  p.next = h->pending;
  h->pending = &p;
  pthread_mutex_unlock(&h->lock);

  int rc = transport_send(h, type, p.id, payload, n);

  pthread_mutex_lock(&h->lock);
  if (rc != 0 && !p.done) {
    p.done = 1;
    p.status = EIO;
  }
  while (!p.done) pthread_cond_wait(&h->replies, &h->lock);
  struct pending **pp = &h->pending;
  while (*pp != &p) pp = &(*pp)->next;
  *pp = p.next;
  pthread_mutex_unlock(&h->lock);

  if (p.status != 0 && p.payload == NULL) return p.status;
  *reply = p.payload;
  *reply_len = p.length;
  return 0;
}
