/* SPDX-License-Identifier: Apache-2.0 */
/*
 * queue_stress -- the completion queue driven as a program's event loop drives it, for the
 * sanitizer runs (test/completion_queue_test.ts): one thread submits batches of echo calls and
 * bursts of linkEvents on a handle attached to a queue, flushes, spins with vmkmgmt_UserPoll (which
 * reads the handle's answers itself while the reader thread is not reading) and drains; meanwhile
 * threads make blocking calls on the same handle (their replies may be read by the poller) and on a
 * second handle. Then a third handle's calls are answered from inside a ring hook
 * (vmkmgmt_QueueOnRing), on whichever library thread completes them, as vmkmgmt-bridge does.
 * Every answer is checked against its own request. Prints "ok CALLS EVENTS POLLED HOOKED" and exits 0
 * when every answer and event arrived.
 *   queue_stress ROUNDS
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "test/acme_nic.h"

#define BATCH 32   /* echo calls in flight at once */
#define BURST 25   /* linkEvents asked for every fourth round */
#define SYNC_THREADS 3

struct blocking {
  vmk_MgmtUserHandle h;
  int n, index;
  long errors;
};

/* Blocking echo calls, each checked: their replies travel the same socket the poller reads. */
static void *blocking_calls(void *arg) {
  struct blocking *w = arg;
  for (int i = 0; i < w->n; i++) {
    vmk_uint64 seq = (vmk_uint64)w->index * 1000000u + (vmk_uint64)i;
    struct acme_echo_msg m = acme_echo_msg(seq, (vmk_uint8)w->index);
    if (vmk_MgmtUserCallbackInvoke(w->h, 1, ACME_ECHO, &m) != 0 || !acme_echo_answered(&m, seq, (vmk_uint8)w->index))
      w->errors++;
  }
  return NULL;
}

static void no_event(vmk_uint64 cookie, vmk_uint64 instance, void *p) {
  (void)cookie;
  (void)instance;
  (void)p;
}

/* Drains every entry: completions mark their token's call done (status kept), linkEvents counted. */
static int drain(vmkmgmt_Queue q, uint8_t *buf, size_t len, int *status, int *done, long *events, long *bad) {
  size_t used;
  vmk_uint32 entries;
  int rc = vmkmgmt_QueueDrain(q, buf, len, &used, &entries);
  if (rc != 0) return rc;
  size_t at = 0;
  for (vmk_uint32 i = 0; i < entries; i++) {
    vmkmgmt_QueueEntry e;
    memcpy(&e, buf + at, sizeof e);
    if (e.kind == VMKMGMT_ENTRY_COMPLETION && e.key >= 1 && e.key <= BATCH + 1 && !done[e.key - 1]) {
      done[e.key - 1] = 1;
      status[e.key - 1] = e.status;
    } else if (e.kind == VMKMGMT_ENTRY_EVENT) {
      vmk_uint64 callback;
      memcpy(&callback, buf + at + sizeof e + 8, sizeof callback);
      if (callback == ACME_LINK_EVENT) (*events)++;
    } else {
      (*bad)++; /* a token completed twice, one never submitted, or a disconnect */
    }
    at += e.length;
  }
  return 0;
}

/* A queue answered from its ring hook: the hook drains on the library's thread and counts. */
struct hooked {
  vmkmgmt_Queue q;
  pthread_mutex_t lock;
  pthread_cond_t all_in;
  uint8_t buf[64 * 1024];
  int done[BATCH], status[BATCH];
  long completions, rings, stray;
};

static void on_ring(void *ctx) {
  struct hooked *k = ctx;
  pthread_mutex_lock(&k->lock); /* (the hook may run on two threads at once: it takes turns) */
  k->rings++;
  size_t used;
  vmk_uint32 entries;
  while (vmkmgmt_QueueDrain(k->q, k->buf, sizeof k->buf, &used, &entries) == 0 && entries > 0) {
    for (size_t at = 0; entries-- > 0;) {
      vmkmgmt_QueueEntry e;
      memcpy(&e, k->buf + at, sizeof e);
      at += e.length;
      if (e.kind != VMKMGMT_ENTRY_COMPLETION || e.key < 1 || e.key > BATCH || k->done[e.key - 1]) {
        k->stray++;
        continue;
      }
      k->done[e.key - 1] = 1;
      k->status[e.key - 1] = e.status;
      k->completions++;
    }
  }
  pthread_cond_broadcast(&k->all_in);
  pthread_mutex_unlock(&k->lock);
}

/* Rounds of BATCH echo calls answered by the hook alone (nothing here waits on the queue); the
 * hook's own errors first. Returns the calls answered right, or -1. */
