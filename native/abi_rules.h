/* SPDX-License-Identifier: Apache-2.0 */
/*
 * abi_rules.h -- the ABI's user-side rules for a signature and its callback table (the shared
 * abi.md's, outside this tree; the TypeScript side's are in mgmt/signature.ts), in one place
 * for the library (vmk_MgmtUserInit) and the bridge (HELLO). The bridge marshals each call by the
 * client's table and hands the same table to a vendor's library that may not check it: a table that
 * breaks a rule (two callbacks with one id, above all: the bridge and the library would each pick a
 * different one and disagree about a parameter's shape) never gets that far.
 */
#ifndef VMKMGMT_ABI_RULES_H
#define VMKMGMT_ABI_RULES_H

#include <errno.h>
#include <stdint.h>
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

/* Whether [a, a+an) and [b, b+bn) share a byte. */
static inline int abi_overlap(uint64_t a, uint64_t an, uint64_t b, uint64_t bn) {
  return an > 0 && bn > 0 && a < b + bn && b < a + an;
}

/*
 * The buffer fields of a table (vmkmgmt_BufferField, our extension): within one callback's parameter,
 * no pointer member may share a byte with another field's pointer or with any length member (its own
 * too). A bridge re-points each pointer at its own copy: a length that shared bytes with a pointer
 * would change under the driver, which would then copy that many bytes into a copy of the size read
 * before — past its end. 0, or EINVAL and which fields in why[0..len).
 */
static inline int abi_check_buffer_overlaps(const vmkmgmt_BufferField *b, uint32_t n, char *why, size_t len) {
  for (uint32_t i = 0; i < n; i++) {
    for (uint32_t j = 0; j < n; j++) {
      if (b[i].callbackId != b[j].callbackId || b[i].parm != b[j].parm) continue;
      int pointers = i < j && abi_overlap(b[i].offset, 8, b[j].offset, 8);
      int length = abi_overlap(b[i].offset, 8, b[j].lengthOffset, b[j].lengthSize);
      if (pointers || length) {
        if (why && len)
          snprintf(why, len, "callback %llu, parameter %u: the pointer at offset %u overlaps %s at offset %u",
                   (unsigned long long)b[i].callbackId, b[i].parm + 1, b[i].offset,
                   pointers ? "another pointer" : "a length", pointers ? b[j].offset : b[j].lengthOffset);
        return EINVAL;
      }
    }
  }
  return 0;
}

#endif
