/* SPDX-License-Identifier: Apache-2.0 */
/*
 * record_stress -- many threads calling at once while events flow, for the recorder's sanitizer
 * runs (test/record_test.ts): 16 threads each make N echo calls on one handle (each checks its own
 * answers), while another asks for bursts of linkEvents that a callback counts; a second handle
 * works beside them. Prints "ok CALLS EVENTS" and exits 0 when every answer and event arrived.
 *   record_stress N
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test/acme_nic.h"

#define THREADS 16
#define BURSTS 20
#define BURST 25

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static long links, wrong;

static void on_link(vmk_uint64 cookie, vmk_uint64 instance, void *p) {
  (void)instance;
  (void)p;
  pthread_mutex_lock(&lock);
  if (cookie == 77) links++;
  else wrong++;
  pthread_cond_broadcast(&cond);
  pthread_mutex_unlock(&lock);
}

static void on_log(vmk_uint64 cookie, vmk_uint64 instance, void *p) {
  (void)cookie;
  (void)instance;
  (void)p;
}

struct worker {
  vmk_MgmtUserHandle h;
  int n, index;
  long errors;
};

static void *hammer(void *arg) {
  struct worker *w = arg;
  for (int i = 0; i < w->n; i++) {
    vmk_uint64 seq = (vmk_uint64)w->index * 1000000u + (vmk_uint64)i;
    struct acme_echo_msg m = acme_echo_msg(seq, (vmk_uint8)w->index);
    if (vmk_MgmtUserCallbackInvoke(w->h, 1 + (vmk_uint64)(i % 4), ACME_ECHO, &m) != 0 ||
        !acme_echo_answered(&m, seq, (vmk_uint8)w->index))
      w->errors++;
  }
  return NULL;
}

static void *bursts(void *arg) {
  struct worker *w = arg;
  for (int b = 0; b < BURSTS; b++) {
    vmk_uint32 n = BURST;
    if (vmk_MgmtUserCallbackInvoke(w->h, 1, ACME_TRIGGER, &n) != 0) w->errors++;
  }
  return NULL;
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 200;
  vmk_MgmtCallbackInfo cbs[4];
  vmk_MgmtApiSignature sig;
  acme_nic_signature(&sig, cbs, on_link, on_log);
  vmk_MgmtUserHandle h, other;
  if (vmk_MgmtUserInit(&sig, 77, &h) != 0 || vmk_MgmtUserInit(&sig, 88, &other) != 0) {
    fprintf(stderr, "init failed\n");
    return 1;
  }
  if (vmk_MgmtUserBegin(h) != 0) {
    fprintf(stderr, "begin failed\n");
    return 1;
  }
  pthread_t t[THREADS + 2];
  struct worker w[THREADS + 2];
  for (int i = 0; i < THREADS; i++) {
    w[i] = (struct worker){.h = h, .n = n, .index = i + 1};
    pthread_create(&t[i], NULL, hammer, &w[i]);
  }
  w[THREADS] = (struct worker){.h = h};
  pthread_create(&t[THREADS], NULL, bursts, &w[THREADS]);
  w[THREADS + 1] = (struct worker){.h = other, .n = n, .index = 99};
  pthread_create(&t[THREADS + 1], NULL, hammer, &w[THREADS + 1]);
  long errors = 0;
  for (int i = 0; i < THREADS + 2; i++) {
    pthread_join(t[i], NULL);
    errors += w[i].errors;
  }
  /* triggerEvents answers once its events are sent; they may still be on their way here. */
  pthread_mutex_lock(&lock);
  for (int tries = 0; links < BURSTS * BURST && tries < 50; tries++) {
    pthread_mutex_unlock(&lock);
    usleep(100000);
    pthread_mutex_lock(&lock);
  }
  long got = links, bad = wrong;
  pthread_mutex_unlock(&lock);
  vmk_MgmtUserEnd(h);
  vmk_MgmtUserDestroy(h);
  vmk_MgmtUserDestroy(other);
  if (errors || got != BURSTS * BURST || bad) {
    printf("failed: %ld wrong answers, %ld of %d events, %ld with a wrong cookie\n", errors, got, BURSTS * BURST, bad);
    return 1;
  }
  printf("ok %d %ld\n", (THREADS + 1) * n + BURSTS, got);
  return 0;
}
