/* SPDX-License-Identifier: Apache-2.0 */
/*
 * transport.c -- the handle's socket to the kernel (connected by trust.c): framed writes, the reader
 * thread, and the writer thread.
 *
 * Receiving: the reader owns the receive side and routes every reply to the thread waiting for it
 * (or, for a submitted call, completes its token), so a reply never depends on the monitor thread
 * (which may be blocked inside a user callback waiting for the caller); EVENT frames go to the
 * monitor's queue or the handle's completion queue.
 *
 * Sending: one thread writes to the socket at a time (it "claims" it). A thread that may block
 * (a waiting caller, the reader's copy replies, the monitor's acknowledgements) waits for its turn
 * and writes its frame whole, straight from the caller's buffers. A thread that must never block (a
 * flush of submitted calls, or a drain's acknowledgements, on a program's event loop) writes what the
 * socket takes at once — submitted calls corked since the last flush go out together, one sendmsg for
 * many — and leaves the rest to the writer thread, started the first time it is needed; frames keep
 * their order.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "handle.h"
#include "wire.h"

/* The frame's header and pieces as one iovec array; its length, or 0 when it is too large. */
static size_t frame_iov(uint8_t hdr[WIRE_HEADER_SIZE], struct iovec *iov, uint16_t type, uint32_t id,
                        const struct iovec *payload, int n) {
  size_t len = 0;
  for (int i = 0; i < n; i++) {
    iov[1 + i] = payload[i];
    len += payload[i].iov_len;
  }
  if (len > WIRE_MAX_PAYLOAD) return 0;
  wire_put_header(hdr, type, id, (uint32_t)len);
  iov[0] = (struct iovec){hdr, WIRE_HEADER_SIZE};
  return WIRE_HEADER_SIZE + len;
}

/* Gives the socket back (with slock held). A failed write ends the connection: part of a frame may
 * be out, so nothing after it could be understood; the reader then fails every call with EIO. */
static void release_slocked(handle_t *h, int rc) {
  h->sending = 0;
  if (rc != 0 && !h->send_failed) {
    h->send_failed = 1;
    shutdown(h->fd, SHUT_RDWR);
  }
  pthread_cond_broadcast(&h->sendable);
  if (h->outq) pthread_cond_signal(&h->writable);
}

/* The payload goes straight from the caller's buffers to the socket, never through a copy (a 64 MiB
 * vector costs no 64 MiB malloc). Waits for frames queued before it, and for the socket. */
int transport_send(handle_t *h, uint16_t type, uint32_t id, const struct iovec *payload, int n) {
  uint8_t hdr[WIRE_HEADER_SIZE];
  struct iovec iov[1 + TRANSPORT_MAX_PIECES];
  if (n < 0 || n > TRANSPORT_MAX_PIECES || frame_iov(hdr, iov, type, id, payload, n) == 0) return EINVAL;
  pthread_mutex_lock(&h->slock);
  while ((h->sending || h->outq) && !h->send_failed) pthread_cond_wait(&h->sendable, &h->slock);
  if (h->send_failed) {
    pthread_mutex_unlock(&h->slock);
    return EIO;
  }
  h->sending = 1;
  pthread_mutex_unlock(&h->slock);
  int rc = wire_write_all(h->fd, iov, 1 + n, 1);
  pthread_mutex_lock(&h->slock);
  release_slocked(h, rc);
  pthread_mutex_unlock(&h->slock);
  return rc;
}

/* Writes what the socket takes now; the number of pieces left (the iovec consumed as written), or
 * -1 when the connection failed. */
static int write_now(int fd, struct iovec **iov, int n) {
  while (n > 0) {
    struct msghdr msg = {.msg_iov = *iov, .msg_iovlen = (size_t)n};
    ssize_t k = sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (k < 0) {
      if (errno == EINTR) continue;
      return errno == EAGAIN || errno == EWOULDBLOCK ? n : -1;
    }
    while (n > 0 && (size_t)k >= (*iov)->iov_len) {
      k -= (ssize_t)(*iov)->iov_len;
      (*iov)++;
      n--;
    }
    if (n > 0) {
      (*iov)->iov_base = (uint8_t *)(*iov)->iov_base + k;
      (*iov)->iov_len -= (size_t)k;
    }
  }
  return 0;
}

