/* SPDX-License-Identifier: Apache-2.0 */
/*
 * acme_nic.h -- the acmeNicMgmt demo's signature as the small C test programs declare it (echo_bench,
 * record_stress, event_nomem, queue_stress): echo (21), triggerEvents (22) and the user callbacks
 * linkEvent (32) and logEvent (33), and echo's message. client_test.c declares the whole table itself,
 * from the public header only.
 */
#ifndef ACME_NIC_H
#define ACME_NIC_H

#include <string.h>

#include "vmkmgmt.h"

enum { ACME_ECHO = 21, ACME_TRIGGER = 22, ACME_LINK_EVENT = 32, ACME_LOG_EVENT = 33 };

typedef void (*acme_event_fn)(vmk_uint64 cookie, vmk_uint64 instance, void *param);

/* echo's one inout parameter (64 bytes): the kernel adds 1 to seq and sends the payload back. */
struct acme_echo_msg {
  vmk_uint64 seq;
  vmk_uint8 payload[56];
} __attribute__((packed));

/* An echo message numbered `seq`, its payload filled with `fill`. */
static inline struct acme_echo_msg acme_echo_msg(vmk_uint64 seq, vmk_uint8 fill) {
  struct acme_echo_msg m;
  m.seq = seq;
  memset(m.payload, fill, sizeof m.payload);
  return m;
}

/* Whether `m` is the kernel's answer to acme_echo_msg(seq, fill). */
static inline int acme_echo_answered(const struct acme_echo_msg *m, vmk_uint64 seq, vmk_uint8 fill) {
  return m->seq == seq + 1 && m->payload[55] == fill;
}

/* Fills cbs[0..3] and `sig` around them; without `on_log` the table stops at linkEvent (3 entries:
 * log events then find no callback and are skipped). */
static inline void acme_nic_signature(vmk_MgmtApiSignature *sig, vmk_MgmtCallbackInfo cbs[4], acme_event_fn on_link,
                                      acme_event_fn on_log) {
  memset(cbs, 0, sizeof *cbs * 4);
  cbs[0] = (vmk_MgmtCallbackInfo){VMK_MGMT_CALLBACK_KERNEL, NULL, 1, 1, {64}, {VMK_MGMT_PARMTYPE_INOUT}, ACME_ECHO};
  cbs[1] = (vmk_MgmtCallbackInfo){VMK_MGMT_CALLBACK_KERNEL, NULL, 1, 1, {4}, {VMK_MGMT_PARMTYPE_IN}, ACME_TRIGGER};
  cbs[2] = (vmk_MgmtCallbackInfo){
      VMK_MGMT_CALLBACK_USER, (void *)on_link, 0, 1, {8}, {VMK_MGMT_PARMTYPE_IN}, ACME_LINK_EVENT};
  cbs[3] = (vmk_MgmtCallbackInfo){
      VMK_MGMT_CALLBACK_USER, (void *)on_log, 0, 1, {64}, {VMK_MGMT_PARMTYPE_IN}, ACME_LOG_EVENT};
  memset(sig, 0, sizeof *sig);
  sig->version = VMK_REVISION_FROM_NUMBERS(1, 0, 0, 0);
  strcpy(sig->name.string, "acmeNicMgmt");
  strcpy(sig->vendor.string, "acme");
  sig->numCallbacks = on_log ? 4 : 3;
  sig->callbacks = cbs;
}

#endif
