/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nvme_client -- drives the NVMe-like demo driver as a vendor's C tool would, from the public
 * header only: the global API lists adapters; each adapter's API (named by the kernel) is opened by
 * that name; identify fills a 4 KiB buffer behind a pointer in a packed request; firmware is read
 * from a buffer behind a pointer; a bad pointer comes back as the driver's status; admin commands
 * with bitfields and a union move data through a user pointer. Prints TAP-like lines.
 *
 * Usage: nvme_client          (the adapters present)
 *        nvme_client expect N (fails unless N adapters are listed)
 *        nvme_client plain    (vmk_MgmtUserInit only, as a tool built for ESXi's library alone:
 *                              it never says where its pointer members are)
 */
#define _GNU_SOURCE /* RTLD_DEFAULT */
#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmkmgmt.h"
#include "test/crc32.h"

static int passed, failed;
#define CHECK(cond, ...)                 \
  do {                                   \
    if (cond) {                          \
      passed++;                          \
      printf("ok - ");                   \
    } else {                             \
      failed++;                          \
      printf("not ok - ");               \
    }                                    \
    printf(__VA_ARGS__);                 \
    printf("\n");                        \
  } while (0)

/* The driver's shared header, as a vendor would write it: every payload packed. */
typedef struct {
  char name[32]; /* the adapter's API name, chosen by the kernel */
  char pci[16];
  char model[16]; /* strncpy'd: may be full */
  vmk_uint32 namespaces;
  vmk_uint8 state;
  vmk_uint16 sessions;
} __attribute__((packed)) AdapterInfo;

typedef struct {
  vmk_uint8 cns;
  vmk_uint32 nsid;
  vmk_uint64 page; /* user address of a 4 KiB buffer the kernel fills */
  int32_t status;
} __attribute__((packed)) IdentifyRequest;

typedef struct {
  vmk_uint64 image; /* user address of the image the kernel reads */
  vmk_uint32 size;
  vmk_uint32 crc;
  int32_t status;
} __attribute__((packed)) FirmwareRequest;

typedef struct {
  vmk_uint32 opcode : 8, : 8, cid : 16;
  vmk_uint32 nsid;
  union {
    vmk_uint32 raw;
    struct {
      vmk_uint32 lid : 8, : 8, numDwords : 16;
    } getLogPage;
    struct {
      vmk_uint32 featureID : 8, sel : 3, : 21;
    } getFeatures;
  } cdw10;
  vmk_uint64 data; /* user address of the data buffer */
  vmk_uint32 dataLength;
  vmk_uint32 result;
  vmk_uint8 sc : 8;
  vmk_uint8 dnr : 1;
} __attribute__((packed)) NvmeCommand;

_Static_assert(sizeof(AdapterInfo) == 71, "AdapterInfo");
_Static_assert(sizeof(IdentifyRequest) == 17, "IdentifyRequest");
_Static_assert(sizeof(FirmwareRequest) == 20, "FirmwareRequest");
_Static_assert(sizeof(NvmeCommand) == 30, "NvmeCommand");

enum { CB_LIST = 16 };
enum { CB_PASSTHRU = 16, CB_IDENTIFY, CB_FIRMWARE };

static void kernel_callback(vmk_MgmtCallbackInfo *c, vmk_uint64 id, vmk_uint32 size, vmk_MgmtParmType type) {
  memset(c, 0, sizeof *c);
  c->location = VMK_MGMT_CALLBACK_KERNEL;
  c->synchronous = 1;
  c->numParms = 1;
  c->parmSizes[0] = size;
  c->parmTypes[0] = type;
  c->callbackId = id;
}

/* The pointer members that point to buffers, for a bridge to re-point on a remote host: a tool
 * looks the extension up with dlsym, so it still runs against ESXi's own library. */
