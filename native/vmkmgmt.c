/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libvmkmgmt for the simulated vmkernel: the seven vmk_Mgmt user functions, speaking the wire
 * protocol of PROTOCOL.md to sim/ over a Unix socket. This file holds a handle's life (Init,
 * GetInstances, Destroy) and the signature checks; handle.h maps the other files.
 *
 * Threads per handle: a reader thread (transport.c) owns the socket's receive side and routes
 * every reply to the thread waiting for it (or completes a submitted call's token); the monitor
 * thread (monitor.c), started by Begin, runs user callbacks one at a time from the handle's event
 * queue — unless the handle is attached to a completion queue (queue.c), where its events go
 * instead; a writer thread, started when first needed, sends what a caller that must not block
 * could not send at once.
 *
 * All state lives in the handle: two handles in one process share nothing (registry.c keeps
 * only the list of live handles).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <unistd.h>

#include "abi_rules.h"
#include "handle.h"
#include "wire.h"

const vmk_MgmtCallbackInfo *handle_find_callback(const handle_t *h, vmk_uint64 id) {
  for (int i = 0; i < h->sig.numCallbacks; i++) {
    if (h->callbacks[i].callbackId == id) return &h->callbacks[i];
  }
  return NULL;
}

/* Releases a handle whose threads are gone (or never started). */
static void handle_free(handle_t *h) {
  if (h->fd >= 0) close(h->fd);
  remote_reap(h->child, h->child_err);
  free(h->buffers);
  monitor_free_events(h);
  pthread_mutex_destroy(&h->lock);
  pthread_mutex_destroy(&h->slock);
  pthread_mutex_destroy(&h->rlock);
  pthread_cond_destroy(&h->sendable);
  pthread_cond_destroy(&h->writable);
  pthread_mutex_destroy(&h->ctl);
  pthread_cond_destroy(&h->replies);
  pthread_cond_destroy(&h->events);
  pthread_cond_destroy(&h->state);
  free(h->callbacks);
  free(h);
}

/* A new handle holding its own copy of the signature; no socket yet. */
static int handle_new(const vmk_MgmtApiSignature *sig, vmk_uint64 cookie, handle_t **out) {
  handle_t *h = calloc(1, sizeof *h);
  if (!h) return ENOMEM;
  h->fd = -1;
  h->child_err = -1;
  h->cookie = cookie;
  h->sig = *sig;
  if (sig->numCallbacks > 0) {
    h->callbacks = calloc((size_t)sig->numCallbacks, sizeof *h->callbacks);
    if (!h->callbacks) goto fail;
    memcpy(h->callbacks, sig->callbacks, (size_t)sig->numCallbacks * sizeof *h->callbacks);
  }
  h->sig.callbacks = h->callbacks;
  pthread_mutex_init(&h->lock, NULL);
  pthread_mutex_init(&h->slock, NULL);
  pthread_mutex_init(&h->rlock, NULL);
  pthread_cond_init(&h->sendable, NULL);
  pthread_cond_init(&h->writable, NULL);
  pthread_mutex_init(&h->ctl, NULL);
  pthread_cond_init(&h->replies, NULL);
  pthread_cond_init(&h->events, NULL);
  pthread_cond_init(&h->state, NULL);
  *out = h;
  return 0;
fail:
  free(h);
  return ENOMEM;
}

/* The buffer fields must name a kernel callback's parameter, fit in it, and not overlap; EINVAL
 * otherwise (with why, for an overlap). */
static int check_buffers(const handle_t *h, const vmkmgmt_BufferField *b, uint32_t n, char *why, size_t why_len) {
  if (n > WIRE_MAX_HELLO_ENTRIES || (n > 0 && b == NULL)) return EINVAL;
  for (uint32_t i = 0; i < n; i++) {
    const vmk_MgmtCallbackInfo *cb = handle_find_callback(h, b[i].callbackId);
    if (!cb || cb->location != VMK_MGMT_CALLBACK_KERNEL || b[i].parm >= cb->numParms) return EINVAL;
    if (b[i].direction < VMKMGMT_BUFFER_IN || b[i].direction > VMKMGMT_BUFFER_INOUT) return EINVAL;
    uint64_t size = cb->parmSizes[b[i].parm];
    if ((uint64_t)b[i].offset + 8 > size) return EINVAL;
    if (b[i].lengthSize == 0) {
      if (b[i].length == 0 || b[i].length > WIRE_MAX_VECTOR) return EINVAL;
    } else if ((b[i].lengthSize != 1 && b[i].lengthSize != 2 && b[i].lengthSize != 4 && b[i].lengthSize != 8) ||
               (uint64_t)b[i].lengthOffset + b[i].lengthSize > size) {
      return EINVAL;
    }
  }
  return abi_check_buffer_overlaps(b, n, why, why_len);
}

/* HELLO: asks the kernel for a session on this signature, sending the whole callback table and
 * the buffer fields (a bridge needs them to call a real library); 0, ENODEV, or EIO. */
static int hello(handle_t *h, uint32_t pid, char *why, size_t why_len) {
  int n = h->sig.numCallbacks;
  size_t size = WIRE_HELLO_SIZE + (size_t)n * WIRE_CB_ENTRY_SIZE + (size_t)h->num_buffers * WIRE_BUF_ENTRY_SIZE;
  uint8_t *msg = NULL;
  uint8_t *reply = NULL;
  uint32_t reply_len = 0;
  int rc = EINVAL;
  if (n > WIRE_MAX_HELLO_ENTRIES || size > WIRE_MAX_PAYLOAD) goto out;
  rc = ENOMEM;
  if ((msg = calloc(1, size)) == NULL) goto out;
  wire_put_hello(msg, h->sig.version, h->sig.name.string, h->sig.vendor.string, pid ? pid : (uint32_t)getpid(), (uint32_t)n,
                 h->num_buffers);
  for (int i = 0; i < n; i++) {
    const vmk_MgmtCallbackInfo *c = &h->callbacks[i];
    uint8_t *e = msg + WIRE_HELLO_SIZE + (size_t)i * WIRE_CB_ENTRY_SIZE;
    wire_put_u64(e + WIRE_CB_ID, c->callbackId);
    e[WIRE_CB_LOCATION] = (uint8_t)c->location;
    e[WIRE_CB_SYNC] = c->synchronous ? 1 : 0;
    e[WIRE_CB_NUMPARMS] = c->numParms;
    for (int k = 0; k < c->numParms; k++) {
      uint8_t *pe = e + WIRE_CB_PARMS + k * WIRE_CB_PARM_ENTRY;
      wire_put_u32(pe + WIRE_CB_PARM_SIZE, c->parmSizes[k]);
      pe[WIRE_CB_PARM_TYPE] = (uint8_t)c->parmTypes[k];
    }
  }
  for (uint32_t i = 0; i < h->num_buffers; i++) {
    const vmkmgmt_BufferField *b = &h->buffers[i];
    uint8_t *e = msg + WIRE_HELLO_SIZE + (size_t)n * WIRE_CB_ENTRY_SIZE + (size_t)i * WIRE_BUF_ENTRY_SIZE;
    wire_put_u64(e + WIRE_BUF_CALLBACK, b->callbackId);
    e[WIRE_BUF_PARM] = (uint8_t)b->parm;
    e[WIRE_BUF_DIR] = (uint8_t)b->direction;
    e[WIRE_BUF_LENGTH_SIZE] = (uint8_t)b->lengthSize;
    wire_put_u32(e + WIRE_BUF_OFFSET, b->offset);
    wire_put_u32(e + WIRE_BUF_LENGTH, b->lengthSize ? 0 : b->length);
    wire_put_u32(e + WIRE_BUF_LENGTH_OFFSET, b->lengthSize ? b->lengthOffset : 0);
  }
  rc = transport_request(h, WIRE_HELLO, &(struct iovec){msg, size}, 1, NULL, &reply, &reply_len);
  if (rc != 0) goto out;
  rc = EIO;
  if (reply_len < WIRE_HELLO_REPLY_SIZE ||
      reply_len != WIRE_HELLO_REPLY_SIZE + (uint32_t)reply[WIRE_HELLO_REPLY_PEER_LENGTH])
    goto out;
  size_t peer_len = reply[WIRE_HELLO_REPLY_PEER_LENGTH];
  memcpy(h->peer, reply + WIRE_HELLO_REPLY_SIZE, peer_len);
  h->peer[peer_len] = 0;
  h->bridge = (reply[WIRE_HELLO_REPLY_FLAGS] & WIRE_PEER_BRIDGE) != 0;
  rc = wire_get_status(reply);
  if (rc != 0 && why && why_len > 0) snprintf(why, why_len, "%s", h->peer);
out:
  free(msg);
  free(reply);
  return rc;
}

/* Where the kernel is: the option, else $VMKMGMT_HOST; NULL for this machine's simulator. */
static const char *host_of(const vmkmgmt_InitOptions *o) {
  const char *host = o && o->host ? o->host : getenv(WIRE_HOST_ENV);
  return host && *host ? host : NULL;
}

EXPORT int vmkmgmt_UserInitWith(vmk_MgmtApiSignature *sig, vmk_uint64 userCookie, const vmkmgmt_InitOptions *options,
                                vmk_MgmtUserHandle *handle) {
  char *why = options ? options->why : NULL;
  size_t why_len = why ? options->whyLen : 0;
  if (why_len > 0) why[0] = 0;
  if (sig == NULL || handle == NULL) return EINVAL;
  int rc = abi_check_signature(sig, why, why_len);
  if (rc != 0) return rc;
  handle_t *h = NULL;
  rc = handle_new(sig, userCookie, &h);
  if (rc != 0) return rc;
  if (options && options->numBuffers > 0) {
    rc = check_buffers(h, options->buffers, options->numBuffers, why, why_len);
    if (rc != 0) goto fail_handle;
    rc = ENOMEM;
    h->buffers = calloc(options->numBuffers, sizeof *h->buffers);
    if (!h->buffers) goto fail_handle;
    memcpy(h->buffers, options->buffers, options->numBuffers * sizeof *h->buffers);
    h->num_buffers = options->numBuffers;
  }
  const char *host = host_of(options);
  rc = host ? remote_connect(host, &h->fd, &h->child, &h->child_err, why, why_len)
            : trust_connect(&h->fd, why, why_len);
  if (rc != 0) goto fail_handle;
  rc = transport_start_reader(h);
  if (rc != 0) goto fail_handle;
  rc = hello(h, options ? options->pid : 0, why, why_len);
  if (rc == EIO && host && why_len > 0 && why[0] == 0) {
    snprintf(why, why_len, "the connection to %s ended before the bridge answered", host);
    /* ssh (or the bridge) has said why on stderr by the time it exits. */
    if (remote_exited(h->child, 2000)) h->child = 0;
    remote_reason(h->child_err, why, why_len);
  }
  if (rc != 0) goto fail_reader;
  rc = registry_add(h);
  if (rc != 0) goto fail_reader;
  *handle = h;
  return 0;
fail_reader:
  transport_stop_reader(h);
  transport_stop_writer(h);
fail_handle:
  handle_free(h);
  return rc;
}

EXPORT int vmk_MgmtUserInit(vmk_MgmtApiSignature *sig, vmk_uint64 userCookie, vmk_MgmtUserHandle *handle) {
  return vmkmgmt_UserInitWith(sig, userCookie, NULL, handle);
}

EXPORT int vmkmgmt_UserPeer(vmk_MgmtUserHandle h, char *peer, size_t len) {
  if (peer == NULL || len == 0) return EINVAL;
  int rc = registry_enter(h);
  if (rc != 0) return rc;
  snprintf(peer, len, "%s", h->peer);
  registry_leave(h);
  return 0;
}

/* Fills `instances` from an INSTANCES payload; EIO when it is malformed. */
static int decode_instances(const uint8_t *reply, uint32_t len, vmk_MgmtInstances *instances) {
  uint32_t count = len >= WIRE_INSTANCES_ENTRIES ? wire_get_u32(reply + WIRE_INSTANCES_COUNT) : UINT32_MAX;
  if (count > VMK_MGMT_MAX_INSTANCES || len != WIRE_INSTANCES_ENTRIES + count * WIRE_INSTANCE_SIZE) return EIO;
  memset(instances, 0, sizeof *instances);
  instances->numInstances = (vmk_uint8)count;
  for (uint32_t i = 0; i < count; i++) {
    const uint8_t *e = reply + WIRE_INSTANCES_ENTRIES + i * WIRE_INSTANCE_SIZE;
    instances->instanceIds[i] = wire_get_u64(e + WIRE_INSTANCE_ID);
    memcpy(instances->instanceNames[i].string, e + WIRE_INSTANCE_NAME, VMK_MISC_NAME_MAX);
    instances->instanceNames[i].string[VMK_MISC_NAME_MAX - 1] = 0;
  }
  return 0;
}

EXPORT int vmk_MgmtUserGetInstances(vmk_MgmtUserHandle h, vmk_MgmtInstances *instances) {
  if (instances == NULL) return EINVAL;
  int rc = registry_enter(h);
  if (rc != 0) return rc;
  uint8_t *reply = NULL;
  uint32_t len = 0;
  rc = transport_request(h, WIRE_GET_INSTANCES, NULL, 0, NULL, &reply, &len);
  if (rc != 0) goto out;
  rc = wire_get_status(reply);
  if (rc != 0) goto out;
  rc = decode_instances(reply, len, instances);
out:
  free(reply);
  registry_leave(h);
  return rc;
}

EXPORT int vmk_MgmtUserDestroy(vmk_MgmtUserHandle h) {
  int rc = registry_enter(h);
  if (rc != 0) return rc;
  pthread_mutex_lock(&h->ctl);
  pthread_mutex_lock(&h->lock);
  int begun = h->begun;
  pthread_mutex_unlock(&h->lock);
  if (begun) rc = monitor_end_ctl_held(h);
  /* From here no new call can enter; a second Destroy gets EINVAL. */
  if (rc == 0) rc = registry_remove(h);
  if (rc != 0) goto fail;
  pthread_mutex_lock(&h->lock);
  h->closing = 1;
  h->users--; /* our own registry_enter() */
  pthread_mutex_unlock(&h->lock);
  /* The reader sees EOF and fails every waiting request with EIO (a submitted call completes with
   * it once its frame has left the writer, which stops next). */
  transport_stop_reader(h);
  transport_stop_writer(h);
  /* Calls already inside (a racing Begin/End/Destroy waits for ctl) must get out first. */
  pthread_mutex_unlock(&h->ctl);
  pthread_mutex_lock(&h->lock);
  while (h->users > 0) pthread_cond_wait(&h->state, &h->lock);
  pthread_mutex_unlock(&h->lock);
  /* Its events leave the completion queue (its completions stay: they name tokens, not it). */
  queue_detach(h);
  handle_free(h);
  return 0;
fail:
  pthread_mutex_unlock(&h->ctl);
  registry_leave(h);
  return rc;
}
