/* SPDX-License-Identifier: Apache-2.0 */
/*
 * client_test -- drives the acmeNicMgmt demo module through libvmkmgmt, written only from the
 * public header and the ABI facts: every callback row, every listed error number, the monitor
 * thread rules, concurrency, and (mode "die") the simulator vanishing mid-call.
 *
 *   client_test all     the main suite (a simulator must be listening)
 *   client_test die     prints "ready", then makes a call that the test harness stalls and kills
 *   client_test stalled N   N threads each make a call the harness stalls; each prints "returned RC
 *                       MICROSECONDS" when it comes back (the soak's kill latency), then "later RC"
 *
 * Prints "ok N - what" / "not ok N - what"; exits with the number of failures.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vmkmgmt.h"
#include "test/crc32.h"

static int failures, count;

#define CHECK(cond, ...)                \
  do {                                  \
    count++;                            \
    if (cond) {                         \
      printf("ok %d - ", count);        \
    } else {                            \
      failures++;                       \
      printf("not ok %d - ", count);    \
    }                                   \
    printf(__VA_ARGS__);                \
    printf("\n");                       \
    fflush(stdout);                     \
  } while (0)

#define EQ(got, want, what)                                                             \
  do {                                                                                  \
    long got_ = (long)(got), want_ = (long)(want);                                      \
    CHECK(got_ == want_, "%s (got %ld, want %ld)", what, got_, want_);                  \
  } while (0)

/* Payload structs are packed, as VMware requires of management API parameters. */
typedef struct {
  vmk_uint64 rxPackets, txPackets, rxBytes, txBytes;
  vmk_uint32 linkUp, mtu;
  char driver[32];
} __attribute__((packed)) NicStats;
typedef struct {
  vmk_uint64 seq;
  vmk_uint8 payload[56];
} __attribute__((packed)) EchoMsg;
typedef struct {
  vmk_uint32 up, speedMbps;
} __attribute__((packed)) LinkState;

_Static_assert(sizeof(NicStats) == 72, "NicStats");
_Static_assert(sizeof(EchoMsg) == 64, "EchoMsg");
_Static_assert(sizeof(LinkState) == 8, "LinkState");

/* ------------------------------------------------------------ event recording */

struct recorder {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  int links, logs, downs, ups;
  int misaligned; /* parameters not aligned for any type (the library owes each its own buffer) */
  vmk_uint64 lastInstance, cookie;
  /* for the reply-during-callback test */
  int block, inside;
};

static void rec_init(struct recorder *r) {
  memset(r, 0, sizeof *r);
  pthread_mutex_init(&r->lock, NULL);
  pthread_cond_init(&r->cond, NULL);
}

static void on_link(vmk_uint64 cookie, vmk_uint64 instanceId, void *p) {
  struct recorder *r = (struct recorder *)(uintptr_t)cookie;
  const LinkState *s = p;
  pthread_mutex_lock(&r->lock);
  if ((uintptr_t)p % _Alignof(max_align_t) != 0) r->misaligned++;
  r->links++;
  if (s->up) r->ups++;
  else r->downs++;
  r->lastInstance = instanceId;
  r->cookie = cookie;
  if (r->block) {
    r->inside = 1;
    pthread_cond_broadcast(&r->cond);
    while (r->block) pthread_cond_wait(&r->cond, &r->lock);
    r->inside = 0;
  }
  pthread_cond_broadcast(&r->cond);
  pthread_mutex_unlock(&r->lock);
}

static void on_log(vmk_uint64 cookie, vmk_uint64 instanceId, void *p) {
  struct recorder *r = (struct recorder *)(uintptr_t)cookie;
  (void)instanceId;
  pthread_mutex_lock(&r->lock);
  if ((uintptr_t)p % _Alignof(max_align_t) != 0) r->misaligned++;
  r->logs++;
  pthread_cond_broadcast(&r->cond);
  pthread_mutex_unlock(&r->lock);
}

/* Waits until r->links >= want or ms elapse; returns r->links. */
static int wait_links(struct recorder *r, int want, int ms) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  ts.tv_sec += ms / 1000;
  ts.tv_nsec += (ms % 1000) * 1000000L;
  if (ts.tv_nsec >= 1000000000L) {
    ts.tv_sec++;
    ts.tv_nsec -= 1000000000L;
  }
  pthread_mutex_lock(&r->lock);
  while (r->links < want) {
    if (pthread_cond_timedwait(&r->cond, &r->lock, &ts) != 0) break;
  }
  int n = r->links;
  pthread_mutex_unlock(&r->lock);
  return n;
}