/* The frames left to the writer, once the connection failed: none will go out. */
static void drop_queue_slocked(handle_t *h, struct submitted **owners, size_t *count, size_t cap) {
  while (h->outq) {
    struct outframe *f = h->outq;
    if (f->owner) {
      if (*count == cap) break; /* the caller comes back for the rest */
      owners[(*count)++] = f->owner;
    }
    h->outq = f->next;
    free(f->copy);
    free(f);
  }
  if (!h->outq) h->outq_tail = NULL;
}

static void *writer_main(void *arg) {
  handle_t *h = arg;
  pthread_setname_np(pthread_self(), "vmkmgmt-writer");
  pthread_mutex_lock(&h->slock);
  for (;;) {
    while ((!h->outq || h->sending) && !h->writer_stop) pthread_cond_wait(&h->writable, &h->slock);
    if (!h->outq) break; /* stopping, and nothing is left */
    if (h->sending) {
      pthread_cond_wait(&h->writable, &h->slock);
      continue;
    }
    struct outframe *f = h->outq;
    h->outq = f->next;
    if (!h->outq) h->outq_tail = NULL;
    int rc = EIO;
    if (!h->send_failed) {
      h->sending = 1;
      pthread_mutex_unlock(&h->slock);
      rc = wire_write_all(h->fd, f->iov, f->n, 1);
      pthread_mutex_lock(&h->slock);
      release_slocked(h, rc);
    }
    struct submitted *owner = f->owner;
    free(f->copy);
    free(f);
    pthread_mutex_unlock(&h->slock);
    /* A submitted call's buffers are no longer read here: it may complete now. */
    if (owner) submit_unqueued(h, owner);
    pthread_mutex_lock(&h->slock);
  }
  pthread_mutex_unlock(&h->slock);
  return NULL;
}

/* Starts the writer thread the first time a frame must wait for it (slock held); 0 or EAGAIN. */
static int writer_ready_slocked(handle_t *h) {
  if (!h->writer_started) h->writer_started = pthread_create(&h->writer, NULL, writer_main, h) == 0;
  return h->writer_started ? 0 : EAGAIN;
}

/* Queues frames for the writer (slock held): at the head when the first of them is partly out
 * (it must go on before anything queued meanwhile), else at the tail. */
static void enqueue_slocked(handle_t *h, struct outframe *first, struct outframe *last, int at_head) {
  if (at_head) {
    last->next = h->outq;
    h->outq = first;
    if (!last->next) h->outq_tail = last;
  } else {
    if (h->outq_tail) h->outq_tail->next = first;
    else h->outq = first;
    h->outq_tail = last;
  }
  pthread_cond_signal(&h->writable);
}

/*
 * Sends a small frame (an acknowledgement) without ever blocking: written at once when the socket is
 * free and takes it, else (what is left of it, copied) queued for the writer thread. 0 (sent or
 * queued), EIO (the connection failed, perhaps with part of the frame out), or ENOMEM/EAGAIN (nothing
 * of it was sent).
 */