static long hooked_calls(vmk_MgmtApiSignature *sig, int rounds) {
  static struct hooked k;
  vmk_MgmtUserHandle h;
  vmkmgmt_Queue bell;
  char path[108];
  if (vmkmgmt_QueueCreate(&k.q) != 0 || vmkmgmt_QueueCreate(&bell) != 0 || vmk_MgmtUserInit(sig, 99, &h) != 0)
    return -1;
  pthread_mutex_init(&k.lock, NULL);
  pthread_cond_init(&k.all_in, NULL);
  int refused = vmkmgmt_QueueOnRing(k.q, NULL, &k) == EINVAL && vmkmgmt_QueueDoorbell(bell, path, sizeof path) == 0 &&
                vmkmgmt_QueueOnRing(bell, on_ring, &k) == EEXIST && vmkmgmt_QueueOnRing(k.q, on_ring, &k) == 0 &&
                vmkmgmt_QueueOnRing(k.q, on_ring, &k) == EEXIST &&
                vmkmgmt_QueueDoorbell(k.q, path, sizeof path) == EEXIST && vmkmgmt_UserAttachCompletions(h, k.q) == 0;
  vmkmgmt_QueueDestroy(bell);
  if (!refused) {
    fprintf(stderr, "vmkmgmt_QueueOnRing: an error was not the one documented\n");
    return -1;
  }
  vmkmgmt_Queue late;
  vmk_MgmtUserHandle h2;
  if (vmkmgmt_QueueCreate(&late) != 0 || vmk_MgmtUserInit(sig, 98, &h2) != 0) return -1;
  int busy = vmkmgmt_UserAttachCompletions(h2, late) == 0 && vmkmgmt_QueueOnRing(late, on_ring, &k) == EBUSY;
  vmk_MgmtUserDestroy(h2);
  vmkmgmt_QueueDestroy(late);
  if (!busy) {
    fprintf(stderr, "vmkmgmt_QueueOnRing on a queue with a handle attached: not EBUSY\n");
    return -1;
  }
  long right = 0;
  for (int r = 0; r < rounds; r++) {
    struct acme_echo_msg m[BATCH];
    pthread_mutex_lock(&k.lock);
    memset(k.done, 0, sizeof k.done);
    pthread_mutex_unlock(&k.lock);
    for (int i = 0; i < BATCH; i++) {
      m[i] = acme_echo_msg((vmk_uint64)r * 1000u + (vmk_uint64)i, (vmk_uint8)i);
      if (vmkmgmt_UserSubmit(h, (vmk_uint64)i + 1, 1, ACME_ECHO, 1, &m[i], NULL, NULL, NULL) != 0) return -1;
    }
    vmkmgmt_UserFlush(h);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    pthread_mutex_lock(&k.lock);
    int in = 0;
    while (!(in = k.completions >= (long)(r + 1) * BATCH) &&
           pthread_cond_timedwait(&k.all_in, &k.lock, &until) != ETIMEDOUT) {
    }
    for (int i = 0; in && i < BATCH; i++)
      right += k.status[i] == 0 && acme_echo_answered(&m[i], (vmk_uint64)r * 1000u + (vmk_uint64)i, (vmk_uint8)i);
    pthread_mutex_unlock(&k.lock);
    if (!in) break; /* (never answered: the count says so) */
  }
  vmk_MgmtUserDestroy(h);
  if (vmkmgmt_QueueDestroy(k.q) != 0 || k.stray != 0) return -1;
  return right;
}