static int plain; /* `plain`: vmk_MgmtUserInit only */
static const vmkmgmt_BufferField BUFFERS[] = {
    {.callbackId = CB_PASSTHRU, .offset = offsetof(NvmeCommand, data), .direction = VMKMGMT_BUFFER_INOUT,
     .lengthOffset = offsetof(NvmeCommand, dataLength), .lengthSize = 4},
    {.callbackId = CB_IDENTIFY, .offset = offsetof(IdentifyRequest, page), .direction = VMKMGMT_BUFFER_OUT, .length = 4096},
    {.callbackId = CB_FIRMWARE, .offset = offsetof(FirmwareRequest, image), .direction = VMKMGMT_BUFFER_IN,
     .lengthOffset = offsetof(FirmwareRequest, size), .lengthSize = 4},
};

static int open_api(const char *name, vmk_MgmtCallbackInfo *cbs, int n, vmk_MgmtUserHandle *h) {
  vmk_MgmtApiSignature sig;
  memset(&sig, 0, sizeof sig);
  sig.version = VMK_REVISION_FROM_NUMBERS(1, 0, 0, 1007);
  memcpy(sig.name.string, name, strnlen(name, sizeof sig.name.string - 1)); /* stays NUL-terminated */
  strcpy(sig.vendor.string, "acme");
  sig.numCallbacks = n;
  sig.callbacks = cbs;
  int (*init_with)(vmk_MgmtApiSignature *, vmk_uint64, const vmkmgmt_InitOptions *, vmk_MgmtUserHandle *);
  *(void **)&init_with = dlsym(RTLD_DEFAULT, "vmkmgmt_UserInitWith");
  if (plain || !init_with || strcmp(name, "acmeNvmeMgmt") == 0) return vmk_MgmtUserInit(&sig, 0, h);
  vmkmgmt_InitOptions o = {.buffers = BUFFERS, .numBuffers = sizeof BUFFERS / sizeof *BUFFERS};
  return init_with(&sig, 0, &o, h);
}

