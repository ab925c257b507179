/* SPDX-License-Identifier: Apache-2.0 */
/*
 * session.c -- one session of PROTOCOL.md: HELLO carries the client's whole callback table and
 * buffer fields; the bridge calls vmk_MgmtUserInit with that table (a trampoline for each user
 * callback) and Begin when it has any, answers GET_INSTANCES and INVOKE on worker threads (calls.c),
 * forwards events as EVENT frames (events.c), and at EOF (or a frame that breaks the protocol) ends
 * delivery, destroys the handle and lets every worker leave.
 *
 * It knows the library only through struct lib, so main.c gives it the real one (dlopen) and the
 * fuzz harness a stand-in.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../abi_rules.h"
#include "bridge.h"

/* ---------------------------------------------------------------- HELLO */

/* Builds the signature from a HELLO; EPROTO when it does not parse, EINVAL (with why) when the
 * bridge cannot serve it. */
static int parse_hello(struct bridge *b, const uint8_t *p, uint32_t len, char *why, size_t why_len) {
  if (len < WIRE_HELLO_SIZE) return EPROTO;
  uint32_t nc = wire_get_u32(p + WIRE_HELLO_NUMCALLBACKS);
  uint32_t nb = wire_get_u32(p + WIRE_HELLO_NUMBUFFERS);
  if (nc > WIRE_MAX_HELLO_ENTRIES || nb > WIRE_MAX_HELLO_ENTRIES ||
      len != WIRE_HELLO_SIZE + (uint64_t)nc * WIRE_CB_ENTRY_SIZE + (uint64_t)nb * WIRE_BUF_ENTRY_SIZE)
    return EPROTO;
  b->sig.version = wire_get_u32(p + WIRE_HELLO_REVNUM);
  b->client_pid = wire_get_u32(p + WIRE_HELLO_PID);
  memcpy(b->sig.name.string, p + WIRE_HELLO_NAME, VMK_MISC_NAME_MAX);
  memcpy(b->sig.vendor.string, p + WIRE_HELLO_VENDOR, VMK_MISC_NAME_MAX);
  b->sig.name.string[VMK_MISC_NAME_MAX - 1] = 0;
  b->sig.vendor.string[VMK_MISC_NAME_MAX - 1] = 0;
  if (nc > 0 && (b->callbacks = calloc(nc, sizeof *b->callbacks)) == NULL) return ENOMEM;
  if (nb > 0 && (b->buffers = calloc(nb, sizeof *b->buffers)) == NULL) return ENOMEM;
  b->sig.callbacks = b->callbacks;
  unsigned users = 0;
  for (uint32_t i = 0; i < nc; i++) {
    const uint8_t *e = p + WIRE_HELLO_SIZE + (size_t)i * WIRE_CB_ENTRY_SIZE;
    vmk_MgmtCallbackInfo *c = &b->callbacks[i];
    uint8_t location = e[WIRE_CB_LOCATION], numParms = e[WIRE_CB_NUMPARMS];
    if ((location != VMK_MGMT_CALLBACK_KERNEL && location != VMK_MGMT_CALLBACK_USER) || e[WIRE_CB_SYNC] > 1 ||
        numParms > VMK_MGMT_MAX_CALLBACK_PARMS)
      return EPROTO;
    c->callbackId = wire_get_u64(e + WIRE_CB_ID);
    c->location = (vmk_MgmtCallbackLocation)location;
    c->synchronous = (vmk_Bool)e[WIRE_CB_SYNC];
    c->numParms = numParms;
    for (int k = 0; k < c->numParms; k++) {
      const uint8_t *pe = e + WIRE_CB_PARMS + k * WIRE_CB_PARM_ENTRY;
      c->parmSizes[k] = wire_get_u32(pe + WIRE_CB_PARM_SIZE);
      c->parmTypes[k] = (vmk_MgmtParmType)pe[WIRE_CB_PARM_TYPE];
      if (pe[WIRE_CB_PARM_TYPE] > VMK_MGMT_PARMTYPE_VECTOR_INOUT || c->parmSizes[k] == 0) return EPROTO;
    }
    if (c->location == VMK_MGMT_CALLBACK_USER) {
      if (users >= BRIDGE_MAX_USER_CALLBACKS) {
        snprintf(why, why_len, "the signature has more than %d user callbacks", BRIDGE_MAX_USER_CALLBACKS);
        return EINVAL;
      }
      b->user_callbacks[users] = c;
      c->callback = events_trampoline(users++);
    }
  }
  for (uint32_t i = 0; i < nb; i++) {
    const uint8_t *e = p + WIRE_HELLO_SIZE + (size_t)nc * WIRE_CB_ENTRY_SIZE + (size_t)i * WIRE_BUF_ENTRY_SIZE;
    vmkmgmt_BufferField *f = &b->buffers[i];
    f->callbackId = wire_get_u64(e + WIRE_BUF_CALLBACK);
    f->parm = e[WIRE_BUF_PARM];
    f->direction = e[WIRE_BUF_DIR];
    f->lengthSize = e[WIRE_BUF_LENGTH_SIZE];
    f->offset = wire_get_u32(e + WIRE_BUF_OFFSET);
    f->length = wire_get_u32(e + WIRE_BUF_LENGTH);
    f->lengthOffset = wire_get_u32(e + WIRE_BUF_LENGTH_OFFSET);
    unsigned ls = f->lengthSize;
    if (f->direction < VMKMGMT_BUFFER_IN || f->direction > VMKMGMT_BUFFER_INOUT || f->parm >= VMK_MGMT_MAX_CALLBACK_PARMS ||
        (ls != 0 && ls != 1 && ls != 2 && ls != 4 && ls != 8) || (ls == 0 && (f->length == 0 || f->length > WIRE_MAX_VECTOR)))
      return EPROTO;
  }
  /* The counts are stored only now that every entry they cover was checked: the rest of the
   * bridge (and its cleanup) walks them. */
  b->sig.numCallbacks = (int)nc;
  b->num_buffers = nb;
  /* The ABI's rules, before a vendor's library (which may not check them) sees the table; and buffer
   * fields the bridge can re-point without changing a length the driver reads. */
  int rc = abi_check_signature(&b->sig, why, why_len);
  return rc != 0 ? rc : abi_check_buffer_overlaps(b->buffers, nb, why, why_len);
}