int main(int argc, char **argv) {
  int rounds = argc > 1 ? atoi(argv[1]) : 0;
  if (rounds < 1) {
    fprintf(stderr, "usage: queue_stress ROUNDS (a whole number >= 1)\n");
    return 2;
  }
  vmk_MgmtCallbackInfo cbs[4];
  vmk_MgmtApiSignature sig;
  acme_nic_signature(&sig, cbs, no_event, no_event);
  vmk_MgmtUserHandle h, other;
  vmkmgmt_Queue q;
  if (vmk_MgmtUserInit(&sig, 77, &h) != 0 || vmk_MgmtUserInit(&sig, 88, &other) != 0 ||
      vmkmgmt_QueueCreate(&q) != 0 || vmkmgmt_UserAttachQueue(h, q, 5) != 0 || vmk_MgmtUserBegin(h) != 0) {
    fprintf(stderr, "set-up failed\n");
    return 1;
  }
  /* A wake no wait took ends the next wait, and only that: polls on the empty queue still wait out
   * their time (they returned at once while such a wake stayed, each finding nothing). */
  int rc_poll, rc_user, rc_wait, rc_after;
  vmkmgmt_QueueWake(q);
  rc_poll = vmkmgmt_QueuePoll(q, 2000);
  rc_user = vmkmgmt_UserPoll(h, 2000, 0);
  rc_wait = vmkmgmt_QueueWait(q, 1000);
  rc_after = vmkmgmt_QueueWait(q, 10);
  if (rc_poll != ETIMEDOUT || rc_user != ETIMEDOUT || rc_wait != EINTR || rc_after != ETIMEDOUT) {
    fprintf(stderr, "a wake with no waiter: QueuePoll %s, UserPoll %s, then QueueWait %s and %s "
                    "(want ETIMEDOUT, ETIMEDOUT, EINTR, ETIMEDOUT)\n",
            strerror(rc_poll), strerror(rc_user), strerror(rc_wait), strerror(rc_after));
    return 1;
  }
  pthread_t t[SYNC_THREADS + 1];
  struct blocking w[SYNC_THREADS + 1];
  for (int i = 0; i <= SYNC_THREADS; i++) {
    w[i] = (struct blocking){.h = i < SYNC_THREADS ? h : other, .n = rounds * 4, .index = i + 1};
    pthread_create(&t[i], NULL, blocking_calls, &w[i]);
  }
  size_t len = 1 << 20;
  uint8_t *buf = malloc(len);
  long wrong = 0, events = 0, bad = 0, calls = 0, polled = 0;
  for (int r = 0; r < rounds && buf; r++) {
    struct acme_echo_msg m[BATCH];
    vmk_uint32 count = BURST;
    int status[BATCH + 1], done[BATCH + 1];
    memset(done, 0, sizeof done);
    int n = r % 4 == 0 ? BATCH + 1 : BATCH; /* token BATCH + 1: a burst of events */
    for (int i = 0; i < n; i++) {
      int rc;
      if (i == BATCH) {
        rc = vmkmgmt_UserSubmit(h, (vmk_uint64)i + 1, 1, ACME_TRIGGER, 1, &count, NULL, NULL, NULL);
      } else {
        m[i] = acme_echo_msg((vmk_uint64)r * 1000u + (vmk_uint64)i, (vmk_uint8)i);
        rc = vmkmgmt_UserSubmit(h, (vmk_uint64)i + 1, 1 + (vmk_uint64)(i % 4), ACME_ECHO, 1, &m[i], NULL, NULL, NULL);
      }
      if (rc != 0) {
        fprintf(stderr, "submit: %s\n", strerror(rc));
        return 1;
      }
    }
    if (vmkmgmt_UserFlush(h) != 0) wrong++;
    for (int left = n; left > 0;) {
      /* Spin for the answers, reading them here when the reader is not; else wait for the reader. */
      int rc = vmkmgmt_UserPoll(h, 200, (vmk_uint32)(left % 4)); /* (and asks it to gather some) */
      if (rc == 0) polled++;
      else if (rc != ETIMEDOUT || vmkmgmt_QueueWait(q, 1000) == ETIMEDOUT) break;
      if (drain(q, buf, len, status, done, &events, &bad) != 0) break;
      left = 0;
      for (int i = 0; i < n; i++) left += !done[i];
    }
    for (int i = 0; i < n; i++) {
      calls++;
      if (!done[i] || status[i] != 0) wrong++;
      else if (i < BATCH && !acme_echo_answered(&m[i], (vmk_uint64)r * 1000u + (vmk_uint64)i, (vmk_uint8)i)) wrong++;
    }
  }
  for (int i = 0; i <= SYNC_THREADS; i++) {
    pthread_join(t[i], NULL);
    wrong += w[i].errors;
    calls += w[i].n;
  }
  /* triggerEvents answers once its events are sent; they may still be on their way. */
  long want = (long)((rounds + 3) / 4) * BURST;
  for (int tries = 0; events < want && tries < 50 && buf; tries++) {
    int status[BATCH + 1], done[BATCH + 1];
    memset(done, 0, sizeof done);
    if (vmkmgmt_QueueWait(q, 100) == 0) drain(q, buf, len, status, done, &events, &bad);
  }
  free(buf);
  vmk_MgmtUserEnd(h);
  vmk_MgmtUserDestroy(h);
  vmk_MgmtUserDestroy(other);
  vmkmgmt_QueueDestroy(q);
  long hooked = hooked_calls(&sig, rounds);
  if (wrong || bad || events != want || hooked != (long)rounds * BATCH) {
    printf("failed: %ld wrong answers, %ld stray entries, %ld of %ld events, %ld of %ld answered by the hook\n", wrong,
           bad, events, want, hooked, (long)rounds * BATCH);
    return 1;
  }
  printf("ok %ld %ld %ld %ld\n", calls, events, polled, hooked);
  return 0;
}
