/* Prints sizeof/offsetof of the ABI structs as JSON, for test/layout_test.ts. */
#include <stddef.h>
#include <stdio.h>

#include "vmkmgmt.h"

#define F(s, f) printf("\"%s.%s\": %zu, ", #s, #f, offsetof(s, f))
#define S(s) printf("\"%s\": %zu, \"%s.align\": %zu, ", #s, sizeof(s), #s, _Alignof(s))

int main(void) {
  printf("{");
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
  printf("\"enum\": %zu}\n", sizeof(vmk_MgmtParmType));
  return 0;
}
