/* SPDX-License-Identifier: Apache-2.0 */
/*
 * calls.c -- INVOKE and GET_INSTANCES through the real library, each on a worker thread of the
 * session's pool so a slow kernel callback holds up no other call; or, with our library, an INVOKE
 * submitted to its completion queue from the reading thread and answered from the library's own
 * reader thread as it completes — no thread hand-off per call but the kernel's answer (measured: at 32 calls in flight the worker
 * pool spent ~50 us of CPU a call, most of it waking threads; ARCHITECTURE.md, "Threads").
 *
 * Caller buffers behind pointer members (the buffer fields HELLO declared): a sync kernel callback
 * reads and writes them with vmk_CopyFromUser/vmk_CopyToUser in the calling process — here, the
 * bridge. So before the call each one the client pointed at is fetched (a COPY_REQUEST read of the
 * client's address, whatever the direction), the member is re-pointed at the bridge's copy, and
 * after the call an `out` or `inout` buffer goes back (a COPY_REQUEST write) and the member gets
 * its address back.
 * An address the client cannot read is re-pointed at a page nothing may touch, so the kernel's copy
 * fails as it would have in the client.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bridge.h"

/* One parsed INVOKE. */
struct invoke {
  struct bridge *b;
  uint32_t id;
  uint8_t *payload; /* owned */
  uint32_t len;
  uint64_t instance, callback;
  int sync;
  unsigned n;
  uint8_t type[VMK_MGMT_MAX_CALLBACK_PARMS];
  uint8_t sent[VMK_MGMT_MAX_CALLBACK_PARMS];
  uint32_t size[VMK_MGMT_MAX_CALLBACK_PARMS];
  uint64_t length[VMK_MGMT_MAX_CALLBACK_PARMS];
  uint8_t *data[VMK_MGMT_MAX_CALLBACK_PARMS]; /* the bridge's copy of each parameter (owned) */
  vmk_MgmtVectorParm vec[VMK_MGMT_MAX_CALLBACK_PARMS]; /* a submitted call's vectors: alive until it completes */
};

/* A caller buffer re-pointed for the call. */
struct moved {
  uint8_t *member;  /* the pointer member, in a parameter's bytes */
  uint64_t address; /* the client's address */
  uint8_t *copy;    /* the bridge's bytes (owned) */
  uint64_t length;
  uint32_t dir;
  int readable; /* the client let us read it (else the member points at the fault page) */
};

#define MAX_MOVED 4096

/* ---------------------------------------------------------------- copies from and to the client */

/* Asks the client to read (`data` NULL) or write its memory at `address`; waits for the answer.
 * A read's bytes land in `into`. Returns the client's status, or EIO when it is gone. */
static int client_copy(struct bridge *b, uint32_t request, uint8_t op, uint64_t address, uint8_t *into,
                       const uint8_t *data, uint64_t length) {
  struct copy_wait w = {.request = request};
  uint8_t msg[WIRE_COPY_REQUEST_SIZE];
  pthread_mutex_lock(&b->lock);
  if (b->closing) {
    pthread_mutex_unlock(&b->lock);
    return EIO;
  }
  w.copy_id = ++b->next_copy;
  w.next = b->copies;
  b->copies = &w;
  pthread_mutex_unlock(&b->lock);

  memset(msg, 0, sizeof msg);
  wire_put_u32(msg + WIRE_COPY_ID, w.copy_id);
  msg[WIRE_COPY_OP] = op;
  msg[WIRE_COPY_TARGET] = WIRE_COPY_ADDRESS;
  wire_put_u64(msg + WIRE_COPY_WHERE, address);
  wire_put_u64(msg + WIRE_COPY_LENGTH, length);
  struct iovec iov[2] = {{msg, sizeof msg}, {(void *)data, data ? (size_t)length : 0}};
  int rc = frame_send(b, WIRE_COPY_REQUEST, request, iov, data ? 2 : 1);

  pthread_mutex_lock(&b->lock);
  while (rc == 0 && !w.done && !b->closing) pthread_cond_wait(&b->cond, &b->lock);
  struct copy_wait **pp = &b->copies;
  while (*pp != &w) pp = &(*pp)->next;
  *pp = w.next;
  pthread_mutex_unlock(&b->lock);
  if (rc == 0) rc = w.done ? w.status : EIO;
  if (rc == 0 && op == WIRE_COPY_FROM_USER) {
    if (w.length != WIRE_COPY_REPLY_SIZE + length) rc = EIO;
    else memcpy(into, w.payload + WIRE_COPY_REPLY_SIZE, length);
  }
  free(w.payload);
  return rc;
}

