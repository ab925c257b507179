/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_replies -- libFuzzer harness for the library's reply and event parsing: a fake kernel
 * (a thread in this process, on a socket in a private directory) answers HELLO properly, then
 * answers the library's first request with frames built from the input, and hangs up. The
 * library's own sources are compiled in, so coverage guides the fuzzer through them.
 *
 * Input: byte 0 picks the request (four invoke shapes or GetInstances); the rest is a script of
 * records, each one frame the kernel writes:
 *   0xFF, u16 n, n bytes            n raw bytes (headers of any shape)
 *   sel, [u32 id,] u16 n, n bytes   a well-formed header of type sel & 0x0F, the id of the pending
 *                                   request when sel & 0x80 (else the u32 given), then n bytes
 * Delivery is begun first, so EVENT frames reach user callbacks, which read every byte they get.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <pthread.h>

#include "vmkmgmt.h"
#include "wire.h"

static int listener = -1;

static int read_all(int fd, uint8_t *p, size_t n) {
  while (n > 0) {
    ssize_t r = recv(fd, p, n, 0);
    if (r < 0 && errno == EINTR) continue; /* libFuzzer's -timeout alarm */
    if (r <= 0) return -1;
    p += r;
    n -= (size_t)r;
  }
  return 0;
}

static void write_all(int fd, const uint8_t *p, size_t n) {
  while (n > 0) {
    ssize_t r = send(fd, p, n, MSG_NOSIGNAL);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return;
    p += r;
    n -= (size_t)r;
  }
}

/* Reads one frame from the library; its id, or -1 when the connection ended. */
static int64_t read_request(int fd) {
  uint8_t hdr[WIRE_HEADER_SIZE];
  uint16_t type;
  uint32_t id, len;
  if (read_all(fd, hdr, sizeof hdr) != 0 || wire_get_header(hdr, &type, &id, &len) != 0) return -1;
  uint8_t *payload = malloc(len ? len : 1);
  int rc = payload ? read_all(fd, payload, len) : -1;
  free(payload);
  return rc == 0 ? (int64_t)id : -1;
}

struct script {
  const uint8_t *p;
  size_t n;
};

static size_t take(struct script *s, void *out, size_t want) {
  size_t k = want < s->n ? want : s->n;
  memcpy(out, s->p, k);
  s->p += k;
  s->n -= k;
  return k;
}

static void play(int fd, struct script *s, uint32_t request) {
  while (s->n > 0) {
    uint8_t sel = 0;
    take(s, &sel, 1);
    uint32_t id = request;
    uint16_t n = 0;
    if (sel != 0xFF && !(sel & 0x80)) take(s, &id, 4);
    take(s, &n, 2);
    if (n > s->n) n = (uint16_t)s->n;
    if (sel != 0xFF) {
      uint8_t hdr[WIRE_HEADER_SIZE];
      wire_put_header(hdr, sel & 0x0F, id, n);
      write_all(fd, hdr, sizeof hdr);
    }
    write_all(fd, s->p, n);
    s->p += n;
    s->n -= n;
  }
}

static void *kernel_main(void *arg) {
  struct script *s = arg;
  int fd;
  do fd = accept(listener, NULL, NULL);
  while (fd < 0 && errno == EINTR);
  if (fd < 0) return NULL;
  int64_t hello = read_request(fd);
  if (hello >= 0) {
    uint8_t reply[WIRE_HEADER_SIZE + WIRE_HELLO_REPLY_SIZE] = {0};
    wire_put_header(reply, WIRE_HELLO_REPLY, (uint32_t)hello, WIRE_HELLO_REPLY_SIZE);
    wire_put_u64(reply + WIRE_HEADER_SIZE + WIRE_HELLO_REPLY_SESSION, 1);
    write_all(fd, reply, sizeof reply);
    int64_t request = read_request(fd);
    if (request >= 0) play(fd, s, (uint32_t)request);
  }
  shutdown(fd, SHUT_WR);
  while (read_request(fd) >= 0) { /* acknowledgements, until the library hangs up */ }
  close(fd);
  return NULL;
}

static volatile uint64_t sink; /* what callbacks read, so the reads cannot be optimised away */

static void touch(const void *p, size_t n) {
  const uint8_t *b = p;
  for (size_t i = 0; i < n; i++) sink += b[i];
}

