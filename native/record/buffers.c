/* SPDX-License-Identifier: Apache-2.0 */
/*
 * buffers.c -- the bytes behind a parameter's pointer members (an NVMe identify page, a firmware
 * image): which members point at caller buffers, and the plan of one call's buffers.
 *
 * Which members: a client of ours says so itself (vmkmgmt_UserInitWith's options->buffers, the same
 * list a bridge gets); a bridge hands its client's list on (vmkmgmt_RecordBufferFields, just before
 * its Init); any other client's come from $VMKMGMT_RECORD_SIG, a list made from the driver's
 * signature by `deno task trace buffers` (TRACE.md, "Buffer lists"). The recorder does not lay out C
 * types itself: that is the signature's code's job, in one place.
 *
 * What it gives up: a pointer inside a union is not followed (which arm is live is the driver's to
 * know); the address and length are read before the call, so a kernel that moves a buffer during a
 * call is recorded at the address it was given.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../wire.h"
#include "recorder.h"

/* Lines of a list at most (MAX_CALL_BUFFERS, in recorder.h, bounds one call's buffers). */
#define MAX_LIST 65536u
/* Bytes behind the pointers of one call recorded at most; past it, buffers are marked too large. */
#define MAX_CALL_BYTES ((uint64_t)256 << 20)

struct entry {
  char api[VMK_MISC_NAME_MAX + 1];
  int prefix; /* the API name ended in '*': any name that starts with the rest */
  char vendor[VMK_MISC_NAME_MAX + 1];
  vmkmgmt_BufferField field;
};

static struct {
  pthread_once_t once;
  struct entry *entries;
  uint32_t n;
} list = {.once = PTHREAD_ONCE_INIT};

/* The list a bridge handed over for the Init it is about to make on this thread. */
static _Thread_local const vmkmgmt_BufferField *handed;
static _Thread_local uint32_t handed_n;

/* Parses one line's words into `e`; a message for what is wrong, NULL when it is right. */
static const char *parse_line(char *line, struct entry *e) {
  char *words[8];
  int n = 0;
  for (char *save = NULL, *w = strtok_r(line, " \t\r", &save); w; w = strtok_r(NULL, " \t\r", &save)) {
    if (n == 8) return "more than 7 words";
    words[n++] = w;
  }
  if (n != 7) return "expected API VENDOR CALLBACK PARAMETER OFFSET in|out|inout LENGTH|@OFFSET:SIZE";
  size_t alen = strlen(words[0]);
  e->prefix = alen > 0 && words[0][alen - 1] == '*';
  if (e->prefix) words[0][--alen] = 0;
  if (alen > VMK_MISC_NAME_MAX - 1 || strlen(words[1]) > VMK_MISC_NAME_MAX - 1) return "a name longer than 31";
  memcpy(e->api, words[0], alen + 1);
  memcpy(e->vendor, words[1], strlen(words[1]) + 1);
  char *end;
  errno = 0;
  unsigned long long id = strtoull(words[2], &end, 0);
  if (errno || *end || words[2][0] == '-') return "CALLBACK is not a number";
  unsigned long parm = strtoul(words[3], &end, 10);
  if (*end || parm >= VMK_MGMT_MAX_CALLBACK_PARMS) return "PARAMETER is not 0..3";
  unsigned long offset = strtoul(words[4], &end, 10);
  if (*end || words[4][0] == '-' || offset > WIRE_MAX_VECTOR) return "OFFSET is not a byte offset";
  uint32_t dir = strcmp(words[5], "in") == 0      ? VMKMGMT_BUFFER_IN
                 : strcmp(words[5], "out") == 0   ? VMKMGMT_BUFFER_OUT
                 : strcmp(words[5], "inout") == 0 ? VMKMGMT_BUFFER_INOUT
                                                  : 0;
  if (!dir) return "the direction is not in, out or inout";
  e->field = (vmkmgmt_BufferField){.callbackId = id, .parm = (uint32_t)parm, .offset = (uint32_t)offset,
                                   .direction = dir};
  if (words[6][0] == '@') {
    unsigned long at = strtoul(words[6] + 1, &end, 10), size = 0;
    if (*end == ':') size = strtoul(end + 1, &end, 10);
    if (*end || words[6][1] == '-' || at > WIRE_MAX_VECTOR || (size != 1 && size != 2 && size != 4 && size != 8))
      return "a length member is @OFFSET:SIZE, SIZE 1, 2, 4 or 8";
    e->field.lengthOffset = (uint32_t)at;
    e->field.lengthSize = (uint32_t)size;
  } else {
    unsigned long length = strtoul(words[6], &end, 10);
    if (*end || words[6][0] == '-' || length == 0 || length > WIRE_MAX_VECTOR) return "LENGTH is not 1..64 MiB";
    e->field.length = (uint32_t)length;
  }
  return NULL;
}