/* COPY_REPLY from the client: hands it to the worker waiting for it; EPROTO if none is. */
int calls_copy_reply(struct bridge *b, uint32_t id, uint8_t *payload, uint32_t len) {
  if (len < WIRE_COPY_REPLY_SIZE) return EPROTO;
  uint32_t copy_id = wire_get_u32(payload + WIRE_COPY_ID);
  pthread_mutex_lock(&b->lock);
  struct copy_wait *w = b->copies;
  while (w && !(w->request == id && w->copy_id == copy_id && !w->done)) w = w->next;
  if (w) {
    w->done = 1;
    w->status = (int)wire_get_u32(payload + WIRE_COPY_REPLY_STATUS);
    w->payload = payload;
    w->length = len;
    pthread_cond_broadcast(&b->cond);
  }
  pthread_mutex_unlock(&b->lock);
  return w ? 0 : EPROTO;
}

/* ---------------------------------------------------------------- INVOKE */

/* Parses an INVOKE as the simulator does; EPROTO for anything malformed. The parameter count is
 * stored only once it fits the arrays: cleanup and the reply walk c->n entries. */
static int parse(struct invoke *c) {
  const uint8_t *p = c->payload;
  if (c->len < WIRE_INVOKE_HEADER_SIZE) return EPROTO;
  unsigned n = p[WIRE_INVOKE_NUMPARMS];
  if (p[WIRE_INVOKE_SYNC] > 1 || n > VMK_MGMT_MAX_CALLBACK_PARMS) return EPROTO;
  for (unsigned i = WIRE_INVOKE_NUMPARMS + 1; i < WIRE_INVOKE_HEADER_SIZE; i++)
    if (p[i] != 0) return EPROTO;
  uint64_t off = wire_invoke_data(n);
  if (c->len < off) return EPROTO;
  c->instance = wire_get_u64(p + WIRE_INVOKE_INSTANCE);
  c->callback = wire_get_u64(p + WIRE_INVOKE_CALLBACK);
  c->sync = p[WIRE_INVOKE_SYNC];
  c->n = n;
  for (unsigned i = 0; i < c->n; i++) {
    const uint8_t *d = p + WIRE_INVOKE_HEADER_SIZE + WIRE_PARM_DESC_SIZE * i;
    c->type[i] = d[WIRE_PARM_TYPE];
    c->sent[i] = d[WIRE_PARM_FLAGS];
    c->size[i] = wire_get_u32(d + WIRE_PARM_SIZE);
    c->length[i] = wire_get_u64(d + WIRE_PARM_LENGTH);
    if (c->type[i] > VMK_MGMT_PARMTYPE_VECTOR_INOUT || (c->sent[i] & ~WIRE_PARM_DATA) != 0 || c->size[i] == 0 ||
        c->length[i] == 0 || c->length[i] > WIRE_MAX_VECTOR || c->length[i] % c->size[i] != 0 ||
        (!parm_is_vector(c->type[i]) && c->length[i] != c->size[i]))
      return EPROTO;
    if (c->sent[i]) off += c->length[i];
  }
  return off == c->len ? 0 : EPROTO;
}

