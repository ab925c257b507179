/* SPDX-License-Identifier: Apache-2.0 */
/*
 * queue.c -- completion queues (vmkmgmt.h): where submitted calls complete and, for an attached
 * handle that has begun, where its events go, for a program that runs its own event loop.
 *
 * The reader thread pushes; the program drains every entry in one call. It hears that there is
 * something to drain by its doorbell — one byte on a socket it reads in its own event loop, when the
 * queue goes from empty to non-empty — or by a vmkmgmt_QueueWait returning. Either way the reader
 * only signals, and never waits for the program, which may be blocked in a call that only the
 * reader can finish.
 *
 * Events keep today's flow control: a drained event is acknowledged to its kernel as it leaves the
 * queue (the program handles what it drained before it drains again), at most LOCAL_EVENTS of one
 * handle wait here (more are dropped, counted and acknowledged at once), and a handle's events come
 * out in the order its kernel sent them.
 */
#define _GNU_SOURCE /* accept4, struct ucred */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "handle.h"
#include "wire.h"

/* Events of one handle waiting in a queue, as the monitor's local queue keeps. */
#define LOCAL_EVENTS 1024
/* Handles whose events one drain acknowledges; a drain stops before the next one. */
#define DRAIN_HANDLES 64
/* The longest a waiter spins, and the gaps it learns from. A waiter woken by a futex on another CPU
 * costs tens of microseconds on a virtual machine; one that spins sees the entry at once. It spins
 * only while entries have been coming quickly, so an idle program burns no CPU. */
#define SPIN_MAX_NS 150000u
/* An event whose frame holds at most this many bytes is copied into its entry, and the entries of
 * such events are kept for the next ones (at most SPARE_ENTRIES a queue): the reader thread allocated
 * every event's entry and the program's thread freed it, and glibc serves a free from another thread
 * by its slow path (with the arena's lock) while the reader's own allocations never found a cached
 * block — a fifth of the program's CPU per event on the null kernel. Recycled under the queue's lock,
 * which both sides hold there anyway. */
#define INLINE_EVENT_BYTES 192
/* While fewer than this many of a handle's events wait in the queue, each is acknowledged to the
 * kernel as it is queued (by the thread that read it, once per batch) rather than when the program
 * drains it. Why: the kernel sends at most 64 unacknowledged events (PROTOCOL.md), and a program
 * that drains them all at once and only then acknowledges left the kernel idle for a round trip
 * of wake-ups every 64 events — stop and wait, ~0.5 the C client's rate, whose monitor acknowledges
 * every 16 as its callbacks return. Flow control still holds: past this mark, events are
 * acknowledged only as drained, so at most ACK_AHEAD_BELOW + 64 wait here (below LOCAL_EVENTS).
 * The reader goes one step further below the mark: the EVENT frames one read brought are
 * acknowledged as soon as they are read (queue_prepay_locked), before it handles them, so the kernel
 * sends the next ones while it does — acknowledging them once handled left the kernel idle for as
 * long as the reader worked on each window. */
#define ACK_AHEAD_BELOW (LOCAL_EVENTS / 2)
#define SPARE_ENTRIES 256

struct qentry {
  uint32_t kind;
  uint64_t key;
  int status;
  /* An event: its handle (to acknowledge it), its frame's payload, and where its parts are. */
  handle_t *h;
  uint8_t *payload;
  uint64_t instance, callback;
  uint32_t n;
  uint64_t lengths[VMK_MGMT_MAX_CALLBACK_PARMS], offsets[VMK_MGMT_MAX_CALLBACK_PARMS];
  struct qentry *next;
  int acked; /* an event acknowledged when it was queued (ACK_AHEAD_BELOW) */
  uint8_t inline_payload[]; /* INLINE_EVENT_BYTES in a small event's entry: its payload (points here) */
};

/* An acknowledgement a drain owes one handle. */
struct owed {
  handle_t *h;
  uint32_t n;
};