/* Reads $VMKMGMT_RECORD_SIG once. A list that cannot be read, or has a bad line, is said once on
 * stderr and not used: recording goes on without the bytes behind pointers. */
static void load_list(void) {
  const char *path = getenv("VMKMGMT_RECORD_SIG");
  if (!path || !*path) return;
  FILE *f = fopen(path, "r");
  if (!f) {
    fprintf(stderr, "vmkmgmt-record: $VMKMGMT_RECORD_SIG %s: %s; bytes behind pointers are not recorded\n", path,
            strerror(errno));
    return;
  }
  struct entry *entries = NULL;
  uint32_t n = 0, cap = 0;
  char line[512];
  const char *why = NULL;
  unsigned number = 0;
  while (!why && fgets(line, sizeof line, f)) {
    number++;
    size_t len = strlen(line);
    if (len == sizeof line - 1 && line[len - 1] != '\n') why = "a line longer than 510 characters";
    if (number == 1 && (line[0] == '{' || line[0] == '[')) {
      why = "this is a signature's JSON form; make the recorder's list from it with "
            "`deno task trace buffers --sig FILE > LIST`";
    }
    if (len && line[len - 1] == '\n') line[--len] = 0;
    char *p = line;
    while (*p == ' ' || *p == '\t') p++;
    if (why || *p == 0 || *p == '#') continue;
    if (n == MAX_LIST) {
      why = "more than 65536 lines";
      break;
    }
    if (n == cap) {
      uint32_t more = cap ? cap * 2 : 16;
      struct entry *grown = realloc(entries, sizeof *entries * more);
      if (!grown) {
        why = strerror(ENOMEM);
        break;
      }
      entries = grown;
      cap = more;
    }
    why = parse_line(p, &entries[n]);
    if (!why) n++;
  }
  if (!why && ferror(f)) why = strerror(EIO);
  fclose(f);
  if (why) {
    fprintf(stderr, "vmkmgmt-record: $VMKMGMT_RECORD_SIG %s line %u: %s; bytes behind pointers are not recorded\n",
            path, number, why);
    free(entries);
    return;
  }
  list.entries = entries;
  list.n = n;
}

__attribute__((visibility("default"))) void vmkmgmt_RecordBufferFields(const vmkmgmt_BufferField *fields,
                                                                       uint32_t n) {
  handed = fields;
  handed_n = n;
}

static int matches(const struct entry *e, const char *name, const char *vendor) {
  if (strncmp(e->vendor, vendor, VMK_MISC_NAME_MAX) != 0) return 0;
  return e->prefix ? strncmp(name, e->api, strlen(e->api)) == 0 : strncmp(e->api, name, VMK_MISC_NAME_MAX) == 0;
}