/* The client's table entry for the call; EINVAL when the INVOKE does not match it. */
static int check_against_table(const struct bridge *b, const struct invoke *c, const vmk_MgmtCallbackInfo **out) {
  for (int i = 0; i < b->sig.numCallbacks; i++) {
    const vmk_MgmtCallbackInfo *cb = &b->callbacks[i];
    if (cb->callbackId != c->callback) continue;
    if (cb->location != VMK_MGMT_CALLBACK_KERNEL || cb->numParms != c->n) return EINVAL;
    for (unsigned k = 0; k < c->n; k++)
      if ((uint8_t)cb->parmTypes[k] != c->type[k] || cb->parmSizes[k] != c->size[k]) return EINVAL;
    *out = cb;
    return 0;
  }
  return ENOENT;
}

/* Fetches and re-points every caller buffer of the call; EINVAL for a length out of bounds or an
 * async call that carries one (the kernel copies only during a sync call). */
static int move_buffers(struct invoke *c, struct moved *m, unsigned *count) {
  struct bridge *b = c->b;
  uint64_t total = 0;
  *count = 0;
  for (uint32_t f = 0; f < b->num_buffers; f++) {
    const vmkmgmt_BufferField *bf = &b->buffers[f];
    if (bf->callbackId != c->callback || bf->parm >= c->n || !c->sent[bf->parm]) continue;
    unsigned i = bf->parm;
    for (uint64_t e = 0; e < c->length[i]; e += c->size[i]) {
      uint8_t *elem = c->data[i] + e;
      if (bf->offset + 8ull > c->size[i] || bf->lengthOffset + (uint64_t)bf->lengthSize > c->size[i]) return EINVAL;
      uint64_t address = wire_get_u64(elem + bf->offset);
      uint64_t length = bf->lengthSize ? wire_get_unsigned(elem + bf->lengthOffset, bf->lengthSize) : bf->length;
      if (address == 0 || length == 0) continue;
      if (!c->sync || *count >= MAX_MOVED || length > WIRE_MAX_VECTOR || total + length > BRIDGE_MAX_CALL_BUFFERS)
        return EINVAL;
      struct moved *mv = &m[(*count)++];
      *mv = (struct moved){.member = elem + bf->offset, .address = address, .length = length, .dir = bf->direction};
      total += length;
      if ((mv->copy = calloc(1, (size_t)length)) == NULL) return ENOMEM;
      /* Fetched whatever its direction: an `out` buffer the kernel writes only in part keeps the
       * caller's other bytes, and an address the caller cannot read fails the kernel's copy here,
       * as it would have there (the driver's status says so; the call itself succeeds). */
      int rc = client_copy(b, c->id, WIRE_COPY_FROM_USER, address, mv->copy, NULL, length);
      if (rc == EIO) return EIO;
      mv->readable = rc == 0;
      wire_put_u64(mv->member, mv->readable ? (uint64_t)(uintptr_t)mv->copy : (uint64_t)(uintptr_t)b->fault_page);
    }
  }
  return 0;
}

/* After the call: what the kernel may have written goes back to the client, and every member gets
 * its address back. A write the client refuses (its memory went away) fails the call with it.
 * Last moved, first restored: when a client's table declares overlapping members, each restore
 * undoes exactly its own re-pointing, so no address of the bridge's ever goes back to the client. */
static int restore_buffers(struct invoke *c, struct moved *m, unsigned count, int rc) {
  for (unsigned k = count; k-- > 0;) {
    if (rc == 0 && m[k].readable && (m[k].dir & VMKMGMT_BUFFER_OUT)) {
      int copied = client_copy(c->b, c->id, WIRE_COPY_TO_USER, m[k].address, NULL, m[k].copy, m[k].length);
      if (copied != 0) rc = copied;
    }
    wire_put_u64(m[k].member, m[k].address);
  }
  return rc;
}

/* Whether a call may still enter the library: once the session ends, Destroy is under way or about
 * to be, and a call that entered after it would use a handle the library may have freed (ours
 * refuses such a call; a vendor's library need not). A call already inside is Destroy's to end. */
static int library_open(struct bridge *b) {
  pthread_mutex_lock(&b->lock);
  int open = !b->ending;
  pthread_mutex_unlock(&b->lock);
  return open;
}