int transport_send_nowait(handle_t *h, uint16_t type, uint32_t id, const struct iovec *payload, int n) {
  uint8_t hdr[WIRE_HEADER_SIZE];
  struct iovec frame[1 + TRANSPORT_MAX_PIECES];
  size_t total = n < 0 || n > TRANSPORT_MAX_PIECES ? 0 : frame_iov(hdr, frame, type, id, payload, n);
  if (total == 0 || total > 4096) return EINVAL;
  struct iovec *iov = frame;
  int left = 1 + n;
  pthread_mutex_lock(&h->slock);
  if (h->send_failed) {
    pthread_mutex_unlock(&h->slock);
    return EIO;
  }
  int first = !h->sending && !h->outq;
  if (first) {
    h->sending = 1;
    pthread_mutex_unlock(&h->slock);
    left = write_now(h->fd, &iov, left);
    pthread_mutex_lock(&h->slock);
    release_slocked(h, left < 0 ? EIO : 0);
    if (left <= 0) {
      pthread_mutex_unlock(&h->slock);
      return left < 0 ? EIO : 0;
    }
  }
  /* The rest waits for the writer, copied (the caller's bytes are on its stack). */
  size_t rest = 0;
  for (int i = 0; i < left; i++) rest += iov[i].iov_len;
  struct outframe *q = calloc(1, sizeof *q);
  int rc = q && (q->copy = malloc(rest)) != NULL ? writer_ready_slocked(h) : ENOMEM;
  if (rc != 0) {
    /* A frame cut short cannot be taken back: the connection is lost. One not begun is not sent. */
    if (first) release_slocked(h, EIO);
    pthread_mutex_unlock(&h->slock);
    if (q) free(q->copy);
    free(q);
    return first ? EIO : rc;
  }
  size_t at = 0;
  for (int i = 0; i < left; i++) {
    memcpy(q->copy + at, iov[i].iov_base, iov[i].iov_len);
    at += iov[i].iov_len;
  }
  q->iov[0] = (struct iovec){q->copy, rest};
  q->n = 1;
  enqueue_slocked(h, q, q, first);
  pthread_mutex_unlock(&h->slock);
  return 0;
}

void transport_cork(handle_t *h, struct submitted *sub) {
  pthread_mutex_lock(&h->slock);
  sub->next_corked = NULL;
  if (h->cork_tail) h->cork_tail->next_corked = sub;
  else h->cork = sub;
  h->cork_tail = sub;
  pthread_mutex_unlock(&h->slock);
}

/* A submitted call's frame (its bytes from `skip` on) as a frame for the writer; NULL without memory. */
static struct outframe *frame_of(struct submitted *sub, size_t skip) {
  struct outframe *f = calloc(1, sizeof *f);
  if (!f) return NULL;
  for (int i = 0; i < sub->pieces; i++) {
    struct iovec v = sub->iov[i];
    size_t k = skip < v.iov_len ? skip : v.iov_len;
    skip -= k;
    if (k == v.iov_len) continue;
    f->iov[f->n++] = (struct iovec){(uint8_t *)v.iov_base + k, v.iov_len - k};
  }
  f->owner = sub;
  return f;
}

static size_t frame_bytes(const struct submitted *sub) {
  size_t n = 0;
  for (int i = 0; i < sub->pieces; i++) n += sub->iov[i].iov_len;
  return n;
}

/* Each submitted call of a list is let go by the send side (its frame is out, or never will be). */
static void unqueue_list(handle_t *h, struct submitted *list) {
  submit_unqueued_list(h, list, SIZE_MAX);
}

/* Frames written in one sendmsg at most (each is up to 1 + TRANSPORT_MAX_PIECES pieces). */
#define FLUSH_BATCH 128

/*
 * Sends every corked frame of the handle without ever blocking: as many as the socket takes now, in
 * batches (one sendmsg for up to FLUSH_BATCH frames), and the rest — the one cut short first — to
 * the writer thread. 0, or EIO when the connection failed (the reader then fails the calls).
 */
