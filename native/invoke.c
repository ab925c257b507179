/* SPDX-License-Identifier: Apache-2.0 */
/*
 * invoke.c -- vmk_MgmtUserCallbackInvokeInt: checks the arguments against the callback's table
 * entry, sends them as an INVOKE frame (from the caller's buffers, with no copy), waits for the
 * reply and copies the returned data back into the caller's buffers — only when every length is
 * what was asked for. As on ESXi the kernel's own table decides what is copied in and out: the
 * caller's directions only say which bytes travel with the request (the kernel asks for others,
 * copy.c), and whatever parameters the reply returns are written back.
 *
 * vmkmgmt_UserSubmit is the same call with no thread waiting: the INVOKE goes out at once (or to the
 * writer thread), and the reply completes a token in the handle's completion queue (queue.c).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "handle.h"
#include "wire.h"

/* Where parameter i's bytes are in the caller's memory. */
static void *data_of(const vmk_MgmtCallbackInfo *cb, const struct args *a, unsigned i) {
  return parm_is_vector(cb->parmTypes[i]) ? ((vmk_MgmtVectorParm *)a->ptr[i])->dataPtr : a->ptr[i];
}

/* Checks every argument; sets each length and the INVOKE payload size. The reply this call asks
 * for must fit in a frame too: a kernel cannot send more, so asking for it would only lose the
 * connection (every later call with it) instead of failing this one call with EINVAL. */
/* Whether parameter i's bytes travel with the INVOKE: those its direction sends, and to a bridge
 * every fixed parameter, so the real library behind it holds exactly the caller's bytes whatever
 * the kernel's table says (directions belong to the kernel); vectors only as their direction says,
 * so a large VECTOR_OUT costs no upload. */
static int sends(const handle_t *h, const vmk_MgmtCallbackInfo *cb, unsigned i) {
  return parm_sends(cb->parmTypes[i]) || (h->bridge && !parm_is_vector(cb->parmTypes[i]));
}

static int measure(const handle_t *h, const vmk_MgmtCallbackInfo *cb, struct args *a, uint64_t *total) {
  *total = wire_invoke_data(a->n);
  uint64_t reply = wire_reply_data(a->n); /* the kernel's table may return any of them */
  for (unsigned i = 0; i < a->n; i++) {
    if (a->ptr[i] == NULL) return EINVAL;
    if (parm_is_vector(cb->parmTypes[i])) {
      const vmk_MgmtVectorParm *v = a->ptr[i];
      if (v->length == 0 || v->dataPtr == NULL || v->length % cb->parmSizes[i] != 0 ||
          v->length > WIRE_MAX_VECTOR)
        return EINVAL;
      a->length[i] = v->length;
    } else {
      a->length[i] = cb->parmSizes[i];
    }
    if (sends(h, cb, i)) *total += a->length[i];
    reply += a->length[i];
  }
  return *total > WIRE_MAX_PAYLOAD || reply > WIRE_MAX_PAYLOAD ? EINVAL : 0;
}

/* The INVOKE payload as pieces: its fixed part (written into `fixed`), then the bytes of each
 * parameter that sends data, straight from the caller's memory. Returns the number of pieces. */
static int pack(uint8_t fixed[WIRE_INVOKE_HEADER_SIZE + WIRE_PARM_DESC_SIZE * VMK_MGMT_MAX_CALLBACK_PARMS],
                struct iovec iov[TRANSPORT_MAX_PIECES], const handle_t *h, vmk_uint64 instanceId,
                const vmk_MgmtCallbackInfo *cb, const struct args *a) {
  wire_put_invoke(fixed, instanceId, cb->callbackId, cb->synchronous, a->n);
  int n = 0;
  iov[n++] = (struct iovec){fixed, wire_invoke_data(a->n)};
  for (unsigned i = 0; i < a->n; i++) {
    uint8_t flags = sends(h, cb, i) ? WIRE_PARM_DATA : 0;
    wire_put_parm(fixed, i, (uint8_t)cb->parmTypes[i], flags, cb->parmSizes[i], a->length[i]);
    if (flags) iov[n++] = (struct iovec){data_of(cb, a, i), a->length[i]};
  }
  return n;
}

/* Copies returned data into the caller's buffers (every parameter the reply returns, whatever
 * the caller's direction: the kernel's table decides); EIO (and nothing written) if the reply
 * does not echo exactly the lengths asked for. */