struct vmkmgmt_QueueInt {
  pthread_mutex_t lock;
  pthread_cond_t changed; /* not empty any more, or woken (waiters) */
  pthread_cond_t acked;   /* a drain has sent its acknowledgements, or a reader left caller memory */
  struct qentry *head, *tail;
  /* Not empty: read without the lock by a thread that spins. Not set by a wake: a wake no wait took
   * stays until the next wait (vmkmgmt.h), and polls — which a wake does not end — returned at once
   * for as long as it stayed, each finding nothing (measured: sequential calls then all went through
   * the doorbell, ~19k/s against ~30k). */
  int ready;
  uint64_t spin_ns;     /* how long QueueWait spins before it sleeps (adapted to the gaps it sees) */
  uint64_t spin_max_ns; /* and at most */
  int woken; /* a vmkmgmt_QueueWake no wait has taken yet (atomic: a spinning waiter reads it) */
  unsigned handles;
  int abandoned;     /* the program's memory is going: no caller buffer is touched any more */
  /* The doorbell (vmkmgmt_QueueDoorbell): a socket the program reads; a byte goes out each time the
   * queue goes from empty to non-empty. Until the program connects, the listening socket and where
   * it lies (a directory only we can enter). */
  int bell, bell_listen;
  char bell_dir[64], bell_path[108];
  /* Or, instead of the doorbell, what the ringing thread calls itself (vmkmgmt_QueueOnRing). */
  vmkmgmt_RingFn on_ring;
  void *ring_ctx;
  unsigned touching; /* reader threads writing into (or reading) caller buffers right now */
  /* Entries of drained small events, for the next ones (INLINE_EVENT_BYTES): a stack of pointers, not
   * a list through the entries, so taking some reads none of their memory (the program's thread wrote
   * it last: following `next` from one to the next was a cache miss each, under the lock). */
  struct qentry *spare[SPARE_ENTRIES];
  unsigned nspare;
};

/* An entry without room for an event's bytes (a completion's, or an event that does not fit). */
struct qentry *queue_entry_new(void) {
  return calloc(1, sizeof(struct qentry));
}

void queue_entry_free(struct qentry *e) {
  if (e && e->payload != e->inline_payload) free(e->payload);
  free(e);
}

/* Frees a drained entry, or keeps it for a small event to come (q->lock held). */
static void recycle_qlocked(vmkmgmt_Queue q, struct qentry *e) {
  if (e->kind != VMKMGMT_ENTRY_EVENT || e->payload != e->inline_payload || q->nspare >= SPARE_ENTRIES) {
    queue_entry_free(e);
    return;
  }
  q->spare[q->nspare++] = e;
}

/* An entry for a small event of h's (h->lock held): one of those h took from the queue's kept ones
 * — up to HANDLE_SPARES at a time, so the queue's lock, which the program's drains take too, is not
 * taken for every event — else a new one. */
static struct qentry *spare_entry_locked(handle_t *h) {
  if (h->nspares == 0) {
    vmkmgmt_Queue q = h->queue;
    pthread_mutex_lock(&q->lock);
    unsigned n = q->nspare < HANDLE_SPARES ? q->nspare : HANDLE_SPARES;
    q->nspare -= n;
    memcpy(h->spares, q->spare + q->nspare, n * sizeof *h->spares);
    h->nspares = n;
    pthread_mutex_unlock(&q->lock);
  }
  return h->nspares > 0 ? h->spares[--h->nspares] : calloc(1, sizeof(struct qentry) + INLINE_EVENT_BYTES);
}

/* Keeps a small event's entry that was not queued for h's next one (h->lock held). */
static void spare_keep_locked(handle_t *h, struct qentry *e) {
  if (h->nspares < HANDLE_SPARES) h->spares[h->nspares++] = e;
  else queue_entry_free(e);
}

/* Rings the doorbell: one byte, never waiting (a full socket means the program has bytes it has not
 * read yet, so it will drain anyway). Called without q->lock: the program, woken, drains at once,
 * and would otherwise wait for the lock the ringer still holds. */
void queue_ring(vmkmgmt_Queue q) {
  vmkmgmt_RingFn fn = __atomic_load_n(&q->on_ring, __ATOMIC_ACQUIRE);
  if (fn) {
    fn(q->ring_ctx);
    return;
  }
  int bell = __atomic_load_n(&q->bell, __ATOMIC_ACQUIRE);
  if (bell < 0) return;
  ssize_t k;
  do k = send(bell, "!", 1, MSG_DONTWAIT | MSG_NOSIGNAL);
  while (k < 0 && errno == EINTR);
}

/* Appends a chain of entries, `first` to `last` (q->lock held); a waiter wakes if the queue was
 * empty. Returns whether it was: then the caller rings the doorbell, once it has let go of the lock. */
static int push_chain_qlocked(vmkmgmt_Queue q, struct qentry *first, struct qentry *last) {
  last->next = NULL;
  int was_empty = q->tail == NULL;
  if (q->tail) {
    q->tail->next = first;
  } else {
    q->head = first;
    __atomic_store_n(&q->ready, 1, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&q->changed);
  }
  q->tail = last;
  return was_empty;
}

static int push_qlocked(vmkmgmt_Queue q, struct qentry *e) {
  return push_chain_qlocked(q, e, e);
}

/* Rings now, or leaves it to the pusher's batch (handle.h). */
static void ring_or_owe(vmkmgmt_Queue q, int *ring_owed) {
  if (ring_owed) *ring_owed = 1;
  else queue_ring(q);
}

