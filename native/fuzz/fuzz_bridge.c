/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_bridge -- libFuzzer harness for vmkmgmt-bridge's frame handling: the bridge's own session code
 * (bridge/session.c, calls.c, events.c, frames.c) is compiled in and served a byte stream by a client
 * thread on a socketpair, as ssh would feed it, in front of a stand-in for the vmk_Mgmt library.
 *
 * The stand-in plays a driver with the layout the client declared: it reads every byte of every
 * parameter, writes the ones its table returns, reads and writes every caller buffer the bridge
 * re-pointed (so a member left pointing at the client's address, or at a freed copy, is a crash
 * here), answers GetInstances (sometimes with more instances than the ABI allows), and sends events
 * from a monitor thread of its own, as the real library does; a call can make its kernel "die"
 * (the disconnect callback). Its behaviour comes from the input, so the fuzzer explores it too.
 *
 * Input: byte 0 is the stand-in's behaviour (STANDIN_* bits); the rest is a script of records:
 *   0x00 u16 n, n bytes           raw bytes, sent as they are (headers of any shape)
 *   0x01 u8 type, u32 id, u16 n,  one frame with a well-formed header of that type and id, and n
 *        n bytes                  bytes of payload (how real sessions are kept in the corpus)
 *   0x02 u8 flags, u32 status     answers the oldest unanswered COPY_REQUEST (waiting for one while
 *                                 calls are outstanding); COPY_* flags make the answer wrong
 *   0x03                          waits until no call is outstanding, a COPY_REQUEST waits, or the
 *                                 bridge hung up
 * (selectors are taken modulo 4). Then the client half-closes and reads until the bridge hangs up.
 * VMKMGMT_FUZZ_TRACE=1 names each frame the bridge sends, for reading a kept input.
 * Nothing waits on a clock: a bridge that hangs is a finding (libFuzzer's -timeout).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bridge/bridge.h"

/* Byte 0 of the input: how the stand-in library behaves. */
#define STANDIN_EXTENSIONS 0x01 /* has init_with, on_disconnect and event_stats (our library) */
#define STANDIN_INIT_FAILS 0x02
#define STANDIN_BEGIN_FAILS 0x04
#define STANDIN_TOO_MANY 0x08  /* GetInstances returns more than VMK_MGMT_MAX_INSTANCES */
#define STANDIN_AUTO_ACK 0x10  /* the client acknowledges every event it receives */
#define STANDIN_DROPS 0x20     /* event_stats reports events dropped behind the bridge */

/* An INVOKE's instance id tells the stand-in's kernel what to do (the low 16 bits):
 * bits 0-3: events to send for each user callback; bit 4: the kernel dies after them;
 * bits 8-15, when not 0: the driver's status. */
#define KERNEL_EVENTS(i) ((unsigned)((i)&0xF))
#define KERNEL_DIES(i) (((i) >> 4) & 1)
#define KERNEL_STATUS(i) ((int)(((i) >> 8) & 0xFF))

/* Flags of a copy answer: what is wrong with it. */
#define COPY_SHORT 0x01   /* a read's bytes one short */
#define COPY_OTHER_ID 0x02 /* a copy id nobody asked for */
#define COPY_OTHER_REQ 0x04 /* the request id of no call */

/* ---------------------------------------------------------------- the stand-in library */

#define MAX_QUEUED 64

struct queued {
  unsigned callback; /* index in the signature's table */
  vmk_uint64 instance;
  unsigned salt;
};

/* A handle. As in our library (registry.c), a call that races Destroy gets EINVAL, never freed
 * memory: the handle lives in its run (struct session) and Destroy only marks it, once the calls
 * inside it have left. */
struct vmkMgmtUserHandleInt {
  struct bridge *b; /* the cookie: the bridge whose table the driver's layout follows */
  vmk_MgmtApiSignature *sig;
  unsigned config;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  struct queued queue[MAX_QUEUED];
  unsigned head, count;
  int begun, stopping, dead, dying, destroyed;
  unsigned calls; /* invokes inside the library */
  vmkmgmt_DisconnectFn on_disconnect;
  vmk_uint64 dropped;
  pthread_t monitor;
};

/* One run: the bridge, and the stand-in's behaviour. The bridge passes itself as the cookie, so Init
 * finds the behaviour beside it. */
struct session {
  struct bridge b; /* first: the cookie points at both */
  unsigned config; /* the input's byte 0 */
  struct vmkMgmtUserHandleInt handle;
  int opened;
};

static volatile uint64_t sink; /* what the driver reads, so the reads are not optimised away */

static void touch(const void *p, size_t n) {
  const uint8_t *b = p;
  for (size_t i = 0; i < n; i++) sink += b[i];
}

static void fill(void *p, size_t n, unsigned salt) {
  uint8_t *b = p;
  for (size_t i = 0; i < n; i++) b[i] = (uint8_t)(i * 31 + salt);
}

static int standin_open(vmk_MgmtApiSignature *sig, vmk_uint64 cookie, vmk_MgmtUserHandle *out, char *why,
                        size_t why_len) {
  if (!sig || !out || sig->numCallbacks < 0 || (sig->numCallbacks > 0 && !sig->callbacks)) return EINVAL;
  struct session *run = (struct session *)(uintptr_t)cookie;
  if (run->config & STANDIN_INIT_FAILS) {
    if (why && why_len) snprintf(why, why_len, "the stand-in kernel has no %s", sig->name.string);
    return ENOENT;
  }
  if (run->opened) return EBUSY; /* one session per run */
  run->opened = 1;
  vmk_MgmtUserHandle h = &run->handle;
  memset(h, 0, sizeof *h);
  h->b = (struct bridge *)(uintptr_t)cookie;
  h->sig = sig;
  h->config = run->config;
  pthread_mutex_init(&h->lock, NULL);
  pthread_cond_init(&h->cond, NULL);
  *out = h;
  return 0;
}

static int standin_init(vmk_MgmtApiSignature *sig, vmk_uint64 cookie, vmk_MgmtUserHandle *out) {
  return standin_open(sig, cookie, out, NULL, 0);
}

static int standin_init_with(vmk_MgmtApiSignature *sig, vmk_uint64 cookie, const vmkmgmt_InitOptions *o,
                             vmk_MgmtUserHandle *out) {
  return standin_open(sig, cookie, out, o ? o->why : NULL, o ? o->whyLen : 0);
}

static int standin_instances(vmk_MgmtUserHandle h, vmk_MgmtInstances *list) {
  pthread_mutex_lock(&h->lock);
  int refused = h->destroyed ? EINVAL : h->dead ? EIO : 0;
  pthread_mutex_unlock(&h->lock);
  if (refused) return refused;
  unsigned n = (h->config & STANDIN_TOO_MANY) ? VMK_MGMT_MAX_INSTANCES + 9 : 3;
  memset(list, 0, sizeof *list);
  list->numInstances = (vmk_uint8)n;
  for (unsigned i = 0; i < n && i < VMK_MGMT_MAX_INSTANCES; i++) {
    list->instanceIds[i] = i + 1;
    /* the last name fills the whole field, with no NUL: the bridge must cut it */
    if (i == 2) memset(list->instanceNames[i].string, 'n', VMK_MISC_NAME_MAX);
    else snprintf(list->instanceNames[i].string, VMK_MISC_NAME_MAX, "vmnic%u", i);
  }
  return 0;
}

typedef void (*user_fn)(vmk_uint64, vmk_uint64, void *, void *, void *, void *);

/* One event for the user callback `index` of the table, as the real library gives it: each parameter
 * in its own buffer, a vector as a vmk_MgmtVectorParm. */
static void deliver(vmk_MgmtUserHandle h, const struct queued *q) {
  const vmk_MgmtCallbackInfo *cb = &h->sig->callbacks[q->callback];
  void *p[VMK_MGMT_MAX_CALLBACK_PARMS] = {0};
  void *owned[VMK_MGMT_MAX_CALLBACK_PARMS] = {0};
  vmk_MgmtVectorParm vec[VMK_MGMT_MAX_CALLBACK_PARMS];
  int ok = 1;
  for (int i = 0; i < cb->numParms && i < VMK_MGMT_MAX_CALLBACK_PARMS; i++) {
    uint64_t len = cb->parmSizes[i];
    if (parm_is_vector(cb->parmTypes[i])) len *= 1 + q->salt % 3;
    if (len > 65536) ok = 0; /* this kernel sends no event that large (the harness stays fast) */
    else if ((owned[i] = malloc(len ? (size_t)len : 1)) == NULL) ok = 0;
    else fill(owned[i], (size_t)len, q->salt);
    if (parm_is_vector(cb->parmTypes[i])) {
      vec[i] = (vmk_MgmtVectorParm){.length = len, .dataPtr = owned[i]};
      p[i] = &vec[i];
    } else {
      p[i] = owned[i];
    }
  }
  if (ok) ((user_fn)cb->callback)((vmk_uint64)(uintptr_t)h->b, q->instance, p[0], p[1], p[2], p[3]);
  for (int i = 0; i < VMK_MGMT_MAX_CALLBACK_PARMS; i++) free(owned[i]);
}

static void *standin_monitor(void *arg) {
  vmk_MgmtUserHandle h = arg;
  pthread_mutex_lock(&h->lock);
  for (;;) {
    while (!h->stopping && h->count == 0 && !(h->dying && !h->dead)) pthread_cond_wait(&h->cond, &h->lock);
    if (h->stopping) break;
    if (h->count == 0) {
      /* every event before the end went out: now the kernel is gone */
      h->dead = 1;
      vmkmgmt_DisconnectFn fn = h->on_disconnect;
      pthread_mutex_unlock(&h->lock);
      if (fn) fn((vmk_uint64)(uintptr_t)h->b, EIO);
      pthread_mutex_lock(&h->lock);
      continue;
    }
    struct queued q = h->queue[h->head];
    h->head = (h->head + 1) % MAX_QUEUED;
    h->count--;
    pthread_mutex_unlock(&h->lock);
    deliver(h, &q);
    pthread_mutex_lock(&h->lock);
  }
  pthread_mutex_unlock(&h->lock);
  return NULL;
}

static int standin_begin(vmk_MgmtUserHandle h) {
  if (h->config & STANDIN_BEGIN_FAILS) return EBUSY;
  if (h->begun) return EEXIST;
  h->stopping = 0;
  if (pthread_create(&h->monitor, NULL, standin_monitor, h) != 0) return EAGAIN;
  h->begun = 1;
  return 0;
}

static int standin_end(vmk_MgmtUserHandle h) {
  if (!h->begun) return EINVAL;
  pthread_mutex_lock(&h->lock);
  h->stopping = 1;
  pthread_cond_broadcast(&h->cond);
  pthread_mutex_unlock(&h->lock);
  pthread_join(h->monitor, NULL);
  h->begun = 0;
  return 0;
}

static int standin_destroy(vmk_MgmtUserHandle h) {
  pthread_mutex_lock(&h->lock);
  int again = h->destroyed;
  h->destroyed = 1;
  while (h->calls > 0) pthread_cond_wait(&h->cond, &h->lock);
  pthread_mutex_unlock(&h->lock);
  if (again) return EINVAL;
  if (h->begun) standin_end(h);
  return 0;
}

/* The end of a run: no thread can be in the handle any more (the bridge waited for its workers). */
static void standin_free(struct session *run) {
  if (!run->opened) return;
  pthread_mutex_destroy(&run->handle.lock);
  pthread_cond_destroy(&run->handle.cond);
}

static int standin_on_disconnect(vmk_MgmtUserHandle h, vmkmgmt_DisconnectFn fn) {
  pthread_mutex_lock(&h->lock);
  h->on_disconnect = fn;
  pthread_mutex_unlock(&h->lock);
  return 0;
}

static int standin_event_stats(vmk_MgmtUserHandle h, vmk_uint64 *kernel, vmk_uint64 *library) {
  pthread_mutex_lock(&h->lock);
  *kernel = h->dropped;
  *library = h->dropped / 2;
  pthread_mutex_unlock(&h->lock);
  return 0;
}

static uint64_t get_unsigned(const uint8_t *p, uint32_t size) {
  uint64_t v = 0;
  for (int i = (int)size - 1; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}

/* Whether two declared members of one element overlap: a driver's layout cannot have that, so the
 * stand-in does not play a driver for such a table (the bridge must still survive it). */
static int overlaps(const vmkmgmt_BufferField *a, const vmkmgmt_BufferField *f) {
  uint64_t a0 = a->offset, a1 = a0 + 8, f0 = f->offset, f1 = f0 + 8;
  uint64_t al0 = a->lengthOffset, al1 = al0 + a->lengthSize, fl0 = f->lengthOffset, fl1 = fl0 + f->lengthSize;
  int hit = a0 < f1 && f0 < a1;
  if (f->lengthSize) hit |= a0 < fl1 && fl0 < a1;
  if (a->lengthSize) hit |= al0 < f1 && f0 < al1;
  return hit;
}

/* The driver at work on one parameter's caller buffers: every one the bridge re-pointed must be its
 * own copy of the declared length (or the fault page, whose copy fails). EFAULT when one did. */
static int use_buffers(const struct bridge *b, vmk_uint64 callback, unsigned parm, uint8_t *data, uint64_t length,
                       uint32_t size, unsigned salt) {
  int rc = 0;
  for (uint32_t f = 0; f < b->num_buffers; f++) {
    const vmkmgmt_BufferField *bf = &b->buffers[f];
    if (bf->callbackId != callback || bf->parm != parm) continue;
    if (bf->offset + 8ull > size || bf->lengthOffset + (uint64_t)bf->lengthSize > size) return 0;
    for (uint32_t g = 0; g < b->num_buffers; g++)
      if (g != f && b->buffers[g].callbackId == callback && b->buffers[g].parm == parm && overlaps(bf, &b->buffers[g]))
        return 0;
  }
  for (uint32_t f = 0; f < b->num_buffers; f++) {
    const vmkmgmt_BufferField *bf = &b->buffers[f];
    if (bf->callbackId != callback || bf->parm != parm) continue;
    for (uint64_t e = 0; e + size <= length; e += size) {
      uint8_t *elem = data + e;
      uint8_t *ptr = (uint8_t *)(uintptr_t)get_unsigned(elem + bf->offset, 8);
      uint64_t len = bf->lengthSize ? get_unsigned(elem + bf->lengthOffset, bf->lengthSize) : bf->length;
      if (ptr == NULL || len == 0) continue;
      if (ptr == b->fault_page) {
        rc = EFAULT; /* vmk_CopyFromUser failed: the driver says so in its status */
        continue;
      }
      if (bf->direction & VMKMGMT_BUFFER_IN) touch(ptr, (size_t)len);
      if (bf->direction & VMKMGMT_BUFFER_OUT) fill(ptr, (size_t)len, salt);
    }
  }
  return rc;
}

static int standin_invoke(vmk_MgmtUserHandle h, vmk_uint64 instance, vmk_uint64 callback, vmk_uint32 argc, ...) {
  const vmk_MgmtCallbackInfo *cb = NULL;
  unsigned index = 0;
  for (int i = 0; i < h->sig->numCallbacks; i++) {
    if (h->sig->callbacks[i].callbackId == callback) {
      cb = &h->sig->callbacks[i];
      index = (unsigned)i;
    }
  }
  if (!cb) return ENOENT;
  if (cb->location != VMK_MGMT_CALLBACK_KERNEL || argc != cb->numParms) return EINVAL;
  pthread_mutex_lock(&h->lock);
  int refused = h->destroyed ? EINVAL : (h->dead || h->dying) ? EIO : 0;
  if (!refused) h->calls++;
  pthread_mutex_unlock(&h->lock);
  if (refused) return refused;
  void *a[VMK_MGMT_MAX_CALLBACK_PARMS] = {0};
  va_list ap;
  va_start(ap, argc);
  for (unsigned i = 0; i < argc; i++) a[i] = va_arg(ap, void *);
  va_end(ap);
  int status = 0;
  unsigned salt = (unsigned)(instance ^ callback ^ index);
  for (unsigned i = 0; i < argc; i++) {
    uint8_t *data = a[i];
    uint64_t length = cb->parmSizes[i];
    if (parm_is_vector(cb->parmTypes[i])) {
      const vmk_MgmtVectorParm *v = a[i];
      data = v->dataPtr;
      length = v->length;
    }
    touch(data, (size_t)length);
    int rc = use_buffers(h->b, callback, i, data, length, cb->parmSizes[i], salt);
    if (rc != 0) status = rc;
    if (parm_returns(cb->parmTypes[i])) fill(data, (size_t)length, salt + i);
  }
  /* what the instance id asks of the kernel: events, a death, a status */
  pthread_mutex_lock(&h->lock);
  for (int k = 0; k < h->sig->numCallbacks; k++) {
    if (h->sig->callbacks[k].location != VMK_MGMT_CALLBACK_USER || !h->sig->callbacks[k].callback) continue;
    for (unsigned e = 0; e < KERNEL_EVENTS(instance); e++) {
      if (h->count == MAX_QUEUED) {
        h->dropped += (h->config & STANDIN_DROPS) ? 1 : 0;
        continue;
      }
      h->queue[(h->head + h->count++) % MAX_QUEUED] = (struct queued){(unsigned)k, instance, salt + e};
    }
  }
  if ((h->config & STANDIN_DROPS) && KERNEL_EVENTS(instance)) h->dropped++;
  if (KERNEL_DIES(instance)) h->dying = 1;
  h->calls--;
  pthread_cond_broadcast(&h->cond);
  pthread_mutex_unlock(&h->lock);
  return KERNEL_STATUS(instance) ? KERNEL_STATUS(instance) : status;
}

/* ---------------------------------------------------------------- the client */

/* Frames in a byte stream, read as the bytes come: each header, and the start of each payload (as much
 * as a COPY_REQUEST's fixed part); the rest of a payload is skipped, never kept. */
struct scanner {
  uint8_t hdr[WIRE_HEADER_SIZE];
  size_t hdr_len;
  uint16_t type;
  uint32_t id;
  uint64_t left;
  uint8_t head[WIRE_COPY_REQUEST_SIZE];
  size_t head_len;
  int broken; /* a bad header: nothing after it is a frame */
};

struct client;

/* Feeds n bytes; done(c, s) runs for each whole frame. After a bad header it reads nothing more. */
static void scan(struct scanner *s, const uint8_t *p, size_t n, struct client *c,
                 void (*done)(struct client *, const struct scanner *)) {
  while (n > 0 && !s->broken) {
    if (s->hdr_len < WIRE_HEADER_SIZE) {
      size_t k = WIRE_HEADER_SIZE - s->hdr_len;
      if (k > n) k = n;
      memcpy(s->hdr + s->hdr_len, p, k);
      s->hdr_len += k;
      p += k;
      n -= k;
      if (s->hdr_len < WIRE_HEADER_SIZE) return;
      uint32_t len;
      if (wire_get_header(s->hdr, &s->type, &s->id, &len) != 0) {
        s->broken = 1;
        return;
      }
      s->left = len;
      s->head_len = 0;
    }
    size_t k = n < s->left ? n : (size_t)s->left;
    size_t keep = sizeof s->head - s->head_len;
    if (keep > k) keep = k;
    memcpy(s->head + s->head_len, p, keep);
    s->head_len += keep;
    s->left -= k;
    p += k;
    n -= k;
    if (s->left == 0) {
      s->hdr_len = 0;
      done(c, s);
    }
  }
}

struct client {
  int fd;
  unsigned config;
  const uint8_t *p;
  size_t n;
  /* out: bytes to send */
  uint8_t *out;
  size_t out_len, out_cap, out_sent;
  struct scanner sent; /* what we send, to count the calls we are owed an answer for */
  long outstanding;
  struct scanner in; /* what the bridge sends */
  /* COPY_REQUESTs not answered yet */
  struct copy_req {
    uint32_t request, copy_id;
    uint8_t op;
    uint64_t length;
  } copies[64];
  unsigned copies_n;
  int eof;
  int write_closed;
};

static size_t take(struct client *c, void *out, size_t want) {
  size_t k = want < c->n ? want : c->n;
  memcpy(out, c->p, k);
  c->p += k;
  c->n -= k;
  return k;
}

/* The script's next run of bytes: a u16 count, then that many bytes (cut to what is left). */
static const uint8_t *take_run(struct client *c, uint16_t *n) {
  *n = 0;
  take(c, n, 2);
  if (*n > c->n) *n = (uint16_t)c->n;
  const uint8_t *run = c->p;
  c->p += *n;
  c->n -= *n;
  return run;
}

static int reserve(struct client *c, size_t more) {
  if (c->out_len + more <= c->out_cap) return 0;
  size_t cap = c->out_cap ? c->out_cap : 4096;
  while (cap < c->out_len + more) cap *= 2;
  uint8_t *p = realloc(c->out, cap);
  if (!p) return ENOMEM;
  c->out = p;
  c->out_cap = cap;
  return 0;
}

/* A whole frame we sent: the bridge owes one reply to each INVOKE and GET_INSTANCES (after a bad
 * header nothing is counted: the bridge hangs up). */
static void sent_frame(struct client *c, const struct scanner *s) {
  if (s->type == WIRE_INVOKE || s->type == WIRE_GET_INSTANCES) c->outstanding++;
}

static void queue_bytes(struct client *c, const void *p, size_t n) {
  if (n == 0 || c->write_closed || reserve(c, n) != 0) return;
  memcpy(c->out + c->out_len, p, n);
  c->out_len += n;
  scan(&c->sent, p, n, c, sent_frame);
}

static void queue_frame(struct client *c, uint16_t type, uint32_t id, const void *payload, size_t n) {
  uint8_t hdr[WIRE_HEADER_SIZE];
  wire_put_header(hdr, type, id, (uint32_t)n);
  queue_bytes(c, hdr, sizeof hdr);
  queue_bytes(c, payload, n);
}

static int trace; /* VMKMGMT_FUZZ_TRACE set: each frame the bridge sends is named on stderr */

/* One whole frame from the bridge. */
static void on_frame(struct client *c, const struct scanner *s) {
  if (trace) fprintf(stderr, "bridge -> type %u id %u\n", s->type, s->id);
  if (s->type == WIRE_INVOKE_REPLY || s->type == WIRE_INSTANCES) {
    c->outstanding--;
  } else if (s->type == WIRE_COPY_REQUEST && s->head_len == WIRE_COPY_REQUEST_SIZE && c->copies_n < 64) {
    c->copies[c->copies_n++] = (struct copy_req){
        .request = s->id,
        .copy_id = wire_get_u32(s->head + WIRE_COPY_ID),
        .op = s->head[WIRE_COPY_OP],
        .length = wire_get_u64(s->head + WIRE_COPY_LENGTH),
    };
  } else if (s->type == WIRE_EVENT && (c->config & STANDIN_AUTO_ACK)) {
    uint8_t ack[WIRE_ACK_SIZE];
    wire_put_u32(ack, 1);
    queue_frame(c, WIRE_EVENT_ACK, 0, ack, sizeof ack);
  }
}

static void on_bytes(struct client *c, const uint8_t *p, size_t n) {
  scan(&c->in, p, n, c, on_frame);
  if (c->in.broken) abort(); /* the bridge's frames must be well formed: anything else is a defect */
}

/* Moves bytes both ways once; blocks in poll only when `block` (and something can happen). */
static void pump(struct client *c, int block) {
  struct pollfd pfd = {.fd = c->fd, .events = 0};
  if (!c->eof) pfd.events |= POLLIN;
  if (!c->write_closed && c->out_sent < c->out_len) pfd.events |= POLLOUT;
  if (pfd.events == 0) return;
  int r = poll(&pfd, 1, block ? -1 : 0);
  if (r < 0 && errno == EINTR) return; /* libFuzzer's -timeout alarm */
  if (r <= 0) return;
  if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
    uint8_t buf[65536];
    ssize_t k = recv(c->fd, buf, sizeof buf, MSG_DONTWAIT);
    if (k > 0) on_bytes(c, buf, (size_t)k);
    else if (k == 0 || (errno != EAGAIN && errno != EINTR)) c->eof = 1;
  }
  if ((pfd.revents & POLLOUT) && c->out_sent < c->out_len) {
    ssize_t k = send(c->fd, c->out + c->out_sent, c->out_len - c->out_sent, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (k > 0) c->out_sent += (size_t)k;
    else if (k < 0 && errno != EAGAIN && errno != EINTR) c->write_closed = 1; /* the bridge stopped reading */
  }
  if (c->out_sent == c->out_len) c->out_sent = c->out_len = 0;
}

static void flush(struct client *c) {
  while (!c->write_closed && !c->eof && c->out_sent < c->out_len) pump(c, 1);
}

/* Until nothing is owed, a copy waits, or the bridge hung up. */
static void wait_calls(struct client *c) {
  flush(c);
  while (!c->eof && c->outstanding > 0 && c->copies_n == 0) pump(c, 1);
}

static void answer_copy(struct client *c, uint8_t flags, uint32_t status) {
  wait_calls(c);
  if (c->copies_n == 0) return;
  struct copy_req q = c->copies[0];
  memmove(c->copies, c->copies + 1, --c->copies_n * sizeof q);
  uint64_t data = status == 0 && q.op == WIRE_COPY_FROM_USER ? q.length : 0;
  if (data && (flags & COPY_SHORT)) data--;
  uint8_t head[WIRE_COPY_REPLY_SIZE];
  wire_put_u32(head + WIRE_COPY_ID, q.copy_id + ((flags & COPY_OTHER_ID) ? 1 : 0));
  wire_put_u32(head + WIRE_COPY_REPLY_STATUS, status);
  uint8_t hdr[WIRE_HEADER_SIZE];
  wire_put_header(hdr, WIRE_COPY_REPLY, q.request + ((flags & COPY_OTHER_REQ) ? 1 : 0),
                  (uint32_t)(sizeof head + data));
  queue_bytes(c, hdr, sizeof hdr);
  queue_bytes(c, head, sizeof head);
  if (data && reserve(c, (size_t)data) == 0) {
    fill(c->out + c->out_len, (size_t)data, q.copy_id);
    c->out_len += (size_t)data;
  }
}

static void *client_main(void *arg) {
  struct client *c = arg;
  while (c->n > 0 && !c->eof && !c->write_closed) {
    uint8_t sel = 0;
    take(c, &sel, 1);
    switch (sel % 4) {
      case 0: {
        uint16_t n;
        const uint8_t *bytes = take_run(c, &n);
        queue_bytes(c, bytes, n);
        break;
      }
      case 1: {
        uint8_t type = 0;
        uint32_t id = 0;
        uint16_t n;
        take(c, &type, 1);
        take(c, &id, 4);
        const uint8_t *payload = take_run(c, &n);
        queue_frame(c, type, id, payload, n);
        break;
      }
      case 2: {
        uint8_t flags = 0;
        uint32_t status = 0;
        take(c, &flags, 1);
        take(c, &status, 4);
        answer_copy(c, flags, status);
        break;
      }
      default: wait_calls(c); break;
    }
    flush(c);
  }
  flush(c);
  shutdown(c->fd, SHUT_WR);
  c->write_closed = 1;
  while (!c->eof) pump(c, 1); /* the bridge's last frames, until it is done */
  return NULL;
}

/* ---------------------------------------------------------------- the harness */

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  signal(SIGPIPE, SIG_IGN); /* the bridge writes to a client that may have gone, as under ssh */
  trace = getenv("VMKMGMT_FUZZ_TRACE") != NULL;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) abort();
  int out = dup(sv[0]); /* stdin and stdout: two descriptors, as ssh gives them */
  if (out < 0) abort();
  struct session run = {.opened = 0};
  struct bridge *b = &run.b;
  bridge_init(b, sv[0], out);
  run.config = data[0];
  snprintf(b->peer, sizeof b->peer, "vmkmgmt-bridge %s on fuzz, stand-in", BRIDGE_VERSION);
  b->lib = (struct lib){
      .init = standin_init,
      .get_instances = standin_instances,
      .begin = standin_begin,
      .end = standin_end,
      .destroy = standin_destroy,
      .invoke = standin_invoke,
  };
  if (data[0] & STANDIN_EXTENSIONS) {
    b->lib.init_with = standin_init_with;
    b->lib.on_disconnect = standin_on_disconnect;
    b->lib.event_stats = standin_event_stats;
  }
  struct client c = {.fd = sv[1], .config = data[0], .p = data + 1, .n = size - 1};
  fcntl(sv[1], F_SETFL, O_NONBLOCK);
  pthread_t client;
  if (pthread_create(&client, NULL, client_main, &c) != 0) abort();
  bridge_serve(b);
  bridge_finish(b);
  standin_free(&run);
  close(b->in);
  if (b->out >= 0) close(b->out); /* (when the kernel died, the bridge closed it itself) */
  pthread_join(client, NULL);
  close(sv[1]);
  free(c.out);
  return 0;
}