static int unpack(const vmk_MgmtCallbackInfo *cb, const struct args *a, const uint8_t *reply, uint32_t len) {
  uint64_t need = wire_reply_data(a->n);
  if (len < need || wire_get_u32(reply + WIRE_REPLY_NUMPARMS) != a->n) return EIO;
  uint32_t returned = wire_get_u32(reply + WIRE_REPLY_RETURNED);
  if (returned >> a->n != 0) return EIO;
  for (unsigned i = 0; i < a->n; i++) {
    if (wire_get_u64(reply + WIRE_REPLY_LENGTHS + 8 * i) != a->length[i]) return EIO;
    if (returned & (1u << i)) need += a->length[i];
  }
  if (need != len) return EIO;
  uint64_t off = wire_reply_data(a->n);
  for (unsigned i = 0; i < a->n; i++) {
    if (!(returned & (1u << i))) continue;
    memcpy(data_of(cb, a, i), reply + off, a->length[i]);
    off += a->length[i];
  }
  return 0;
}

/* Looks the callback up and checks and measures the caller's arguments (a.ptr filled in); 0, ENOENT,
 * or EINVAL. */
static int prepare(handle_t *h, vmk_uint64 callbackId, struct args *a, const vmk_MgmtCallbackInfo **cb,
                   uint64_t *total) {
  *cb = handle_find_callback(h, callbackId);
  if (!*cb) return ENOENT;
  if ((*cb)->location != VMK_MGMT_CALLBACK_KERNEL || a->n != (*cb)->numParms) return EINVAL;
  return measure(h, *cb, a, total);
}

/* The kernel's view of the caller's parameters while the call runs (for its copies, copy.c). */
static void describe(const vmk_MgmtCallbackInfo *cb, const struct args *a, struct call *call) {
  *call = (struct call){.sync = cb->synchronous != 0, .n = a->n};
  for (unsigned i = 0; i < a->n; i++) {
    call->data[i] = data_of(cb, a, i);
    call->length[i] = a->length[i];
  }
}

EXPORT int vmk_MgmtUserCallbackInvokeInt(vmk_MgmtUserHandle h, vmk_uint64 instanceId, vmk_uint64 callbackId,
                                         vmk_uint32 argCount, ...) {
  int rc = registry_enter(h);
  if (rc != 0) return rc;
  uint8_t fixed[WIRE_INVOKE_HEADER_SIZE + WIRE_PARM_DESC_SIZE * VMK_MGMT_MAX_CALLBACK_PARMS];
  struct iovec iov[TRANSPORT_MAX_PIECES];
  uint8_t *reply = NULL;
  uint32_t reply_len = 0;
  uint64_t total = 0;
  struct args a = {.n = argCount};
  const vmk_MgmtCallbackInfo *cb = NULL;
  rc = EINVAL;
  if (argCount > VMK_MGMT_MAX_CALLBACK_PARMS) goto out;
  va_list ap;
  va_start(ap, argCount);
  for (unsigned i = 0; i < argCount; i++) a.ptr[i] = va_arg(ap, void *);
  va_end(ap);
  rc = prepare(h, callbackId, &a, &cb, &total);
  if (rc != 0) goto out;
  int pieces = pack(fixed, iov, h, instanceId, cb, &a);
  struct call call;
  describe(cb, &a, &call);
  rc = transport_request(h, WIRE_INVOKE, iov, pieces, &call, &reply, &reply_len);
  if (rc != 0) goto out;
  rc = wire_get_status(reply);
  if (rc != 0) goto out;
  rc = unpack(cb, &a, reply, reply_len);
out:
  free(reply);
  registry_leave(h);
  return rc;
}

/* ---------------------------------------------------------------- submitted calls */

static void complete(handle_t *h, struct submitted *sub, int *ring_owed) {
  queue_complete(h->queue, sub->entry, sub->token, sub->status, ring_owed);
  free(sub);
}

/* The reply (or the failure) of a submitted call: returned data goes into the caller's buffers,
 * here on the reader thread, and the token completes once its frame has left the writer's queue. */
