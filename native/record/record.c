/* SPDX-License-Identifier: Apache-2.0 */
/*
 * record.c -- libvmkmgmt-record.so: loaded with LD_PRELOAD in front of any libvmkmgmt client, it
 * records every vmk_Mgmt call the client makes, at the C ABI boundary, to $VMKMGMT_RECORD
 * (TRACE.md), and changes nothing the client sees.
 *
 * How it gets in front: a client linked against libvmkmgmt calls these exported functions (the
 * dynamic linker puts a preloaded object first) and they call the real ones (dlsym RTLD_NEXT); a
 * client that loads the library itself (dlopen: Deno, Python ctypes, most vendor daemons) asks dlsym
 * for each function, and the dlsym here hands it these wrappers instead, keeping the real address.
 * One real library per process is recorded; a second one's functions are handed out unwrapped (and
 * said so on stderr).
 *
 * Events: each user callback in the table the library gets is a trampoline of ours, and the cookie
 * it gets is our record of the handle; the trampoline records the event and calls the client's
 * function with the client's cookie. The library's completion-queue extension is hidden while
 * recording (dlsym answers NULL), so a client that would use it takes the seven functions' path,
 * which is the one recorded; its results are the same.
 *
 * Bytes behind pointer members (caller buffers) are recorded for the members buffers.c knows of.
 *
 * What it gives up: a caller's memory is read with process_vm_readv (a bad pointer fails the copy,
 * not the process: the library itself would have answered EFAULT), one system call per parameter
 * going in and per caller buffer (the bytes a successful call wrote out are read directly); a
 * handle with more user callbacks than MAX_TRAMPOLINES is recorded without its events.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "../vmkmgmt.h"
#include "../wire.h"
#include "recorder.h"

#define EXPORT __attribute__((visibility("default")))

/* ---------------------------------------------------------------- the real functions */

enum fn { F_INIT, F_INIT_WITH, F_INSTANCES, F_BEGIN, F_CONTINUE, F_END, F_DESTROY, F_INVOKE, F_ON_DISCONNECT, F_COUNT };
static const char *const fn_names[F_COUNT] = {
    "vmk_MgmtUserInit", "vmkmgmt_UserInitWith", "vmk_MgmtUserGetInstances", "vmk_MgmtUserBegin",
    "vmk_MgmtUserContinue", "vmk_MgmtUserEnd", "vmk_MgmtUserDestroy", "vmk_MgmtUserCallbackInvokeInt",
    "vmkmgmt_UserOnDisconnect",
};
static void *real_fn[F_COUNT];
static void *(*real_dlsym)(void *, const char *);

typedef int (*init_fn)(vmk_MgmtApiSignature *, vmk_uint64, vmk_MgmtUserHandle *);
typedef int (*init_with_fn)(vmk_MgmtApiSignature *, vmk_uint64, const vmkmgmt_InitOptions *, vmk_MgmtUserHandle *);
typedef int (*instances_fn)(vmk_MgmtUserHandle, vmk_MgmtInstances *);
typedef int (*handle_fn)(vmk_MgmtUserHandle);
typedef int (*invoke_fn)(vmk_MgmtUserHandle, vmk_uint64, vmk_uint64, vmk_uint32, ...);
typedef int (*on_disconnect_fn)(vmk_MgmtUserHandle, vmkmgmt_DisconnectFn);
typedef void (*user_fn)(vmk_uint64, vmk_uint64, void *, void *, void *, void *);

/* A sanitizer's runtime looks up its own interceptors with dlsym while it starts, before it can run
 * instrumented code: the dlsym here and what it calls first are left uninstrumented. */
#define EARLY __attribute__((no_sanitize("address", "undefined", "thread")))

__attribute__((constructor)) EARLY static void find_dlsym(void) {
  /* glibc 2.34 moved dlsym into libc under a new version; older ones have only the first. */
  real_dlsym = (void *(*)(void *, const char *))dlvsym(RTLD_NEXT, "dlsym", "GLIBC_2.34");
  if (!real_dlsym) real_dlsym = (void *(*)(void *, const char *))dlvsym(RTLD_NEXT, "dlsym", "GLIBC_2.2.5");
}

/* `name` in the library another real function came from: the library calls its own exports
 * through its PLT, and a client that loaded it itself (RTLD_LOCAL: Python's ctypes) never asked
 * dlsym for the ones it does not use, nor can RTLD_NEXT see a library loaded that way. */