static int links(struct recorder *r) {
  pthread_mutex_lock(&r->lock);
  int n = r->links;
  pthread_mutex_unlock(&r->lock);
  return n;
}

/* ------------------------------------------------------------ the signature */

enum { CB_GETSTATS = 16, CB_SETMTU, CB_RESET, CB_FLASH, CB_READLOG, CB_ECHO, CB_TRIGGER, CB_LINK = 32, CB_LOG };

static vmk_MgmtCallbackInfo callbacks[9];

static void kcb(int i, vmk_uint64 id, int sync, int n, const vmk_uint32 *sizes, const vmk_MgmtParmType *types) {
  memset(&callbacks[i], 0, sizeof callbacks[i]);
  callbacks[i].location = VMK_MGMT_CALLBACK_KERNEL;
  callbacks[i].synchronous = (vmk_Bool)sync;
  callbacks[i].numParms = (vmk_uint8)n;
  callbacks[i].callbackId = id;
  for (int k = 0; k < n; k++) {
    callbacks[i].parmSizes[k] = sizes[k];
    callbacks[i].parmTypes[k] = types[k];
  }
}

static void make_signature(vmk_MgmtApiSignature *sig) {
  kcb(0, CB_GETSTATS, 1, 1, (vmk_uint32[]){72}, (vmk_MgmtParmType[]){VMK_MGMT_PARMTYPE_OUT});
  kcb(1, CB_SETMTU, 1, 2, (vmk_uint32[]){4, 4}, (vmk_MgmtParmType[]){VMK_MGMT_PARMTYPE_IN, VMK_MGMT_PARMTYPE_OUT});
  kcb(2, CB_RESET, 0, 0, NULL, NULL);
  kcb(3, CB_FLASH, 1, 2, (vmk_uint32[]){1, 4},
      (vmk_MgmtParmType[]){VMK_MGMT_PARMTYPE_VECTOR_IN, VMK_MGMT_PARMTYPE_OUT});
  kcb(4, CB_READLOG, 1, 2, (vmk_uint32[]){1, 4},
      (vmk_MgmtParmType[]){VMK_MGMT_PARMTYPE_VECTOR_OUT, VMK_MGMT_PARMTYPE_OUT});
  kcb(5, CB_ECHO, 1, 1, (vmk_uint32[]){64}, (vmk_MgmtParmType[]){VMK_MGMT_PARMTYPE_INOUT});
  kcb(6, CB_TRIGGER, 1, 1, (vmk_uint32[]){4}, (vmk_MgmtParmType[]){VMK_MGMT_PARMTYPE_IN});
  kcb(7, CB_LINK, 0, 1, (vmk_uint32[]){8}, (vmk_MgmtParmType[]){VMK_MGMT_PARMTYPE_IN});
  callbacks[7].location = VMK_MGMT_CALLBACK_USER;
  callbacks[7].callback = (void *)on_link;
  kcb(8, CB_LOG, 0, 1, (vmk_uint32[]){64}, (vmk_MgmtParmType[]){VMK_MGMT_PARMTYPE_IN});
  callbacks[8].location = VMK_MGMT_CALLBACK_USER;
  callbacks[8].callback = (void *)on_log;

  memset(sig, 0, sizeof *sig);
  sig->version = VMK_REVISION_FROM_NUMBERS(1, 0, 0, 0);
  strcpy(sig->name.string, "acmeNicMgmt");
  strcpy(sig->vendor.string, "acme");
  sig->numCallbacks = 9;
  sig->callbacks = callbacks;
}

static int init_with(vmk_MgmtApiSignature *sig, struct recorder *r, vmk_MgmtUserHandle *h) {
  return vmk_MgmtUserInit(sig, (vmk_uint64)(uintptr_t)r, h);
}

/* ------------------------------------------------------------ test groups */