int buffers_for(const char *name, const char *vendor, const vmkmgmt_InitOptions *options, vmkmgmt_BufferField **out,
                uint32_t *count) {
  *out = NULL;
  *count = 0;
  const vmkmgmt_BufferField *given = NULL;
  uint32_t n = 0;
  if (options && options->buffers && options->numBuffers) {
    given = options->buffers;
    n = options->numBuffers;
  } else if (handed && handed_n) {
    given = handed;
    n = handed_n;
  }
  handed = NULL;
  handed_n = 0;
  if (n > MAX_LIST) return 0;
  if (!given) {
    pthread_once(&list.once, load_list);
    for (uint32_t i = 0; i < list.n; i++) n += matches(&list.entries[i], name, vendor);
  }
  if (n == 0) return 0;
  vmkmgmt_BufferField *f = malloc(sizeof *f * n);
  if (!f) return ENOMEM;
  if (given) {
    memcpy(f, given, sizeof *f * n);
  } else {
    uint32_t k = 0;
    for (uint32_t i = 0; i < list.n; i++) {
      if (matches(&list.entries[i], name, vendor)) f[k++] = list.entries[i].field;
    }
  }
  *out = f;
  *count = n;
  return 0;
}

/* The argument whose elements hold `bf`'s pointer in a call of `callbackId`; NULL when the call has
 * none to follow (only what the kernel is sent has an address it could follow). */
static const struct arg *follows(const vmkmgmt_BufferField *bf, vmk_uint64 callbackId, const struct arg *args,
                                 unsigned argc) {
  if (bf->callbackId != callbackId || bf->parm >= argc) return NULL;
  const struct arg *a = &args[bf->parm];
  if (!a->in || a->flags || a->size == 0 || bf->offset + 8ull > a->size ||
      bf->lengthOffset + (uint64_t)bf->lengthSize > a->size)
    return NULL;
  return a;
}

unsigned buffers_bound(const vmkmgmt_BufferField *fields, uint32_t nfields, vmk_uint64 callbackId,
                       const struct arg *args, unsigned argc) {
  uint64_t n = 0;
  for (uint32_t k = 0; k < nfields; k++) {
    const struct arg *a = follows(&fields[k], callbackId, args, argc);
    if (a) n += a->length / a->size;
  }
  return n < MAX_CALL_BUFFERS ? (unsigned)n : MAX_CALL_BUFFERS;
}

unsigned buffers_plan(const vmkmgmt_BufferField *fields, uint32_t nfields, vmk_uint64 callbackId,
                      const struct arg *args, unsigned argc, struct call_buffer *plan, unsigned max) {
  unsigned n = 0;
  uint64_t total = 0;
  for (uint32_t k = 0; k < nfields; k++) {
    const vmkmgmt_BufferField *bf = &fields[k];
    const struct arg *a = follows(bf, callbackId, args, argc);
    if (!a) continue;
    for (uint64_t e = 0; e + a->size <= a->length && n < max; e += a->size) {
      const uint8_t *elem = (const uint8_t *)a->data + e;
      uint8_t member[8], length_bytes[8];
      struct call_buffer *b = &plan[n];
      *b = (struct call_buffer){.parm = bf->parm, .offset = (uint32_t)(e + bf->offset), .dir = (uint8_t)bf->direction};
      if (!caller_read(member, elem + bf->offset, 8) ||
          (bf->lengthSize && !caller_read(length_bytes, elem + bf->lengthOffset, bf->lengthSize)))
        continue; /* (the parameter itself was unreadable: its own record says so) */
      b->address = (const void *)(uintptr_t)wire_get_u64(member);
      b->length = bf->lengthSize ? wire_get_unsigned(length_bytes, bf->lengthSize) : bf->length;
      if (!b->address || b->length == 0) continue; /* NULL or empty: the kernel copies nothing */
      if (b->length > WIRE_MAX_VECTOR || total + b->length > MAX_CALL_BYTES) {
        b->flags = TRACE_ARG_TOO_LARGE;
      } else {
        total += b->length;
      }
      n++;
    }
  }
  return n;
}