void queue_complete(vmkmgmt_Queue q, struct qentry *e, uint64_t token, int status, int *ring_owed) {
  struct completions one = {0};
  queue_batch_add(&one, e, token, status);
  queue_batch_push(q, &one, ring_owed);
}

void queue_batch_add(struct completions *b, struct qentry *e, uint64_t token, int status) {
  e->kind = VMKMGMT_ENTRY_COMPLETION;
  e->key = token;
  e->status = status;
  e->next = NULL;
  if (b->last) b->last->next = e;
  else b->first = e;
  b->last = e;
}

void queue_batch_push(vmkmgmt_Queue q, struct completions *b, int *ring_owed) {
  if (!b->first) return;
  pthread_mutex_lock(&q->lock);
  int rang = push_chain_qlocked(q, b->first, b->last);
  pthread_mutex_unlock(&q->lock);
  b->first = b->last = NULL;
  if (rang) ring_or_owe(q, ring_owed);
}

/* Puts an event's entry into the queue (q->lock held), unless too many of h's are there already:
 * then 0, and nothing changed. Counts in *ahead an event acknowledged ahead (ACK_AHEAD_BELOW); sets
 * *rang when the queue was empty. */
static int admit_qlocked(vmkmgmt_Queue q, handle_t *h, struct qentry *e, unsigned *ahead, int *rang) {
  if (h->queued_events >= LOCAL_EVENTS) return 0;
  if (!e->acked) { /* (acked already: acknowledged when it was read) */
    e->acked = h->queued_events < ACK_AHEAD_BELOW;
    *ahead += (unsigned)e->acked;
  }
  h->queued_events++;
  *rang |= push_qlocked(q, e);
  return 1;
}

int queue_event_locked(handle_t *h, uint8_t *payload, uint32_t length, int paid, int *ring_owed) {
  vmkmgmt_Queue q = h->queue;
  int small = length <= INLINE_EVENT_BYTES;
  struct qentry *e = small ? spare_entry_locked(h) : queue_entry_new();
  if (!e) return ENOMEM;
  vmk_uint64 instance;
  const vmk_MgmtCallbackInfo *cb = monitor_parse_event(h, payload, length, &instance, e->lengths, e->offsets);
  int rc = cb ? 0 : EBADMSG;
  if (rc == 0) {
    e->kind = VMKMGMT_ENTRY_EVENT;
    e->key = h->queue_key;
    e->h = h;
    e->acked = paid;
    if (small) memcpy(e->inline_payload, payload, length);
    e->payload = small ? e->inline_payload : payload;
    e->instance = instance;
    e->callback = cb->callbackId;
    e->n = cb->numParms;
  }
  if (rc == 0 && ring_owed) {
    /* The receive side, mid-batch: held, and queued with the batch's others (queue_push_held_locked). */
    e->next = NULL;
    if (h->held_tail) h->held_tail->next = e;
    else h->held = e;
    h->held_tail = e;
  } else if (rc == 0) {
    unsigned ahead = 0;
    int rang = 0;
    pthread_mutex_lock(&q->lock);
    rc = admit_qlocked(q, h, e, &ahead, &rang) ? 0 : EOVERFLOW;
    pthread_mutex_unlock(&q->lock);
    /* (e is the queue's once pushed: a drain may already have freed it) */
    if (ahead) __atomic_add_fetch(&h->acks_ahead, ahead, __ATOMIC_ACQ_REL);
    if (rang) queue_ring(q);
  }
  /* Not queued: the entry goes (a small event's is kept), its payload stays the caller's. Queued: a
   * small event's payload was copied, and is freed by the thread that allocated it, which is quick. */
  if (rc != 0 && small) spare_keep_locked(h, e);
  else if (rc != 0) free(e);
  else if (small) free(payload);
  return rc;
}

void queue_push_held_locked(handle_t *h, int *ring_owed) {
  struct qentry *e = h->held, *dropped = NULL;
  if (!e) return;
  h->held = h->held_tail = NULL;
  vmkmgmt_Queue q = h->queue;
  unsigned ahead = 0, refund = 0;
  int rang = 0;
  pthread_mutex_lock(&q->lock);
  while (e) {
    struct qentry *next = e->next;
    if (!admit_qlocked(q, h, e, &ahead, &rang)) {
      refund += (unsigned)!e->acked; /* its credit goes back with those acknowledged ahead */
      e->next = dropped;
      dropped = e;
    }
    e = next;
  }
  pthread_mutex_unlock(&q->lock);
  if (ahead + refund > 0) __atomic_add_fetch(&h->acks_ahead, ahead + refund, __ATOMIC_ACQ_REL);
  if (rang) ring_or_owe(q, ring_owed);
  while (dropped) {
    struct qentry *next = dropped->next;
    h->library_dropped++;
    if (dropped->payload == dropped->inline_payload) spare_keep_locked(h, dropped);
    else queue_entry_free(dropped);
    dropped = next;
  }
}

