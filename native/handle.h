/* SPDX-License-Identifier: Apache-2.0 */
/*
 * handle.h -- the library's internals (not installed): what a vmk_MgmtUserHandle holds, and the
 * functions each source file offers the others.
 *
 *   vmkmgmt.c   Init, GetInstances, Destroy; the handle's life; signature checks
 *   trust.c     connecting: the socket directory and the kernel's uid are checked first
 *   transport.c the socket: framed writes, the reader thread, request/reply
 *   registry.c  live handles, so a call racing Destroy gets EINVAL, never freed memory
 *   invoke.c    vmk_MgmtUserCallbackInvokeInt: marshalling parameters to and from frames
 *   copy.c      the kernel's copies from and to the caller's memory during a sync call
 *   monitor.c   Begin, Continue, End: the event queue and the monitor thread
 *   remote.c    a kernel on another host: ssh (or a local command) runs the bridge
 *   queue.c     completion queues: submitted calls and events for a program's own event loop
 *
 * Locking: `lock` guards the handle's state; `ctl` serialises Begin/End/Destroy; `slock` guards
 * the send side (who writes to the socket, and the frames waiting for the writer thread) and is
 * never held across a system call; `rlock` is the receive side (who reads the socket), taken
 * before `lock`. A queue's lock comes after a handle's `lock` (the reader pushes
 * events holding it, to keep their order) and is never held while taking one. Each condition
 * variable wakes only the waiters it concerns. A function's suffix says which lock its caller holds:
 * `_locked` the handle's `lock`, `_slocked` `slock`, `_qlocked` the queue's lock, `_ctl_held` `ctl`.
 */
#ifndef VMKMGMT_HANDLE_H
#define VMKMGMT_HANDLE_H

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "vmkmgmt.h"
#include "wire.h"

#define EXPORT __attribute__((visibility("default")))
/* The completion-queue extension's entry points. A build without them (make vendor:
 * -DVMKMGMT_WITHOUT_QUEUE) stands in for a vendor's library in the tests: the binding then takes
 * the path it takes with ESXi's (the blocking pool, the monitor thread). */
#ifdef VMKMGMT_WITHOUT_QUEUE
#define QUEUE_EXPORT
#else
#define QUEUE_EXPORT EXPORT
#endif

/* The caller's parameters of an INVOKE in flight, for the kernel's copies (copy.c). */
struct call {
  int sync;
  unsigned n;
  void *data[VMK_MGMT_MAX_CALLBACK_PARMS];      /* each parameter's bytes in the caller's memory */
  uint64_t length[VMK_MGMT_MAX_CALLBACK_PARMS]; /* and their lengths */
};

struct submitted;

/* A request waiting for its reply: on the requester's stack, or inside a submitted call. */
struct pending {
  uint32_t id;
  int done;
  int status;
  uint8_t *payload;
  uint32_t length;
  const struct call *call; /* an INVOKE's parameters, else NULL */
  struct submitted *sub;   /* a submitted call: no thread waits; its reply completes a token */
  struct pending *next;
};

/* Buckets of a handle's requests awaiting replies (a power of two). */
#define PENDING_BUCKETS 1024

/* A payload is sent from up to this many pieces (an INVOKE: its fixed part and each parameter). */
#define TRANSPORT_MAX_PIECES (1 + VMK_MGMT_MAX_CALLBACK_PARMS)

/* A frame the socket could not take at once, waiting for the writer thread (transport.c). A
 * submitted call's frame points at the call's own memory (its header and fixed part, the caller's
 * buffers), valid until it completes, which waits for the frame to leave the queue; any other
 * frame's bytes are copied into `copy`. */
struct outframe {
  struct iovec iov[1 + TRANSPORT_MAX_PIECES];
  int n;
  uint8_t *copy;
  struct submitted *owner;
  struct outframe *next;
};

struct qentry; /* an entry of a completion queue (queue.c) */
/* Entries for small events a handle takes from its queue's kept ones at a time (queue.c). */
#define HANDLE_SPARES 32

