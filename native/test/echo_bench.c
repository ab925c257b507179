/* SPDX-License-Identifier: Apache-2.0 */
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

#include "test/acme_nic.h"

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
  vmk_MgmtCallbackInfo cbs[4];
  vmk_MgmtApiSignature sig;
  acme_nic_signature(&sig, cbs, on_link, on_log);
  vmk_MgmtUserHandle h;
  int rc = vmk_MgmtUserInit(&sig, 0, &h);
  if (rc != 0) {
    fprintf(stderr, "init failed: %d\n", rc);
    return 1;
  }
  if (strcmp(argv[1], "echo") == 0) {
    double seconds = atof(argv[2]), start = now(), end = start + seconds;
    long calls = 0;
    struct acme_echo_msg m = acme_echo_msg(0, 0);
    while (now() < end) {
      for (int i = 0; i < 100; i++, calls++) {
        if ((rc = vmk_MgmtUserCallbackInvoke(h, 1, ACME_ECHO, &m)) != 0) {
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
      vmk_MgmtUserCallbackInvoke(h, 1, ACME_TRIGGER, &n);
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