int queue_prepay_locked(handle_t *h, unsigned frames) {
  if (!h->queue_events || !h->begun) return 0; /* (the monitor's events are acknowledged as handled) */
  vmkmgmt_Queue q = h->queue;
  pthread_mutex_lock(&q->lock);
  int ok = h->queued_events + h->prepaid + frames <= ACK_AHEAD_BELOW;
  if (ok) h->prepaid += frames;
  pthread_mutex_unlock(&q->lock);
  return ok;
}

void queue_send_acks_ahead(handle_t *h) {
  /* (atomic, not under h->lock: every read's batch asks, and most owe nothing) */
  unsigned n = __atomic_exchange_n(&h->acks_ahead, 0, __ATOMIC_ACQ_REL);
  if (n > 0) transport_ack_nowait(h, n);
}

void queue_disconnected_locked(handle_t *h) {
  struct qentry *e = h->gone_entry;
  if (!e) return; /* said once */
  h->gone_entry = NULL;
  e->kind = VMKMGMT_ENTRY_DISCONNECT;
  e->key = h->queue_key;
  e->status = EIO;
  pthread_mutex_lock(&h->queue->lock);
  int rang = push_qlocked(h->queue, e);
  pthread_mutex_unlock(&h->queue->lock);
  if (rang) queue_ring(h->queue);
}

void queue_detach(handle_t *h) {
  vmkmgmt_Queue q = h->queue;
  if (!q) return;
  pthread_mutex_lock(&q->lock);
  struct qentry *prev = NULL;
  for (struct qentry *e = q->head; e;) {
    struct qentry *next = e->next;
    if (e->h == h) {
      if (prev) prev->next = next;
      else q->head = next;
      if (q->tail == e) q->tail = prev;
      queue_entry_free(e);
    } else {
      prev = e;
    }
    e = next;
  }
  h->queued_events = 0;
  while (h->queue_refs > 0) pthread_cond_wait(&q->acked, &q->lock);
  q->handles--;
  pthread_mutex_unlock(&q->lock);
  queue_entry_free(h->gone_entry);
  h->gone_entry = NULL;
  /* (the reader is gone: no event comes, and it queued those it held as it left) */
  while (h->held) {
    struct qentry *e = h->held;
    h->held = e->next;
    queue_entry_free(e);
  }
  h->held_tail = NULL;
  while (h->nspares > 0) queue_entry_free(h->spares[--h->nspares]);
}

static size_t pad8(uint64_t n) {
  return (size_t)((n + 7) & ~(uint64_t)7);
}

/* The bytes an entry takes in a drain's buffer. */
static size_t entry_size(const struct qentry *e) {
  size_t size = sizeof(vmkmgmt_QueueEntry);
  if (e->kind != VMKMGMT_ENTRY_EVENT) return size;
  size += 8 * (3 + (size_t)e->n);
  for (uint32_t i = 0; i < e->n; i++) size += pad8(e->lengths[i]);
  return size;
}

/* Writes an entry into a drain's buffer (size bytes, from entry_size). */
static void write_entry(const struct qentry *e, uint8_t *out, size_t size) {
  vmkmgmt_QueueEntry head = {.kind = e->kind, .length = (vmk_uint32)size, .key = e->key, .status = e->status};
  memcpy(out, &head, sizeof head);
  if (e->kind != VMKMGMT_ENTRY_EVENT) return;
  uint64_t fixed[3 + VMK_MGMT_MAX_CALLBACK_PARMS] = {e->instance, e->callback, e->n};
  for (uint32_t i = 0; i < e->n; i++) fixed[3 + i] = e->lengths[i];
  uint8_t *p = out + sizeof head;
  memcpy(p, fixed, 8 * (3 + (size_t)e->n));
  p += 8 * (3 + (size_t)e->n);
  for (uint32_t i = 0; i < e->n; i++) {
    memcpy(p, e->payload + e->offsets[i], (size_t)e->lengths[i]);
    memset(p + e->lengths[i], 0, pad8(e->lengths[i]) - (size_t)e->lengths[i]);
    p += pad8(e->lengths[i]);
  }
}

