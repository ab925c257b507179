/* SPDX-License-Identifier: Apache-2.0 */
/*
 * monitor.c -- kernel-to-user callbacks: the handle's event queue, the monitor thread Begin
 * starts (it calls user callbacks one at a time, then the disconnect callback if the kernel goes
 * away), Continue, and End.
 */
#define _GNU_SOURCE /* pthread_setname_np */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "handle.h"
#include "wire.h"

/* Events held locally beyond the simulator's credit window are dropped (and acknowledged). */
#define LOCAL_QUEUE_MAX 1024
/* Event credits returned in one EVENT_ACK at most (the simulator's window is 64). */
#define ACK_BATCH 16

/* Queues an EVENT payload (and takes it): 0; EOVERFLOW when the queue is full, ENOMEM. */
int monitor_queue_locked(handle_t *h, uint8_t *payload, uint32_t length, int paid) {
  if (h->ev_count >= LOCAL_QUEUE_MAX) return EOVERFLOW;
  struct event *ev = calloc(1, sizeof *ev);
  if (!ev) return ENOMEM;
  ev->payload = payload;
  ev->length = length;
  ev->paid = paid;
  if (h->ev_tail) h->ev_tail->next = ev;
  else h->ev_head = ev;
  h->ev_tail = ev;
  h->ev_count++;
  pthread_cond_signal(&h->events);
  return 0;
}

void monitor_free_events(handle_t *h) {
  while (h->ev_head) {
    struct event *ev = h->ev_head;
    h->ev_head = ev->next;
    free(ev->payload);
    free(ev);
  }
  h->ev_tail = NULL;
  h->ev_count = 0;
}

/* Checks an EVENT payload against the user signature (see handle.h). */
const vmk_MgmtCallbackInfo *monitor_parse_event(const handle_t *h, const uint8_t *p, uint32_t length,
                                                vmk_uint64 *instance, uint64_t lengths[VMK_MGMT_MAX_CALLBACK_PARMS],
                                                uint64_t offsets[VMK_MGMT_MAX_CALLBACK_PARMS]) {
  if (length < WIRE_EVENT_LENGTHS) return NULL;
  *instance = wire_get_u64(p + WIRE_EVENT_INSTANCE);
  const vmk_MgmtCallbackInfo *cb = handle_find_callback(h, wire_get_u64(p + WIRE_EVENT_CALLBACK));
  uint32_t n = wire_get_u32(p + WIRE_EVENT_NUMPARMS);
  if (!cb || cb->location != VMK_MGMT_CALLBACK_USER || n != cb->numParms) return NULL;
  uint64_t off = wire_event_data(n);
  if (off > length) return NULL;
  for (uint32_t i = 0; i < n; i++) {
    uint64_t plen = wire_get_u64(p + WIRE_EVENT_LENGTHS + 8 * i);
    if (plen > length - off) return NULL;
    if (parm_is_vector(cb->parmTypes[i]) ? plen == 0 || plen % cb->parmSizes[i] != 0 : plen != cb->parmSizes[i])
      return NULL;
    lengths[i] = plen;
    offsets[i] = off;
    off += plen;
  }
  return off == length ? cb : NULL;
}

/* Fills the instance and the parameters of an event for its user callback. */
static const vmk_MgmtCallbackInfo *parse_event(handle_t *h, const struct event *ev, vmk_uint64 *instance,
                                               void *params[VMK_MGMT_MAX_CALLBACK_PARMS],
                                               vmk_MgmtVectorParm vecs[VMK_MGMT_MAX_CALLBACK_PARMS]) {
  uint64_t lengths[VMK_MGMT_MAX_CALLBACK_PARMS], offsets[VMK_MGMT_MAX_CALLBACK_PARMS];
  const vmk_MgmtCallbackInfo *cb = monitor_parse_event(h, ev->payload, ev->length, instance, lengths, offsets);
  for (int i = 0; cb && i < cb->numParms; i++) {
    if (parm_is_vector(cb->parmTypes[i])) {
      vecs[i] = (vmk_MgmtVectorParm){.length = lengths[i], .dataPtr = ev->payload + offsets[i]};
      params[i] = &vecs[i];
    } else {
      params[i] = ev->payload + offsets[i];
    }
  }
  return cb;
}

typedef void (*cb0)(vmk_uint64, vmk_uint64);
typedef void (*cb1)(vmk_uint64, vmk_uint64, void *);
typedef void (*cb2)(vmk_uint64, vmk_uint64, void *, void *);
typedef void (*cb3)(vmk_uint64, vmk_uint64, void *, void *, void *);
typedef void (*cb4)(vmk_uint64, vmk_uint64, void *, void *, void *, void *);