/* The library's arguments for the call: each parameter's bytes, or its vmk_MgmtVectorParm. */
static void library_args(struct invoke *c, void *a[VMK_MGMT_MAX_CALLBACK_PARMS]) {
  for (unsigned i = 0; i < c->n; i++) {
    if (parm_is_vector(c->type[i])) {
      c->vec[i] = (vmk_MgmtVectorParm){.length = c->length[i], .dataPtr = c->data[i]};
      a[i] = &c->vec[i];
    } else {
      a[i] = c->data[i];
    }
  }
}

static int call_real(struct bridge *b, struct invoke *c) {
  void *a[VMK_MGMT_MAX_CALLBACK_PARMS] = {0};
  if (!library_open(b)) return EIO;
  library_args(c, a);
  switch (c->n) {
    case 0: return b->lib.invoke(b->handle, c->instance, c->callback, 0);
    case 1: return b->lib.invoke(b->handle, c->instance, c->callback, 1, a[0]);
    case 2: return b->lib.invoke(b->handle, c->instance, c->callback, 2, a[0], a[1]);
    case 3: return b->lib.invoke(b->handle, c->instance, c->callback, 3, a[0], a[1], a[2]);
    default: return b->lib.invoke(b->handle, c->instance, c->callback, 4, a[0], a[1], a[2], a[3]);
  }
}

/* The most bytes an INVOKE_REPLY's head takes (before the parameters' bytes). */
#define REPLY_HEAD_MAX (WIRE_REPLY_LENGTHS + 8 * VMK_MGMT_MAX_CALLBACK_PARMS)

/* An INVOKE_REPLY's payload: its head written into `head` and iov[0], the parameters' bytes in the
 * pieces after it; returns how many pieces in all. On success every fixed parameter comes back (the
 * kernel's table may write any) and every vector the caller's direction returns. */
static int reply_pieces(const struct invoke *c, int status, uint8_t head[REPLY_HEAD_MAX],
                        struct iovec iov[1 + VMK_MGMT_MAX_CALLBACK_PARMS]) {
  int pieces = 1;
  uint32_t returned = 0;
  memset(head, 0, REPLY_HEAD_MAX);
  wire_put_u32(head + WIRE_STATUS, (uint32_t)status);
  wire_put_u32(head + WIRE_REPLY_NUMPARMS, c->n);
  for (unsigned i = 0; i < c->n; i++) {
    wire_put_u64(head + WIRE_REPLY_LENGTHS + 8 * i, c->length[i]);
    if (status == 0 && c->sync && (!parm_is_vector(c->type[i]) || parm_returns(c->type[i]))) {
      returned |= 1u << i;
      iov[pieces++] = (struct iovec){c->data[i], (size_t)c->length[i]};
    }
  }
  wire_put_u32(head + WIRE_REPLY_RETURNED, returned);
  iov[0] = (struct iovec){head, (size_t)wire_reply_data(c->n)};
  return pieces;
}

static void reply_invoke(struct bridge *b, const struct invoke *c, int status) {
  uint8_t head[REPLY_HEAD_MAX];
  struct iovec iov[1 + VMK_MGMT_MAX_CALLBACK_PARMS];
  int pieces = reply_pieces(c, status, head, iov);
  frame_send(b, WIRE_INVOKE_REPLY, c->id, iov, pieces);
}

/* The call checked against the client's table, and the bridge's copy of each parameter made
 * (what the client sent, else zeroes); an errno to answer with. */
static int copy_in(struct invoke *c) {
  const vmk_MgmtCallbackInfo *cb = NULL;
  int rc = check_against_table(c->b, c, &cb); /* (calls_start parsed it) */
  if (rc != 0) return rc;
  uint64_t off = wire_invoke_data(c->n);
  for (unsigned i = 0; i < c->n; i++) {
    if ((c->data[i] = calloc(1, (size_t)c->length[i])) == NULL) return ENOMEM;
    if (c->sent[i]) {
      memcpy(c->data[i], c->payload + off, (size_t)c->length[i]);
      off += c->length[i];
    }
  }
  return 0;
}

