/*
 * libvmkmgmt for the simulated vmkernel: the seven vmk_Mgmt user functions, speaking the wire
 * protocol of PROTOCOL.md to sim/ over a Unix socket.
 *
 * Threads per handle: a reader thread owns the socket's receive side and routes every reply to
 * the thread waiting for it, so a reply never depends on the monitor thread (which may be
 * blocked inside a user callback waiting for the caller). The monitor thread, started by Begin,
 * runs user callbacks one at a time from the handle's event queue.
 *
 * All state lives in the handle: two handles in one process share nothing.
 */
#define _GNU_SOURCE
#include "vmkmgmt.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "wire.h"

#define EXPORT __attribute__((visibility("default")))
/* Events held locally beyond the simulator's credit window are dropped (and acknowledged). */
#define LOCAL_QUEUE_MAX 1024
/* Event credits returned in one EVENT_ACK at most (the simulator's window is 64). */
#define ACK_BATCH 16

struct pending {
  uint32_t id;
  int done;
  int status;
  uint8_t *payload;
  uint32_t length;
  struct pending *next;
};

struct event {
  uint8_t *payload; /* the EVENT frame's payload */
  uint32_t length;
  struct event *next;
};

struct vmkMgmtUserHandleInt {
  int fd;
  vmk_uint64 cookie;
  vmk_MgmtApiSignature sig;
  vmk_MgmtCallbackInfo *callbacks;

  pthread_mutex_t lock; /* everything below, except where noted */
  pthread_cond_t cond;
  pthread_mutex_t wlock; /* socket writes */
  pthread_mutex_t ctl;   /* serialises Begin/End/Destroy */

  int dead;    /* connection lost: every call fails with EIO */
  int closing; /* Destroy is under way */
  int users;   /* API calls in progress (Destroy waits for them) */
  uint32_t next_id;
  struct pending *pending;

  pthread_t reader;
  int reader_started;

  struct event *ev_head, *ev_tail;
  unsigned ev_count;
  uint64_t ev_dropped;

  int begun;
  int stopping;
  unsigned begin_gen;
  pthread_t monitor;
};

/* ---------------------------------------------------------------- socket I/O */