/* The caller's arguments for one call, as the table says to read them. */
struct args {
  unsigned n;
  void *ptr[VMK_MGMT_MAX_CALLBACK_PARMS];       /* the value, or its vmk_MgmtVectorParm */
  uint64_t length[VMK_MGMT_MAX_CALLBACK_PARMS]; /* bytes on the wire */
};

/* A call no thread waits for (invoke.c): everything its INVOKE and its reply need, until its token
 * completes. Its frame is built once: the header and fixed part here, the rest the caller's bytes. */
struct submitted {
  struct pending p;
  struct call call;
  struct args a;
  const vmk_MgmtCallbackInfo *cb;
  uint8_t hdr[WIRE_HEADER_SIZE];
  uint8_t fixed[WIRE_INVOKE_HEADER_SIZE + WIRE_PARM_DESC_SIZE * VMK_MGMT_MAX_CALLBACK_PARMS];
  struct iovec iov[1 + TRANSPORT_MAX_PIECES];
  int pieces;
  struct qentry *entry; /* its completion, allocated up front: completing cannot fail */
  uint64_t token;
  int replied, status; /* under h->lock */
  int queued;          /* its frame is (or may still be) corked or in the writer's queue: under h->lock */
  struct submitted *next_corked; /* under slock */
};

/* An EVENT frame's payload, queued for the monitor thread. */
struct event {
  uint8_t *payload;
  uint32_t length;
  int paid; /* acknowledged when it was read (queue_prepay_locked): no credit is owed for it */
  struct event *next;
};

struct vmkMgmtUserHandleInt {
  int fd;
  pid_t child;                  /* the bridge's ssh (or the bridge), else 0 */
  int child_err;                /* its stderr (a memory file), else -1 */
  int bridge;                   /* a bridge answers: send every fixed parameter's bytes */
  char peer[256];               /* who answers, from HELLO_REPLY */
  vmkmgmt_BufferField *buffers; /* pointer members to caller buffers, sent in HELLO */
  uint32_t num_buffers;
  vmk_uint64 cookie;
  vmk_MgmtApiSignature sig;
  vmk_MgmtCallbackInfo *callbacks;

  pthread_mutex_t lock;   /* everything below, except where noted */
  pthread_cond_t replies; /* a pending request is done (or the connection died) */
  pthread_cond_t events;  /* an event is queued, the monitor must stop, or the connection died */
  pthread_cond_t state;   /* Begin/End happened, the connection died, or a call left */
  pthread_mutex_t ctl;    /* serialises Begin/End/Destroy */

  pthread_mutex_t slock;           /* the send side, below (never held across a system call) */
  pthread_cond_t sendable;         /* the socket was released (blocking senders wait for it) */
  pthread_cond_t writable;         /* the writer's own: a frame waits for it, or it must stop */
  int sending;                     /* a thread is writing to the socket */
  int send_failed;                 /* a write failed: the connection is going */
  struct outframe *outq, *outq_tail; /* frames for the writer thread, in order */
  struct submitted *cork, *cork_tail; /* submitted, not yet flushed (vmkmgmt_UserFlush), in order */
  int writer_started, writer_stop;
  pthread_t writer;

  vmkmgmt_Queue queue; /* completions and, with queue_events, events (once begun) go here, else NULL */
  uint64_t queue_key;
  int queue_events; /* vmkmgmt_UserAttachQueue: events and word of a lost kernel too; 0 for
                     * vmkmgmt_UserAttachCompletions (they go to the monitor thread, as without a queue) */
  struct qentry *gone_entry; /* word of a lost kernel, allocated when attached (pushing cannot fail) */
  unsigned queued_events;    /* this handle's events in the queue (under the queue's lock) */
  unsigned queue_refs;       /* drains acknowledging this handle's events right now (likewise) */
  unsigned acks_ahead;       /* events queued and acknowledged ahead, not yet sent (atomic) */
  struct qentry *spares[HANDLE_SPARES]; /* entries kept for its small events, taken from the queue's */
  unsigned nspares;                     /* (queue.c; under `lock`) */
  /* Events the receive side read and holds, queued together once its batch is read (or before a
   * reply that came after them) by queue_push_held_locked: the queue's lock once a batch, not once an
   * event. Under `lock`. */
  struct qentry *held, *held_tail;
  unsigned prepaid;          /* EVENT frames read and acknowledged before being handled (queue.c): the
                              * receive side's, under `lock`; 0 whenever rlock is free */