static void test_init_errors(void) {
  vmk_MgmtApiSignature sig;
  vmk_MgmtUserHandle h = NULL;
  struct recorder r;
  rec_init(&r);

  make_signature(&sig);
  EQ(vmk_MgmtUserInit(NULL, 0, &h), EINVAL, "Init with NULL signature -> EINVAL");
  EQ(vmk_MgmtUserInit(&sig, 0, NULL), EINVAL, "Init with NULL handle pointer -> EINVAL");

#define BAD_SIG(mutation, errno_, what) \
  do {                                  \
    make_signature(&sig);               \
    mutation;                           \
    EQ(init_with(&sig, &r, &h), errno_, what); \
  } while (0)

  BAD_SIG(sig.name.string[0] = 0, EINVAL, "empty name -> EINVAL");
  BAD_SIG(sig.vendor.string[0] = 0, EINVAL, "empty vendor -> EINVAL");
  BAD_SIG(memset(sig.name.string, 'a', 32), EINVAL, "name of 32 characters, no NUL -> EINVAL");
  BAD_SIG(sig.callbacks = NULL, EINVAL, "numCallbacks > 0 with NULL callbacks -> EINVAL");
  BAD_SIG((sig.numCallbacks = 0), EINVAL, "numCallbacks 0 with non-NULL callbacks -> EINVAL");
  BAD_SIG(callbacks[0].numParms = 5, EINVAL, "numParms 5 -> EINVAL");
  BAD_SIG(callbacks[0].location = 3, EINVAL, "location 3 -> EINVAL");
  BAD_SIG(callbacks[0].callbackId = 15, EINVAL, "reserved callback id 15 -> EINVAL");
  BAD_SIG(callbacks[1].callbackId = CB_GETSTATS, EINVAL, "duplicate callback id -> EINVAL");
  BAD_SIG(callbacks[7].callback = NULL, EINVAL, "user callback with NULL function -> EINVAL");
  BAD_SIG(callbacks[7].synchronous = 1, EINVAL, "synchronous user callback -> EINVAL");
  BAD_SIG(callbacks[7].parmTypes[0] = VMK_MGMT_PARMTYPE_OUT, EINVAL, "user callback with OUT parameter -> EINVAL");
  BAD_SIG(callbacks[0].synchronous = 0, EINVAL, "async kernel callback with OUT parameter -> EINVAL");
  BAD_SIG(callbacks[5].synchronous = 0, EINVAL, "async kernel callback with INOUT parameter -> EINVAL");
  BAD_SIG(callbacks[4].synchronous = 0, EINVAL, "async kernel callback with VECTOR_OUT parameter -> EINVAL");
  BAD_SIG(strcpy(sig.name.string, "nosuchApi"), ENODEV, "unknown API name -> ENODEV");
  BAD_SIG(strcpy(sig.vendor.string, "other"), ENODEV, "other vendor -> ENODEV");
  BAD_SIG(sig.version = VMK_REVISION_FROM_NUMBERS(2, 0, 0, 0), ENODEV, "other major version -> ENODEV");
  BAD_SIG(sig.version = VMK_REVISION_FROM_NUMBERS(1, 1, 0, 0), ENODEV, "other minor version -> ENODEV");

  make_signature(&sig);
  sig.version = VMK_REVISION_FROM_NUMBERS(1, 0, 7, 9);
  int rc = init_with(&sig, &r, &h);
  EQ(rc, 0, "other update and patch still match -> 0");
  if (rc == 0) EQ(vmk_MgmtUserDestroy(h), 0, "Destroy -> 0");
}