static int write_all(int fd, const void *buf, size_t len) {
  const uint8_t *p = buf;
  while (len > 0) {
    ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return EIO;
    }
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

static int read_all(int fd, void *buf, size_t len) {
  uint8_t *p = buf;
  while (len > 0) {
    ssize_t n = recv(fd, p, len, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return EIO;
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

static int send_frame(struct vmkMgmtUserHandleInt *h, uint16_t type, uint32_t id, const void *payload,
                      uint32_t len) {
  uint8_t hdr[WIRE_HEADER_SIZE];
  wire_put_header(hdr, type, id, len);
  pthread_mutex_lock(&h->wlock);
  int rc = write_all(h->fd, hdr, sizeof hdr);
  if (rc == 0 && len > 0) rc = write_all(h->fd, payload, len);
  pthread_mutex_unlock(&h->wlock);
  return rc;
}

/* Returns `n` event credits to the simulator (see PROTOCOL.md, flow control). */
static void send_ack(struct vmkMgmtUserHandleInt *h, uint32_t n) {
  uint8_t ack[4];
  wire_put_u32(ack, n);
  send_frame(h, WIRE_EVENT_ACK, 0, ack, 4);
}

/* ---------------------------------------------------------------- reader thread */

static void fail_all_locked(struct vmkMgmtUserHandleInt *h) {
  h->dead = 1;
  for (struct pending *p = h->pending; p; p = p->next) {
    if (!p->done) {
      p->done = 1;
      p->status = EIO;
    }
  }
  pthread_cond_broadcast(&h->cond);
}

static void *reader_main(void *arg) {
  struct vmkMgmtUserHandleInt *h = arg;
  for (;;) {
    uint8_t hdr[WIRE_HEADER_SIZE];
    uint16_t type;
    uint32_t id, len;
    if (read_all(h->fd, hdr, sizeof hdr) != 0) break;
    if (wire_get_header(hdr, &type, &id, &len) != 0) break;
    uint8_t *payload = NULL;
    if (len > 0) {
      payload = malloc(len);
      if (!payload) break;
      if (read_all(h->fd, payload, len) != 0) {
        free(payload);
        break;
      }
    }
    pthread_mutex_lock(&h->lock);
    if (type == WIRE_EVENT) {
      if (h->ev_count >= LOCAL_QUEUE_MAX) {
        h->ev_dropped++;
        pthread_mutex_unlock(&h->lock);
        free(payload);
        send_ack(h, 1);
        continue;
      }
      struct event *ev = calloc(1, sizeof *ev);
      if (!ev) {
        pthread_mutex_unlock(&h->lock);
        free(payload);
        break;
      }
      ev->payload = payload;
      ev->length = len;
      if (h->ev_tail) h->ev_tail->next = ev;
      else h->ev_head = ev;
      h->ev_tail = ev;
      h->ev_count++;
      pthread_cond_broadcast(&h->cond);
      pthread_mutex_unlock(&h->lock);
      continue;
    }
    struct pending *p = h->pending;
    while (p && !(p->id == id && !p->done)) p = p->next;
    if (!p || (type != WIRE_HELLO_REPLY && type != WIRE_INVOKE_REPLY && type != WIRE_INSTANCES) || len < 4) {
      /* A reply nobody asked for, or a frame a library never receives: the peer is broken. */
      pthread_mutex_unlock(&h->lock);
      free(payload);
      break;
    }
    p->done = 1;
    p->status = (int)wire_get_u32(payload);
    p->payload = payload;
    p->length = len;
    pthread_cond_broadcast(&h->cond);
    pthread_mutex_unlock(&h->lock);
  }
  pthread_mutex_lock(&h->lock);
  fail_all_locked(h);
  pthread_mutex_unlock(&h->lock);
  return NULL;
}

/* Sends a request and waits for its reply. On 0 the caller owns *reply (free it). */
static int request(struct vmkMgmtUserHandleInt *h, uint16_t type, const void *payload, uint32_t len,
                   uint8_t **reply, uint32_t *reply_len) {
  struct pending p = {0};
  pthread_mutex_lock(&h->lock);
  if (h->dead || h->closing) {
    pthread_mutex_unlock(&h->lock);
    return EIO;
  }
  p.id = ++h->next_id;
  if (p.id == 0) p.id = ++h->next_id;
  p.next = h->pending;
  h->pending = &p;
  pthread_mutex_unlock(&h->lock);

  int rc = send_frame(h, type, p.id, payload, len);

  pthread_mutex_lock(&h->lock);
  if (rc != 0 && !p.done) {
    p.done = 1;
    p.status = EIO;
  }
  while (!p.done) pthread_cond_wait(&h->cond, &h->lock);
  struct pending **pp = &h->pending;
  while (*pp != &p) pp = &(*pp)->next;
  *pp = p.next;
  pthread_mutex_unlock(&h->lock);

  if (p.status != 0 && p.payload == NULL) return p.status;
  *reply = p.payload;
  *reply_len = p.length;
  return 0;
}

/* ---------------------------------------------------------------- handle bookkeeping */

/*
 * Live handles. A call that races Destroy (a binding may queue calls on a thread pool) finds its
 * handle gone and gets EINVAL instead of touching freed memory. This is the library's only
 * shared state; it holds no per-handle data, so handles stay independent.
 */
static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static struct vmkMgmtUserHandleInt **live;
static size_t live_count, live_cap;

static int live_add(struct vmkMgmtUserHandleInt *h) {
  pthread_mutex_lock(&live_lock);
  if (live_count == live_cap) {
    size_t cap = live_cap ? live_cap * 2 : 16;
    void *grown = realloc(live, cap * sizeof *live);
    if (!grown) {
      pthread_mutex_unlock(&live_lock);
      return ENOMEM;
    }
    live = grown;
    live_cap = cap;
  }
  live[live_count++] = h;
  pthread_mutex_unlock(&live_lock);
  return 0;
}

/* Removes h; returns 0 if it was live. */
static int live_remove(struct vmkMgmtUserHandleInt *h) {
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

static int enter(struct vmkMgmtUserHandleInt *h) {
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

static void leave(struct vmkMgmtUserHandleInt *h) {
  pthread_mutex_lock(&h->lock);
  h->users--;
  pthread_cond_broadcast(&h->cond);
  pthread_mutex_unlock(&h->lock);
}

static void free_handle(struct vmkMgmtUserHandleInt *h) {
  if (h->fd >= 0) close(h->fd);
  while (h->ev_head) {
    struct event *ev = h->ev_head;
    h->ev_head = ev->next;
    free(ev->payload);
    free(ev);
  }
  pthread_mutex_destroy(&h->lock);
  pthread_mutex_destroy(&h->wlock);
  pthread_mutex_destroy(&h->ctl);
  pthread_cond_destroy(&h->cond);
  free(h->callbacks);
  free(h);
}

static const vmk_MgmtCallbackInfo *find_callback(const struct vmkMgmtUserHandleInt *h, vmk_uint64 id) {
  for (int i = 0; i < h->sig.numCallbacks; i++) {
    if (h->callbacks[i].callbackId == id) return &h->callbacks[i];
  }
  return NULL;
}

static int name_ok(const vmk_Name *n) {
  size_t len = strnlen(n->string, VMK_MISC_NAME_MAX);
  return len >= 1 && len < VMK_MISC_NAME_MAX;
}

static int is_vector(vmk_MgmtParmType t) {
  return t == VMK_MGMT_PARMTYPE_VECTOR_IN || t == VMK_MGMT_PARMTYPE_VECTOR_OUT || t == VMK_MGMT_PARMTYPE_VECTOR_INOUT;
}

static int sends(vmk_MgmtParmType t) {
  return t == VMK_MGMT_PARMTYPE_IN || t == VMK_MGMT_PARMTYPE_INOUT || t == VMK_MGMT_PARMTYPE_VECTOR_IN ||
         t == VMK_MGMT_PARMTYPE_VECTOR_INOUT;
}

static int returns(vmk_MgmtParmType t) {
  return t == VMK_MGMT_PARMTYPE_OUT || t == VMK_MGMT_PARMTYPE_INOUT || t == VMK_MGMT_PARMTYPE_VECTOR_OUT ||
         t == VMK_MGMT_PARMTYPE_VECTOR_INOUT;
}

static int check_signature(const vmk_MgmtApiSignature *sig) {
  if (!name_ok(&sig->name) || !name_ok(&sig->vendor)) return EINVAL;
  if (sig->numCallbacks < 0) return EINVAL;
  if ((sig->numCallbacks == 0) != (sig->callbacks == NULL)) return EINVAL;
  for (int i = 0; i < sig->numCallbacks; i++) {
    const vmk_MgmtCallbackInfo *c = &sig->callbacks[i];
    if (c->numParms > VMK_MGMT_MAX_CALLBACK_PARMS) return EINVAL;
    if (c->location != VMK_MGMT_CALLBACK_KERNEL && c->location != VMK_MGMT_CALLBACK_USER) return EINVAL;
    if (c->callbackId <= VMK_MGMT_RESERVED_CALLBACKS) return EINVAL;
    for (int j = 0; j < i; j++) {
      if (sig->callbacks[j].callbackId == c->callbackId) return EINVAL;
    }
    for (int k = 0; k < c->numParms; k++) {
      if ((unsigned)c->parmTypes[k] > VMK_MGMT_PARMTYPE_VECTOR_INOUT || c->parmSizes[k] == 0) return EINVAL;
    }
    if (c->location == VMK_MGMT_CALLBACK_USER) {
      if (c->callback == NULL || c->synchronous) return EINVAL;
      for (int k = 0; k < c->numParms; k++) {
        if (c->parmTypes[k] != VMK_MGMT_PARMTYPE_IN && c->parmTypes[k] != VMK_MGMT_PARMTYPE_VECTOR_IN) return EINVAL;
      }
    } else if (!c->synchronous) {
      for (int k = 0; k < c->numParms; k++) {
        if (returns(c->parmTypes[k])) return EINVAL;
      }
    }
  }
  return 0;
}

static int connect_sim(int *out) {
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  const char *path = getenv("VMKMGMT_SIM_SOCKET");
  int n;
  if (path && *path) n = snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path);
  else n = snprintf(addr.sun_path, sizeof addr.sun_path, "/tmp/vmkmgmt-%u/sim.sock", (unsigned)getuid());
  if (n < 0 || (size_t)n >= sizeof addr.sun_path) return EINVAL;
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return EIO;
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
    close(fd);
    return EIO;
  }
  *out = fd;
  return 0;
}

/* ---------------------------------------------------------------- the seven functions */

EXPORT int vmk_MgmtUserInit(vmk_MgmtApiSignature *sig, vmk_uint64 userCookie, vmk_MgmtUserHandle *handle) {
  if (sig == NULL || handle == NULL) return EINVAL;
  int rc = check_signature(sig);
  if (rc != 0) return rc;

  struct vmkMgmtUserHandleInt *h = calloc(1, sizeof *h);
  if (!h) return ENOMEM;
  h->fd = -1;
  h->cookie = userCookie;
  h->sig = *sig;
  if (sig->numCallbacks > 0) {
    h->callbacks = calloc((size_t)sig->numCallbacks, sizeof *h->callbacks);
    if (!h->callbacks) {
      free(h);
      return ENOMEM;
    }
    memcpy(h->callbacks, sig->callbacks, (size_t)sig->numCallbacks * sizeof *h->callbacks);
  }
  h->sig.callbacks = h->callbacks;
  pthread_mutex_init(&h->lock, NULL);
  pthread_mutex_init(&h->wlock, NULL);
  pthread_mutex_init(&h->ctl, NULL);
  pthread_cond_init(&h->cond, NULL);

  rc = connect_sim(&h->fd);
  if (rc == 0 && pthread_create(&h->reader, NULL, reader_main, h) != 0) rc = EAGAIN;
  if (rc != 0) {
    free_handle(h);
    return rc;
  }
  h->reader_started = 1;

  uint8_t hello[WIRE_HELLO_SIZE];
  memset(hello, 0, sizeof hello);
  wire_put_u32(hello, sig->version);
  memcpy(hello + 4, sig->name.string, VMK_MISC_NAME_MAX);
  memcpy(hello + 36, sig->vendor.string, VMK_MISC_NAME_MAX);
  hello[4 + VMK_MISC_NAME_MAX - 1] = 0;
  hello[36 + VMK_MISC_NAME_MAX - 1] = 0;
  wire_put_u32(hello + 68, (uint32_t)getpid());
  uint8_t *reply = NULL;
  uint32_t reply_len = 0;
  rc = request(h, WIRE_HELLO, hello, sizeof hello, &reply, &reply_len);
  if (rc == 0) {
    rc = reply_len >= 12 ? (int)wire_get_u32(reply) : EIO;
    free(reply);
  }
  if (rc != 0) {
    shutdown(h->fd, SHUT_RDWR);
    pthread_join(h->reader, NULL);
    free_handle(h);
    return rc;
  }
  rc = live_add(h);
  if (rc != 0) {
    shutdown(h->fd, SHUT_RDWR);
    pthread_join(h->reader, NULL);
    free_handle(h);
    return rc;
  }
  *handle = h;
  return 0;
}

EXPORT int vmk_MgmtUserGetInstances(vmk_MgmtUserHandle h, vmk_MgmtInstances *instances) {
  if (instances == NULL) return EINVAL;
  int rc = enter(h);
  if (rc != 0) return rc;
  uint8_t *reply = NULL;
  uint32_t len = 0;
  rc = request(h, WIRE_GET_INSTANCES, NULL, 0, &reply, &len);
  if (rc == 0) {
    rc = (int)wire_get_u32(reply);
    if (rc == 0) {
      uint32_t count = len >= 8 ? wire_get_u32(reply + 4) : UINT32_MAX;
      if (count > VMK_MGMT_MAX_INSTANCES || len != 8 + count * 40) {
        rc = EIO;
      } else {
        memset(instances, 0, sizeof *instances);
        instances->numInstances = (vmk_uint8)count;
        for (uint32_t i = 0; i < count; i++) {
          const uint8_t *e = reply + 8 + i * 40;
          instances->instanceIds[i] = wire_get_u64(e);
          memcpy(instances->instanceNames[i].string, e + 8, VMK_MISC_NAME_MAX);
          instances->instanceNames[i].string[VMK_MISC_NAME_MAX - 1] = 0;
        }
      }
    }
    free(reply);
  }
  leave(h);
  return rc;
}

/* Validates an EVENT payload against the user signature; fills callback, count and params. */
static const vmk_MgmtCallbackInfo *parse_event(struct vmkMgmtUserHandleInt *h, struct event *ev,
                                               vmk_uint64 *instance, void *params[4],
                                               vmk_MgmtVectorParm vecs[4]) {
  if (ev->length < 20) return NULL;
  *instance = wire_get_u64(ev->payload);
  const vmk_MgmtCallbackInfo *cb = find_callback(h, wire_get_u64(ev->payload + 8));
  uint32_t n = wire_get_u32(ev->payload + 16);
  if (!cb || cb->location != VMK_MGMT_CALLBACK_USER || n != cb->numParms) return NULL;
  uint64_t off = 20 + 8ull * n;
  if (off > ev->length) return NULL;
  for (uint32_t i = 0; i < n; i++) {
    uint64_t plen = wire_get_u64(ev->payload + 20 + 8 * i);
    if (plen > ev->length - off) return NULL;
    if (is_vector(cb->parmTypes[i])) {
      if (plen == 0 || plen % cb->parmSizes[i] != 0) return NULL;
      vecs[i].length = plen;
      vecs[i].dataPtr = ev->payload + off;
      params[i] = &vecs[i];
    } else {
      if (plen != cb->parmSizes[i]) return NULL;
      params[i] = ev->payload + off;
    }
    off += plen;
  }
  return off == ev->length ? cb : NULL;
}

typedef void (*cb0)(vmk_uint64, vmk_uint64);
typedef void (*cb1)(vmk_uint64, vmk_uint64, void *);
typedef void (*cb2)(vmk_uint64, vmk_uint64, void *, void *);
typedef void (*cb3)(vmk_uint64, vmk_uint64, void *, void *, void *);
typedef void (*cb4)(vmk_uint64, vmk_uint64, void *, void *, void *, void *);

static void *monitor_main(void *arg) {
  struct vmkMgmtUserHandleInt *h = arg;
  /* Credits go back in batches (at most ACK_BATCH, and whenever the queue runs dry): one
   * syscall per event would cost more than the callback itself. */
  uint32_t unacked = 0;
  pthread_mutex_lock(&h->lock);
  for (;;) {
    while (!h->stopping && h->ev_head == NULL) {
      if (unacked > 0) {
        pthread_mutex_unlock(&h->lock);
        send_ack(h, unacked);
        unacked = 0;
        pthread_mutex_lock(&h->lock);
        continue;
      }
      pthread_cond_wait(&h->cond, &h->lock);
    }
    if (h->stopping) break;
    struct event *ev = h->ev_head;
    h->ev_head = ev->next;
    if (!h->ev_head) h->ev_tail = NULL;
    h->ev_count--;
    pthread_mutex_unlock(&h->lock);

    vmk_uint64 instance = 0;
    void *p[4] = {0};
    vmk_MgmtVectorParm vecs[4];
    const vmk_MgmtCallbackInfo *cb = parse_event(h, ev, &instance, p, vecs);
    if (cb) {
      void *fn = cb->callback;
      switch (cb->numParms) {
        case 0: ((cb0)fn)(h->cookie, instance); break;
        case 1: ((cb1)fn)(h->cookie, instance, p[0]); break;
        case 2: ((cb2)fn)(h->cookie, instance, p[0], p[1]); break;
        case 3: ((cb3)fn)(h->cookie, instance, p[0], p[1], p[2]); break;
        default: ((cb4)fn)(h->cookie, instance, p[0], p[1], p[2], p[3]); break;
      }
    }
    free(ev->payload);
    free(ev);
    if (++unacked >= ACK_BATCH) {
      send_ack(h, unacked);
      unacked = 0;
    }

    pthread_mutex_lock(&h->lock);
    if (!cb) h->ev_dropped++;
  }
  pthread_mutex_unlock(&h->lock);
  if (unacked > 0) send_ack(h, unacked);
  return NULL;
}

EXPORT int vmk_MgmtUserBegin(vmk_MgmtUserHandle h) {
  int rc = enter(h);
  if (rc != 0) return rc;
  pthread_mutex_lock(&h->ctl);
  pthread_mutex_lock(&h->lock);
  if (h->closing) rc = EINVAL;
  else if (h->begun) rc = EEXIST;
  else if (h->dead) rc = EIO;
  if (rc == 0) {
    h->stopping = 0;
    if (pthread_create(&h->monitor, NULL, monitor_main, h) != 0) rc = EAGAIN;
    else h->begun = 1;
  }
  pthread_mutex_unlock(&h->lock);
  pthread_mutex_unlock(&h->ctl);
  leave(h);
  return rc;
}

EXPORT int vmk_MgmtUserContinue(vmk_MgmtUserHandle h) {
  int rc = enter(h);
  if (rc != 0) return rc;
  pthread_mutex_lock(&h->lock);
  if (!h->begun) {
    rc = EINVAL;
  } else {
    unsigned gen = h->begin_gen;
    while (h->begun && h->begin_gen == gen && !h->dead) pthread_cond_wait(&h->cond, &h->lock);
    rc = (h->begun && h->dead) ? EIO : 0;
  }
  pthread_mutex_unlock(&h->lock);
  leave(h);
  return rc;
}

/* Stops the monitor thread; called with ctl held. */
static int end_locked(struct vmkMgmtUserHandleInt *h) {
  pthread_mutex_lock(&h->lock);
  if (!h->begun) {
    pthread_mutex_unlock(&h->lock);
    return EINVAL;
  }
  if (pthread_equal(pthread_self(), h->monitor)) {
    /* Joining ourselves would deadlock: End/Destroy must not be called from a user callback. */
    pthread_mutex_unlock(&h->lock);
    return EDEADLK;
  }
  h->stopping = 1;
  pthread_cond_broadcast(&h->cond);
  pthread_mutex_unlock(&h->lock);
  pthread_join(h->monitor, NULL);
  pthread_mutex_lock(&h->lock);
  h->begun = 0;
  h->begin_gen++;
  pthread_cond_broadcast(&h->cond);
  pthread_mutex_unlock(&h->lock);
  return 0;
}

EXPORT int vmk_MgmtUserEnd(vmk_MgmtUserHandle h) {
  int rc = enter(h);
  if (rc != 0) return rc;
  pthread_mutex_lock(&h->ctl);
  rc = end_locked(h);
  pthread_mutex_unlock(&h->ctl);
  leave(h);
  return rc;
}

EXPORT int vmk_MgmtUserDestroy(vmk_MgmtUserHandle h) {
  int rc = enter(h);
  if (rc != 0) return rc;
  pthread_mutex_lock(&h->ctl);
  pthread_mutex_lock(&h->lock);
  int begun = h->begun;
  pthread_mutex_unlock(&h->lock);
  if (begun && (rc = end_locked(h)) != 0) {
    pthread_mutex_unlock(&h->ctl);
    leave(h);
    return rc;
  }
  /* From here no new call can enter; a second Destroy gets EINVAL. */
  if (live_remove(h) != 0) {
    pthread_mutex_unlock(&h->ctl);
    leave(h);
    return EINVAL;
  }
  pthread_mutex_lock(&h->lock);
  h->closing = 1;
  h->users--; /* our own enter() */
  pthread_mutex_unlock(&h->lock);
  /* Wakes the reader (EOF), which fails every waiting request with EIO. */
  shutdown(h->fd, SHUT_RDWR);
  pthread_join(h->reader, NULL);
  /* Calls already inside (a racing Begin/End/Destroy waits for ctl) must get out first. */
  pthread_mutex_unlock(&h->ctl);
  pthread_mutex_lock(&h->lock);
  while (h->users > 0) pthread_cond_wait(&h->cond, &h->lock);
  pthread_mutex_unlock(&h->lock);
  free_handle(h);
  return 0;
}

EXPORT int vmk_MgmtUserCallbackInvokeInt(vmk_MgmtUserHandle h, vmk_uint64 instanceId, vmk_uint64 callbackId,
                                         vmk_uint32 argCount, ...) {
  int rc = enter(h);
  if (rc != 0) return rc;
  const vmk_MgmtCallbackInfo *cb = find_callback(h, callbackId);
  void *args[VMK_MGMT_MAX_CALLBACK_PARMS] = {0};
  uint64_t lengths[VMK_MGMT_MAX_CALLBACK_PARMS] = {0};
  uint64_t total = 24;
  if (!cb) rc = ENOENT;
  else if (cb->location != VMK_MGMT_CALLBACK_KERNEL || argCount != cb->numParms) rc = EINVAL;
  if (rc == 0) {
    va_list ap;
    va_start(ap, argCount);
    for (unsigned i = 0; i < argCount; i++) args[i] = va_arg(ap, void *);
    va_end(ap);
    total += 16ull * argCount;
    for (unsigned i = 0; i < argCount && rc == 0; i++) {
      if (args[i] == NULL) {
        rc = EINVAL;
      } else if (is_vector(cb->parmTypes[i])) {
        const vmk_MgmtVectorParm *v = args[i];
        lengths[i] = v->length;
        if (v->length == 0 || v->dataPtr == NULL || v->length % cb->parmSizes[i] != 0 ||
            v->length > WIRE_MAX_PAYLOAD)
          rc = EINVAL;
      } else {
        lengths[i] = cb->parmSizes[i];
      }
      if (sends(cb->parmTypes[i])) total += lengths[i];
    }
    if (rc == 0 && total > WIRE_MAX_PAYLOAD) rc = EINVAL;
  }
  uint8_t *frame = NULL;
  if (rc == 0 && (frame = malloc(total)) == NULL) rc = ENOMEM;
  if (rc != 0) {
    leave(h);
    return rc;
  }
  memset(frame, 0, 24 + 16 * argCount);
  wire_put_u64(frame, instanceId);
  wire_put_u64(frame + 8, callbackId);
  frame[16] = cb->synchronous ? 1 : 0;
  frame[17] = (uint8_t)argCount;
  uint64_t off = 24 + 16ull * argCount;
  for (unsigned i = 0; i < argCount; i++) {
    uint8_t *d = frame + 24 + 16 * i;
    d[0] = (uint8_t)cb->parmTypes[i];
    wire_put_u32(d + 4, cb->parmSizes[i]);
    wire_put_u64(d + 8, lengths[i]);
    if (sends(cb->parmTypes[i])) {
      const void *src = is_vector(cb->parmTypes[i]) ? ((vmk_MgmtVectorParm *)args[i])->dataPtr : args[i];
      memcpy(frame + off, src, lengths[i]);
      off += lengths[i];
    }
  }
  uint8_t *reply = NULL;
  uint32_t len = 0;
  rc = request(h, WIRE_INVOKE, frame, (uint32_t)total, &reply, &len);
  free(frame);
  if (rc == 0) {
    rc = (int)wire_get_u32(reply);
    if (rc == 0) {
      /* The reply echoes each parameter's length; returned data must match what we asked for. */
      uint64_t need = 8 + 8ull * argCount;
      if (len < need || wire_get_u32(reply + 4) != argCount) rc = EIO;
      for (unsigned i = 0; i < argCount && rc == 0; i++) {
        if (wire_get_u64(reply + 8 + 8 * i) != lengths[i]) rc = EIO;
        if (returns(cb->parmTypes[i])) need += lengths[i];
      }
      if (rc == 0 && need != len) rc = EIO;
      uint64_t roff = 8 + 8ull * argCount;
      for (unsigned i = 0; i < argCount && rc == 0; i++) {
        if (!returns(cb->parmTypes[i])) continue;
        void *dst = is_vector(cb->parmTypes[i]) ? ((vmk_MgmtVectorParm *)args[i])->dataPtr : args[i];
        memcpy(dst, reply + roff, lengths[i]);
        roff += lengths[i];
      }
    }
    free(reply);
  }
  leave(h);
  return rc;
}
