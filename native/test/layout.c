/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Prints, as JSON, what C says about the ABI and the wire protocol: sizeof/offsetof of the ABI
 * structs, the constants of vmkmgmt.h, those of wire.h, and the Linux socket facts ffi/peer.ts
 * uses and the dlfcn flags ffi/keep_mapped.ts uses. test/layout_test.ts holds ffi/layout.ts,
 * abi/facts.ts, sim/frames.ts, sim/payloads.ts, ffi/peer.ts and ffi/keep_mapped.ts to it.
 */
#define _GNU_SOURCE /* struct ucred */
#include <dirent.h>
#include <dlfcn.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "vmkmgmt.h"
#include "wire.h"

#define F(s, f) printf("\"%s.%s\": %zu, ", #s, #f, offsetof(s, f))
#define S(s) printf("\"%s\": %zu, \"%s.align\": %zu, ", #s, sizeof(s), #s, _Alignof(s))
#define N(name) printf("\"%s\": %llu, ", #name, (unsigned long long)(name))

int main(void) {
  printf("{\"layout\": {");
  S(vmk_Name);
  S(vmk_MgmtCallbackInfo);
  F(vmk_MgmtCallbackInfo, location);
  F(vmk_MgmtCallbackInfo, callback);
  F(vmk_MgmtCallbackInfo, synchronous);
  F(vmk_MgmtCallbackInfo, numParms);
  F(vmk_MgmtCallbackInfo, parmSizes);
  F(vmk_MgmtCallbackInfo, parmTypes);
  F(vmk_MgmtCallbackInfo, callbackId);
  S(vmk_MgmtApiSignature);
  F(vmk_MgmtApiSignature, version);
  F(vmk_MgmtApiSignature, name);
  F(vmk_MgmtApiSignature, vendor);
  F(vmk_MgmtApiSignature, numCallbacks);
  F(vmk_MgmtApiSignature, callbacks);
  S(vmk_MgmtInstances);
  F(vmk_MgmtInstances, numInstances);
  F(vmk_MgmtInstances, instanceIds);
  F(vmk_MgmtInstances, instanceNames);
  S(vmk_MgmtVectorParm);
  F(vmk_MgmtVectorParm, length);
  F(vmk_MgmtVectorParm, dataPtr);
  S(vmkmgmt_BufferField);
  F(vmkmgmt_BufferField, callbackId);
  F(vmkmgmt_BufferField, parm);
  F(vmkmgmt_BufferField, offset);
  F(vmkmgmt_BufferField, direction);
  F(vmkmgmt_BufferField, length);
  F(vmkmgmt_BufferField, lengthOffset);
  F(vmkmgmt_BufferField, lengthSize);
  S(vmkmgmt_InitOptions);
  F(vmkmgmt_InitOptions, host);
  F(vmkmgmt_InitOptions, buffers);
  F(vmkmgmt_InitOptions, numBuffers);
  F(vmkmgmt_InitOptions, why);
  F(vmkmgmt_InitOptions, whyLen);
  F(vmkmgmt_InitOptions, pid);
  S(vmkmgmt_QueueEntry);
  F(vmkmgmt_QueueEntry, kind);
  F(vmkmgmt_QueueEntry, length);
  F(vmkmgmt_QueueEntry, key);
  F(vmkmgmt_QueueEntry, status);
  printf("\"enum\": %zu}, \"abi\": {", sizeof(vmk_MgmtParmType));
  N(VMK_MISC_NAME_MAX);
  N(VMK_MGMT_MAX_CALLBACK_PARMS);
  N(VMK_MGMT_RESERVED_CALLBACKS);
  N(VMK_MGMT_MAX_INSTANCES);
  N(VMK_MGMT_NO_INSTANCE_ID);
  N(VMK_MGMT_CALLBACK_KERNEL);
  N(VMK_MGMT_CALLBACK_USER);
  N(VMK_MGMT_PARMTYPE_IN);
  N(VMK_MGMT_PARMTYPE_OUT);
  N(VMK_MGMT_PARMTYPE_INOUT);
  N(VMK_MGMT_PARMTYPE_VECTOR_IN);
  N(VMK_MGMT_PARMTYPE_VECTOR_OUT);
  N(VMK_MGMT_PARMTYPE_VECTOR_INOUT);
  N(VMKMGMT_ENTRY_COMPLETION);
  N(VMKMGMT_ENTRY_EVENT);
  N(VMKMGMT_ENTRY_DISCONNECT);
  printf("\"VMK_REVISION_FROM_NUMBERS(1,2,3,1007)\": %u}, \"wire\": {",
         (unsigned)VMK_REVISION_FROM_NUMBERS(1, 2, 3, 1007));
  N(WIRE_MAGIC);
  N(WIRE_VERSION);
  N(WIRE_HEADER_SIZE);
  N(WIRE_MAX_VECTOR);
  N(WIRE_MAX_PAYLOAD);
  N(WIRE_HELLO);
  N(WIRE_HELLO_REPLY);
  N(WIRE_INVOKE);
  N(WIRE_INVOKE_REPLY);
  N(WIRE_GET_INSTANCES);
  N(WIRE_INSTANCES);
  N(WIRE_EVENT);
  N(WIRE_EVENT_ACK);
  N(WIRE_CONTROL);
  N(WIRE_CONTROL_REPLY);
  N(WIRE_ERROR);
  N(WIRE_EVENTS_DROPPED);
  N(WIRE_COPY_REQUEST);
  N(WIRE_COPY_REPLY);
  N(WIRE_PARM_DATA);
  N(WIRE_REPLY_RETURNED);
  N(WIRE_COPY_REQUEST_SIZE);
  N(WIRE_COPY_REPLY_SIZE);
  N(WIRE_COPY_FROM_USER);
  N(WIRE_COPY_TO_USER);
  N(WIRE_COPY_ADDRESS);
  N(WIRE_COPY_PARAMETER);
  N(WIRE_HELLO_SIZE);
  N(WIRE_CB_ENTRY_SIZE);
  N(WIRE_BUF_ENTRY_SIZE);
  N(WIRE_PEER_BRIDGE);
  N(WIRE_MAX_HELLO_ENTRIES);
  N(WIRE_HELLO_REPLY_SIZE);
  N(WIRE_INVOKE_HEADER_SIZE);
  N(WIRE_PARM_DESC_SIZE);
  N(WIRE_REPLY_LENGTHS);
  N(WIRE_INSTANCES_ENTRIES);
  N(WIRE_INSTANCE_SIZE);
  N(WIRE_EVENT_LENGTHS);
  N(WIRE_ACK_SIZE);
  N(WIRE_DROPPED_SIZE);
  N(WIRE_DIR_WRITE_MASK);
  N(WIRE_BRIDGE_WORKERS);
  printf("\"WIRE_HOST_ENV\": \"%s\", \"WIRE_BRIDGE_ENV\": \"%s\", \"WIRE_SSH_ENV\": \"%s\", ", WIRE_HOST_ENV,
         WIRE_BRIDGE_ENV, WIRE_SSH_ENV);
  printf("\"WIRE_LOCAL_HOST\": \"%s\", ", WIRE_LOCAL_HOST);
  printf("\"WIRE_SOCKET_ENV\": \"%s\", \"WIRE_SOCKET_DEFAULT\": \"%s\"}, \"linux\": {", WIRE_SOCKET_ENV,
         WIRE_SOCKET_DEFAULT);
  N(AF_UNIX);
  N(SOL_SOCKET);
  N(SO_PEERCRED);
  printf("\"UCRED_SIZE\": %zu, \"SOCKADDR_UN_SIZE\": %zu, \"SUN_PATH_OFFSET\": %zu, \"DIRENT_NAME_OFFSET\": %zu}",
         sizeof(struct ucred), sizeof(struct sockaddr_un), offsetof(struct sockaddr_un, sun_path),
         offsetof(struct dirent, d_name));
  printf(", \"dlfcn\": {");
  N(RTLD_LAZY);
  printf("\"RTLD_NODELETE\": %llu}}\n", (unsigned long long)RTLD_NODELETE);
  return 0;
}