static void adapter(const char *name) {
  vmk_MgmtCallbackInfo cbs[3];
  kernel_callback(&cbs[0], CB_PASSTHRU, sizeof(NvmeCommand), VMK_MGMT_PARMTYPE_INOUT);
  kernel_callback(&cbs[1], CB_IDENTIFY, sizeof(IdentifyRequest), VMK_MGMT_PARMTYPE_INOUT);
  kernel_callback(&cbs[2], CB_FIRMWARE, sizeof(FirmwareRequest), VMK_MGMT_PARMTYPE_INOUT);
  vmk_MgmtUserHandle h;
  int rc = open_api(name, cbs, 3, &h);
  CHECK(rc == 0, "Init %s -> 0 (%d)", name, rc);
  if (rc != 0) return;

  vmk_uint8 *page = calloc(1, 4096);
  IdentifyRequest id = {.cns = 1, .page = (vmk_uint64)(uintptr_t)page, .status = 1};
  rc = vmk_MgmtUserCallbackInvoke(h, VMK_MGMT_NO_INSTANCE_ID, CB_IDENTIFY, &id);
  CHECK(rc == 0 && id.status == 0, "identify -> 0, status 0 (%d, %d)", rc, id.status);
  CHECK(memcmp(page + 24, "ACME NVMe 7450 PRO", 18) == 0, "the kernel wrote the model into the page");
  printf("# %s model %.40s serial %.20s firmware %.8s\n", name, page + 24, page + 4, page + 64);

  IdentifyRequest bad = {.cns = 1, .page = 16, .status = 1};
  rc = vmk_MgmtUserCallbackInvoke(h, VMK_MGMT_NO_INSTANCE_ID, CB_IDENTIFY, &bad);
  CHECK(rc == 0 && bad.status == -EFAULT, "a bad page pointer -> the driver's status -EFAULT (%d)", bad.status);

  size_t n = 100000;
  vmk_uint8 *image = malloc(n);
  for (size_t i = 0; i < n; i++) image[i] = (vmk_uint8)(i * 13);
  memcpy(image, "3.0.7\0\0\0", 8);
  FirmwareRequest fw = {.image = (vmk_uint64)(uintptr_t)image, .size = (vmk_uint32)n, .status = 1};
  rc = vmk_MgmtUserCallbackInvoke(h, VMK_MGMT_NO_INSTANCE_ID, CB_FIRMWARE, &fw);
  CHECK(rc == 0 && fw.status == 0 && fw.crc == crc32(image, n), "firmware read from the caller's buffer (crc %08x)",
        fw.crc);

  vmk_uint8 *log = calloc(1, 512);
  NvmeCommand cmd;
  memset(&cmd, 0, sizeof cmd);
  cmd.opcode = 2;
  cmd.cid = 9;
  cmd.cdw10.getLogPage.lid = 2;
  cmd.cdw10.getLogPage.numDwords = 127;
  cmd.data = (vmk_uint64)(uintptr_t)log;
  cmd.dataLength = 512;
  rc = vmk_MgmtUserCallbackInvoke(h, VMK_MGMT_NO_INSTANCE_ID, CB_PASSTHRU, &cmd);
  CHECK(rc == 0 && cmd.sc == 0 && cmd.cid == 9 && log[1] == 0x3a, "get log page through the data pointer (sc %u)",
        cmd.sc);
  memset(&cmd, 0, sizeof cmd);
  cmd.opcode = 10;
  cmd.cdw10.getFeatures.featureID = 7;
  rc = vmk_MgmtUserCallbackInvoke(h, VMK_MGMT_NO_INSTANCE_ID, CB_PASSTHRU, &cmd);
  CHECK(rc == 0 && cmd.sc == 0 && cmd.result == 0x001f001f, "get features: queues (%08x)", cmd.result);
  memset(&cmd, 0, sizeof cmd);
  cmd.opcode = 0x7f;
  rc = vmk_MgmtUserCallbackInvoke(h, VMK_MGMT_NO_INSTANCE_ID, CB_PASSTHRU, &cmd);
  CHECK(rc == 0 && cmd.sc == 1 && cmd.dnr == 1, "an unknown opcode: invalid opcode, do not retry");

  free(log);
  free(image);
  free(page);
  CHECK(vmk_MgmtUserDestroy(h) == 0, "Destroy %s", name);
}

int main(int argc, char **argv) {
  int expect = argc == 3 && strcmp(argv[1], "expect") == 0 ? atoi(argv[2]) : -1;
  plain = argc == 2 && strcmp(argv[1], "plain") == 0;
  vmk_MgmtCallbackInfo list;
  kernel_callback(&list, CB_LIST, sizeof(vmk_uint32), VMK_MGMT_PARMTYPE_OUT);
  list.numParms = 2;
  list.parmSizes[1] = sizeof(AdapterInfo);
  list.parmTypes[1] = VMK_MGMT_PARMTYPE_VECTOR_OUT;
  vmk_MgmtUserHandle h;
  int rc = open_api("acmeNvmeMgmt", &list, 1, &h);
  CHECK(rc == 0, "Init acmeNvmeMgmt -> 0 (%d)", rc);
  if (rc != 0) goto out;
  AdapterInfo adapters[32];
  vmk_uint32 count = 0;
  vmk_MgmtVectorParm vec = {sizeof adapters, adapters};
  rc = vmk_MgmtUserCallbackInvoke(h, VMK_MGMT_NO_INSTANCE_ID, CB_LIST, &count, &vec);
  CHECK(rc == 0 && count > 0 && count <= 32, "listAdapters -> 0 (%d adapters)", (int)count);
  if (expect >= 0) CHECK((int)count == expect, "%d adapters listed, %d expected", (int)count, expect);
  for (vmk_uint32 i = 0; rc == 0 && i < count && i < 32; i++) {
    char name[33] = {0};
    memcpy(name, adapters[i].name, 32);
    adapter(name);
  }
  CHECK(vmk_MgmtUserDestroy(h) == 0, "Destroy acmeNvmeMgmt");
out:
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
