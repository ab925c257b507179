/* SPDX-License-Identifier: Apache-2.0 */
/*
 * events.c -- kernel-to-user callbacks through the bridge. The real library calls a user callback
 * as cb(cookie, instanceId, p1..pN) on its monitor thread; C cannot make a function at run time, so
 * the bridge has a fixed set of trampolines, one per user callback of the signature (index i goes
 * with the i-th user callback). Each forwards its event as an EVENT frame and returns; while the
 * client holds BRIDGE_EVENT_CREDITS unacknowledged events it waits, so a slow client slows the
 * monitor and the kernel queues (and counts drops) as it would for a local program.
 */
#include <stdlib.h>
#include <string.h>

#include "bridge.h"

static void forward(struct bridge *b, unsigned index, vmk_uint64 instance, void *p[VMK_MGMT_MAX_CALLBACK_PARMS]) {
  const vmk_MgmtCallbackInfo *cb = index < BRIDGE_MAX_USER_CALLBACKS ? b->user_callbacks[index] : NULL;
  if (!cb) return;
  uint8_t head[WIRE_EVENT_LENGTHS + 8 * VMK_MGMT_MAX_CALLBACK_PARMS];
  struct iovec iov[1 + VMK_MGMT_MAX_CALLBACK_PARMS];
  unsigned n = cb->numParms;
  uint64_t total = wire_event_data(n);
  memset(head, 0, sizeof head);
  wire_put_u64(head + WIRE_EVENT_INSTANCE, instance);
  wire_put_u64(head + WIRE_EVENT_CALLBACK, cb->callbackId);
  wire_put_u32(head + WIRE_EVENT_NUMPARMS, n);
  iov[0] = (struct iovec){head, (size_t)wire_event_data(n)};
  for (unsigned i = 0; i < n; i++) {
    void *data = p[i];
    uint64_t len = cb->parmSizes[i];
    if (parm_is_vector(cb->parmTypes[i])) {
      const vmk_MgmtVectorParm *v = p[i];
      data = v ? v->dataPtr : NULL;
      len = v ? v->length : 0;
    }
    if (data == NULL && len > 0) return; /* a library that hands us nothing: nothing to forward */
    wire_put_u64(head + WIRE_EVENT_LENGTHS + 8 * i, len);
    iov[1 + i] = (struct iovec){data, (size_t)len};
    total += len;
  }
  if (total > WIRE_MAX_PAYLOAD) return;
  pthread_mutex_lock(&b->lock);
  while (b->unacked >= BRIDGE_EVENT_CREDITS && !b->closing) pthread_cond_wait(&b->cond, &b->lock);
  int closing = b->closing;
  if (!closing) b->unacked++;
  pthread_mutex_unlock(&b->lock);
  if (!closing) frame_send(b, WIRE_EVENT, 0, iov, 1 + (int)n);
  events_report_drops(b);
}

/* Events lost behind the bridge (dropped by the kernel, or by the library's own queue) are, to
 * the client, dropped by its kernel: their total goes out as EVENTS_DROPPED when it grows. */
void events_report_drops(struct bridge *b) {
  vmk_uint64 kernel = 0, library = 0;
  if (!b->lib.event_stats || !b->handle || b->lib.event_stats(b->handle, &kernel, &library) != 0) return;
  uint64_t total = kernel + library;
  pthread_mutex_lock(&b->lock);
  int grew = total > b->dropped_sent && !b->closing;
  if (grew) b->dropped_sent = total;
  pthread_mutex_unlock(&b->lock);
  if (!grew) return;
  uint8_t msg[WIRE_DROPPED_SIZE];
  wire_put_u64(msg, total);
  frame_send(b, WIRE_EVENTS_DROPPED, 0, &(struct iovec){msg, sizeof msg}, 1);
}

#define TRAMPOLINE(i)                                                                                      \
  static void trampoline_##i(vmk_uint64 cookie, vmk_uint64 instance, void *p1, void *p2, void *p3, void *p4) { \
    void *p[VMK_MGMT_MAX_CALLBACK_PARMS] = {p1, p2, p3, p4};                                                \
    forward((struct bridge *)(uintptr_t)cookie, i, instance, p);                                           \
  }
TRAMPOLINE(0)
TRAMPOLINE(1)
TRAMPOLINE(2)
TRAMPOLINE(3)
TRAMPOLINE(4)
TRAMPOLINE(5)
TRAMPOLINE(6)
TRAMPOLINE(7)
TRAMPOLINE(8)
TRAMPOLINE(9)
TRAMPOLINE(10)
TRAMPOLINE(11)
TRAMPOLINE(12)
TRAMPOLINE(13)
TRAMPOLINE(14)
TRAMPOLINE(15)
TRAMPOLINE(16)
TRAMPOLINE(17)
TRAMPOLINE(18)
TRAMPOLINE(19)
TRAMPOLINE(20)
TRAMPOLINE(21)
TRAMPOLINE(22)
TRAMPOLINE(23)
TRAMPOLINE(24)
TRAMPOLINE(25)
TRAMPOLINE(26)
TRAMPOLINE(27)
TRAMPOLINE(28)
TRAMPOLINE(29)
TRAMPOLINE(30)
TRAMPOLINE(31)

typedef void (*trampoline_fn)(vmk_uint64, vmk_uint64, void *, void *, void *, void *);
static const trampoline_fn trampolines[BRIDGE_MAX_USER_CALLBACKS] = {
    trampoline_0,  trampoline_1,  trampoline_2,  trampoline_3,  trampoline_4,  trampoline_5,  trampoline_6,
    trampoline_7,  trampoline_8,  trampoline_9,  trampoline_10, trampoline_11, trampoline_12, trampoline_13,
    trampoline_14, trampoline_15, trampoline_16, trampoline_17, trampoline_18, trampoline_19, trampoline_20,
    trampoline_21, trampoline_22, trampoline_23, trampoline_24, trampoline_25, trampoline_26, trampoline_27,
    trampoline_28, trampoline_29, trampoline_30, trampoline_31,
};

/* The function to put in the table for the index-th user callback. */
void *events_trampoline(unsigned index) {
  /* A function pointer carried as the ABI's void *callback, as every driver's table does. */
  return index < BRIDGE_MAX_USER_CALLBACKS ? *(void **)&trampolines[index] : NULL;
}

/* EVENT_ACK: the client's user callbacks have returned `count` events. */
void events_ack(struct bridge *b, uint32_t count) {
  pthread_mutex_lock(&b->lock);
  b->unacked = count > b->unacked ? 0 : b->unacked - count;
  pthread_cond_broadcast(&b->cond);
  pthread_mutex_unlock(&b->lock);
  events_report_drops(b);
}