  /* The receive side: held by whoever reads the socket — the reader thread, from the read that
   * fills its buffer until every byte of it is handled, or a program spinning for its answers
   * (transport_poll, which only tries it) — so frames are read whole and in order by one thread at a
   * time. Taken before `lock`, never while holding it. */
  pthread_mutex_t rlock;

  int dead;    /* connection lost: every call fails with EIO */
  int closing; /* Destroy is under way */
  int users;   /* API calls in progress (Destroy waits for them) */
  int pollers; /* programs in vmkmgmt_UserPoll on this handle (atomic): the reader leaves them their answers */
  uint32_t next_id;
  /* Requests awaiting their reply, by id: chained in bucket `id % PENDING_BUCKETS` (ids are handed
   * out in turn, so the buckets fill evenly). One list for all made every reply walk past the calls
   * sent after it: a thousand calls in flight took a thousand steps a reply, under `lock`. */
  struct pending *pending[PENDING_BUCKETS];
  pthread_t reader;

  struct event *ev_head, *ev_tail;
  unsigned ev_count;
  uint64_t kernel_dropped;  /* events the kernel dropped for this session (EVENTS_DROPPED) */
  uint64_t library_dropped; /* events dropped here: the local queue was full, or no memory for one */

  int begun;
  int stopping;
  vmkmgmt_DisconnectFn on_disconnect; /* called by the monitor thread once the kernel is gone */
  unsigned begin_gen;
  pthread_t monitor;
};

typedef struct vmkMgmtUserHandleInt handle_t;

/* vmkmgmt.c */
const vmk_MgmtCallbackInfo *handle_find_callback(const handle_t *h, vmk_uint64 id);