static void test_rows(vmk_MgmtUserHandle h, struct recorder *r) {
  vmk_MgmtInstances inst;
  memset(&inst, 0xaa, sizeof inst);
  EQ(vmk_MgmtUserGetInstances(h, &inst), 0, "GetInstances -> 0");
  EQ(inst.numInstances, 4, "four instances");
  char names[128] = "";
  for (int i = 0; i < inst.numInstances && i < 4; i++) {
    char buf[40];
    snprintf(buf, sizeof buf, "%lu:%s ", inst.instanceIds[i], inst.instanceNames[i].string);
    strcat(names, buf);
  }
  CHECK(strcmp(names, "1:vmnic0 2:vmnic1 3:vmnic2 4:vmnic3 ") == 0, "instances are 1..4 vmnic0..vmnic3 (%s)", names);
  EQ(vmk_MgmtUserGetInstances(h, NULL), EINVAL, "GetInstances(NULL) -> EINVAL");
  EQ(vmk_MgmtUserGetInstances(NULL, &inst), EINVAL, "GetInstances on NULL handle -> EINVAL");

  /* 16 getStats */
  NicStats st;
  memset(&st, 0xff, sizeof st);
  EQ(vmk_MgmtUserCallbackInvoke(h, 2, CB_GETSTATS, &st), 0, "getStats -> 0");
  CHECK(st.mtu == 1500 && st.linkUp == 1 && strcmp(st.driver, "acme-nic") == 0,
        "getStats: mtu 1500, link up, driver acme-nic (mtu %u link %u driver %.31s)", st.mtu, st.linkUp, st.driver);
  NicStats st2;
  usleep(20000);
  vmk_MgmtUserCallbackInvoke(h, 2, CB_GETSTATS, &st2);
  CHECK(st2.rxPackets > st.rxPackets && st2.txBytes > st.txBytes, "counters grow while the link is up");

  /* 17 setMtu */
  vmk_uint32 mtu = 9000;
  int status = -1;
  EQ(vmk_MgmtUserCallbackInvoke(h, 2, CB_SETMTU, &mtu, &status), 0, "setMtu 9000 -> 0");
  EQ(status, 0, "setMtu 9000: status 0");
  vmk_MgmtUserCallbackInvoke(h, 2, CB_GETSTATS, &st);
  EQ(st.mtu, 9000, "getStats shows mtu 9000");
  mtu = 67;
  vmk_MgmtUserCallbackInvoke(h, 2, CB_SETMTU, &mtu, &status);
  EQ(status, 22, "setMtu 67: status 22");
  mtu = 9001;
  vmk_MgmtUserCallbackInvoke(h, 2, CB_SETMTU, &mtu, &status);
  EQ(status, 22, "setMtu 9001: status 22");
  vmk_MgmtUserCallbackInvoke(h, 2, CB_GETSTATS, &st);
  EQ(st.mtu, 9000, "rejected MTUs change nothing");
  mtu = 68;
  vmk_MgmtUserCallbackInvoke(h, 2, CB_SETMTU, &mtu, &status);
  EQ(status, 0, "setMtu 68 (lower bound): status 0");
  mtu = 1500;
  vmk_MgmtUserCallbackInvoke(h, 2, CB_SETMTU, &mtu, &status);

  /* 19 flashFirmware */
  vmk_uint8 image[] = "123456789";
  vmk_MgmtVectorParm v = {9, image};
  vmk_uint32 crc = 0;
  EQ(vmk_MgmtUserCallbackInvoke(h, 1, CB_FLASH, &v, &crc), 0, "flashFirmware -> 0");
  CHECK(crc == 0xcbf43926u, "flashFirmware: CRC-32 of \"123456789\" is cbf43926 (got %08x)", crc);
  vmk_uint8 *big = malloc(1 << 20);
  for (int i = 0; i < (1 << 20); i++) big[i] = (vmk_uint8)(i * 7);
  vmk_MgmtVectorParm bv = {1 << 20, big};
  EQ(vmk_MgmtUserCallbackInvoke(h, 1, CB_FLASH, &bv, &crc), 0, "flashFirmware 1 MiB -> 0");
  CHECK(crc == crc32(big, 1 << 20), "flashFirmware 1 MiB: the CRC-32 of every byte (%08x)", crc);
  free(big);

  /* 20 readLog */
  char logbuf[4096];
  memset(logbuf, 0, sizeof logbuf);
  vmk_MgmtVectorParm lv = {sizeof logbuf, logbuf};
  vmk_uint32 loglen = 0;
  EQ(vmk_MgmtUserCallbackInvoke(h, 1, CB_READLOG, &lv, &loglen), 0, "readLog -> 0");
  CHECK(loglen > 0 && loglen <= sizeof logbuf && strstr(logbuf, "vmnic0: acme-nic driver") == logbuf,
        "readLog: log starts with the boot lines (%u bytes)", loglen);
  char small[10];
  vmk_MgmtVectorParm sv = {sizeof small, small};
  vmk_MgmtUserCallbackInvoke(h, 1, CB_READLOG, &sv, &loglen);
  EQ(loglen, 10, "readLog fills at most the buffer length");

  /* 21 echo */
  EchoMsg m;
  m.seq = 41;
  for (int i = 0; i < 56; i++) m.payload[i] = (vmk_uint8)(i + 1);
  EQ(vmk_MgmtUserCallbackInvoke(h, 3, CB_ECHO, &m), 0, "echo -> 0");
  int same = 1;
  for (int i = 0; i < 56; i++) same &= m.payload[i] == (vmk_uint8)(i + 1);
  CHECK(m.seq == 42 && same, "echo: seq+1, payload unchanged (seq %lu)", m.seq);

  /* 22 triggerEvents + 32 linkEvent (monitor begun) */
  EQ(vmk_MgmtUserBegin(h), 0, "Begin -> 0");
  EQ(vmk_MgmtUserBegin(h), EEXIST, "second Begin -> EEXIST");
  int before = links(r);
  vmk_uint32 n = 5;
  EQ(vmk_MgmtUserCallbackInvoke(h, 4, CB_TRIGGER, &n), 0, "triggerEvents 5 -> 0");
  EQ(wait_links(r, before + 5, 3000) - before, 5, "five linkEvent callbacks arrive");
  CHECK(r->lastInstance == 4, "linkEvent carries the instance id (%lu)", r->lastInstance);
  CHECK(r->cookie == (vmk_uint64)(uintptr_t)r, "linkEvent carries the Init cookie");

  /* 18 reset: down then up */
  int downs = r->downs, ups = r->ups;
  before = links(r);
  EQ(vmk_MgmtUserCallbackInvoke(h, 1, CB_RESET), 0, "reset (async) -> 0 (queued)");
  wait_links(r, before + 2, 3000);
  CHECK(r->downs == downs + 1 && r->ups == ups + 1, "reset: one link-down and one link-up event");
  usleep(100000);
  pthread_mutex_lock(&r->lock);
  int logs = r->logs;
  pthread_mutex_unlock(&r->lock);
  CHECK(logs > 0, "33 logEvent callbacks arrive (%d)", logs);
  pthread_mutex_lock(&r->lock);
  int misaligned = r->misaligned;
  pthread_mutex_unlock(&r->lock);
  EQ(misaligned, 0, "every callback parameter is aligned for any type (its own buffer)");
  EQ(vmk_MgmtUserEnd(h), 0, "End -> 0");
  EQ(vmk_MgmtUserEnd(h), EINVAL, "End when not begun -> EINVAL");
  EQ(vmk_MgmtUserContinue(h), EINVAL, "Continue when not begun -> EINVAL");
}

