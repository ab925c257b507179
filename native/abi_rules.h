/*
 * abi_rules.h -- the user-side rules of abi.md for a signature and its callback table, in one place
 * for the library (vmk_MgmtUserInit) and the bridge (HELLO). The bridge marshals each call by the
 * client's table and hands the same table to a vendor's library that may not check it: a table that
 * breaks a rule (two callbacks with one id, above all: the bridge and the library would each pick a
 * different one and disagree about a parameter's shape) never gets that far.
 */
#ifndef VMKMGMT_ABI_RULES_H
#define VMKMGMT_ABI_RULES_H

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vmkmgmt.h"

static inline int abi_name_ok(const vmk_Name *n) {
  size_t len = strnlen(n->string, VMK_MISC_NAME_MAX);
  return len >= 1 && len < VMK_MISC_NAME_MAX;
}

/* 0 when the signature keeps every rule; else EINVAL, and the first rule it breaks in why[0..len). */
static inline int abi_check_signature(const vmk_MgmtApiSignature *sig, char *why, size_t len) {
#define ABI_BROKEN(...) (why && len ? (snprintf(why, len, __VA_ARGS__), EINVAL) : EINVAL)
  if (!abi_name_ok(&sig->name) || !abi_name_ok(&sig->vendor))
    return ABI_BROKEN("the name and the vendor must be 1 to %d characters", VMK_MISC_NAME_MAX - 1);
  if (sig->numCallbacks < 0 || (sig->numCallbacks == 0) != (sig->callbacks == NULL))
    return ABI_BROKEN("the callback table does not match its count");
  for (int i = 0; i < sig->numCallbacks; i++) {
    const vmk_MgmtCallbackInfo *c = &sig->callbacks[i];
    unsigned long long id = (unsigned long long)c->callbackId;
    if (c->numParms > VMK_MGMT_MAX_CALLBACK_PARMS)
      return ABI_BROKEN("callback %llu has %d parameters (at most %d)", id, c->numParms, VMK_MGMT_MAX_CALLBACK_PARMS);
    if (c->location != VMK_MGMT_CALLBACK_KERNEL && c->location != VMK_MGMT_CALLBACK_USER)
      return ABI_BROKEN("callback %llu runs neither in the kernel nor in user space", id);
    if (c->callbackId <= VMK_MGMT_RESERVED_CALLBACKS)
      return ABI_BROKEN("callback id %llu is reserved (ids up to %d are)", id, VMK_MGMT_RESERVED_CALLBACKS);
    for (int j = 0; j < i; j++) {
      if (sig->callbacks[j].callbackId == c->callbackId) return ABI_BROKEN("callback id %llu appears twice", id);
    }
    for (int k = 0; k < c->numParms; k++) {
      if ((unsigned)c->parmTypes[k] > VMK_MGMT_PARMTYPE_VECTOR_INOUT || c->parmSizes[k] == 0)
        return ABI_BROKEN("callback %llu, parameter %d: no such type, or no size", id, k + 1);
    }
    if (c->location == VMK_MGMT_CALLBACK_USER) {
      if (c->callback == NULL || c->synchronous)
        return ABI_BROKEN("user callback %llu must have a function and be asynchronous", id);
      for (int k = 0; k < c->numParms; k++) {
        if (c->parmTypes[k] != VMK_MGMT_PARMTYPE_IN && c->parmTypes[k] != VMK_MGMT_PARMTYPE_VECTOR_IN)
          return ABI_BROKEN("user callback %llu, parameter %d: only in and vector in reach user space", id, k + 1);
      }
    } else if (!c->synchronous) {
      for (int k = 0; k < c->numParms; k++) {
        if (c->parmTypes[k] == VMK_MGMT_PARMTYPE_OUT || c->parmTypes[k] == VMK_MGMT_PARMTYPE_INOUT ||
            c->parmTypes[k] == VMK_MGMT_PARMTYPE_VECTOR_OUT || c->parmTypes[k] == VMK_MGMT_PARMTYPE_VECTOR_INOUT)
          return ABI_BROKEN("asynchronous callback %llu, parameter %d: nothing comes back from an async call", id, k + 1);
      }
    }
  }
  return 0;
#undef ABI_BROKEN
}

#endif
