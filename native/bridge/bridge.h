/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bridge.h -- vmkmgmt-bridge's internals: one session of PROTOCOL.md on stdin/stdout, answered by
 * calling a real libvmkmgmt.so (dlopen'd), so `ssh host vmkmgmt-bridge` is the whole transport.
 *
 *   main.c     main: arguments, the real library (dlopen)
 *   session.c  the frame loop, HELLO, the end of the session (given a struct lib: the real
 *              library's, or the fuzz harness's stand-in)
 *   calls.c    INVOKE and GET_INSTANCES on a pool of worker threads; caller buffers behind pointer
 *              members copied in and out (COPY_REQUEST to the client) and re-pointed
 *   events.c   a trampoline per user callback: each event goes out as an EVENT frame, within the
 *              client's credits (EVENT_ACK)
 *   frames.c   reading and writing frames; every frame is checked before anything trusts it
 *
 * Threads: the main thread reads frames and never waits on the kernel; with our library it submits
 * INVOKEs to its completion queue and the library's reader thread answers them as it completes them
 * (a hook, vmkmgmt_QueueOnRing); otherwise (and for
 * GET_INSTANCES and calls with caller buffers) workers run calls (a pool: an idle worker waits on
 * `work` for the next call); the real library's monitor thread runs the trampolines. `lock` guards the state below it; `wlock` serialises writes on stdout.
 */
#ifndef VMKMGMT_BRIDGE_H
#define VMKMGMT_BRIDGE_H

#include <pthread.h>
#include <stdint.h>
#include <sys/uio.h>

#include "../vmkmgmt.h"
#include "../wire.h"

#define BRIDGE_VERSION "1.0.0"
/* Calls running in the library at once (a worker thread each: the library blocks one per call);
 * more wait in the bridge, up to BRIDGE_MAX_CALLS calls and BRIDGE_MAX_QUEUED_BYTES of their
 * requests; past that a call is answered EAGAIN. */
#define BRIDGE_MAX_WORKERS WIRE_BRIDGE_WORKERS
#define BRIDGE_MAX_CALLS 65536u
#define BRIDGE_MAX_QUEUED_BYTES (1024ull * 1024 * 1024)
/* User callbacks a signature may have (one trampoline each). */
#define BRIDGE_MAX_USER_CALLBACKS 32
/* Unacknowledged EVENT frames, as the simulator keeps (PROTOCOL.md, flow control). */
#define BRIDGE_EVENT_CREDITS 64
/* Bytes of caller buffers one call may copy in and out. */
#define BRIDGE_MAX_CALL_BUFFERS (256ull * 1024 * 1024)

typedef int (*init_fn)(vmk_MgmtApiSignature *, vmk_uint64, vmk_MgmtUserHandle *);
typedef int (*instances_fn)(vmk_MgmtUserHandle, vmk_MgmtInstances *);
typedef int (*handle_fn)(vmk_MgmtUserHandle);
typedef int (*invoke_fn)(vmk_MgmtUserHandle, vmk_uint64, vmk_uint64, vmk_uint32, ...);
typedef int (*init_with_fn)(vmk_MgmtApiSignature *, vmk_uint64, const vmkmgmt_InitOptions *, vmk_MgmtUserHandle *);
typedef int (*on_disconnect_fn)(vmk_MgmtUserHandle, vmkmgmt_DisconnectFn);
typedef int (*event_stats_fn)(vmk_MgmtUserHandle, vmk_uint64 *, vmk_uint64 *);
typedef int (*queue_create_fn)(vmkmgmt_Queue *);
typedef int (*queue_fn)(vmkmgmt_Queue);
typedef int (*attach_completions_fn)(vmk_MgmtUserHandle, vmkmgmt_Queue);
typedef int (*submit_fn)(vmk_MgmtUserHandle, vmk_uint64, vmk_uint64, vmk_uint64, vmk_uint32, void *, void *, void *,
                         void *);
typedef int (*queue_drain_fn)(vmkmgmt_Queue, void *, size_t, size_t *, vmk_uint32 *);
typedef int (*queue_on_ring_fn)(vmkmgmt_Queue, vmkmgmt_RingFn, void *);

/* The real library's entry points. */
struct lib {
  void *dl;
  init_fn init;
  instances_fn get_instances;
  handle_fn begin, end, destroy;
  invoke_fn invoke;
  /* Our library's extensions, NULL in ESXi's: Init that says why, and word of a lost kernel. */
  init_with_fn init_with;
  on_disconnect_fn on_disconnect;
  event_stats_fn event_stats; /* events lost behind the bridge, passed on as EVENTS_DROPPED */
  /* Our library's completion queue, for calls only (vmkmgmt_UserAttachCompletions): INVOKEs are
   * submitted from the reading thread and answered from the library's thread that completes them
   * (vmkmgmt_QueueOnRing), no worker per call. */
  queue_create_fn queue_create;
  queue_fn queue_destroy;
  queue_on_ring_fn queue_on_ring;
  attach_completions_fn attach_completions;
  submit_fn submit;
  handle_fn flush;
  queue_drain_fn queue_drain;
  /* The recorder's (libvmkmgmt-record.so, preloaded by --record): told the client's buffer fields
   * just before Init, so the bytes behind its pointer members are recorded. NULL without it. */
  void (*record_buffers)(const vmkmgmt_BufferField *fields, vmk_uint32 n);
};

struct job; /* a call for the workers (calls.c) */

/* A copy the bridge asked the client for, waiting for its COPY_REPLY. */
struct copy_wait {
  uint32_t request, copy_id;
  int done;
  int status;
  uint8_t *payload; /* the reply (owned), NULL until done */
  uint32_t length;
  struct copy_wait *next;
};

struct bridge {
  int in, out;
  const char *lib_path;
  char load_error[512]; /* why the library did not load, else "" */
  struct lib lib;
  char peer[256]; /* how HELLO_REPLY names us */

  pthread_mutex_t wlock; /* stdout */
  pthread_mutex_t lock;  /* everything below */
  pthread_cond_t cond;   /* a copy is answered, credits came back, a worker left, or closing */
  pthread_cond_t work;   /* a call is queued for an idle worker, or closing */
  int closing;           /* the client is gone (or broke the protocol): everything winds down */
  int ending;            /* End/Destroy have begun: no call enters the library any more */
  unsigned workers;      /* worker threads alive */
  unsigned idle;         /* of which waiting for a call */
  unsigned calls;        /* calls queued or running */
  unsigned queued;       /* of which waiting for a worker */
  uint64_t queued_bytes; /* their requests' bytes */
  struct job *queue, *queue_tail;
  struct copy_wait *copies;
  uint32_t next_copy;
  unsigned unacked;
  uint64_t dropped_sent; /* the last EVENTS_DROPPED total sent */
  unsigned submitted;    /* calls submitted to the queue, not yet answered (counted in `calls` too) */

  /* The session, from HELLO (immutable once the handle exists). */
  vmk_MgmtUserHandle handle;
  uint32_t client_pid; /* from HELLO: passed on, so the kernel's session list names the client */
  int begun;
  vmk_MgmtApiSignature sig;
  vmk_MgmtCallbackInfo *callbacks;
  vmkmgmt_BufferField *buffers;
  uint32_t num_buffers;
  const vmk_MgmtCallbackInfo *user_callbacks[BRIDGE_MAX_USER_CALLBACKS];
  /* The completion queue INVOKEs go through (calls.c); NULL without one. Drained by whichever thread
   * completes calls into it, one at a time (`dlock`, taken before `wlock` and `lock`). */
  vmkmgmt_Queue cq;
  unsigned unflushed; /* calls submitted and corked (the reading thread's alone) */
  pthread_mutex_t dlock;
  uint8_t *drain_buf;
  /* A page nothing may touch: a caller buffer the client could not read is re-pointed here, so
   * the kernel's copy fails (EFAULT) as the original address would have. */
  void *fault_page;
};

/* session.c */
void bridge_init(struct bridge *b, int in, int out);
void bridge_serve(struct bridge *b);  /* reads frames from b->in until EOF or a broken frame */
void bridge_finish(struct bridge *b); /* ends the session, waits for every worker, frees it all */

/* frames.c */
int frame_send(struct bridge *b, uint16_t type, uint32_t id, const struct iovec *pieces, int n);
void frame_error(struct bridge *b, const char *why);
void bridge_close(struct bridge *b); /* marks the session over and wakes every waiter */

/* calls.c */
int calls_start(struct bridge *b, uint16_t type, uint32_t id, uint8_t *payload, uint32_t len);
int calls_copy_reply(struct bridge *b, uint32_t id, uint8_t *payload, uint32_t len);
void calls_wait_idle(struct bridge *b);
void calls_use_queue(struct bridge *b);  /* after Init, before Begin: INVOKEs through the queue if it can */
void calls_stop_queue(struct bridge *b); /* after Destroy: what is left is answered, the queue goes */
void calls_flush(struct bridge *b);      /* sends the submitted calls still corked */

/* events.c */
void *events_trampoline(unsigned index);
void events_ack(struct bridge *b, uint32_t count);
void events_report_drops(struct bridge *b);

#endif