/* Frees the bridge's copies of a call's parameters. */
static void free_data(struct invoke *c) {
  /* Every slot, not c->n: the array is zeroed, and no count from the wire decides what is freed. */
  for (unsigned i = 0; i < VMK_MGMT_MAX_CALLBACK_PARMS; i++) free(c->data[i]);
}

static void run_invoke(struct invoke *c) {
  struct bridge *b = c->b;
  struct moved *m = NULL;
  unsigned moved = 0;
  int rc = copy_in(c);
  if (rc != 0) goto reply;
  rc = ENOMEM;
  if (b->num_buffers > 0 && (m = calloc(MAX_MOVED, sizeof *m)) == NULL) goto reply;
  rc = m ? move_buffers(c, m, &moved) : 0;
  if (rc == 0) rc = call_real(b, c);
  rc = restore_buffers(c, m, moved, rc);
reply:
  reply_invoke(b, c, rc);
  for (unsigned k = 0; k < moved; k++) free(m[k].copy);
  free(m);
  free_data(c);
}

/* ---------------------------------------------------------------- GET_INSTANCES */

static void run_instances(struct bridge *b, uint32_t id) {
  vmk_MgmtInstances list;
  uint8_t msg[WIRE_INSTANCES_ENTRIES + WIRE_INSTANCE_SIZE * VMK_MGMT_MAX_INSTANCES];
  memset(&list, 0, sizeof list);
  memset(msg, 0, sizeof msg);
  int rc = library_open(b) ? b->lib.get_instances(b->handle, &list) : EIO;
  unsigned count = rc == 0 ? list.numInstances : 0;
  if (count > VMK_MGMT_MAX_INSTANCES) {
    rc = EIO;
    count = 0;
  }
  wire_put_u32(msg + WIRE_STATUS, (uint32_t)rc);
  wire_put_u32(msg + WIRE_INSTANCES_COUNT, count);
  for (unsigned i = 0; i < count; i++) {
    uint8_t *e = msg + WIRE_INSTANCES_ENTRIES + WIRE_INSTANCE_SIZE * i;
    wire_put_u64(e + WIRE_INSTANCE_ID, list.instanceIds[i]);
    wire_put_name(e + WIRE_INSTANCE_NAME, list.instanceNames[i].string);
  }
  frame_send(b, WIRE_INSTANCES, id, &(struct iovec){msg, WIRE_INSTANCES_ENTRIES + WIRE_INSTANCE_SIZE * count}, 1);
}

/* ---------------------------------------------------------------- workers */

/* A call waiting for a worker, or running on one. */
struct job {
  uint16_t type;
  struct invoke call;
  struct job *next;
};

/* A worker takes calls from the queue until the session is over; an idle one waits for the next
 * call instead of exiting, so a call costs a wake-up, not a thread (a thread's creation costs more
 * than most kernel callbacks). Workers grow with the calls in flight, up to BRIDGE_MAX_WORKERS; more
 * calls wait for one (the library behind the bridge blocks a thread per call). */
static void *worker_main(void *arg) {
  struct bridge *b = arg;
  pthread_mutex_lock(&b->lock);
  for (;;) {
    while (!b->queue && !b->closing) {
      b->idle++;
      pthread_cond_wait(&b->work, &b->lock);
      b->idle--;
    }
    struct job *j = b->queue;
    if (!j) break; /* closing, and nothing left to answer */
    b->queue = j->next;
    if (!b->queue) b->queue_tail = NULL;
    b->queued--;
    b->queued_bytes -= j->call.len;
    pthread_mutex_unlock(&b->lock);
    if (j->type == WIRE_INVOKE) run_invoke(&j->call);
    else run_instances(b, j->call.id);
    free(j->call.payload);
    free(j);
    pthread_mutex_lock(&b->lock);
    b->calls--;
  }
  b->workers--;
  pthread_cond_broadcast(&b->cond);
  pthread_mutex_unlock(&b->lock);
  return NULL;
}

