/*
 * echo_bench -- the C baseline for bench/main.ts: sequential echo calls per second, and kernel
 * events per second delivered to a C callback, through libvmkmgmt and the same simulator.
 *   echo_bench echo SECONDS     -> {"calls": N, "seconds": S}
 *   echo_bench events COUNT     -> {"events": N, "seconds": S}
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vmkmgmt.h"

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static long received;

static void on_link(vmk_uint64 cookie, vmk_uint64 instance, void *p) {
  (void)cookie;
  (void)instance;
  (void)p;
  pthread_mutex_lock(&lock);
  received++;
  pthread_cond_signal(&cond);
  pthread_mutex_unlock(&lock);
}

static void on_log(vmk_uint64 cookie, vmk_uint64 instance, void *p) {
  (void)cookie;
  (void)instance;
  (void)p;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: echo_bench echo SECONDS | events COUNT\n");
    return 2;
  }
  vmk_MgmtCallbackInfo cbs[3];
  memset(cbs, 0, sizeof cbs);
  cbs[0] = (vmk_MgmtCallbackInfo){VMK_MGMT_CALLBACK_KERNEL, NULL, 1, 1, {64}, {VMK_MGMT_PARMTYPE_INOUT}, 21};
  cbs[1] = (vmk_MgmtCallbackInfo){VMK_MGMT_CALLBACK_KERNEL, NULL, 1, 1, {4}, {VMK_MGMT_PARMTYPE_IN}, 22};
  cbs[2] = (vmk_MgmtCallbackInfo){VMK_MGMT_CALLBACK_USER, (void *)on_link, 0, 1, {8}, {VMK_MGMT_PARMTYPE_IN}, 32};
  vmk_MgmtCallbackInfo logcb = {VMK_MGMT_CALLBACK_USER, (void *)on_log, 0, 1, {64}, {VMK_MGMT_PARMTYPE_IN}, 33};
  vmk_MgmtCallbackInfo all[4] = {cbs[0], cbs[1], cbs[2], logcb};
  vmk_MgmtApiSignature sig;
  memset(&sig, 0, sizeof sig);
  sig.version = VMK_REVISION_FROM_NUMBERS(1, 0, 0, 0);
  strcpy(sig.name.string, "acmeNicMgmt");
  strcpy(sig.vendor.string, "acme");
  sig.numCallbacks = 4;
  sig.callbacks = all;
  vmk_MgmtUserHandle h;
  int rc = vmk_MgmtUserInit(&sig, 0, &h);
  if (rc != 0) {
    fprintf(stderr, "init failed: %d\n", rc);
    return 1;
  }
  if (strcmp(argv[1], "echo") == 0) {
    double seconds = atof(argv[2]), start = now(), end = start + seconds;
    long calls = 0;
    struct {
      vmk_uint64 seq;
      vmk_uint8 payload[56];
    } __attribute__((packed)) m = {0, {0}};
    while (now() < end) {
      for (int i = 0; i < 100; i++, calls++) {
        if ((rc = vmk_MgmtUserCallbackInvoke(h, 1, 21, &m)) != 0) {
          fprintf(stderr, "echo failed: %d\n", rc);
          return 1;
        }
      }
    }
    printf("{\"calls\": %ld, \"seconds\": %f}\n", calls, now() - start);
  } else {
    long count = atol(argv[2]);
    vmk_MgmtUserBegin(h);
    double start = now();
    for (long sent = 0; sent < count;) {
      vmk_uint32 n = (vmk_uint32)(count - sent > 500 ? 500 : count - sent);
      vmk_MgmtUserCallbackInvoke(h, 1, 22, &n);
      sent += n;
      pthread_mutex_lock(&lock);
      while (received < sent) pthread_cond_wait(&cond, &lock);
      pthread_mutex_unlock(&lock);
    }
    printf("{\"events\": %ld, \"seconds\": %f}\n", received, now() - start);
    vmk_MgmtUserEnd(h);
  }
  vmk_MgmtUserDestroy(h);
  return 0;
}
