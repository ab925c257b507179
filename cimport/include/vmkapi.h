/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vmkapi.h -- a minimal user-mode stand-in for VMware's vmkapi.h, so that a driver's management
 * interface file (`#include <vmkapi.h>`) compiles without the DDK. Written from the project's ABI
 * notes (the shared abi.md, outside this tree; ARCHITECTURE.md, "Where each fact lives", says where
 * each fact is kept here): the base types, vmk_Name, status codes, the revision and argument-count
 * macros, the mgmt types and the seven user-side functions come from our library's public header;
 * this file adds what interface files also use (signed types, packing attributes, status codes)
 * and, under -DVMKERNEL, the kernel-side types a kernel callback's prototype names. `deno task
 * import-c` uses it after any -I the user gives, so a real DDK on an -I path wins.
 */
#ifndef VMKMGMT_VMKAPI_STANDIN_H
#define VMKMGMT_VMKAPI_STANDIN_H

#include <stddef.h>
#include "../../native/vmkmgmt.h"

typedef signed char vmk_int8;
typedef short vmk_int16;
typedef int vmk_int32;
typedef long vmk_int64;
typedef unsigned long vmk_uintptr_t;
typedef vmk_uintptr_t vmk_VA;
typedef long vmk_ByteCountSigned;

#define VMK_TRUE ((vmk_Bool)1)
#define VMK_FALSE ((vmk_Bool)0)

#define VMK_ATTRIBUTE_PACKED __attribute__((__packed__))
#define VMK_ATTRIBUTE_ALIGN(n) __attribute__((__aligned__(n)))
#define VMK_ATTRIBUTE_UNUSED __attribute__((__unused__))

#define VMK_REVISION_MAJOR(rev) (((rev) >> 24) & 0xff)
#define VMK_REVISION_MINOR(rev) (((rev) >> 16) & 0xff)
#define VMK_REVISION_UPDATE(rev) (((rev) >> 8) & 0xff)
#define VMK_REVISION_PATCH(rev) ((rev) & 0xff)

/* Status codes (the ones management interfaces return); VMK_OK is 0 as on ESXi. */
typedef int VMK_ReturnStatus;
#define VMK_OK 0
#define VMK_FAILURE 0x0bad0001
#define VMK_NOT_FOUND 0x0bad0003
#define VMK_BAD_PARAM 0x0bad0007
#define VMK_NO_MEMORY 0x0bad000b
#define VMK_NOT_SUPPORTED 0x0bad0014
#define VMK_BUSY 0x0bad0021
#define VMK_TIMEOUT 0x0bad0025
#define VMK_INVALID_ADDRESS 0x0bad0046
#define VMK_LIMIT_EXCEEDED 0x0bad0044

#ifdef VMKERNEL
/* What a kernel callback receives before its payload parameters. */
typedef struct vmk_MgmtCookies {
  vmk_uint64 handleCookie;
  vmk_uint64 sessionCookie;
} vmk_MgmtCookies;

typedef struct vmk_MgmtEnvelope {
  vmk_uint64 sessionId;
  vmk_uint64 instanceId;
} vmk_MgmtEnvelope;

typedef struct vmkMgmtHandleInt *vmk_MgmtHandle;
#endif

#endif