/* Queues a call for the workers, starting one more when the idle ones are fewer than the calls
 * waiting (a worker signalled but not yet awake still counts as idle: without a new one, a second
 * call could wait behind a first that stalls in the kernel) and there are fewer than
 * BRIDGE_MAX_WORKERS; past that, it waits for one. 0, or EAGAIN when it cannot be taken (the limits
 * on calls and on the bytes waiting, or no thread could start and none is left to run it). Called
 * with b->lock. */
static int queue_call_locked(struct bridge *b, struct job *j) {
  if (b->calls >= BRIDGE_MAX_CALLS || b->queued_bytes + j->call.len > BRIDGE_MAX_QUEUED_BYTES) return EAGAIN;
  if (b->queue_tail) b->queue_tail->next = j;
  else b->queue = j;
  b->queue_tail = j;
  b->calls++;
  b->queued++;
  b->queued_bytes += j->call.len;
  pthread_cond_signal(&b->work);
  if (b->queued <= b->idle || b->workers >= BRIDGE_MAX_WORKERS) return 0;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  int started = pthread_create(&(pthread_t){0}, &attr, worker_main, b) == 0;
  pthread_attr_destroy(&attr);
  if (started) b->workers++;
  if (started || b->workers > 0) return 0; /* (a busy worker will take it) */
  b->queue = b->queue_tail = NULL; /* no worker took it: it is the only one queued */
  b->calls--;
  b->queued--;
  b->queued_bytes -= j->call.len;
  return EAGAIN;
}

/* ---------------------------------------------------------------- the completion queue */

/* Bytes drained at once: completion entries are a vmkmgmt_QueueEntry each (no events come here). */
#define DRAIN_BYTES (64u * 1024)

/* Whether the client declared caller buffers behind the parameters of `callback`: such a call
 * fetches them from the client first (COPY_REQUEST, waiting for the answer), so it runs on a
 * worker. */
static int has_buffer_fields(const struct bridge *b, uint64_t callback) {
  for (uint32_t f = 0; f < b->num_buffers; f++)
    if (b->buffers[f].callbackId == callback) return 1;
  return 0;
}

/* Replies written with one system call at most. */
#define REPLY_BATCH 64

/* Answers to submitted calls, gathered to go out together (on the stack of the thread draining). */
struct reply_batch {
  unsigned n;
  int pieces;
  struct job *jobs[REPLY_BATCH];
  uint8_t frame[REPLY_BATCH][WIRE_HEADER_SIZE + REPLY_HEAD_MAX]; /* each reply's header and head */
  struct iovec iov[REPLY_BATCH * (1 + VMK_MGMT_MAX_CALLBACK_PARMS)];
};

/* Frees answered calls (their replies sent, or never to be: the client is gone). */
static void forget_submitted(struct bridge *b, struct job **jobs, unsigned n) {
  for (unsigned k = 0; k < n; k++) {
    free_data(&jobs[k]->call);
    free(jobs[k]->call.payload);
    free(jobs[k]);
  }
  pthread_mutex_lock(&b->lock);
  b->calls -= n;
  b->submitted -= n;
  pthread_cond_broadcast(&b->cond);
  pthread_mutex_unlock(&b->lock);
}

/* Writes the gathered replies at once (a reply is a whole frame, so the client reads them as if sent
 * one by one), then frees their calls. */
static void send_batch(struct bridge *b, struct reply_batch *r) {
  if (r->n == 0) return;
  pthread_mutex_lock(&b->wlock);
  int rc = b->out < 0 ? EIO : wire_write_all(b->out, r->iov, r->pieces, 0);
  pthread_mutex_unlock(&b->wlock);
  if (rc != 0) bridge_close(b);
  forget_submitted(b, r->jobs, r->n);
  r->n = 0;
  r->pieces = 0;
}

/* One submitted call answered: its reply joins the batch (sent when full). A reply too large for one
 * frame goes alone, through frame_send, which refuses it as it does for a worker's call. */