static void on_link(vmk_uint64 cookie, vmk_uint64 instance, void *state) {
  (void)cookie;
  touch(&instance, sizeof instance);
  touch(state, 8);
}

static void on_log(vmk_uint64 cookie, vmk_uint64 instance, vmk_MgmtVectorParm *text) {
  (void)cookie;
  (void)instance;
  touch(text->dataPtr, text->length);
}

static void on_two(vmk_uint64 cookie, vmk_uint64 instance, void *code, vmk_MgmtVectorParm *pairs) {
  (void)cookie;
  (void)instance;
  touch(code, 4);
  touch(pairs->dataPtr, pairs->length);
}


static vmk_MgmtCallbackInfo callbacks[7];
static vmk_MgmtApiSignature sig;

static void make_signature(void) {
  vmk_MgmtCallbackInfo c[] = {
      {VMK_MGMT_CALLBACK_KERNEL, NULL, 1, 1, {72}, {VMK_MGMT_PARMTYPE_OUT}, 16},
      {VMK_MGMT_CALLBACK_KERNEL, NULL, 1, 2, {4, 4}, {VMK_MGMT_PARMTYPE_IN, VMK_MGMT_PARMTYPE_OUT}, 17},
      {VMK_MGMT_CALLBACK_KERNEL, NULL, 1, 2, {1, 4}, {VMK_MGMT_PARMTYPE_VECTOR_OUT, VMK_MGMT_PARMTYPE_OUT}, 18},
      {VMK_MGMT_CALLBACK_KERNEL, NULL, 1, 1, {64}, {VMK_MGMT_PARMTYPE_INOUT}, 19},
      {VMK_MGMT_CALLBACK_USER, (void *)on_link, 0, 1, {8}, {VMK_MGMT_PARMTYPE_IN}, 32},
      {VMK_MGMT_CALLBACK_USER, (void *)on_log, 0, 1, {1}, {VMK_MGMT_PARMTYPE_VECTOR_IN}, 33},
      {VMK_MGMT_CALLBACK_USER, (void *)on_two, 0, 2, {4, 2}, {VMK_MGMT_PARMTYPE_IN, VMK_MGMT_PARMTYPE_VECTOR_IN}, 34},
  };
  memcpy(callbacks, c, sizeof c);
  memset(&sig, 0, sizeof sig);
  sig.version = VMK_REVISION_FROM_NUMBERS(1, 0, 0, 0);
  strcpy(sig.name.string, "fuzzMgmt");
  strcpy(sig.vendor.string, "fuzz");
  sig.numCallbacks = 7;
  sig.callbacks = callbacks;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  static char dir[] = "/tmp/vmkmgmt-fuzz-XXXXXX";
  if (!mkdtemp(dir)) abort();
  static char path[sizeof dir + 16];
  snprintf(path, sizeof path, "%s/sim.sock", dir);
  setenv(WIRE_SOCKET_ENV, path, 1);
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path);
  listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listener < 0 || bind(listener, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(listener, 4) != 0) abort();
  make_signature();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  struct script s = {data + 1, size - 1};
  pthread_t kernel;
  if (pthread_create(&kernel, NULL, kernel_main, &s) != 0) abort();
  vmk_MgmtUserHandle h;
  if (vmk_MgmtUserInit(&sig, 7, &h) == 0) {
    vmk_MgmtUserBegin(h);
    uint8_t stats[72], in4[4] = {1, 2, 3, 4}, out4[4], log[256], echo[64] = {0};
    vmk_MgmtVectorParm vec = {sizeof log, log};
    vmk_MgmtInstances inst;
    switch (data[0] % 5) {
      case 0: vmk_MgmtUserCallbackInvoke(h, 1, 16, stats); break;
      case 1: vmk_MgmtUserCallbackInvoke(h, 1, 17, in4, out4); break;
      case 2: vmk_MgmtUserCallbackInvoke(h, 1, 18, &vec, out4); break;
      case 3: vmk_MgmtUserCallbackInvoke(h, 2, 19, echo); break;
      default: vmk_MgmtUserGetInstances(h, &inst); break;
    }
    vmk_MgmtUserEnd(h);
    vmk_MgmtUserDestroy(h);
  }
  pthread_join(kernel, NULL);
  return 0;
}