int transport_flush(handle_t *h) {
  pthread_mutex_lock(&h->slock);
  struct submitted *list = h->cork;
  h->cork = h->cork_tail = NULL;
  int failed = h->send_failed;
  int claimed = list && !failed && !h->sending && !h->outq;
  if (claimed) h->sending = 1;
  pthread_mutex_unlock(&h->slock);
  if (!list) return 0;
  if (failed) {
    unqueue_list(h, list);
    return EIO;
  }
  int rc = 0;
  size_t skip = 0; /* bytes of the list's first frame already out */
  while (claimed && list) {
    struct iovec v[FLUSH_BATCH * (1 + TRANSPORT_MAX_PIECES)];
    int nv = 0, nb = 0;
    for (struct submitted *s = list; s && nb < FLUSH_BATCH; s = s->next_corked, nb++) {
      for (int i = 0; i < s->pieces; i++) v[nv++] = s->iov[i];
    }
    size_t total = 0;
    for (int i = 0; i < nv; i++) total += v[i].iov_len;
    struct iovec *p = v;
    int left = write_now(h->fd, &p, nv);
    if (left < 0) {
      rc = EIO;
      break;
    }
    size_t unsent = 0;
    for (int i = 0; i < left; i++) unsent += p[i].iov_len;
    size_t written = total - unsent;
    /* Whole frames are out: their calls are let go, together. */
    size_t out = 0;
    for (struct submitted *s = list; s && written >= frame_bytes(s); s = s->next_corked, out++) {
      written -= frame_bytes(s);
    }
    list = submit_unqueued_list(h, list, out);
    if (left > 0) {
      skip = written;
      break; /* the socket is full: the rest is the writer's */
    }
  }
  pthread_mutex_lock(&h->slock);
  if (claimed) release_slocked(h, rc);
  struct outframe *first = NULL, *last = NULL;
  if (rc == 0 && list) {
    /* The rest, in order, for the writer: at the head if part of its first frame is out. */
    rc = writer_ready_slocked(h);
    for (struct submitted *s = list; rc == 0 && s; s = s->next_corked) {
      struct outframe *f = frame_of(s, s == list ? skip : 0);
      if (!f) {
        rc = ENOMEM;
        break;
      }
      if (last) last->next = f;
      else first = f;
      last = f;
    }
    if (rc == 0) {
      enqueue_slocked(h, first, last, claimed);
      list = NULL;
    } else {
      /* Frames that can be neither sent nor queued: the connection cannot go on (the reader fails
       * their calls once it sees it end). */
      release_slocked(h, EIO);
      while (first) {
        struct outframe *next = first->next;
        free(first);
        first = next;
      }
      rc = EIO;
    }
  }
  pthread_mutex_unlock(&h->slock);
  unqueue_list(h, list);
  return rc;
}

/* Ends the writer thread (after the reader: the socket is shut down, so no write can block) and
 * lets every submitted call whose frame it still held complete. */
void transport_stop_writer(handle_t *h) {
  struct submitted *owners[256];
  size_t count;
  pthread_mutex_lock(&h->slock);
  h->writer_stop = 1;
  h->send_failed = 1;
  pthread_cond_broadcast(&h->sendable);
  pthread_cond_broadcast(&h->writable);
  int started = h->writer_started;
  pthread_mutex_unlock(&h->slock);
  if (started) pthread_join(h->writer, NULL);
  pthread_mutex_lock(&h->slock);
  struct submitted *corked = h->cork;
  h->cork = h->cork_tail = NULL;
  pthread_mutex_unlock(&h->slock);
  unqueue_list(h, corked);
  do {
    count = 0;
    pthread_mutex_lock(&h->slock);
    drop_queue_slocked(h, owners, &count, sizeof owners / sizeof *owners);
    pthread_mutex_unlock(&h->slock);
    for (size_t i = 0; i < count; i++) submit_unqueued(h, owners[i]);
  } while (count == sizeof owners / sizeof *owners);
}

/* Returns `n` event credits to the kernel (PROTOCOL.md, flow control); `wait`: for the socket's
 * turn, else never (a program's event loop, or a thread polling for its answers, sends it). */
static void send_ack(handle_t *h, uint32_t n, int wait) {
  uint8_t ack[WIRE_ACK_SIZE];
  wire_put_u32(ack, n);
  struct iovec iov = {ack, sizeof ack};
  if (wait) transport_send(h, WIRE_EVENT_ACK, 0, &iov, 1);
  else transport_send_nowait(h, WIRE_EVENT_ACK, 0, &iov, 1);
}

void transport_ack(handle_t *h, uint32_t n) {
  send_ack(h, n, 1);
}

void transport_ack_nowait(handle_t *h, uint32_t n) {
  send_ack(h, n, 0);
}

/* The connection is gone: every waiting request fails with EIO, and so does every later call.
 * Submitted calls are unlinked and returned in `failed` (completed by the caller, unlocked). */