QUEUE_EXPORT int vmkmgmt_QueueDrain(vmkmgmt_Queue q, void *buf, size_t len, size_t *used, vmk_uint32 *entries) {
  if (!q || !used || !entries || (len > 0 && !buf)) return EINVAL;
  struct owed acks[DRAIN_HANDLES];
  unsigned nacks = 0;
  int rc = 0;
  *used = 0;
  *entries = 0;
  pthread_mutex_lock(&q->lock);
  while (q->head) {
    struct qentry *e = q->head;
    unsigned a = 0;
    if (e->kind == VMKMGMT_ENTRY_EVENT) {
      while (a < nacks && acks[a].h != e->h) a++;
      if (a == DRAIN_HANDLES) break; /* the next drain acknowledges that handle's */
    }
    size_t size = entry_size(e);
    if (*used + size > len) {
      if (*entries == 0) {
        *used = size;
        rc = ENOSPC;
      }
      break;
    }
    write_entry(e, (uint8_t *)buf + *used, size);
    *used += size;
    (*entries)++;
    q->head = e->next;
    if (!q->head) {
      q->tail = NULL;
      __atomic_store_n(&q->ready, 0, __ATOMIC_RELAXED);
    }
    if (e->kind == VMKMGMT_ENTRY_EVENT) {
      if (!e->acked) {
        if (a == nacks) acks[nacks++] = (struct owed){e->h, 0};
        acks[a].n++;
      }
      e->h->queued_events--;
    }
    recycle_qlocked(q, e);
  }
  /* Pinned until acknowledged: Destroy (queue_detach) waits for these. */
  for (unsigned a = 0; a < nacks; a++) acks[a].h->queue_refs++;
  pthread_mutex_unlock(&q->lock);
  /* Never blocks: the program's event loop runs this. A connection that failed needs none. */
  for (unsigned a = 0; a < nacks; a++) transport_ack_nowait(acks[a].h, acks[a].n);
  if (nacks > 0) {
    pthread_mutex_lock(&q->lock);
    for (unsigned a = 0; a < nacks; a++) acks[a].h->queue_refs--;
    pthread_cond_broadcast(&q->acked);
    pthread_mutex_unlock(&q->lock);
  }
  return rc;
}

QUEUE_EXPORT int vmkmgmt_QueueCreate(vmkmgmt_Queue *queue) {
  if (!queue) return EINVAL;
  vmkmgmt_Queue q = calloc(1, sizeof *q);
  if (!q) return ENOMEM;
  pthread_mutex_init(&q->lock, NULL);
  pthread_cond_init(&q->changed, NULL);
  pthread_cond_init(&q->acked, NULL);
  q->bell = q->bell_listen = -1;
  q->spin_max_ns = SPIN_MAX_NS;
  const char *spin_env = getenv("VMKMGMT_QUEUE_SPIN_US");
  if (spin_env) q->spin_max_ns = strtoull(spin_env, NULL, 10) * 1000u;
  *queue = q;
  return 0;
}

/* Closes the doorbell's listening socket and removes it and its directory. */
static void close_listener(vmkmgmt_Queue q) {
  if (q->bell_listen < 0) return;
  close(q->bell_listen);
  q->bell_listen = -1;
  unlink(q->bell_path);
  rmdir(q->bell_dir);
}

QUEUE_EXPORT int vmkmgmt_QueueDoorbell(vmkmgmt_Queue q, char *path, size_t len) {
  if (!q || !path || len == 0) return EINVAL;
  pthread_mutex_lock(&q->lock);
  int rc = q->bell >= 0 || q->bell_listen >= 0 || q->on_ring ? EEXIST : 0;
  if (rc == 0) {
    /* mkdtemp makes it 0700: no one else can reach the socket inside it. */
    snprintf(q->bell_dir, sizeof q->bell_dir, "/tmp/vmkmgmt-bell-XXXXXX");
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (!mkdtemp(q->bell_dir)) {
      rc = errno;
    } else {
      snprintf(q->bell_path, sizeof q->bell_path, "%s/bell.sock", q->bell_dir);
      snprintf(addr.sun_path, sizeof addr.sun_path, "%s", q->bell_path);
      q->bell_listen = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
      if (q->bell_listen < 0 || bind(q->bell_listen, (struct sockaddr *)&addr, sizeof addr) != 0 ||
          listen(q->bell_listen, 1) != 0) {
        rc = errno;
        if (q->bell_listen >= 0) close(q->bell_listen);
        q->bell_listen = -1;
        unlink(q->bell_path);
        rmdir(q->bell_dir);
      } else if (strlen(q->bell_path) >= len) {
        rc = ENAMETOOLONG;
        close_listener(q);
      } else {
        memcpy(path, q->bell_path, strlen(q->bell_path) + 1);
      }
    }
  }
  pthread_mutex_unlock(&q->lock);
  return rc;
}