static void test_invoke_errors(vmk_MgmtUserHandle h) {
  NicStats st;
  vmk_uint32 mtu = 1500;
  int status;
  EQ(vmk_MgmtUserCallbackInvoke(h, 99, CB_GETSTATS, &st), ENOENT, "unknown instance -> ENOENT");
  EQ(vmk_MgmtUserCallbackInvoke(h, 1, 99, &st), ENOENT, "unknown callback id -> ENOENT");
  EQ(vmk_MgmtUserCallbackInvoke(h, 1, CB_GETSTATS), EINVAL, "too few arguments -> EINVAL");
  EQ(vmk_MgmtUserCallbackInvoke(h, 1, CB_SETMTU, &mtu, &status, &st), EINVAL, "too many arguments -> EINVAL");
  LinkState ls = {1, 1};
  EQ(vmk_MgmtUserCallbackInvoke(h, 1, CB_LINK, &ls), EINVAL, "invoking a user-location callback -> EINVAL");
  vmk_uint8 b = 0;
  vmk_MgmtVectorParm empty = {0, &b};
  vmk_uint32 crc;
  EQ(vmk_MgmtUserCallbackInvoke(h, 1, CB_FLASH, &empty, &crc), EINVAL, "vector of length 0 -> EINVAL");
  /* Vector-outs whose reply could not fit in a frame: EINVAL for that call only (not a lost connection). */
  static const vmk_ByteCount near_limit[] = {67108865, 67112933, 67112960, 1ull << 27};
  vmk_uint32 got = 0;
  for (size_t i = 0; i < sizeof near_limit / sizeof near_limit[0]; i++) {
    vmk_MgmtVectorParm big = {near_limit[i], &b}; /* never read: refused before anything is sent */
    EQ(vmk_MgmtUserCallbackInvoke(h, 1, CB_READLOG, &big, &got), EINVAL, "vector-out past the frame limit -> EINVAL");
  }
  EQ(vmk_MgmtUserCallbackInvoke(h, 1, CB_GETSTATS, &st), 0, "the handle still works after those -> 0");
  EQ(vmk_MgmtUserCallbackInvoke(NULL, 1, CB_GETSTATS, &st), EINVAL, "invoke on NULL handle -> EINVAL");
  EQ(vmk_MgmtUserCallbackInvoke(h, 1, CB_GETSTATS, NULL), EINVAL, "NULL parameter pointer -> EINVAL");
  EchoMsg noinst = {7, {0}};
  EQ(vmk_MgmtUserCallbackInvoke(h, VMK_MGMT_NO_INSTANCE_ID, CB_ECHO, &noinst), 0,
     "no-instance invoke reaches the default callback -> 0");
  EQ(vmk_MgmtUserBegin(NULL), EINVAL, "Begin on NULL handle -> EINVAL");
  EQ(vmk_MgmtUserEnd(NULL), EINVAL, "End on NULL handle -> EINVAL");
  EQ(vmk_MgmtUserContinue(NULL), EINVAL, "Continue on NULL handle -> EINVAL");
  EQ(vmk_MgmtUserDestroy(NULL), EINVAL, "Destroy on NULL handle -> EINVAL");

  /* A signature whose sizes differ from the kernel's: setMtu with a u16 mtu. */
  vmk_MgmtApiSignature sig;
  make_signature(&sig);
  callbacks[1].parmSizes[0] = 2;
  vmk_MgmtUserHandle h2;
  struct recorder r;
  rec_init(&r);
  int rc = init_with(&sig, &r, &h2);
  EQ(rc, 0, "a signature with a different callback table still inits");
  if (rc == 0) {
    vmk_uint16 small = 1500;
    EQ(vmk_MgmtUserCallbackInvoke(h2, 1, CB_SETMTU, &small, &status), EINVAL, "fixed size differs from kernel -> EINVAL");
    vmk_MgmtUserDestroy(h2);
  }
  /* Directions belong to the kernel (as on ESXi): a table whose directions differ but whose count
   * and sizes agree still works, and the kernel copies in and out what its own table says. */
  make_signature(&sig);
  callbacks[1].parmTypes[1] = VMK_MGMT_PARMTYPE_INOUT; /* setMtu's OUT status marked INOUT */
  callbacks[5].parmTypes[0] = VMK_MGMT_PARMTYPE_OUT;   /* echo's INOUT message marked OUT */
  rc = init_with(&sig, &r, &h2);
  EQ(rc, 0, "a signature with other directions inits");
  if (rc == 0) {
    status = -1;
    mtu = 1500;
    EQ(vmk_MgmtUserCallbackInvoke(h2, 1, CB_SETMTU, &mtu, &status), 0, "setMtu with status marked INOUT -> 0");
    EQ(status, 0, "the kernel still writes the status back");
    EchoMsg m = {41, {0}};
    m.payload[0] = 0xab;
    EQ(vmk_MgmtUserCallbackInvoke(h2, 1, CB_ECHO, &m), 0, "echo with its INOUT message marked OUT -> 0");
    CHECK(m.seq == 42 && m.payload[0] == 0xab, "the kernel read the caller's buffer anyway (seq %lu)",
          (unsigned long)m.seq);
    vmk_MgmtUserDestroy(h2);
  }
  /* A vector stays a vector: passing a fixed-size parameter where the kernel has a vector is an
   * error, since the pointer means something else. */
  make_signature(&sig);
  callbacks[3].parmTypes[0] = VMK_MGMT_PARMTYPE_IN; /* flashFirmware's VECTOR_IN image as a fixed IN */
  callbacks[3].parmSizes[0] = 1;
  rc = init_with(&sig, &r, &h2);
  if (rc == 0) {
    vmk_uint8 byte = 1;
    vmk_uint32 crc = 0;
    EQ(vmk_MgmtUserCallbackInvoke(h2, 1, CB_FLASH, &byte, &crc), EINVAL, "a fixed parameter for a kernel vector -> EINVAL");
    vmk_MgmtUserDestroy(h2);
  }
  make_signature(&sig);
}