static void answer_submitted(struct bridge *b, struct reply_batch *r, struct job *j, int status) {
  struct invoke *c = &j->call;
  uint8_t *frame = r->frame[r->n];
  struct iovec *iov = &r->iov[r->pieces];
  int pieces = reply_pieces(c, status, frame + WIRE_HEADER_SIZE, iov);
  uint64_t len = 0;
  for (int i = 0; i < pieces; i++) len += iov[i].iov_len;
  if (len > WIRE_MAX_PAYLOAD) {
    reply_invoke(b, c, status);
    forget_submitted(b, &j, 1);
    return;
  }
  wire_put_header(frame, WIRE_INVOKE_REPLY, c->id, (uint32_t)len);
  iov[0] = (struct iovec){frame, WIRE_HEADER_SIZE + iov[0].iov_len}; /* the header, then the head */
  r->pieces += pieces;
  r->jobs[r->n++] = j;
  if (r->n == REPLY_BATCH) send_batch(b, r);
}

/* Answers every completion in the queue now; the drained entries' tokens are the jobs. Called by the
 * library on the thread that completed them (vmkmgmt_QueueOnRing) — its reader, mostly, right after
 * it read the kernel's answers — so no thread of ours is woken in between: a drainer thread of ours
 * cost a wake-up per batch and, against the simulator, a fifth of the bridge's CPU in its spin
 * before sleeping (ARCHITECTURE.md, "Threads"). It may be called on two threads at once (the reader,
 * and the main thread when a flush completes a call whose answer came first): `dlock` takes turns. */
static void drain_completions(void *arg) {
  struct bridge *b = arg;
  struct reply_batch r = {0};
  pthread_mutex_lock(&b->dlock);
  for (;;) {
    size_t used = 0;
    vmk_uint32 entries = 0;
    if (b->lib.queue_drain(b->cq, b->drain_buf, DRAIN_BYTES, &used, &entries) != 0 || entries == 0) break;
    for (size_t at = 0; entries-- > 0;) {
      vmkmgmt_QueueEntry e;
      memcpy(&e, b->drain_buf + at, sizeof e);
      if (e.kind == VMKMGMT_ENTRY_COMPLETION) answer_submitted(b, &r, (struct job *)(uintptr_t)e.key, e.status);
      at += e.length;
    }
  }
  send_batch(b, &r);
  pthread_mutex_unlock(&b->dlock);
}

void calls_use_queue(struct bridge *b) {
  struct lib *l = &b->lib;
  if (!l->queue_create || !l->queue_destroy || !l->queue_on_ring || !l->attach_completions || !l->submit ||
      !l->flush || !l->queue_drain)
    return;
  vmkmgmt_Queue q = NULL;
  if ((b->drain_buf = malloc(DRAIN_BYTES)) == NULL || l->queue_create(&q) != 0 ||
      l->queue_on_ring(q, drain_completions, b) != 0 || l->attach_completions(b->handle, q) != 0) {
    if (q) l->queue_destroy(q); /* (the workers serve) */
    free(b->drain_buf);
    b->drain_buf = NULL;
    return;
  }
  b->cq = q;
}

void calls_stop_queue(struct bridge *b) {
  if (!b->cq) return;
  /* After Destroy every submitted call has completed and been answered on the thread that completed
   * it; drained once more in case, and waited for should the library still hold one (a Destroy that
   * failed), since its answer would come into memory freed here. */
  drain_completions(b);
  pthread_mutex_lock(&b->lock);
  while (b->submitted > 0) pthread_cond_wait(&b->cond, &b->lock);
  pthread_mutex_unlock(&b->lock);
  if (b->lib.queue_destroy(b->cq) != 0) return; /* (still attached: its hook may yet run, so nothing is freed) */
  b->cq = NULL;
  free(b->drain_buf);
  b->drain_buf = NULL;
}

/* Calls corked at most before they go to the kernel. Sending every call of a client's burst at once
 * (32 in flight: one read, one flush) kept the whole ring in step — the kernel idle while this thread
 * parsed the burst, the client idle while the kernel answered it, one stage working at a time on a
 * machine of two CPUs. Cut into flushes of 8, the kernel answers the first while the rest come, and
 * the ring carries several smaller batches that overlap (measured against the simulator, 32 in flight,
 * alternating 250 ms windows: ARCHITECTURE.md, "Threads"). */
