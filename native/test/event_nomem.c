/* SPDX-License-Identifier: Apache-2.0 */
/*
 * event_nomem -- an event the library has no memory for is skipped and counted as dropped
 * (vmkmgmt_UserEventStats' libraryDropped), never lost without a word.
 *
 * This program's malloc fails the next N allocations the library makes on its monitor thread (found
 * by the caller's address, so a preloaded recorder's own allocations are not touched); everything
 * else goes to glibc's. Against the simulator's NIC demo: Begin, N failures armed, triggerEvents 4;
 * 4 - N link events must arrive and N be counted. Prints TAP-like lines; exit 0 when all pass.
 * Not built with sanitizers (they own malloc).
 *
 * Usage: event_nomem [N]   (default 2)
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "test/acme_nic.h"

void *__libc_malloc(size_t n);

static int failures; /* allocations left to fail (atomic) */

/* Whether `caller` is code of our library (libvmkmgmt.so, not the recorder's). */
static int in_library(void *caller) {
  Dl_info info;
  if (!dladdr(caller, &info) || !info.dli_fname) return 0;
  const char *base = strrchr(info.dli_fname, '/');
  return strcmp(base ? base + 1 : info.dli_fname, "libvmkmgmt.so") == 0;
}

void *malloc(size_t n) {
  if (__atomic_load_n(&failures, __ATOMIC_ACQUIRE) > 0 && in_library(__builtin_return_address(0))) {
    char name[16] = {0};
    if (pthread_getname_np(pthread_self(), name, sizeof name) == 0 && strcmp(name, "vmkmgmt-monitor") == 0 &&
        __atomic_fetch_sub(&failures, 1, __ATOMIC_ACQ_REL) > 0) {
      errno = ENOMEM;
      return NULL;
    }
  }
  return __libc_malloc(n);
}

static int passed, failed;
#define CHECK(cond, ...)                                    \
  do {                                                      \
    if (cond) passed++, printf("ok - ");                    \
    else failed++, printf("not ok - ");                     \
    printf(__VA_ARGS__);                                    \
    printf("\n");                                           \
  } while (0)

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int links;

static void on_link(vmk_uint64 cookie, vmk_uint64 instance, void *state) {
  (void)cookie, (void)instance, (void)state;
  pthread_mutex_lock(&lock);
  links++;
  pthread_mutex_unlock(&lock);
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  int n = 2;
  if (argc > 2 || (argc == 2 && (sscanf(argv[1], "%d", &n) != 1 || n < 0 || n > 4))) {
    fprintf(stderr, "usage: event_nomem [N]   (N: 0..4 of the 4 events to fail, default 2)\n");
    return 2;
  }
  vmk_MgmtCallbackInfo cbs[4];
  vmk_MgmtApiSignature sig;
  acme_nic_signature(&sig, cbs, on_link, NULL); /* (no log events: only link events meet the failures) */
  vmk_MgmtUserHandle h;
  int rc = vmk_MgmtUserInit(&sig, 0, &h);
  CHECK(rc == 0, "Init -> 0 (%d)", rc);
  if (rc != 0) goto out;
  CHECK(vmk_MgmtUserBegin(h) == 0, "Begin -> 0");
  __atomic_store_n(&failures, n, __ATOMIC_RELEASE);
  vmk_uint32 count = 4;
  CHECK(vmk_MgmtUserCallbackInvoke(h, 1, ACME_TRIGGER, &count) == 0, "triggerEvents 4 -> 0");
  /* Every event is either delivered or counted: wait until the four are accounted for. */
  vmk_uint64 kernel = 0, library = 0;
  int got = 0;
  for (int waited = 0; waited < 5000; waited += 10) {
    pthread_mutex_lock(&lock);
    got = links;
    pthread_mutex_unlock(&lock);
    vmkmgmt_UserEventStats(h, &kernel, &library);
    if (got + (int)library >= 4) break;
    usleep(10000);
  }
  CHECK(got == 4 - n, "%d of 4 linkEvent callbacks arrive (%d)", 4 - n, got);
  CHECK(library == (vmk_uint64)n, "the %d the library had no memory for are counted as dropped (%llu)", n,
        (unsigned long long)library);
  CHECK(vmk_MgmtUserEnd(h) == 0, "End -> 0");
  CHECK(vmk_MgmtUserDestroy(h) == 0, "Destroy -> 0");
out:
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