QUEUE_EXPORT int vmkmgmt_QueueDoorbellAccept(vmkmgmt_Queue q) {
  if (!q) return EINVAL;
  pthread_mutex_lock(&q->lock);
  int rc = q->bell_listen < 0 ? EINVAL : 0;
  if (rc == 0) {
    int fd = accept4(q->bell_listen, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    struct ucred who;
    socklen_t wlen = sizeof who;
    if (fd < 0) {
      rc = errno == EAGAIN || errno == EWOULDBLOCK ? EAGAIN : errno;
    } else if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &who, &wlen) != 0 || who.pid != getpid()) {
      rc = EACCES; /* only this process may hear the doorbell */
      close(fd);
    } else {
      __atomic_store_n(&q->bell, fd, __ATOMIC_RELEASE);
    }
    if (rc != EAGAIN) close_listener(q);
  }
  int pending = rc == 0 && q->head != NULL;
  pthread_mutex_unlock(&q->lock);
  if (pending) queue_ring(q); /* what came before it */
  return rc;
}

QUEUE_EXPORT int vmkmgmt_QueueOnRing(vmkmgmt_Queue q, vmkmgmt_RingFn fn, void *ctx) {
  if (!q || !fn) return EINVAL;
  pthread_mutex_lock(&q->lock);
  int rc = q->bell >= 0 || q->bell_listen >= 0 || q->on_ring ? EEXIST : q->handles > 0 ? EBUSY : 0;
  if (rc == 0) {
    q->ring_ctx = ctx;
    __atomic_store_n(&q->on_ring, fn, __ATOMIC_RELEASE); /* (after its context: queue_ring reads both unlocked) */
  }
  pthread_mutex_unlock(&q->lock);
  return rc;
}

QUEUE_EXPORT int vmkmgmt_QueueDestroy(vmkmgmt_Queue q) {
  if (!q) return EINVAL;
  pthread_mutex_lock(&q->lock);
  int busy = q->handles > 0;
  pthread_mutex_unlock(&q->lock);
  if (busy) return EBUSY;
  close_listener(q);
  if (q->bell >= 0) close(q->bell);
  while (q->head) {
    struct qentry *e = q->head;
    q->head = e->next;
    queue_entry_free(e);
  }
  while (q->nspare > 0) queue_entry_free(q->spare[--q->nspare]);
  pthread_mutex_destroy(&q->lock);
  pthread_cond_destroy(&q->changed);
  pthread_cond_destroy(&q->acked);
  free(q);
  return 0;
}

/* Attaches `q` to `h` for its completions and, with `events`, its events and word of a lost kernel
 * (for which the entry saying so is allocated now: pushing it cannot fail). */
static int attach_queue(vmk_MgmtUserHandle h, vmkmgmt_Queue q, vmk_uint64 key, int events) {
  if (!q) return EINVAL;
  int rc = registry_enter(h);
  if (rc != 0) return rc;
  struct qentry *gone = events ? queue_entry_new() : NULL;
  rc = ENOMEM;
  if (events && !gone) goto out;
  pthread_mutex_lock(&h->ctl);
  pthread_mutex_lock(&h->lock);
  rc = h->queue || h->begun ? EINVAL : 0;
  if (rc == 0) {
    pthread_mutex_lock(&q->lock);
    q->handles++;
    pthread_mutex_unlock(&q->lock);
    h->queue = q;
    h->queue_key = key;
    h->queue_events = events;
    h->gone_entry = gone;
    gone = NULL;
    if (h->dead) queue_disconnected_locked(h); /* (nothing without events: no entry to say it) */
  }
  pthread_mutex_unlock(&h->lock);
  pthread_mutex_unlock(&h->ctl);
out:
  queue_entry_free(gone);
  registry_leave(h);
  return rc;
}

QUEUE_EXPORT int vmkmgmt_UserAttachQueue(vmk_MgmtUserHandle h, vmkmgmt_Queue q, vmk_uint64 key) {
  return attach_queue(h, q, key, 1);
}

QUEUE_EXPORT int vmkmgmt_UserAttachCompletions(vmk_MgmtUserHandle h, vmkmgmt_Queue q) {
  return attach_queue(h, q, 0, 0);
}

uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}


/* Spins until the queue is not empty (or, for a waiter, `wake`, woken) or the budget is spent;
 * whether that came. */
static int spin(vmkmgmt_Queue q, uint64_t budget, int wake) {
  uint64_t start = now_ns();
  for (unsigned i = 0;; i++) {
    if (__atomic_load_n(&q->ready, __ATOMIC_ACQUIRE)) return 1;
    if (wake && __atomic_load_n(&q->woken, __ATOMIC_ACQUIRE)) return 1;
    if ((i & 63) == 63 && now_ns() - start > budget) return 0;
    __builtin_ia32_pause();
  }
}