#define FLUSH_CALLS 8

/* Submits an INVOKE to the queue (taking the job on 0: drain_completions answers and frees it); else an
 * errno for the caller to answer with, the job still its own. */
static int submit_invoke(struct bridge *b, struct job *j) {
  struct invoke *c = &j->call;
  int rc = copy_in(c);
  if (rc != 0) return rc;
  pthread_mutex_lock(&b->lock);
  rc = b->ending || b->closing ? EIO : b->calls >= BRIDGE_MAX_CALLS ? EAGAIN : 0;
  if (rc == 0) {
    b->calls++;
    b->submitted++;
  }
  pthread_mutex_unlock(&b->lock);
  if (rc != 0) return rc;
  void *a[VMK_MGMT_MAX_CALLBACK_PARMS] = {0};
  library_args(c, a);
  rc = b->lib.submit(b->handle, (vmk_uint64)(uintptr_t)j, c->instance, c->callback, c->n, a[0], a[1], a[2], a[3]);
  if (rc != 0) { /* refused at once: nothing will complete */
    pthread_mutex_lock(&b->lock);
    b->calls--;
    b->submitted--;
    pthread_mutex_unlock(&b->lock);
    return rc;
  }
  /* From here the job is the queue's (it may be answered and freed as soon as it is sent). It
   * stays corked until the reading thread has no whole frame left (calls_flush), or until
   * FLUSH_CALLS are corked: the calls that came together go to the kernel in a few system calls, and
   * the kernel starts on the first of them while this thread takes the rest. */
  if (++b->unflushed >= FLUSH_CALLS) calls_flush(b);
  return 0;
}

void calls_flush(struct bridge *b) {
  if (!b->unflushed) return;
  b->unflushed = 0;
  b->lib.flush(b->handle);
}

/* ---------------------------------------------------------------- starting calls */

/* Runs an INVOKE or GET_INSTANCES on a worker, or submits an INVOKE to the completion queue (taking
 * `payload`); past the limits of calls in flight, or without memory for one more, the call is
 * answered EAGAIN at once. An INVOKE is parsed here, on the reading thread, so one that does not
 * parse ends the session before another frame is read: EPROTO (nothing was started). */
int calls_start(struct bridge *b, uint16_t type, uint32_t id, uint8_t *payload, uint32_t len) {
  struct job *j = calloc(1, sizeof *j);
  int rc = ENOMEM;
  if (j) {
    *j = (struct job){.type = type, .call = {.b = b, .id = id, .payload = payload, .len = len}};
    if (type == WIRE_INVOKE && parse(&j->call) != 0) {
      free(j);
      free(payload);
      return EPROTO;
    }
    if (type == WIRE_INVOKE && b->cq && !has_buffer_fields(b, j->call.callback)) {
      rc = submit_invoke(b, j);
      if (rc == 0) return 0;
      reply_invoke(b, &j->call, rc);
      free_data(&j->call);
      free(payload);
      free(j);
      return 0;
    }
    pthread_mutex_lock(&b->lock);
    rc = queue_call_locked(b, j);
    pthread_mutex_unlock(&b->lock);
  }
  if (rc == 0) return 0;
  free(j);
  free(payload);
  uint8_t busy[WIRE_REPLY_LENGTHS];
  memset(busy, 0, sizeof busy);
  wire_put_u32(busy + WIRE_STATUS, EAGAIN);
  if (type == WIRE_INVOKE) frame_send(b, WIRE_INVOKE_REPLY, id, &(struct iovec){busy, WIRE_REPLY_LENGTHS}, 1);
  else frame_send(b, WIRE_INSTANCES, id, &(struct iovec){busy, WIRE_INSTANCES_ENTRIES}, 1);
  return 0;
}

/* Waits until every worker has left (after Destroy, the real library has let every call go). */
void calls_wait_idle(struct bridge *b) {
  pthread_mutex_lock(&b->lock);
  while (b->workers > 0) pthread_cond_wait(&b->cond, &b->lock);
  pthread_mutex_unlock(&b->lock);
}