static void reply_hello(struct bridge *b, uint32_t id, int status, const char *why) {
  uint8_t head[WIRE_HELLO_REPLY_SIZE];
  char text[1024];
  if (why && *why) snprintf(text, sizeof text, "%s: %s", b->peer, why);
  else snprintf(text, sizeof text, "%s", b->peer);
  size_t n = strlen(text);
  if (n > 255) n = 255; /* the field's limit: the start says who, and the most of why */
  memset(head, 0, sizeof head);
  wire_put_u32(head + WIRE_STATUS, (uint32_t)status);
  wire_put_u64(head + WIRE_HELLO_REPLY_SESSION, status == 0 ? (uint64_t)getpid() : 0);
  head[WIRE_HELLO_REPLY_FLAGS] = WIRE_PEER_BRIDGE;
  head[WIRE_HELLO_REPLY_PEER_LENGTH] = (uint8_t)n;
  struct iovec iov[2] = {{head, sizeof head}, {text, n}};
  frame_send(b, WIRE_HELLO_REPLY, id, iov, 2);
}

/* The kernel behind the library went away (our library tells its monitor thread): the client
 * must know at once, as it would with the kernel next to it, so the bridge hangs up. */
static void kernel_gone(vmk_uint64 cookie, int error) {
  struct bridge *b = (struct bridge *)(uintptr_t)cookie;
  (void)error;
  bridge_close(b);
  pthread_mutex_lock(&b->wlock);
  /* EOF at the client: every call in flight there fails with EIO. stdin and stdout may be one
   * socket (the library's "@local"), which close() alone would leave open. */
  shutdown(b->out, SHUT_WR);
  close(b->out);
  b->out = -1;
  pthread_mutex_unlock(&b->wlock);
}

/* Init with the client's table (through vmkmgmt_UserInitWith when the library has it, for the
 * reason in words); Begin when there are user callbacks, or to hear of a lost kernel. */
static int open_session(struct bridge *b, char *why, size_t why_len) {
  vmk_uint64 cookie = (vmk_uint64)(uintptr_t)b;
  int rc;
  if (b->lib.record_buffers) b->lib.record_buffers(b->buffers, b->num_buffers);
  if (b->lib.init_with) {
    vmkmgmt_InitOptions o = {.host = "", .why = why, .whyLen = why_len, .pid = b->client_pid};
    rc = b->lib.init_with(&b->sig, cookie, &o, &b->handle);
  } else {
    rc = b->lib.init(&b->sig, cookie, &b->handle);
  }
  if (rc != 0) {
    if (!why[0])
      snprintf(why, why_len, "vmk_MgmtUserInit failed for %s/%s (%s)", b->sig.name.string, b->sig.vendor.string,
               strerror(rc));
    return rc;
  }
  why[0] = 0; /* the library may have said who it trusted: not an error */
  calls_use_queue(b);
  int watch = b->lib.on_disconnect && b->lib.on_disconnect(b->handle, kernel_gone) == 0;
  if (b->user_callbacks[0] || watch) {
    rc = b->lib.begin(b->handle);
    if (rc == 0) {
      b->begun = 1;
      return 0;
    }
    snprintf(why, why_len, "vmk_MgmtUserBegin failed (%s)", strerror(rc));
    b->lib.destroy(b->handle);
    b->handle = NULL;
  }
  return rc;
}