/* How long vmkmgmt_UserPoll spins before it sleeps on the handle's socket for the rest of its time.
 * Short: each look at the socket is a system call, and a spin takes a CPU that the threads making the
 * answer may need — through the bridge on two CPUs (the bridge's two threads and the kernel's beside
 * JavaScript), 32 calls in flight went at 0.64–0.71× direct calls with 40 µs and 0.76–0.89× with 10
 * (five alternating processes each), while sequential calls and 32 in flight on the null kernel
 * measured the same. */
#define USER_POLL_BUSY_NS 10000u
/* How long it looks for an entry the reader is handling before it sleeps again. */
#define READER_HANDOFF_NS 20000u

/* How long vmkmgmt_UserPoll waits for more answers once it has read some and fewer than it was asked
 * to gather (ARCHITECTURE.md, "Threads": through the bridge, answers taken one at a time kept every
 * stage handling one call per wake-up). */
#define USER_POLL_GATHER_NS 60000u

/* The most answers one vmkmgmt_UserPoll reads itself (transport_poll): it runs on JavaScript's thread,
 * and a burst's answers read one by one there kept a 1 ms timer waiting 4–5 ms (1,000 calls at once on
 * the null kernel); the reader takes the rest, woken by the same bytes. More than any gather. */
#define USER_POLL_MAX_FRAMES 64u

/* When a poll that began at `start` and has just read its first answers ends (ns from its start):
 * USER_POLL_GATHER_NS from now, or at `until` if that is sooner. */
static uint64_t gather_until(uint64_t start, uint64_t until) {
  uint64_t end = now_ns() - start + USER_POLL_GATHER_NS;
  return end < until ? end : until;
}

/* Waits until the queue is not empty, for at most spin_us (ETIMEDOUT). The caller's thread is the one
 * the answer is for. Without `h` it spins, yielding its CPU now and then so that a thread that must
 * run for the answer to come (the kernel's, the reader) is never kept off it. With `h` it reads the
 * handle's answers itself meanwhile (transport_poll): it spins a little, then sleeps in ppoll() on
 * the socket for the rest, so the kernel's answer wakes this thread directly — one wake-up, not the
 * reader's and then this one's — and a kernel that shares this CPU gets it while it sleeps (spinning
 * there, measured, left sequential calls at a third of the rate on two CPUs). And once it has read
 * answers itself, fewer than `gather`, it sleeps on the socket for more, up to USER_POLL_GATHER_NS
 * after the first (within spin_us): answers that came one by one then go back out together. */
static int poll_queue(vmkmgmt_Queue q, handle_t *h, vmk_uint32 spin_us, vmk_uint32 gather) {
  uint64_t start = now_ns(), budget = (uint64_t)spin_us * 1000u;
  uint64_t busy = h && budget > USER_POLL_BUSY_NS ? USER_POLL_BUSY_NS : budget;
  unsigned got = 0; /* frames this thread read */
  for (unsigned i = 1;; i++) {
    if (__atomic_load_n(&q->ready, __ATOMIC_ACQUIRE)) return 0;
    if (h) {
      got += (unsigned)transport_poll(h, (int)(USER_POLL_MAX_FRAMES - got));
      if (got >= USER_POLL_MAX_FRAMES) break;
      if (__atomic_load_n(&q->ready, __ATOMIC_ACQUIRE)) {
        if (got == 0 || got >= gather) return 0;
        break;
      }
    }
    if ((i & 63) == 0) {
      if (now_ns() - start > busy) break;
      sched_yield();
    }
    __builtin_ia32_pause();
  }
  uint64_t until = got > 0 ? gather_until(start, budget) : budget; /* (from start) */
  for (uint64_t spent; h && got < USER_POLL_MAX_FRAMES && (spent = now_ns() - start) < until;) {
    /* (spin_us may be seconds long: tv_nsec must stay below a second, or ppoll fails at once) */
    struct timespec left = {.tv_sec = (time_t)((until - spent) / 1000000000u),
                            .tv_nsec = (long)((until - spent) % 1000000000u)};
    struct pollfd p = {.fd = h->fd, .events = POLLIN};
    int n = ppoll(&p, 1, &left, NULL);
    if (got == 0 && __atomic_load_n(&q->ready, __ATOMIC_ACQUIRE)) return 0;
    if (n <= 0) continue;
    unsigned k = (unsigned)transport_poll(h, (int)(USER_POLL_MAX_FRAMES - got));
    if (got == 0 && k > 0) until = gather_until(start, until);
    got += k;
    if (__atomic_load_n(&q->ready, __ATOMIC_ACQUIRE)) {
      if (got == 0 || got >= gather) return 0;
      continue;
    }
    /* Bytes the reader took first, or left to it: its entry comes in a moment, without a wake-up
     * of this thread (the reader only rings the doorbell), so look for it a little before sleeping. */
    if (got == 0 && spin(q, READER_HANDOFF_NS, 0)) return 0;
  }
  return __atomic_load_n(&q->ready, __ATOMIC_ACQUIRE) ? 0 : ETIMEDOUT;
}