static struct pending *fail_all_locked(handle_t *h) {
  struct pending *failed = NULL;
  h->dead = 1;
  for (size_t b = 0; b < PENDING_BUCKETS; b++) {
    for (struct pending **pp = &h->pending[b]; *pp;) {
      struct pending *p = *pp;
      if (p->sub && !p->done) {
        p->done = 1;
        *pp = p->next;
        p->next = failed;
        failed = p;
        continue;
      }
      if (!p->done) {
        p->done = 1;
        p->status = EIO;
      }
      pp = &p->next;
    }
  }
  if (h->queue_events && !h->closing) queue_disconnected_locked(h);
  pthread_cond_broadcast(&h->replies);
  pthread_cond_broadcast(&h->events);
  pthread_cond_broadcast(&h->state);
  return failed;
}

/* The bucket of request id `id` (lock held). */
static struct pending **bucket_locked(handle_t *h, uint32_t id) {
  return &h->pending[id & (PENDING_BUCKETS - 1)];
}

/* The link to the request with id `id` still awaiting its reply (lock held); at NULL, none. */
static struct pending **awaiting_locked(handle_t *h, uint32_t id) {
  struct pending **pp = bucket_locked(h, id);
  while (*pp && !((*pp)->id == id && !(*pp)->done)) pp = &(*pp)->next;
  return pp;
}

/* The INVOKE in flight with request id `id`, else NULL (for copy.c). */
const struct call *transport_call_locked(handle_t *h, uint32_t id) {
  struct pending *p = *awaiting_locked(h, id);
  return p ? p->call : NULL;
}

/* Hands a reply to its request (which then owns the payload); EIO for a frame nobody asked for.
 * A submitted call's request is unlinked and returned in *sub, for the reader to complete. */
static int route_reply_locked(handle_t *h, uint16_t type, uint32_t id, uint8_t *payload, uint32_t len,
                              struct pending **sub) {
  struct pending **pp = awaiting_locked(h, id);
  struct pending *p = *pp;
  if (!p || (type != WIRE_HELLO_REPLY && type != WIRE_INVOKE_REPLY && type != WIRE_INSTANCES) || len < 4) {
    return EIO;
  }
  p->done = 1;
  p->status = wire_get_status(payload);
  p->payload = payload;
  p->length = len;
  if (p->sub) {
    *pp = p->next;
    *sub = p;
    return 0;
  }
  pthread_cond_broadcast(&h->replies);
  return 0;
}

/* Frames the reader hands over before it rings a completion queue's doorbell, at the latest. */
#define READER_RING_BATCH 64

/* Handles one frame read from the kernel (taking `payload`), on the reader or on a program polling
 * for its answers (transport_poll, which never passes a COPY_REQUEST). 0; EOVERFLOW or EBADMSG for an
 * event dropped here (its credit must go back); any other error ends the connection. */
static int handle_frame(handle_t *h, uint16_t type, uint32_t id, uint8_t *payload, uint32_t len, int *ring_owed) {
  struct pending *sub = NULL;
  pthread_mutex_lock(&h->lock);
  int rc;
  if (type == WIRE_EVENT) {
    int paid = h->prepaid > 0; /* (the receive side's: frames are handled in the order they were read) */
    if (paid) h->prepaid--;
    rc = h->queue_events && h->begun ? queue_event_locked(h, payload, len, paid, ring_owed)
                                     : monitor_queue_locked(h, payload, len, paid);
    if (rc == EOVERFLOW) h->library_dropped++;
    if (paid && (rc == EOVERFLOW || rc == EBADMSG)) {
      free(payload); /* dropped, its credit back already */
      payload = NULL;
      rc = 0;
    }
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
    queue_push_held_locked(h, ring_owed); /* (the events read before it come out before it) */
    rc = route_reply_locked(h, type, id, payload, len, &sub);
  }
  pthread_mutex_unlock(&h->lock);
  /* Out of the lock: the returned bytes go into the caller's buffers, and its token completes. */
  if (sub) submit_replied(h, sub->sub, sub->status, sub->payload, sub->length, ring_owed);
  if (rc != 0) free(payload);
  return rc;
}