/* Answers HELLO. Returns EPROTO for a HELLO that does not parse (the session is then over). */
static int hello(struct bridge *b, uint32_t id, const uint8_t *p, uint32_t len) {
  char why[200] = "";
  if (b->load_error[0]) {
    reply_hello(b, id, ENOENT, b->load_error);
    return 0;
  }
  int rc = parse_hello(b, p, len, why, sizeof why);
  if (rc == EPROTO) return EPROTO;
  if (rc == 0) rc = open_session(b, why, sizeof why);
  reply_hello(b, id, rc, why);
  return 0;
}

/* ---------------------------------------------------------------- the session */

/* Reads frames until EOF or a broken frame; what a frame asks for runs on a worker. Frames come
 * through a buffer (wire_reader): calls issued together arrive together, and one read takes them. */
void bridge_serve(struct bridge *b) {
  struct wire_reader rd = {.fd = b->in, .buf = malloc(WIRE_READER_SIZE)};
  if (!rd.buf) frame_error(b, "vmkmgmt-bridge: out of memory");
  while (rd.buf) {
    uint16_t type;
    uint32_t id, len;
    uint8_t *payload = NULL;
    if (!wire_reader_ready(&rd)) calls_flush(b); /* before a read that may wait */
    int rc = wire_reader_next(&rd, &type, &id, &payload, &len);
    if (rc == EPROTO) frame_error(b, "vmkmgmt-bridge: bad frame header (magic, version or length)");
    if (rc != 0) break;
    const char *bad = NULL;
    if (type == WIRE_HELLO) {
      if (b->handle || b->sig.callbacks || b->sig.numCallbacks) bad = "HELLO sent twice";
      else if (hello(b, id, payload, len) == EPROTO) bad = "a HELLO that does not parse";
      else if (!b->handle) bad = ""; /* refused: the client has its answer; the session is over */
    } else if (!b->handle) {
      bad = "a session must start with HELLO";
    } else if (type == WIRE_INVOKE || type == WIRE_GET_INSTANCES) {
      if (type == WIRE_GET_INSTANCES && len != 0) bad = "GET_INSTANCES with a payload";
      else {
        if (calls_start(b, type, id, payload, len) == EPROTO) bad = "an INVOKE that does not parse";
        payload = NULL; /* calls_start took it */
      }
    } else if (type == WIRE_COPY_REPLY) {
      if (calls_copy_reply(b, id, payload, len) == 0) payload = NULL;
      else bad = "a COPY_REPLY nobody asked for";
    } else if (type == WIRE_EVENT_ACK) {
      if (len != WIRE_ACK_SIZE) bad = "EVENT_ACK of the wrong size";
      else events_ack(b, wire_get_u32(payload));
    } else {
      bad = "a frame type a client does not send";
    }
    free(payload);
    if (bad) {
      if (*bad) {
        char msg[128];
        snprintf(msg, sizeof msg, "vmkmgmt-bridge: %s", bad);
        frame_error(b, msg);
      }
      break;
    }
  }
  free(rd.buf);
  bridge_close(b);
}

/* The end: delivery stops, the handle goes (the real library lets every call in flight go), and
 * every worker leaves before the memory they use is freed. */
void bridge_finish(struct bridge *b) {
  pthread_mutex_lock(&b->lock);
  b->ending = 1;
  pthread_mutex_unlock(&b->lock);
  if (b->begun) b->lib.end(b->handle);
  if (b->handle) b->lib.destroy(b->handle);
  calls_stop_queue(b);
  calls_wait_idle(b);
  free(b->callbacks);
  free(b->buffers);
  if (b->fault_page) munmap(b->fault_page, (size_t)sysconf(_SC_PAGESIZE));
  pthread_mutex_destroy(&b->lock);
  pthread_mutex_destroy(&b->wlock);
  pthread_mutex_destroy(&b->dlock);
  pthread_cond_destroy(&b->cond);
  pthread_cond_destroy(&b->work);
}

/* A bridge with nothing yet: no library, no session. A page nothing may touch stands in for caller
 * buffers the client could not read (without it, they point at NULL, which fails the same way). */
void bridge_init(struct bridge *b, int in, int out) {
  memset(b, 0, sizeof *b);
  b->in = in;
  b->out = out;
  pthread_mutex_init(&b->lock, NULL);
  pthread_mutex_init(&b->wlock, NULL);
  pthread_mutex_init(&b->dlock, NULL);
  pthread_cond_init(&b->cond, NULL);
  pthread_cond_init(&b->work, NULL);
  b->fault_page = mmap(NULL, (size_t)sysconf(_SC_PAGESIZE), PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (b->fault_page == MAP_FAILED) b->fault_page = NULL;
}