QUEUE_EXPORT int vmkmgmt_QueueRing(vmkmgmt_Queue q) {
  if (!q) return EINVAL;
  int heard = __atomic_load_n(&q->bell, __ATOMIC_ACQUIRE) >= 0 || __atomic_load_n(&q->on_ring, __ATOMIC_ACQUIRE);
  if (!heard) return ENOTCONN;
  queue_ring(q);
  return 0;
}

QUEUE_EXPORT int vmkmgmt_QueuePoll(vmkmgmt_Queue q, vmk_uint32 spin_us) {
  if (!q) return EINVAL;
  return poll_queue(q, NULL, spin_us, 0);
}

QUEUE_EXPORT int vmkmgmt_UserPoll(vmk_MgmtUserHandle h, vmk_uint32 spin_us, vmk_uint32 gather) {
  int rc = registry_enter(h);
  if (rc != 0) return rc;
  /* (attached before Begin and never changed after: read without the lock, as Submit does) */
  __atomic_add_fetch(&h->pollers, 1, __ATOMIC_ACQ_REL);
  rc = h->queue ? poll_queue(h->queue, h, spin_us, gather) : EINVAL;
  __atomic_sub_fetch(&h->pollers, 1, __ATOMIC_ACQ_REL);
  registry_leave(h);
  return rc;
}

QUEUE_EXPORT int vmkmgmt_QueueWait(vmkmgmt_Queue q, int timeout_ms) {
  if (!q) return EINVAL;
  uint64_t entered = now_ns();
  uint64_t budget = __atomic_load_n(&q->spin_ns, __ATOMIC_RELAXED);
  if (budget > 0) spin(q, budget, 1);
  struct timespec until;
  if (timeout_ms >= 0) {
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
      until.tv_sec++;
      until.tv_nsec -= 1000000000L;
    }
  }
  int rc = 0;
  pthread_mutex_lock(&q->lock);
  while (!q->head && !q->woken && rc == 0) {
    if (timeout_ms < 0) pthread_cond_wait(&q->changed, &q->lock);
    else rc = pthread_cond_timedwait(&q->changed, &q->lock, &until);
  }
  if (q->head) rc = 0;
  else if (q->woken) rc = EINTR;
  __atomic_store_n(&q->woken, 0, __ATOMIC_RELAXED);
  if (!q->head) __atomic_store_n(&q->ready, 0, __ATOMIC_RELAXED);
  /* Learn: a gap shorter than the longest spin is worth spinning for next time (a little longer
   * than it was); a longer one is not. */
  uint64_t gap = now_ns() - entered;
  uint64_t max = q->spin_max_ns;
  __atomic_store_n(&q->spin_ns, rc == 0 && gap < max ? (gap * 2 < max ? gap * 2 : max) : 0, __ATOMIC_RELAXED);
  pthread_mutex_unlock(&q->lock);
  return rc;
}

int queue_touch_begin(vmkmgmt_Queue q) {
  pthread_mutex_lock(&q->lock);
  int ok = !q->abandoned;
  if (ok) q->touching++;
  pthread_mutex_unlock(&q->lock);
  return ok;
}

void queue_touch_end(vmkmgmt_Queue q) {
  pthread_mutex_lock(&q->lock);
  if (--q->touching == 0) pthread_cond_broadcast(&q->acked);
  pthread_mutex_unlock(&q->lock);
}

QUEUE_EXPORT int vmkmgmt_QueueAbandon(vmkmgmt_Queue q) {
  if (!q) return EINVAL;
  pthread_mutex_lock(&q->lock);
  q->abandoned = 1;
  while (q->touching > 0) pthread_cond_wait(&q->acked, &q->lock);
  pthread_mutex_unlock(&q->lock);
  return 0;
}

QUEUE_EXPORT int vmkmgmt_QueueWake(vmkmgmt_Queue q) {
  if (!q) return EINVAL;
  pthread_mutex_lock(&q->lock);
  __atomic_store_n(&q->woken, 1, __ATOMIC_RELEASE);
  pthread_cond_broadcast(&q->changed);
  pthread_mutex_unlock(&q->lock);
  return 0;
}