static void *in_same_library(const char *name) {
  for (int k = 0; k < F_COUNT; k++) {
    void *known = __atomic_load_n(&real_fn[k], __ATOMIC_ACQUIRE);
    Dl_info info;
    if (!known || !dladdr(known, &info) || !info.dli_fname) continue;
    void *lib = dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD);
    if (!lib) continue;
    void *p = real_dlsym(lib, name);
    dlclose(lib); /* (NOLOAD took a reference) */
    Dl_info where;
    if (p && dladdr(p, &where) && where.dli_fbase == info.dli_fbase) return p;
  }
  return NULL;
}

/* The real function: the one dlsym handed out for it, else the next object's (a linked client),
 * else the one in the library the others came from. */
static void *get_real(enum fn f) {
  void *p = __atomic_load_n(&real_fn[f], __ATOMIC_ACQUIRE);
  if (!p && real_dlsym) {
    p = real_dlsym(RTLD_NEXT, fn_names[f]);
    if (!p) p = in_same_library(fn_names[f]);
    void *none = NULL;
    if (p && !__atomic_compare_exchange_n(&real_fn[f], &none, p, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) p = none;
  }
  return p;
}

/* A wrapper entered from inside another on the same thread is the real library calling its own
 * exported functions (Init calling vmkmgmt_UserInitWith through its PLT, say): that goes straight
 * to the real function, or each call would be recorded twice. The client's callbacks run with it
 * cleared, so a call a callback makes is the client's own and is recorded. */
static _Thread_local int inside;

/* ---------------------------------------------------------------- handles */

/* More user callbacks in one table than this: the handle's events are not recorded. */
#define MAX_TRAMPOLINES 256

struct rh {
  struct rh *next;
  vmk_MgmtUserHandle h;
  uint64_t id;
  vmk_uint64 cookie;            /* the client's */
  vmk_MgmtApiSignature sig;     /* what the library got (it may keep pointers into it) */
  vmk_MgmtCallbackInfo *table;  /* our copy: user callbacks are trampolines when `events` */
  int events;
  unsigned users;               /* user callbacks (trampoline slots taken) */
  const vmk_MgmtCallbackInfo *user_cb[MAX_TRAMPOLINES];
  void *user_fn[MAX_TRAMPOLINES];
  vmkmgmt_DisconnectFn disc;    /* the client's disconnect function */
  vmkmgmt_BufferField *buffers; /* pointer members to caller buffers (buffers_for) */
  uint32_t nbuffers;
  unsigned refs;                /* wrappers using this record right now (Destroy waits for them) */
};

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct rh *reg;
static uint64_t next_handle = 1;

/* The record of a handle, held until release(); NULL for a handle not made through us. */
static struct rh *acquire(vmk_MgmtUserHandle h) {
  pthread_mutex_lock(&reg_lock);
  struct rh *rh = reg;
  while (rh && rh->h != h) rh = rh->next;
  if (rh) rh->refs++;
  pthread_mutex_unlock(&reg_lock);
  return rh;
}

static void release(struct rh *rh) {
  if (!rh) return;
  pthread_mutex_lock(&reg_lock);
  rh->refs--;
  pthread_mutex_unlock(&reg_lock);
}

/* Unlinks a destroyed handle's record and frees it once no wrapper uses it any more. */
static void forget(struct rh *rh) {
  pthread_mutex_lock(&reg_lock);
  struct rh **pp = &reg;
  while (*pp && *pp != rh) pp = &(*pp)->next;
  if (*pp) *pp = rh->next;
  while (rh->refs > 1) { /* (the caller's own) */
    pthread_mutex_unlock(&reg_lock);
    sched_yield();
    pthread_mutex_lock(&reg_lock);
  }
  pthread_mutex_unlock(&reg_lock);
  free(rh->buffers);
  free(rh->table);
  free(rh);
}

static const vmk_MgmtCallbackInfo *find_callback(const struct rh *rh, vmk_uint64 id) {
  for (int i = 0; i < rh->sig.numCallbacks; i++) {
    if (rh->table[i].callbackId == id) return &rh->table[i];
  }
  return NULL;
}

/* ---------------------------------------------------------------- the caller's memory */

/* The calling thread's id, asked once per thread (a child of fork() records nothing, so the forking
 * thread's stale id is never written). */
static uint32_t my_tid(void) {
  static __thread uint32_t tid;
  if (!tid) tid = (uint32_t)syscall(SYS_gettid);
  return tid;
}

int caller_read(void *dst, const void *src, size_t n) {
  static int plain; /* process_vm_readv refused (a seccomp filter): read directly */
  if (n == 0) return 1;
  if (!src) return 0;
  if (__atomic_load_n(&plain, __ATOMIC_RELAXED)) {
    memcpy(dst, src, n);
    return 1;
  }
  struct iovec local = {dst, n}, remote = {(void *)src, n};
  ssize_t k = process_vm_readv(writer_pid(), &local, 1, &remote, 1, 0);
  if (k == (ssize_t)n) return 1;
  if (k < 0 && (errno == ENOSYS || errno == EPERM)) {
    __atomic_store_n(&plain, 1, __ATOMIC_RELAXED);
    memcpy(dst, src, n);
    return 1;
  }
  return 0;
}

/* ---------------------------------------------------------------- events */

static void deliver(unsigned slot, vmk_uint64 cookie, vmk_uint64 instance, void *p0, void *p1, void *p2, void *p3) {
  struct rh *rh = (struct rh *)(uintptr_t)cookie;
  const vmk_MgmtCallbackInfo *cb = rh->user_cb[slot];
  void *p[VMK_MGMT_MAX_CALLBACK_PARMS] = {p0, p1, p2, p3};
  const void *data[VMK_MGMT_MAX_CALLBACK_PARMS] = {0};
  uint64_t len[VMK_MGMT_MAX_CALLBACK_PARMS] = {0};
  size_t total = 0;
  unsigned n = cb->numParms <= VMK_MGMT_MAX_CALLBACK_PARMS ? cb->numParms : 0;
  for (unsigned i = 0; i < n; i++) {
    if (!p[i]) continue;
    if (parm_is_vector(cb->parmTypes[i])) {
      const vmk_MgmtVectorParm *v = p[i];
      data[i] = v->dataPtr;
      len[i] = v->dataPtr ? v->length : 0;
    } else {
      data[i] = p[i];
      len[i] = cb->parmSizes[i];
    }
    total += len[i];
  }
  struct record *r = record_new(TRACE_EVENT, 40 + 8 * n + total);
  if (r) {
    record_u64(r, rh->id);
    record_u64(r, writer_now());
    record_u64(r, instance);
    record_u64(r, cb->callbackId);
    record_u32(r, n);
    record_u32(r, 0);
    for (unsigned i = 0; i < n; i++) record_u64(r, len[i]);
    for (unsigned i = 0; i < n; i++) record_put(r, data[i], len[i]); /* (the library's memory) */
    record_submit(r);
  }
  int was = inside;
  inside = 0;
  ((user_fn)rh->user_fn[slot])(rh->cookie, instance, p0, p1, p2, p3);
  inside = was;
}

/* The trampolines: tramp_XY for slot 0xXY, all alike. */
#define TRAMP(x, y)                                                                                     \
  static void tramp_##x##y(vmk_uint64 c, vmk_uint64 i, void *p0, void *p1, void *p2, void *p3) {        \
    deliver(0x##x##y, c, i, p0, p1, p2, p3);                                                            \
  }
#define TRAMP16(x)                                                                                      \
  TRAMP(x, 0) TRAMP(x, 1) TRAMP(x, 2) TRAMP(x, 3) TRAMP(x, 4) TRAMP(x, 5) TRAMP(x, 6) TRAMP(x, 7)      \
  TRAMP(x, 8) TRAMP(x, 9) TRAMP(x, a) TRAMP(x, b) TRAMP(x, c) TRAMP(x, d) TRAMP(x, e) TRAMP(x, f)
TRAMP16(0) TRAMP16(1) TRAMP16(2) TRAMP16(3) TRAMP16(4) TRAMP16(5) TRAMP16(6) TRAMP16(7)
TRAMP16(8) TRAMP16(9) TRAMP16(a) TRAMP16(b) TRAMP16(c) TRAMP16(d) TRAMP16(e) TRAMP16(f)
#define T(x, y) tramp_##x##y,
#define T16(x) T(x, 0) T(x, 1) T(x, 2) T(x, 3) T(x, 4) T(x, 5) T(x, 6) T(x, 7) \
               T(x, 8) T(x, 9) T(x, a) T(x, b) T(x, c) T(x, d) T(x, e) T(x, f)
static const user_fn trampolines[MAX_TRAMPOLINES] = {
    T16(0) T16(1) T16(2) T16(3) T16(4) T16(5) T16(6) T16(7) T16(8) T16(9) T16(a) T16(b) T16(c) T16(d) T16(e) T16(f)};

static void disconnect_tramp(vmk_uint64 cookie, int error) {
  struct rh *rh = (struct rh *)(uintptr_t)cookie;
  struct record *r = record_new(TRACE_DISCONNECT, 24);
  if (r) {
    record_u64(r, rh->id);
    record_u64(r, writer_now());
    record_u32(r, (uint32_t)error);
    record_u32(r, 0);
    record_submit(r);
  }
  int was = inside;
  inside = 0;
  if (rh->disc) rh->disc(rh->cookie, error);
  inside = was;
}

/* ---------------------------------------------------------------- Init */

static void put_name(struct record *r, const char *s) {
  char name[VMK_MISC_NAME_MAX] = {0};
  memcpy(name, s, VMK_MISC_NAME_MAX);
  record_put(r, name, VMK_MISC_NAME_MAX);
}

static void record_init(const struct rh *rh, const vmk_MgmtApiSignature *sig, const vmk_MgmtCallbackInfo *cbs, int n,
                        vmk_uint64 cookie, const char *host, uint32_t flags, int status, uint64_t t, uint64_t dur) {
  size_t hlen = host ? strlen(host) : 0;
  struct record *r = record_new(TRACE_INIT, TRACE_INIT_FIXED + TRACE_CALLBACK_SIZE * (size_t)n + 4 + hlen + 4 +
                                                TRACE_BUFFER_FIELD_SIZE * (size_t)rh->nbuffers);
  if (!r) return;
  record_u64(r, status == 0 && rh ? rh->id : 0);
  record_u64(r, t);
  record_u64(r, dur);
  record_u32(r, (uint32_t)status);
  record_u32(r, flags);
  record_u64(r, cookie);
  record_u32(r, sig->version);
  put_name(r, sig->name.string);
  put_name(r, sig->vendor.string);
  record_u32(r, (uint32_t)n);
  for (int i = 0; i < n; i++) {
    const vmk_MgmtCallbackInfo *c = &cbs[i];
    record_u64(r, c->callbackId);
    record_u8(r, (uint8_t)c->location);
    record_u8(r, (uint8_t)c->synchronous);
    record_u8(r, c->numParms);
    record_u8(r, 0);
    for (int k = 0; k < VMK_MGMT_MAX_CALLBACK_PARMS; k++) record_u32(r, c->parmSizes[k]);
    for (int k = 0; k < VMK_MGMT_MAX_CALLBACK_PARMS; k++) record_u8(r, (uint8_t)c->parmTypes[k]);
    record_u32(r, 0);
  }
  record_u32(r, (uint32_t)hlen);
  record_put(r, host, hlen);
  record_u32(r, rh->nbuffers);
  for (uint32_t i = 0; i < rh->nbuffers; i++) {
    const vmkmgmt_BufferField *f = &rh->buffers[i];
    record_u64(r, f->callbackId);
    record_u32(r, f->parm);
    record_u32(r, f->offset);
    record_u32(r, f->direction);
    record_u32(r, f->length);
    record_u32(r, f->lengthOffset);
    record_u32(r, f->lengthSize);
  }
  record_submit(r);
}

/* Largest table copied (the wire protocol's own limit on callbacks is 4,096). */
#define MAX_TABLE 65536

static int init_common(int with, vmk_MgmtApiSignature *sig, vmk_uint64 cookie, const vmkmgmt_InitOptions *options,
                       vmk_MgmtUserHandle *handle) {
  void *fn = get_real(with ? F_INIT_WITH : F_INIT);
  if (!fn) return ENOSYS;
  struct rh *rh = NULL;
  if (!inside && writer_on() && sig && handle && sig->numCallbacks >= 0 && sig->numCallbacks <= MAX_TABLE &&
      (sig->callbacks || sig->numCallbacks == 0)) {
    rh = calloc(1, sizeof *rh);
    if (rh && sig->numCallbacks > 0 && !(rh->table = malloc(sizeof *rh->table * (size_t)sig->numCallbacks))) {
      free(rh);
      rh = NULL;
    }
  }
  if (!rh) {
    return with ? ((init_with_fn)fn)(sig, cookie, options, handle) : ((init_fn)fn)(sig, cookie, handle);
  }
  int n = sig->numCallbacks;
  if (n > 0) memcpy(rh->table, sig->callbacks, sizeof *rh->table * (size_t)n);
  for (int i = 0; i < n; i++) {
    if (rh->table[i].location == VMK_MGMT_CALLBACK_USER) rh->users++;
  }
  rh->events = rh->users <= MAX_TRAMPOLINES;
  if (rh->events) {
    unsigned slot = 0;
    for (int i = 0; i < n; i++) {
      if (rh->table[i].location != VMK_MGMT_CALLBACK_USER) continue;
      rh->user_cb[slot] = &rh->table[i];
      rh->user_fn[slot] = rh->table[i].callback;
      /* A NULL callback stays NULL: the library refuses it as it would have. */
      if (rh->table[i].callback) rh->table[i].callback = (void *)trampolines[slot];
      slot++;
    }
  }
  char name[VMK_MISC_NAME_MAX + 1] = {0}, vendor[VMK_MISC_NAME_MAX + 1] = {0};
  memcpy(name, sig->name.string, VMK_MISC_NAME_MAX);
  memcpy(vendor, sig->vendor.string, VMK_MISC_NAME_MAX);
  /* Without memory for the list, the handle is recorded without the bytes behind its pointers. */
  (void)buffers_for(name, vendor, with ? options : NULL, &rh->buffers, &rh->nbuffers);
  rh->cookie = cookie;
  rh->sig = *sig;
  rh->sig.callbacks = rh->events && n > 0 ? rh->table : sig->callbacks;
  vmk_uint64 given = rh->events ? (vmk_uint64)(uintptr_t)rh : cookie;
  pthread_mutex_lock(&reg_lock);
  rh->id = next_handle++;
  pthread_mutex_unlock(&reg_lock);
  uint64_t t = writer_now();
  inside = 1;
  int rc = with ? ((init_with_fn)fn)(&rh->sig, given, options, handle) : ((init_fn)fn)(&rh->sig, given, handle);
  inside = 0;
  uint64_t dur = writer_now() - t;
  uint32_t flags = (with ? TRACE_INIT_WITH : 0u) | (rh->events ? 0u : TRACE_INIT_NO_EVENTS);
  /* The client's own table (its pointers are not recorded, only what they describe). */
  record_init(rh, sig, sig->callbacks, n, cookie, with && options ? options->host : NULL, flags, rc, t, dur);
  if (rc != 0) {
    free(rh->buffers);
    free(rh->table);
    free(rh);
    return rc;
  }
  rh->h = *handle;
  pthread_mutex_lock(&reg_lock);
  rh->next = reg;
  reg = rh;
  pthread_mutex_unlock(&reg_lock);
  return rc;
}

EXPORT int vmk_MgmtUserInit(vmk_MgmtApiSignature *sig, vmk_uint64 userCookie, vmk_MgmtUserHandle *handle) {
  return init_common(0, sig, userCookie, NULL, handle);
}

EXPORT int vmkmgmt_UserInitWith(vmk_MgmtApiSignature *sig, vmk_uint64 userCookie, const vmkmgmt_InitOptions *options,
                                vmk_MgmtUserHandle *handle) {
  return init_common(1, sig, userCookie, options, handle);
}

/* ---------------------------------------------------------------- the other calls */

EXPORT int vmk_MgmtUserGetInstances(vmk_MgmtUserHandle handle, vmk_MgmtInstances *instances) {
  instances_fn fn = (instances_fn)get_real(F_INSTANCES);
  if (!fn) return ENOSYS;
  if (inside || !writer_on()) return fn(handle, instances);
  struct rh *rh = acquire(handle);
  uint64_t t = writer_now();
  inside = 1;
  int rc = fn(handle, instances);
  inside = 0;
  uint64_t dur = writer_now() - t;
  unsigned count = 0;
  if (rc == 0 && instances) {
    count = instances->numInstances <= VMK_MGMT_MAX_INSTANCES ? instances->numInstances : VMK_MGMT_MAX_INSTANCES;
  }
  struct record *r = record_new(TRACE_INSTANCES, 32 + (8 + VMK_MISC_NAME_MAX) * (size_t)count);
  if (r) {
    record_u64(r, rh ? rh->id : 0);
    record_u64(r, t);
    record_u64(r, dur);
    record_u32(r, (uint32_t)rc);
    record_u32(r, count);
    for (unsigned i = 0; i < count; i++) {
      record_u64(r, instances->instanceIds[i]);
      put_name(r, instances->instanceNames[i].string);
    }
    record_submit(r);
  }
  release(rh);
  return rc;
}

static int control(enum fn f, enum trace_op op, vmk_MgmtUserHandle handle) {
  handle_fn fn = (handle_fn)get_real(f);
  if (!fn) return ENOSYS;
  if (inside || !writer_on()) return fn(handle);
  struct rh *rh = acquire(handle);
  uint64_t t = writer_now();
  inside = 1;
  int rc = fn(handle);
  inside = 0;
  uint64_t dur = writer_now() - t;
  struct record *r = record_new(TRACE_CONTROL, 32);
  if (r) {
    record_u64(r, rh ? rh->id : 0);
    record_u64(r, t);
    record_u64(r, dur);
    record_u32(r, op);
    record_u32(r, (uint32_t)rc);
    record_submit(r);
  }
  /* Destroyed: the library has let every call and callback of it go. */
  if (rh && op == TRACE_DESTROY && rc == 0) forget(rh);
  else release(rh);
  return rc;
}

EXPORT int vmk_MgmtUserBegin(vmk_MgmtUserHandle handle) {
  return control(F_BEGIN, TRACE_BEGIN, handle);
}
EXPORT int vmk_MgmtUserContinue(vmk_MgmtUserHandle handle) {
  return control(F_CONTINUE, TRACE_CONTINUE, handle);
}
EXPORT int vmk_MgmtUserEnd(vmk_MgmtUserHandle handle) {
  return control(F_END, TRACE_ENDOP, handle);
}
EXPORT int vmk_MgmtUserDestroy(vmk_MgmtUserHandle handle) {
  return control(F_DESTROY, TRACE_DESTROY, handle);
}

EXPORT int vmkmgmt_UserOnDisconnect(vmk_MgmtUserHandle handle, vmkmgmt_DisconnectFn fn) {
  on_disconnect_fn real = (on_disconnect_fn)get_real(F_ON_DISCONNECT);
  if (!real) return ENOSYS;
  struct rh *rh = !inside && writer_on() ? acquire(handle) : NULL;
  if (!rh || !rh->events) {
    release(rh);
    return real(handle, fn); /* its cookie is the client's own */
  }
  rh->disc = fn;
  int rc = real(handle, fn ? disconnect_tramp : NULL);
  release(rh);
  return rc;
}

/* ---------------------------------------------------------------- invoke */

static int call_real(invoke_fn fn, vmk_MgmtUserHandle h, vmk_uint64 instance, vmk_uint64 callback, vmk_uint32 argc,
                     void *const a[VMK_MGMT_MAX_CALLBACK_PARMS]) {
  switch (argc) {
    case 0: return fn(h, instance, callback, 0);
    case 1: return fn(h, instance, callback, 1, a[0]);
    case 2: return fn(h, instance, callback, 2, a[0], a[1]);
    case 3: return fn(h, instance, callback, 3, a[0], a[1], a[2]);
    default: return fn(h, instance, callback, argc, a[0], a[1], a[2], a[3]);
  }
}

static void describe(const vmk_MgmtCallbackInfo *cb, unsigned i, void *p, struct arg *a) {
  vmk_MgmtParmType type = cb->parmTypes[i];
  *a = (struct arg){.type = (uint8_t)type, .size = cb->parmSizes[i]};
  a->in = parm_sends(type);
  a->out = parm_returns(type);
  if (!parm_is_vector(type)) {
    a->data = p;
    a->length = cb->parmSizes[i];
    return;
  }
  vmk_MgmtVectorParm v;
  if (!caller_read(&v, p, sizeof v)) {
    a->flags |= TRACE_ARG_UNREADABLE;
  } else if (v.length > WIRE_MAX_VECTOR) {
    a->flags |= TRACE_ARG_TOO_LARGE;
  } else {
    a->data = v.dataPtr;
    a->length = v.length;
  }
}

/* Appends `a`'s bytes (length of them, room already asked for); marks it unreadable when they are.
 * `written`: the library has just written them (a call that succeeded wrote every byte coming out),
 * so they are mapped and readable and need no system call to read safely — on these virtual CPUs a
 * process_vm_readv took ~1.7–3.5 µs, up to a sixth of a whole call. */
static uint64_t put_bytes(struct record *r, struct arg *a, int written) {
  if (a->flags || a->length == 0) return 0;
  uint8_t *at = r->bytes + TRACE_HEADER_SIZE + r->len;
  if (written) {
    memcpy(at, a->data, (size_t)a->length);
  } else if (!caller_read(at, a->data, (size_t)a->length)) {
    a->flags |= TRACE_ARG_UNREADABLE;
    return 0;
  }
  r->len += (size_t)a->length;
  return a->length;
}

/* The caller buffers' part of an INVOKE (after the call): their descriptions, the bytes that went in
 * (`before`, read before the call), and the bytes the call left in the `out` ones. */
static void put_buffers(struct record *r, struct call_buffer *plan, unsigned nb, const uint8_t *before) {
  record_u32(r, nb);
  record_u32(r, 0);
  size_t entries = r->len;
  r->len += TRACE_BUFFER_SIZE * (size_t)nb; /* filled in once the bytes coming out are known */
  uint64_t in = 0;
  for (unsigned k = 0; k < nb; k++) in += plan[k].in;
  record_put(r, before, (size_t)in);
  for (unsigned k = 0; k < nb; k++) {
    struct call_buffer *b = &plan[k];
    if (b->flags || !(b->dir & VMKMGMT_BUFFER_OUT)) continue;
    if (caller_read(r->bytes + TRACE_HEADER_SIZE + r->len, b->address, (size_t)b->length)) {
      r->len += (size_t)b->length;
      b->out = b->length;
    } else {
      b->flags |= TRACE_ARG_UNREADABLE;
    }
  }
  size_t end = r->len;
  r->len = entries;
  for (unsigned k = 0; k < nb; k++) {
    record_u32(r, plan[k].parm);
    record_u32(r, plan[k].offset);
    record_u8(r, plan[k].dir);
    record_u8(r, plan[k].flags);
    record_u16(r, 0);
    record_u32(r, 0);
    record_u64(r, plan[k].in);
    record_u64(r, plan[k].out);
  }
  r->len = end;
}

EXPORT int vmk_MgmtUserCallbackInvokeInt(vmk_MgmtUserHandle handle, vmk_uint64 instanceId, vmk_uint64 callbackId,
                                         vmk_uint32 argCount, ...) {
  void *a[VMK_MGMT_MAX_CALLBACK_PARMS] = {0};
  va_list ap;
  va_start(ap, argCount);
  for (unsigned i = 0; i < argCount && i < VMK_MGMT_MAX_CALLBACK_PARMS; i++) a[i] = va_arg(ap, void *);
  va_end(ap);
  invoke_fn fn = (invoke_fn)get_real(F_INVOKE);
  if (!fn) return ENOSYS;
  if (inside || argCount > VMK_MGMT_MAX_CALLBACK_PARMS || !writer_on()) {
    return call_real(fn, handle, instanceId, callbackId, argCount, a);
  }
  struct rh *rh = acquire(handle);
  const vmk_MgmtCallbackInfo *cb = rh ? find_callback(rh, callbackId) : NULL;
  if (cb && (cb->location != VMK_MGMT_CALLBACK_KERNEL || cb->numParms != argCount)) cb = NULL;
  struct arg args[VMK_MGMT_MAX_CALLBACK_PARMS] = {0};
  size_t room = TRACE_INVOKE_FIXED + TRACE_ARG_SIZE * (size_t)argCount;
  for (unsigned i = 0; cb && i < argCount; i++) {
    describe(cb, i, a[i], &args[i]);
    if (!args[i].flags) room += (size_t)args[i].length * ((size_t)args[i].in + (size_t)args[i].out);
  }
  /* A plan sized for this call, and none for a call without buffers: a handle's other calls must
   * not pay for the buffers of one. */
  struct call_buffer *plan = NULL;
  unsigned nb = 0;
  unsigned bound = cb && rh->nbuffers ? buffers_bound(rh->buffers, rh->nbuffers, callbackId, args, argCount) : 0;
  if (bound && (plan = malloc(sizeof *plan * bound)) != NULL) {
    nb = buffers_plan(rh->buffers, rh->nbuffers, callbackId, args, argCount, plan, bound);
  }
  uint64_t buffers_in = 0;
  if (nb) {
    room += TRACE_BUFFERS_FIXED + TRACE_BUFFER_SIZE * (size_t)nb;
    for (unsigned k = 0; k < nb; k++) {
      if (plan[k].flags) continue;
      if (plan[k].dir & VMKMGMT_BUFFER_IN) buffers_in += plan[k].length;
      if (plan[k].dir & VMKMGMT_BUFFER_OUT) room += (size_t)plan[k].length;
    }
    room += (size_t)buffers_in;
  }
  struct record *r = record_new(TRACE_INVOKE, room);
  size_t fixed = 0;
  uint8_t *before = NULL; /* the buffers' bytes going in, read before the call */
  if (r) {
    fixed = r->len;
    r->len += TRACE_INVOKE_FIXED + TRACE_ARG_SIZE * (size_t)argCount; /* filled in after the call */
    for (unsigned i = 0; cb && i < argCount; i++) {
      if (args[i].in) put_bytes(r, &args[i], 0);
    }
    if (nb && buffers_in && (before = malloc((size_t)buffers_in)) == NULL) nb = 0;
    size_t at = 0;
    for (unsigned k = 0; k < nb; k++) {
      struct call_buffer *b = &plan[k];
      if (b->flags || !(b->dir & VMKMGMT_BUFFER_IN)) continue;
      if (caller_read(before + at, b->address, (size_t)b->length)) {
        b->in = b->length;
        at += (size_t)b->length;
      } else {
        b->flags |= TRACE_ARG_UNREADABLE;
      }
    }
  }
  uint64_t in_len[VMK_MGMT_MAX_CALLBACK_PARMS] = {0}, out_len[VMK_MGMT_MAX_CALLBACK_PARMS] = {0};
  for (unsigned i = 0; cb && i < argCount; i++) in_len[i] = args[i].in && !args[i].flags ? args[i].length : 0;
  uint64_t t = writer_now();
  inside = 1;
  int rc = call_real(fn, handle, instanceId, callbackId, argCount, a);
  inside = 0;
  uint64_t dur = writer_now() - t;
  if (r) {
    for (unsigned i = 0; cb && i < argCount; i++) {
      if (args[i].out) out_len[i] = put_bytes(r, &args[i], rc == 0);
    }
    size_t end = r->len;
    r->len = fixed;
    record_u64(r, rh ? rh->id : 0);
    record_u64(r, t);
    record_u64(r, dur);
    record_u64(r, instanceId);
    record_u64(r, callbackId);
    record_u32(r, (uint32_t)rc);
    record_u32(r, my_tid());
    record_u32(r, argCount);
    record_u32(r, (cb ? 0u : TRACE_INVOKE_RAW) | (nb ? TRACE_INVOKE_BUFFERS : 0u));
    for (unsigned i = 0; i < argCount; i++) {
      record_u8(r, args[i].type);
      record_u8(r, args[i].flags);
      record_u16(r, 0);
      record_u32(r, args[i].size);
      record_u64(r, in_len[i]);
      record_u64(r, out_len[i]);
    }
    r->len = end;
    if (nb) put_buffers(r, plan, nb, before);
    record_submit(r);
  }
  free(before);
  free(plan);
  release(rh);
  return rc;
}

/* ---------------------------------------------------------------- dlsym */

/* The completion-queue extension, hidden while recording (the client takes the recorded path). */
static int hidden(const char *name) {
  return strncmp(name, "vmkmgmt_Queue", 13) == 0 || strcmp(name, "vmkmgmt_UserSubmit") == 0 ||
         strcmp(name, "vmkmgmt_UserFlush") == 0 || strcmp(name, "vmkmgmt_UserAttachQueue") == 0 ||
         strcmp(name, "vmkmgmt_UserPoll") == 0;
}

static void *wrapper(enum fn f) {
  switch (f) {
    case F_INIT: return (void *)vmk_MgmtUserInit;
    case F_INIT_WITH: return (void *)vmkmgmt_UserInitWith;
    case F_INSTANCES: return (void *)vmk_MgmtUserGetInstances;
    case F_BEGIN: return (void *)vmk_MgmtUserBegin;
    case F_CONTINUE: return (void *)vmk_MgmtUserContinue;
    case F_END: return (void *)vmk_MgmtUserEnd;
    case F_DESTROY: return (void *)vmk_MgmtUserDestroy;
    case F_INVOKE: return (void *)vmk_MgmtUserCallbackInvokeInt;
    case F_ON_DISCONNECT: return (void *)vmkmgmt_UserOnDisconnect;
    default: return NULL;
  }
}

EXPORT EARLY void *dlsym(void *handle, const char *name) {
  if (!real_dlsym) find_dlsym();
  void *p = real_dlsym ? real_dlsym(handle, name) : NULL;
  if (!p || (strncmp(name, "vmk_MgmtUser", 12) != 0 && strncmp(name, "vmkmgmt_", 8) != 0)) return p;
  if (!writer_on()) return p;
  if (hidden(name)) return NULL;
  for (int f = 0; f < F_COUNT; f++) {
    if (strcmp(name, fn_names[f]) != 0) continue;
    void *mine = wrapper((enum fn)f);
    if (p == mine) return p;
    void *none = NULL;
    if (__atomic_compare_exchange_n(&real_fn[f], &none, p, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE) || none == p) {
      return mine;
    }
    static int told;
    if (!__atomic_exchange_n(&told, 1, __ATOMIC_RELAXED)) {
      fprintf(stderr, "vmkmgmt-record: a second libvmkmgmt in this process is not recorded\n");
    }
    return p;
  }
  return p;
}