/*
 * Calls the user callback an event is for; a malformed event is skipped (and still acknowledged).
 * As the real library does, each parameter gets its own freshly allocated buffer (aligned for any
 * type: a pointer into the frame would put 8-byte fields on 4-byte boundaries), freed after the
 * callback returns. Without memory for them the event is skipped, and counted as dropped here
 * (vmkmgmt_UserEventStats), as a full queue's are.
 */
static void deliver(handle_t *h, const struct event *ev) {
  vmk_uint64 instance = 0;
  void *p[VMK_MGMT_MAX_CALLBACK_PARMS] = {0};
  void *owned[VMK_MGMT_MAX_CALLBACK_PARMS] = {0};
  vmk_MgmtVectorParm vecs[VMK_MGMT_MAX_CALLBACK_PARMS];
  const vmk_MgmtCallbackInfo *cb = parse_event(h, ev, &instance, p, vecs);
  if (!cb) return;
  int ok = 1;
  for (vmk_uint8 i = 0; i < cb->numParms && ok; i++) {
    int vector = parm_is_vector(cb->parmTypes[i]);
    size_t len = vector ? (size_t)vecs[i].length : cb->parmSizes[i];
    owned[i] = malloc(len ? len : 1);
    if (!owned[i]) {
      ok = 0;
      break;
    }
    memcpy(owned[i], vector ? vecs[i].dataPtr : p[i], len);
    if (vector) vecs[i].dataPtr = owned[i];
    else p[i] = owned[i];
  }
  if (!ok) {
    pthread_mutex_lock(&h->lock);
    h->library_dropped++;
    pthread_mutex_unlock(&h->lock);
  } else {
    void *fn = cb->callback;
    switch (cb->numParms) {
      case 0: ((cb0)fn)(h->cookie, instance); break;
      case 1: ((cb1)fn)(h->cookie, instance, p[0]); break;
      case 2: ((cb2)fn)(h->cookie, instance, p[0], p[1]); break;
      case 3: ((cb3)fn)(h->cookie, instance, p[0], p[1], p[2]); break;
      default: ((cb4)fn)(h->cookie, instance, p[0], p[1], p[2], p[3]); break;
    }
  }
  for (int i = 0; i < VMK_MGMT_MAX_CALLBACK_PARMS; i++) free(owned[i]);
}

static void *monitor_main(void *arg) {
  handle_t *h = arg;
  pthread_setname_np(pthread_self(), "vmkmgmt-monitor"); /* 15 characters at most */
  /* Credits go back in batches (at most ACK_BATCH, and whenever the queue runs dry): one
   * syscall per event would cost more than the callback itself. */
  uint32_t unacked = 0;
  int told = 0; /* the disconnect callback has run */
  pthread_mutex_lock(&h->lock);
  for (;;) {
    while (!h->stopping && h->ev_head == NULL) {
      if (h->dead && !told) {
        /* Every event that arrived before the end has been delivered: now say it ended. */
        told = 1;
        vmkmgmt_DisconnectFn fn = h->on_disconnect;
        pthread_mutex_unlock(&h->lock);
        if (fn) fn(h->cookie, EIO);
        pthread_mutex_lock(&h->lock);
        continue;
      }
      if (unacked > 0 && !h->dead) {
        pthread_mutex_unlock(&h->lock);
        transport_ack(h, unacked);
        unacked = 0;
        pthread_mutex_lock(&h->lock);
        continue;
      }
      pthread_cond_wait(&h->events, &h->lock);
    }
    if (h->stopping) break;
    struct event *ev = h->ev_head;
    h->ev_head = ev->next;
    if (!h->ev_head) h->ev_tail = NULL;
    h->ev_count--;
    pthread_mutex_unlock(&h->lock);

    deliver(h, ev);
    free(ev->payload);
    free(ev);
    if (++unacked >= ACK_BATCH) {
      transport_ack(h, unacked);
      unacked = 0;
    }
    pthread_mutex_lock(&h->lock);
  }
  pthread_mutex_unlock(&h->lock);
  if (unacked > 0 && !h->dead) transport_ack(h, unacked);
  return NULL;
}