static void test_queue_before_begin(vmk_MgmtUserHandle h, struct recorder *r) {
  int before = links(r);
  vmk_uint32 n = 3;
  vmk_MgmtUserCallbackInvoke(h, 1, CB_TRIGGER, &n);
  usleep(100000);
  EQ(links(r) - before, 0, "events sent before Begin are not delivered yet");
  EQ(vmk_MgmtUserBegin(h), 0, "Begin again after End -> 0");
  EQ(wait_links(r, before + 3, 3000) - before, 3, "queued events arrive after Begin");
  EQ(vmk_MgmtUserEnd(h), 0, "End");
  before = links(r);
  vmk_MgmtUserCallbackInvoke(h, 1, CB_TRIGGER, &n);
  usleep(150000);
  EQ(links(r) - before, 0, "no user callback runs after End returned");
  vmk_MgmtUserBegin(h);
  EQ(wait_links(r, before + 3, 3000) - before, 3, "...and those events are kept for the next Begin");
  vmk_MgmtUserEnd(h);
}

struct ctx {
  vmk_MgmtUserHandle h;
  int rc;
  int errors;
};

static void *end_later(void *arg) {
  struct ctx *c = arg;
  usleep(100000);
  c->rc = vmk_MgmtUserEnd(c->h);
  return NULL;
}