/* How long the reader leaves bytes to a program polling for its answers before it reads them itself. */
#define READER_DEFER_NS 50000

/* Whether a program polling for its answers (vmkmgmt_UserPoll) took the bytes that woke the reader,
 * which looked on for a moment. Why: both wait on the socket, and the answer woke both; racing the
 * program for it, the reader won nearly every call in one of the ways the scheduler places the
 * threads — the program then waited for the reader to handle its answer (sequential calls ~20k/s
 * against ~31k in the other way, the reader's CPU ~18 µs a call against ~5). What the program
 * cannot take (a COPY_REQUEST, a frame not yet whole) the reader reads after READER_DEFER_NS. */
static int reader_defers(handle_t *h) {
  uint64_t until = now_ns() + READER_DEFER_NS;
  while (__atomic_load_n(&h->pollers, __ATOMIC_ACQUIRE) > 0) {
    int avail = 0;
    if (ioctl(h->fd, FIONREAD, &avail) != 0) return 0;
    if (avail == 0) return 1;
    if (now_ns() > until) return 0;
    sched_yield();
  }
  return 0;
}

/* Waits until the socket has bytes (or is closed), holding no lock; then takes the receive side and
 * reads what is there without waiting. 1 when bytes were read (the receive side is held), 0 when a
 * poller took them first (it is not), -1 at EOF or on an error (it is not). */
static int reader_wait(handle_t *h, struct wire_reader *rd) {
  struct pollfd p = {.fd = h->fd, .events = POLLIN};
  if (poll(&p, 1, -1) < 0 && errno != EINTR) return -1;
  if (!(p.revents & (POLLHUP | POLLERR)) && reader_defers(h)) return 0;
  pthread_mutex_lock(&h->rlock);
  rd->start = rd->end = 0;
  ssize_t n = recv(h->fd, rd->buf, WIRE_READER_SIZE, MSG_DONTWAIT);
  if (n > 0) {
    rd->end = (size_t)n;
    return 1;
  }
  pthread_mutex_unlock(&h->rlock);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? 0 : -1;
}

/* With the receive side still held, reads what the kernel sent while the last batch was handled,
 * never waiting: 1 when bytes came, 0 when none (or EOF, an error: reader_wait finds them), and then the
 * reader lets go and waits. Under a stream of events there is nearly always more, and this read saves
 * the poll before it (a system call a batch) and letting go of the receive side and taking it again. */
static int reader_read_on(handle_t *h, struct wire_reader *rd) {
  rd->start = rd->end = 0;
  ssize_t n = recv(h->fd, rd->buf, WIRE_READER_SIZE, MSG_DONTWAIT);
  if (n <= 0) return 0;
  rd->end = (size_t)n;
  return 1;
}

/* Acknowledges the whole EVENT frames a read just brought, before they are handled, when the queue
 * has room for them (queue.c, ACK_AHEAD_BELOW): the kernel sends the next ones meanwhile. */
static void prepay_events(handle_t *h, const struct wire_reader *rd) {
  unsigned frames = 0;
  for (size_t at = rd->start; rd->end - at >= WIRE_HEADER_SIZE;) {
    uint16_t type;
    uint32_t id, len;
    if (wire_get_header(rd->buf + at, &type, &id, &len) != 0 || rd->end - at - WIRE_HEADER_SIZE < len) break;
    frames += type == WIRE_EVENT;
    at += WIRE_HEADER_SIZE + len;
  }
  if (frames == 0) return;
  pthread_mutex_lock(&h->lock);
  int paid = queue_prepay_locked(h, frames);
  pthread_mutex_unlock(&h->lock);
  if (paid) transport_ack_nowait(h, frames);
}