EXPORT int vmk_MgmtUserBegin(vmk_MgmtUserHandle h) {
  int rc = registry_enter(h);
  if (rc != 0) return rc;
  pthread_mutex_lock(&h->ctl);
  pthread_mutex_lock(&h->lock);
  if (h->closing) rc = EINVAL;
  else if (h->begun) rc = EEXIST;
  else if (h->dead) rc = EIO;
  uint32_t refused = 0; /* events the queue did not take: acknowledged at once */
  if (rc == 0 && h->queue_events) {
    /* Events go to the completion queue, those already here first: no monitor thread. (Any the
     * reader holds from before an End come before those.) */
    queue_push_held_locked(h, NULL);
    h->begun = 1;
    while (h->ev_head) {
      struct event *ev = h->ev_head;
      h->ev_head = ev->next;
      h->ev_count--;
      int queued = queue_event_locked(h, ev->payload, ev->length, ev->paid, NULL);
      if (queued != 0) {
        free(ev->payload);
        if (queued == EOVERFLOW || queued == ENOMEM) h->library_dropped++; /* (EBADMSG: not an event of ours) */
        if (!ev->paid) refused++;
      }
      free(ev);
    }
    h->ev_tail = NULL;
  } else if (rc == 0) {
    h->stopping = 0;
    if (pthread_create(&h->monitor, NULL, monitor_main, h) != 0) rc = EAGAIN;
    else h->begun = 1;
  }
  pthread_mutex_unlock(&h->lock);
  if (refused > 0) transport_ack(h, refused);
  /* Those it moved were acknowledged ahead: sent now, or the kernel, its window full of them, would
   * send nothing more (no read follows to send them). */
  if (rc == 0 && h->queue_events) queue_send_acks_ahead(h);
  pthread_mutex_unlock(&h->ctl);
  registry_leave(h);
  return rc;
}

EXPORT int vmk_MgmtUserContinue(vmk_MgmtUserHandle h) {
  int rc = registry_enter(h);
  if (rc != 0) return rc;
  pthread_mutex_lock(&h->lock);
  if (!h->begun) {
    rc = EINVAL;
  } else {
    unsigned gen = h->begin_gen;
    while (h->begun && h->begin_gen == gen && !h->dead) pthread_cond_wait(&h->state, &h->lock);
    rc = (h->begun && h->dead) ? EIO : 0;
  }
  pthread_mutex_unlock(&h->lock);
  registry_leave(h);
  return rc;
}

/* Stops and joins the monitor thread; called with ctl held. EINVAL if not begun. */
int monitor_end_ctl_held(handle_t *h) {
  pthread_mutex_lock(&h->lock);
  if (!h->begun) {
    pthread_mutex_unlock(&h->lock);
    return EINVAL;
  }
  if (h->queue_events) { /* no monitor thread: delivery just stops */
    h->begun = 0;
    h->begin_gen++;
    pthread_cond_broadcast(&h->state);
    pthread_mutex_unlock(&h->lock);
    return 0;
  }
  if (pthread_equal(pthread_self(), h->monitor)) {
    /* Joining ourselves would deadlock: End/Destroy must not be called from a user callback. */
    pthread_mutex_unlock(&h->lock);
    return EDEADLK;
  }
  h->stopping = 1;
  pthread_cond_signal(&h->events);
  pthread_mutex_unlock(&h->lock);
  pthread_join(h->monitor, NULL);
  pthread_mutex_lock(&h->lock);
  h->begun = 0;
  h->begin_gen++;
  pthread_cond_broadcast(&h->state);
  pthread_mutex_unlock(&h->lock);
  return 0;
}

EXPORT int vmkmgmt_UserOnDisconnect(vmk_MgmtUserHandle h, vmkmgmt_DisconnectFn fn) {
  int rc = registry_enter(h);
  if (rc != 0) return rc;
  pthread_mutex_lock(&h->lock);
  h->on_disconnect = fn;
  pthread_mutex_unlock(&h->lock);
  registry_leave(h);
  return 0;
}

EXPORT int vmkmgmt_UserEventStats(vmk_MgmtUserHandle h, vmk_uint64 *kernelDropped, vmk_uint64 *libraryDropped) {
  if (kernelDropped == NULL || libraryDropped == NULL) return EINVAL;
  int rc = registry_enter(h);
  if (rc != 0) return rc;
  pthread_mutex_lock(&h->lock);
  *kernelDropped = h->kernel_dropped;
  *libraryDropped = h->library_dropped;
  pthread_mutex_unlock(&h->lock);
  registry_leave(h);
  return 0;
}

EXPORT int vmk_MgmtUserEnd(vmk_MgmtUserHandle h) {
  int rc = registry_enter(h);
  if (rc != 0) return rc;
  pthread_mutex_lock(&h->ctl);
  rc = monitor_end_ctl_held(h);
  pthread_mutex_unlock(&h->ctl);
  registry_leave(h);
  return rc;
}
