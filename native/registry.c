/* SPDX-License-Identifier: Apache-2.0 */
/*
 * registry.c -- the live handles. A call that races Destroy (a binding may queue calls on a
 * thread pool) finds its handle gone and gets EINVAL instead of touching freed memory. This is
 * the library's only shared state; it holds no per-handle data, so handles stay independent.
 */
#include <errno.h>
#include <stdlib.h>

#include "handle.h"

static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static handle_t **live;
static size_t live_count, live_cap;

int registry_add(handle_t *h) {
  int rc = 0;
  pthread_mutex_lock(&live_lock);
  if (live_count == live_cap) {
    size_t cap = live_cap ? live_cap * 2 : 16;
    void *grown = realloc(live, cap * sizeof *live);
    if (!grown) {
      rc = ENOMEM;
      goto out;
    }
    live = grown;
    live_cap = cap;
  }
  live[live_count++] = h;
out:
  pthread_mutex_unlock(&live_lock);
  return rc;
}

/* Removes h; 0 if it was live, EINVAL if not (a second Destroy). */
int registry_remove(handle_t *h) {
  int rc = EINVAL;
  pthread_mutex_lock(&live_lock);
  for (size_t i = 0; i < live_count; i++) {
    if (live[i] == h) {
      live[i] = live[--live_count];
      rc = 0;
      break;
    }
  }
  pthread_mutex_unlock(&live_lock);
  return rc;
}

/* Counts a call in on a live handle that is not closing; EINVAL otherwise. */
int registry_enter(handle_t *h) {
  if (h == NULL) return EINVAL;
  int rc = EINVAL;
  pthread_mutex_lock(&live_lock);
  for (size_t i = 0; i < live_count; i++) {
    if (live[i] == h) {
      pthread_mutex_lock(&h->lock);
      if (!h->closing) {
        h->users++;
        rc = 0;
      }
      pthread_mutex_unlock(&h->lock);
      break;
    }
  }
  pthread_mutex_unlock(&live_lock);
  return rc;
}

/* Counts a call out; Destroy waits for the last one. */
void registry_leave(handle_t *h) {
  pthread_mutex_lock(&h->lock);
  h->users--;
  pthread_cond_broadcast(&h->state);
  pthread_mutex_unlock(&h->lock);
}