/* trust.c: writes a reason into why[0..len) (when there is room) and returns rc */
int vmkmgmt_say(char *why, size_t len, int rc, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* trust.c: connects to the kernel only if it can be trusted; EACCES, EIO or EINVAL, with why */
int trust_connect(int *fd, char *why, size_t len);

/* remote.c: starts the bridge for `host` ("@local" or [user@]host[:port]); *fd speaks to it */
int remote_connect(const char *host, int *fd, pid_t *pid, int *errfd, char *why, size_t len);
/* appends what the bridge's ssh (or the bridge) said on stderr to why */
void remote_reason(int errfd, char *why, size_t len);
/* 1 when the bridge process has exited (and is reaped) within ms */
int remote_exited(pid_t pid, int ms);
/* ends the bridge process after its connection was closed */
void remote_reap(pid_t pid, int errfd);

/* transport.c */
int transport_start_reader(handle_t *h);
void transport_stop_reader(handle_t *h);
void transport_stop_writer(handle_t *h);
int transport_send(handle_t *h, uint16_t type, uint32_t id, const struct iovec *payload, int n);
int transport_send_nowait(handle_t *h, uint16_t type, uint32_t id, const struct iovec *payload, int n);
/* Appends a submitted call's frame to the handle's cork; transport_flush sends every corked frame
 * without waiting (what the socket does not take goes to the writer thread). */
void transport_cork(handle_t *h, struct submitted *sub);
int transport_flush(handle_t *h);
void transport_ack(handle_t *h, uint32_t n);
void transport_ack_nowait(handle_t *h, uint32_t n);
int transport_request(handle_t *h, uint16_t type, const struct iovec *payload, int n, const struct call *call,
                      uint8_t **reply, uint32_t *reply_len);
int transport_register(handle_t *h, struct pending *p);
/* Reads and handles up to `max` whole frames already on the socket, never waiting (vmkmgmt_UserPoll);
 * how many. */
int transport_poll(handle_t *h, int max);

const struct call *transport_call_locked(handle_t *h, uint32_t id);

/* copy.c: answers a COPY_REQUEST frame for request `id`; EIO when the frame is malformed */
int copy_serve(handle_t *h, uint32_t id, const uint8_t *payload, uint32_t len);

/* registry.c */
int registry_add(handle_t *h);
int registry_remove(handle_t *h);
int registry_enter(handle_t *h);
void registry_leave(handle_t *h);

/* invoke.c: a submitted call's reply (payload taken; NULL with status when it failed), and the
 * end of its frame's time in the writer's queue; each completes the token once both happened. */
void submit_replied(handle_t *h, struct submitted *sub, int status, uint8_t *payload, uint32_t len,
                    int *ring_owed);
void submit_unqueued(handle_t *h, struct submitted *sub);
struct submitted *submit_unqueued_list(handle_t *h, struct submitted *list, size_t n);

/* queue.c */
/* The monotonic clock, ns (spins and the reader's deferral to a polling program measure with it). */
uint64_t now_ns(void);
struct qentry *queue_entry_new(void);
void queue_entry_free(struct qentry *e);
/* Pushing: the doorbell rings when the queue goes from empty to non-empty. With `ring_owed` (the
 * reader thread, mid-batch) it is not rung but *ring_owed set, and the pusher rings it with
 * queue_ring once its batch is pushed: one wake-up of the program per batch, not per entry. */
/* Pushes a completion into an entry allocated beforehand, so completing cannot fail. */
void queue_complete(vmkmgmt_Queue q, struct qentry *e, uint64_t token, int status, int *ring_owed);
/* Completions gathered to enter the queue together: one take of its lock and at most one ring for
 * the lot (a flush completes the calls answered while it sent). */
struct completions {
  struct qentry *first, *last;
};
void queue_batch_add(struct completions *b, struct qentry *e, uint64_t token, int status);
/* With `ring_owed` the ring is left to the caller's batch, as queue_complete's. */
void queue_batch_push(vmkmgmt_Queue q, struct completions *b, int *ring_owed);
/* h->lock held: an EVENT payload (taken on 0); EOVERFLOW (too many of h's queued), EBADMSG (it does
 * not match the signature), ENOMEM. On an error the caller frees it and, unless `paid` (acknowledged
 * when read), acknowledges it. With `ring_owed` (the receive side, mid-batch) the event is held for
 * queue_push_held_locked, which drops (and counts, and acknowledges) what does not fit. */
int queue_event_locked(handle_t *h, uint8_t *payload, uint32_t length, int paid, int *ring_owed);
/* h->lock held: queues the events h holds, in order (see queue_event_locked). */
void queue_push_held_locked(handle_t *h, int *ring_owed);
/* h->lock held, by the reader with a buffer just read holding `frames` whole EVENT frames: whether
 * they are acknowledged now, before being handled (then h->prepaid counts them, and the caller sends
 * the acknowledgement). */
int queue_prepay_locked(handle_t *h, unsigned frames);
void queue_ring(vmkmgmt_Queue q);
/* Sends the acknowledgements owed for events queued ahead (queue.c, ACK_AHEAD_BELOW), never waiting:
 * by whoever read them, once per batch. Takes no lock of h's. */
void queue_send_acks_ahead(handle_t *h);
void queue_disconnected_locked(handle_t *h); /* h->lock held */
void queue_detach(handle_t *h); /* Destroy: drops h's events, waits for drains acknowledging them */
/* Around every touch of a caller's memory by the reader (returned data, the kernel's copies): 0 when
 * the program abandoned its memory (vmkmgmt_QueueAbandon), so nothing may be touched. */
int queue_touch_begin(vmkmgmt_Queue q);
void queue_touch_end(vmkmgmt_Queue q);

/* monitor.c: the callback an EVENT payload is for, with its instance, parameter lengths and the
 * offset of each parameter's bytes; NULL when it does not match the signature. */
const vmk_MgmtCallbackInfo *monitor_parse_event(const handle_t *h, const uint8_t *payload, uint32_t length,
                                                vmk_uint64 *instance, uint64_t lengths[VMK_MGMT_MAX_CALLBACK_PARMS],
                                                uint64_t offsets[VMK_MGMT_MAX_CALLBACK_PARMS]);

/* monitor.c */
int monitor_queue_locked(handle_t *h, uint8_t *payload, uint32_t length, int paid);
int monitor_end_ctl_held(handle_t *h);
void monitor_free_events(handle_t *h);

#endif