static void test_continue(vmk_MgmtUserHandle h) {
  EQ(vmk_MgmtUserBegin(h), 0, "Begin for Continue");
  struct ctx c = {h, -1, 0};
  pthread_t t;
  pthread_create(&t, NULL, end_later, &c);
  EQ(vmk_MgmtUserContinue(h), 0, "Continue blocks until End from another thread, then -> 0");
  pthread_join(t, NULL);
  EQ(c.rc, 0, "End from another thread -> 0");
}

static void test_reply_during_callback(vmk_MgmtUserHandle h, struct recorder *r) {
  vmk_MgmtUserBegin(h);
  pthread_mutex_lock(&r->lock);
  r->block = 1;
  pthread_mutex_unlock(&r->lock);
  vmk_uint32 n = 1;
  vmk_MgmtUserCallbackInvoke(h, 1, CB_TRIGGER, &n);
  pthread_mutex_lock(&r->lock);
  while (!r->inside) pthread_cond_wait(&r->cond, &r->lock);
  pthread_mutex_unlock(&r->lock);
  /* The monitor thread is now parked inside on_link; a sync call must still get its reply. */
  EchoMsg m = {100, {0}};
  EQ(vmk_MgmtUserCallbackInvoke(h, 1, CB_ECHO, &m), 0, "sync invoke while the monitor waits inside a callback -> 0");
  EQ(m.seq, 101, "...and its reply arrived");
  pthread_mutex_lock(&r->lock);
  r->block = 0;
  pthread_cond_broadcast(&r->cond);
  pthread_mutex_unlock(&r->lock);
  EQ(vmk_MgmtUserEnd(h), 0, "End after the callback returned");
}

static void *hammer(void *arg) {
  struct ctx *c = arg;
  for (int i = 0; i < 300; i++) {
    EchoMsg m = {(vmk_uint64)i * 2, {0}};
    m.payload[0] = (vmk_uint8)i;
    if (vmk_MgmtUserCallbackInvoke(c->h, 1 + (i % 4), CB_ECHO, &m) != 0 || m.seq != (vmk_uint64)i * 2 + 1 ||
        m.payload[0] != (vmk_uint8)i)
      c->errors++;
  }
  return NULL;
}

static void test_concurrency(vmk_MgmtUserHandle h) {
  vmk_MgmtApiSignature sig;
  make_signature(&sig);
  vmk_MgmtUserHandle h2;
  struct recorder r2;
  rec_init(&r2);
  EQ(init_with(&sig, &r2, &h2), 0, "a second handle in the same process");
  struct ctx c[6];
  pthread_t t[6];
  for (int i = 0; i < 6; i++) {
    c[i] = (struct ctx){i < 4 ? h : h2, 0, 0};
    pthread_create(&t[i], NULL, hammer, &c[i]);
  }
  int errors = 0;
  for (int i = 0; i < 6; i++) {
    pthread_join(t[i], NULL);
    errors += c[i].errors;
  }
  EQ(errors, 0, "4 threads on one handle and 2 on another: 1800 echo calls, all correct");

  /* Events to one session only vs. to all sessions. */
  vmk_MgmtUserBegin(h2);
  int before2 = links(&r2);
  vmk_uint32 n = 2;
  vmk_MgmtUserCallbackInvoke(h, 1, CB_TRIGGER, &n);
  usleep(150000);
  EQ(links(&r2) - before2, 0, "triggerEvents on one handle sends nothing to the other");
  vmk_MgmtUserCallbackInvoke(h, 1, CB_RESET);
  EQ(wait_links(&r2, before2 + 2, 3000) - before2, 2, "reset on one handle reaches the other session too");
  EQ(vmk_MgmtUserDestroy(h2), 0, "Destroy while begun -> 0 (ends delivery)");
}