void submit_replied(handle_t *h, struct submitted *sub, int status, uint8_t *payload, uint32_t len,
                    int *ring_owed) {
  if (status == 0 && payload) {
    if (queue_touch_begin(h->queue)) {
      status = unpack(sub->cb, &sub->a, payload, len);
      queue_touch_end(h->queue);
    } else {
      status = ECANCELED; /* the program is going: its buffers may be gone */
    }
  }
  free(payload);
  pthread_mutex_lock(&h->lock);
  sub->replied = 1;
  sub->status = status;
  int ready = !sub->queued;
  pthread_mutex_unlock(&h->lock);
  if (ready) complete(h, sub, ring_owed);
}

/* The frames of the first `n` calls of a corked list (linked by next_corked) are out, or dropped:
 * submit_unqueued for each, under one take of the handle's lock. Why: the reader takes that lock
 * for every answer, and against a kernel that answers at once a flush of a thousand calls taking it
 * per call raced the reader a thousand times (4-6 ms of the JavaScript thread in one flush). The
 * calls answered already complete after the lock is let go, into the queue together. Returns the
 * rest of the list. */
struct submitted *submit_unqueued_list(handle_t *h, struct submitted *list, size_t n) {
  struct submitted *ready = NULL, **tail = &ready;
  pthread_mutex_lock(&h->lock);
  for (; list && n > 0; n--) {
    struct submitted *next = list->next_corked;
    list->queued = 0; /* (one not yet answered is the reader's from here: not touched again) */
    if (list->replied) {
      *tail = list;
      tail = &list->next_corked;
    }
    list = next;
  }
  *tail = NULL;
  pthread_mutex_unlock(&h->lock);
  struct completions done = {0};
  while (ready) {
    struct submitted *next = ready->next_corked;
    queue_batch_add(&done, ready->entry, ready->token, ready->status);
    free(ready);
    ready = next;
  }
  queue_batch_push(h->queue, &done, NULL);
  return list;
}

/* The call's frame is out (or dropped): the token completes if the reply came first. */
void submit_unqueued(handle_t *h, struct submitted *sub) {
  sub->next_corked = NULL; /* (a list of one: its frame was the writer's, not in the cork list) */
  submit_unqueued_list(h, sub, 1);
}

QUEUE_EXPORT int vmkmgmt_UserSubmit(vmk_MgmtUserHandle h, vmk_uint64 token, vmk_uint64 instanceId, vmk_uint64 callbackId,
                                    vmk_uint32 argCount, void *p1, void *p2, void *p3, void *p4) {
  int rc = registry_enter(h);
  if (rc != 0) return rc;
  struct submitted *sub = NULL;
  uint64_t total = 0;
  rc = EINVAL;
  if (!h->queue || argCount > VMK_MGMT_MAX_CALLBACK_PARMS) goto out;
  rc = ENOMEM;
  if ((sub = calloc(1, sizeof *sub)) == NULL || (sub->entry = queue_entry_new()) == NULL) goto out;
  void *given[VMK_MGMT_MAX_CALLBACK_PARMS] = {p1, p2, p3, p4};
  sub->a.n = argCount;
  for (unsigned i = 0; i < argCount; i++) sub->a.ptr[i] = given[i];
  rc = prepare(h, callbackId, &sub->a, &sub->cb, &total);
  if (rc != 0) goto out;
  struct iovec payload[TRANSPORT_MAX_PIECES];
  int pieces = pack(sub->fixed, payload, h, instanceId, sub->cb, &sub->a);
  describe(sub->cb, &sub->a, &sub->call);
  sub->token = token;
  sub->p.call = &sub->call;
  sub->p.sub = sub;
  sub->queued = 1; /* corked until flushed, and written: a reply may come before that is known */
  pthread_mutex_lock(&h->lock);
  rc = transport_register(h, &sub->p);
  pthread_mutex_unlock(&h->lock);
  if (rc != 0) goto out;
  wire_put_header(sub->hdr, WIRE_INVOKE, sub->p.id, (uint32_t)total);
  sub->iov[0] = (struct iovec){sub->hdr, sizeof sub->hdr};
  for (int i = 0; i < pieces; i++) sub->iov[1 + i] = payload[i];
  sub->pieces = 1 + pieces;
  transport_cork(h, sub);
  sub = NULL;
  rc = 0;
out:
  if (sub) {
    queue_entry_free(sub->entry);
    free(sub);
  }
  registry_leave(h);
  return rc;
}

QUEUE_EXPORT int vmkmgmt_UserFlush(vmk_MgmtUserHandle h) {
  int rc = registry_enter(h);
  if (rc != 0) return rc;
  rc = transport_flush(h);
  registry_leave(h);
  return rc;
}
