/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libdestroy_fails.so -- our library, except that vmk_MgmtUserDestroy fails (EBUSY) and, as a
 * vendor library whose Destroy failed may, a thread of it still calls the handle's first user
 * callback 100 ms later. A binding that closed its callbacks after the failed Destroy crashes then
 * (test/session_test.ts). Load it in place of the library (VMKMGMT_LIB): the other five ABI
 * functions and vmkmgmt_UserInitWith forward to our library (this object's dependency, whose other
 * extensions a binding finds through it).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include "vmkmgmt.h"

#define EXPORT __attribute__((visibility("default")))

/* The first user callback of the last Init, and its cookie (one handle at a time: a test shim). */
static vmk_MgmtCallbackInfo user;
static vmk_uint64 user_cookie;
static int have_user;

static void remember(const vmk_MgmtApiSignature *sig, vmk_uint64 cookie) {
  for (int i = 0; sig && i < sig->numCallbacks; i++) {
    if (sig->callbacks[i].location == VMK_MGMT_CALLBACK_USER && sig->callbacks[i].callback) {
      user = sig->callbacks[i];
      user_cookie = cookie;
      have_user = 1;
      return;
    }
  }
}

static void *next(const char *name);

EXPORT int vmk_MgmtUserInit(vmk_MgmtApiSignature *sig, vmk_uint64 cookie, vmk_MgmtUserHandle *handle) {
  int (*real)(vmk_MgmtApiSignature *, vmk_uint64, vmk_MgmtUserHandle *);
  *(void **)&real = next("vmk_MgmtUserInit");
  remember(sig, cookie);
  return real ? real(sig, cookie, handle) : ENOSYS;
}

/* Our library's function of that name. (RTLD_NEXT does not reach a dependency of an object that
 * was itself loaded RTLD_LOCAL, as Deno loads it: ask the library, already loaded, by its soname.) */
static void *next(const char *name) {
  void *lib = dlopen("libvmkmgmt.so", RTLD_NOW | RTLD_NOLOAD);
  void *p = lib ? dlsym(lib, name) : NULL;
  if (lib) dlclose(lib); /* (NOLOAD took a reference) */
  return p;
}

EXPORT int vmkmgmt_UserInitWith(vmk_MgmtApiSignature *sig, vmk_uint64 cookie, const vmkmgmt_InitOptions *options,
                                vmk_MgmtUserHandle *handle) {
  int (*real)(vmk_MgmtApiSignature *, vmk_uint64, const vmkmgmt_InitOptions *, vmk_MgmtUserHandle *);
  *(void **)&real = next("vmkmgmt_UserInitWith");
  remember(sig, cookie);
  return real ? real(sig, cookie, options, handle) : ENOSYS;
}

EXPORT int vmk_MgmtUserGetInstances(vmk_MgmtUserHandle h, vmk_MgmtInstances *out) {
  int (*real)(vmk_MgmtUserHandle, vmk_MgmtInstances *);
  *(void **)&real = next("vmk_MgmtUserGetInstances");
  return real ? real(h, out) : ENOSYS;
}

static int control(const char *name, vmk_MgmtUserHandle h) {
  int (*real)(vmk_MgmtUserHandle);
  *(void **)&real = next(name);
  return real ? real(h) : ENOSYS;
}
EXPORT int vmk_MgmtUserBegin(vmk_MgmtUserHandle h) {
  return control("vmk_MgmtUserBegin", h);
}
EXPORT int vmk_MgmtUserContinue(vmk_MgmtUserHandle h) {
  return control("vmk_MgmtUserContinue", h);
}
EXPORT int vmk_MgmtUserEnd(vmk_MgmtUserHandle h) {
  return control("vmk_MgmtUserEnd", h);
}

EXPORT int vmk_MgmtUserCallbackInvokeInt(vmk_MgmtUserHandle h, vmk_uint64 instance, vmk_uint64 callback,
                                         vmk_uint32 argc, ...) {
  int (*real)(vmk_MgmtUserHandle, vmk_uint64, vmk_uint64, vmk_uint32, ...);
  *(void **)&real = next("vmk_MgmtUserCallbackInvokeInt");
  if (!real) return ENOSYS;
  void *a[VMK_MGMT_MAX_CALLBACK_PARMS] = {0};
  va_list ap;
  va_start(ap, argc);
  for (vmk_uint32 i = 0; i < argc && i < VMK_MGMT_MAX_CALLBACK_PARMS; i++) a[i] = va_arg(ap, void *);
  va_end(ap);
  return real(h, instance, callback, argc, a[0], a[1], a[2], a[3]);
}

static _Alignas(16) unsigned char zeros[4096];
static vmk_MgmtVectorParm empty;

typedef void (*user_fn)(vmk_uint64, vmk_uint64, void *, void *, void *, void *);

static void *late_event(void *arg) {
  (void)arg;
  usleep(100000);
  void *p[VMK_MGMT_MAX_CALLBACK_PARMS];
  for (int i = 0; i < VMK_MGMT_MAX_CALLBACK_PARMS; i++) {
    vmk_MgmtParmType t = user.parmTypes[i];
    int vector = t == VMK_MGMT_PARMTYPE_VECTOR_IN || t == VMK_MGMT_PARMTYPE_VECTOR_OUT ||
                 t == VMK_MGMT_PARMTYPE_VECTOR_INOUT;
    p[i] = vector ? (void *)&empty : (void *)zeros;
  }
  ((user_fn)user.callback)(user_cookie, 0, p[0], p[1], p[2], p[3]);
  return NULL;
}

EXPORT int vmk_MgmtUserDestroy(vmk_MgmtUserHandle handle) {
  (void)handle; /* (left open: the library may still be using it, as a failed Destroy says) */
  pthread_t t;
  if (have_user && pthread_create(&t, NULL, late_event, NULL) == 0) pthread_detach(t);
  return EBUSY;
}