static int run_all(void) {
  test_init_errors();
  vmk_MgmtApiSignature sig;
  make_signature(&sig);
  struct recorder r;
  rec_init(&r);
  vmk_MgmtUserHandle h;
  int rc = init_with(&sig, &r, &h);
  EQ(rc, 0, "Init acmeNicMgmt 1.0.0.0 -> 0");
  if (rc != 0) return failures;
  test_rows(h, &r);
  test_invoke_errors(h);
  test_queue_before_begin(h, &r);
  test_continue(h);
  test_reply_during_callback(h, &r);
  test_concurrency(h);
  EQ(vmk_MgmtUserDestroy(h), 0, "Destroy -> 0");
  printf("%d passed, %d failed\n", count - failures, failures);
  return failures;
}

/* The harness stalls instance 1 and kills the simulator once "ready" is printed. */
static int run_die(void) {
  vmk_MgmtApiSignature sig;
  make_signature(&sig);
  struct recorder r;
  rec_init(&r);
  vmk_MgmtUserHandle h;
  int rc = init_with(&sig, &r, &h);
  EQ(rc, 0, "Init");
  if (rc != 0) return 1;
  EQ(vmk_MgmtUserBegin(h), 0, "Begin");
  printf("ready\n");
  fflush(stdout);
  EchoMsg m = {1, {0}};
  EQ(vmk_MgmtUserCallbackInvoke(h, 1, CB_ECHO, &m), EIO, "a call waiting when the simulator dies -> EIO");
  vmk_MgmtInstances inst;
  EQ(vmk_MgmtUserGetInstances(h, &inst), EIO, "later calls -> EIO");
  EQ(vmk_MgmtUserCallbackInvoke(h, 1, CB_ECHO, &m), EIO, "later invokes -> EIO");
  EQ(vmk_MgmtUserContinue(h), EIO, "Continue on a dead connection -> EIO");
  EQ(vmk_MgmtUserDestroy(h), 0, "Destroy cleans up -> 0");
  vmk_MgmtUserHandle h2;
  EQ(init_with(&sig, &r, &h2), EIO, "Init with no simulator -> EIO");
  printf("%d passed, %d failed\n", count - failures, failures);
  return failures;
}

/* For the soak's kill latency: each waiting call prints when it returned (CLOCK_REALTIME, µs). */
static void *stalled_call(void *arg) {
  vmk_MgmtUserHandle h = arg;
  EchoMsg m = {1, {0}};
  int rc = vmk_MgmtUserCallbackInvoke(h, 1, CB_ECHO, &m);
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  printf("returned %d %lld\n", rc, (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
  return NULL;
}

/* `stalled N`: N calls wait in the kernel (the harness stalls them and kills it); then later calls. */
static int run_stalled(int n) {
  vmk_MgmtApiSignature sig;
  make_signature(&sig);
  struct recorder r;
  rec_init(&r);
  vmk_MgmtUserHandle h;
  if (init_with(&sig, &r, &h) != 0 || n < 1 || n > 1024) return 2;
  pthread_t *threads = calloc((size_t)n, sizeof *threads);
  int started = 0;
  if (threads) {
    for (; started < n; started++) {
      if (pthread_create(&threads[started], NULL, stalled_call, h) != 0) break;
    }
  }
  printf("ready %d\n", started);
  for (int i = 0; i < started; i++) pthread_join(threads[i], NULL);
  free(threads);
  EchoMsg m = {1, {0}};
  printf("later %d\n", vmk_MgmtUserCallbackInvoke(h, 1, CB_ECHO, &m));
  printf("destroy %d\n", vmk_MgmtUserDestroy(h));
  return started == n ? 0 : 1;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc > 1 && strcmp(argv[1], "die") == 0) return run_die();
  if (argc > 2 && strcmp(argv[1], "stalled") == 0) return run_stalled(atoi(argv[2]));
  return run_all() ? 1 : 0;
}