static void *reader_main(void *arg) {
  handle_t *h = arg;
  pthread_setname_np(pthread_self(), "vmkmgmt-reader"); /* so ps, gdb and the soak can tell it */
  /* Frames come through a buffer (wire_reader), and the doorbell of a completion queue rings once
   * for every frame that one read brought (at most READER_RING_BATCH), not once per frame: waking
   * the program costs it more than handling what it is woken for (ARCHITECTURE.md, threads).
   * The receive side (rlock) is held from the read that fills the buffer until every byte of it is
   * handled, so a program polling for its answers (transport_poll) reads only between whole frames. */
  struct wire_reader rd = {.fd = h->fd, .buf = malloc(WIRE_READER_SIZE)};
  int ring_owed = 0, held = 0, events = 0;
  unsigned batched = 0;
  while (rd.buf) {
    uint16_t type;
    uint32_t id, len;
    uint8_t *payload = NULL;
    if (batched > 0 && (batched >= READER_RING_BATCH || !wire_reader_ready(&rd))) {
      if (events) { /* the batch's events, queued together */
        pthread_mutex_lock(&h->lock);
        queue_push_held_locked(h, &ring_owed);
        pthread_mutex_unlock(&h->lock);
        events = 0;
      }
      /* Events acknowledged ahead, whether or not the doorbell is owed (a queue not empty owes no
       * ring, and the kernel must not wait for those credits); first, so the kernel goes on sending
       * while the program wakes. */
      queue_send_acks_ahead(h);
      if (ring_owed) queue_ring(h->queue); /* before the next read may sleep */
      ring_owed = 0;
      batched = 0;
    }
    if (rd.start == rd.end) {
      if (!(held > 0 && reader_read_on(h, &rd))) {
        if (held) pthread_mutex_unlock(&h->rlock);
        held = reader_wait(h, &rd);
        if (held < 0) break;
        if (!held) continue;
      }
      prepay_events(h, &rd);
    }
    if (wire_reader_next(&rd, &type, &id, &payload, &len) != 0) break;
    int rc = handle_frame(h, type, id, payload, len, &ring_owed);
    batched++;
    events |= type == WIRE_EVENT;
    if (rc == 0) continue;
    if (rc != EOVERFLOW && rc != EBADMSG) break; /* a broken peer, or no memory: the connection is done */
    transport_ack(h, 1); /* dropped, or not for this signature: its credit goes back at once */
  }
  pthread_mutex_lock(&h->lock);
  h->prepaid = 0; /* (frames left unhandled: the connection is done) */
  queue_push_held_locked(h, &ring_owed); /* (before word of the lost kernel) */
  pthread_mutex_unlock(&h->lock);
  if (held > 0) pthread_mutex_unlock(&h->rlock);
  pthread_mutex_lock(&h->lock);
  struct pending *failed = fail_all_locked(h);
  pthread_mutex_unlock(&h->lock);
  while (failed) {
    struct pending *next = failed->next;
    submit_replied(h, failed->sub, EIO, NULL, 0, &ring_owed);
    failed = next;
  }
  if (ring_owed) queue_ring(h->queue);
  queue_send_acks_ahead(h); /* (a connection gone takes none) */
  free(rd.buf);
  return NULL;
}

/* Reads and handles the whole frames already waiting on the socket, never waiting: called by a
 * program spinning for its answers (vmkmgmt_UserPoll), so an answer reaches it without the reader
 * thread being woken first — on a virtual machine each wake-up costs tens of microseconds. Only
 * while the reader is not reading (rlock free, so no frame is half-read) and only frames it can
 * handle without waiting: a COPY_REQUEST, a frame larger than the reader's buffer, a bad one, EOF are
 * left to the reader, which is woken by the same bytes. Nothing it completes rings the doorbell: the
 * caller drains the queue next. At most `max` frames: the caller is JavaScript's thread, and each
 * frame costs it three system calls (~4 µs here) — a burst of a thousand answers read this way kept
 * timers waiting 4–5 ms; what it leaves, the reader takes. Returns how many frames it handled. */
int transport_poll(handle_t *h, int max) {
  if (max <= 0 || pthread_mutex_trylock(&h->rlock) != 0) return 0;
  int frames = 0;
  while (frames < max) {
    uint8_t hdr[WIRE_HEADER_SIZE];
    uint16_t type;
    uint32_t id, len;
    int avail = 0;
    if (ioctl(h->fd, FIONREAD, &avail) != 0 || avail < (int)sizeof hdr) break; /* (the usual answer: none yet) */
    ssize_t k = recv(h->fd, hdr, sizeof hdr, MSG_PEEK | MSG_DONTWAIT);
    if (k != (ssize_t)sizeof hdr || wire_get_header(hdr, &type, &id, &len) != 0) break;
    if (type == WIRE_COPY_REQUEST || len > WIRE_READER_SIZE || (size_t)avail < sizeof hdr + len) break;
    uint8_t *payload = len > 0 ? malloc(len) : NULL;
    if (len > 0 && !payload) break;
    /* The whole frame is there (FIONREAD said so), and only this thread reads now: one readv. */
    struct iovec iov[2] = {{hdr, sizeof hdr}, {payload, len}};
    if (readv(h->fd, iov, len > 0 ? 2 : 1) != (ssize_t)(sizeof hdr + len)) {
      free(payload);
      shutdown(h->fd, SHUT_RDWR); /* (cannot happen; if it did, the stream is out of step) */
      break;
    }
    int owed = 0; /* (the caller drains next: no doorbell) */
    frames++;
    int rc = handle_frame(h, type, id, payload, len, &owed);
    if (rc == EOVERFLOW || rc == EBADMSG) {
      transport_ack_nowait(h, 1); /* dropped, or not for this signature: its credit goes back at once */
    } else if (rc != 0) {
      shutdown(h->fd, SHUT_RDWR); /* a broken peer: the reader sees EOF and fails every call */
      break;
    }
  }
  int owed = 0; /* (the caller drains next: no doorbell) */
  pthread_mutex_lock(&h->lock);
  queue_push_held_locked(h, &owed);
  pthread_mutex_unlock(&h->lock);
  pthread_mutex_unlock(&h->rlock);
  queue_send_acks_ahead(h);
  return frames;
}

int transport_start_reader(handle_t *h) {
  return pthread_create(&h->reader, NULL, reader_main, h) == 0 ? 0 : EAGAIN;
}

/* Ends the connection; the reader sees EOF, fails every waiting request with EIO and exits. */
void transport_stop_reader(handle_t *h) {
  shutdown(h->fd, SHUT_RDWR);
  pthread_join(h->reader, NULL);
}

/* Gives a request its id and puts it on the list the reader routes replies by; EIO when the
 * connection is gone or closing (nothing was registered). Called with h->lock held. */
int transport_register(handle_t *h, struct pending *p) {
  if (h->dead || h->closing) return EIO;
  p->id = ++h->next_id;
  if (p->id == 0) p->id = ++h->next_id;
  struct pending **bucket = bucket_locked(h, p->id);
  p->next = *bucket;
  *bucket = p;
  return 0;
}

/* Sends a request and waits for its reply. On 0 the caller owns *reply (free it). `call`: an
 * INVOKE's parameters, which the kernel may copy from while it runs. */
int transport_request(handle_t *h, uint16_t type, const struct iovec *payload, int n, const struct call *call,
                      uint8_t **reply, uint32_t *reply_len) {
  struct pending p = {.call = call};
  pthread_mutex_lock(&h->lock);
  int rc = transport_register(h, &p);
  pthread_mutex_unlock(&h->lock);
  if (rc != 0) return rc;

  rc = transport_send(h, type, p.id, payload, n);

  pthread_mutex_lock(&h->lock);
  if (rc != 0 && !p.done) {
    p.done = 1;
    p.status = EIO;
  }
  while (!p.done) pthread_cond_wait(&h->replies, &h->lock);
  struct pending **pp = bucket_locked(h, p.id);
  while (*pp != &p) pp = &(*pp)->next;
  *pp = p.next;
  pthread_mutex_unlock(&h->lock);

  if (p.status != 0 && p.payload == NULL) return p.status;
  *reply = p.payload;
  *reply_len = p.length;
  return 0;
}
