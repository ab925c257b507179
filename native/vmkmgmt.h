/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vmkmgmt.h -- user-space interface of libvmkmgmt (the vmk_Mgmt API), written from the project's ABI
 * notes (the shared abi.md, outside this tree; this header is where the tree keeps them, with
 * abi/facts.ts). Binary-compatible with the ESXi 6.x library on x86_64 (LP64).
 */
#ifndef VMKMGMT_H
#define VMKMGMT_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef unsigned char vmk_uint8;
typedef unsigned short vmk_uint16;
typedef unsigned int vmk_uint32;
typedef unsigned long vmk_uint64;
typedef char vmk_Bool;
typedef vmk_uint64 vmk_ByteCount;
typedef vmk_uint32 vmk_revnum;

#define VMK_REVISION_FROM_NUMBERS(major, minor, update, patch)                                  \
  ((vmk_revnum)((((major) & 0xff) << 24) | (((minor) & 0xff) << 16) | (((update) & 0xff) << 8) | \
                ((patch) & 0xff)))

#define VMK_MISC_NAME_MAX 32
typedef struct vmk_Name {
  char string[VMK_MISC_NAME_MAX];
} vmk_Name;

#define VMK_MGMT_MAX_CALLBACK_PARMS 4
#define VMK_MGMT_RESERVED_CALLBACKS 15
#define VMK_MGMT_MAX_INSTANCES 32
#define VMK_MGMT_NO_INSTANCE_ID ((vmk_uint64)0)

typedef enum vmk_MgmtCallbackLocation {
  VMK_MGMT_CALLBACK_KERNEL = 1,
  VMK_MGMT_CALLBACK_USER = 2,
} vmk_MgmtCallbackLocation;

typedef enum vmk_MgmtParmType {
  VMK_MGMT_PARMTYPE_IN = 0,
  VMK_MGMT_PARMTYPE_OUT = 1,
  VMK_MGMT_PARMTYPE_INOUT = 2,
  VMK_MGMT_PARMTYPE_VECTOR_IN = 3,
  VMK_MGMT_PARMTYPE_VECTOR_OUT = 4,
  VMK_MGMT_PARMTYPE_VECTOR_INOUT = 5,
} vmk_MgmtParmType;

typedef struct vmk_MgmtCallbackInfo {
  vmk_MgmtCallbackLocation location;
  void *callback;
  vmk_Bool synchronous;
  vmk_uint8 numParms;
  vmk_uint32 parmSizes[VMK_MGMT_MAX_CALLBACK_PARMS];
  vmk_MgmtParmType parmTypes[VMK_MGMT_MAX_CALLBACK_PARMS];
  vmk_uint64 callbackId;
} vmk_MgmtCallbackInfo;

typedef struct vmk_MgmtApiSignature {
  vmk_revnum version;
  vmk_Name name;
  vmk_Name vendor;
  int numCallbacks;
  vmk_MgmtCallbackInfo *callbacks;
} vmk_MgmtApiSignature;

typedef struct vmk_MgmtInstances {
  vmk_uint8 numInstances;
  vmk_uint64 instanceIds[VMK_MGMT_MAX_INSTANCES];
  vmk_Name instanceNames[VMK_MGMT_MAX_INSTANCES];
} vmk_MgmtInstances;

typedef struct vmk_MgmtVectorParm {
  vmk_ByteCount length;
  void *dataPtr;
} vmk_MgmtVectorParm;

typedef struct vmkMgmtUserHandleInt *vmk_MgmtUserHandle;

int vmk_MgmtUserInit(vmk_MgmtApiSignature *sig, vmk_uint64 userCookie, vmk_MgmtUserHandle *handle);
int vmk_MgmtUserGetInstances(vmk_MgmtUserHandle handle, vmk_MgmtInstances *instances);
int vmk_MgmtUserBegin(vmk_MgmtUserHandle handle);
int vmk_MgmtUserContinue(vmk_MgmtUserHandle handle);
int vmk_MgmtUserEnd(vmk_MgmtUserHandle handle);
int vmk_MgmtUserDestroy(vmk_MgmtUserHandle handle);
int vmk_MgmtUserCallbackInvokeInt(vmk_MgmtUserHandle handle, vmk_uint64 instanceId, vmk_uint64 callbackId,
                                  vmk_uint32 argCount, ...);

/*
 * Extensions of this library, not in ESXi's libvmkmgmt (look them up with dlsym; a client must
 * work without them).
 *
 * vmkmgmt_CheckKernel: connects to the kernel the library would use, checks who runs it exactly
 * as vmk_MgmtUserInit does, and writes why it is (not) trusted into why[0..len) (always
 * NUL-terminated). Returns 0, EACCES (someone else's socket directory or kernel: Init refuses it
 * with EACCES, before sending a byte), EIO (no kernel there) or EINVAL (a bad path or buffer).
 *
 * vmkmgmt_UserOnDisconnect: fn(cookie, EIO) is called once, on the monitor thread, after the
 * last queued event, when the kernel goes away while delivery runs (Continue returns EIO then
 * too). Set it before Begin; NULL removes it. EINVAL for a bad handle.
 *
 * vmkmgmt_UserEventStats: events lost so far on this handle — dropped by the kernel (its queue for
 * this session was full) and by the library (its own queue was full). Never blocks. EINVAL for a
 * bad handle or a NULL pointer.
 */
int vmkmgmt_CheckKernel(char *why, size_t len);

/*
 * vmkmgmt_UserInitWith: vmk_MgmtUserInit with options (NULL options: exactly vmk_MgmtUserInit).
 *
 * host: where the kernel is. NULL: $VMKMGMT_HOST; unset or "": this machine's kernel (the
 * simulator). "[user@]host[:port]" (or "[v6addr]:port"): `ssh` to that host runs the bridge
 * ($VMKMGMT_BRIDGE, default "vmkmgmt-bridge") with the options in $VMKMGMT_SSH (split at spaces),
 * sessions sharing one SSH connection (ControlMaster). "@local": the bridge command runs here,
 * without ssh (tests, and a bridge on this machine).
 *
 * buffers: the pointer members of parameters that point to caller buffers, so a bridge can copy the
 * buffers to its own memory and re-point them for the real kernel (see vmkmgmt_BufferField).
 *
 * why/whyLen: on failure, what went wrong in words (ssh's own message, the bridge's, the kernel's
 * refusal); always NUL-terminated when whyLen > 0.
 *
 * pid: a bridge passes its client's, so the simulator's session list and error log name the
 * process that made the call.
 *
 * vmkmgmt_UserPeer: who answers this handle ("vmkmgmt simulator", "vmkmgmt-bridge 1.0.0 on esxi01,
 * /lib64/libvmkmgmt.so"), into peer[0..len). EINVAL for a bad handle or buffer.
 */
#define VMKMGMT_BUFFER_IN 1u
#define VMKMGMT_BUFFER_OUT 2u
#define VMKMGMT_BUFFER_INOUT 3u
typedef struct vmkmgmt_BufferField {
  vmk_uint64 callbackId;
  vmk_uint32 parm;         /* the parameter's index */
  vmk_uint32 offset;       /* of the pointer, in the parameter (in each element of a vector) */
  vmk_uint32 direction;    /* VMKMGMT_BUFFER_IN, _OUT or _INOUT */
  vmk_uint32 length;       /* a fixed length in bytes, when lengthSize is 0 */
  vmk_uint32 lengthOffset; /* else: the offset of an unsigned member holding the length ... */
  vmk_uint32 lengthSize;   /* ... and its size (1, 2, 4 or 8) */
} vmkmgmt_BufferField;

typedef struct vmkmgmt_InitOptions {
  const char *host;
  const vmkmgmt_BufferField *buffers;
  vmk_uint32 numBuffers;
  char *why;
  size_t whyLen;
  vmk_uint32 pid; /* the process the session is for, as the kernel lists it; 0: this one */
} vmkmgmt_InitOptions;

int vmkmgmt_UserInitWith(vmk_MgmtApiSignature *sig, vmk_uint64 userCookie, const vmkmgmt_InitOptions *options,
                         vmk_MgmtUserHandle *handle);
int vmkmgmt_UserPeer(vmk_MgmtUserHandle handle, char *peer, size_t len);
typedef void (*vmkmgmt_DisconnectFn)(vmk_uint64 cookie, int error);
int vmkmgmt_UserOnDisconnect(vmk_MgmtUserHandle handle, vmkmgmt_DisconnectFn fn);
int vmkmgmt_UserEventStats(vmk_MgmtUserHandle handle, vmk_uint64 *kernelDropped, vmk_uint64 *libraryDropped);

/*
 * Completion queues (extensions): calls that no thread waits for, and events that no monitor thread
 * delivers. A program with an event loop (the Deno binding) submits calls from its own thread and
 * keeps one thread waiting on the queue, however many calls are in flight.
 *
 * vmkmgmt_QueueCreate: an empty queue. vmkmgmt_QueueDestroy: EBUSY while a handle is attached
 * to it (destroy the handles first); the entries left in it go with it.
 *
 * vmkmgmt_UserAttachQueue: the handle's submitted calls complete into `queue`, and, once Begin was
 * called, its events go there too (tagged `key`) instead of to the user callbacks of its table, with
 * word of a kernel that went away; Begin starts no monitor thread. Before Begin, and at most once.
 *
 * vmkmgmt_UserAttachCompletions: the same for submitted calls only (their entries' `key` is the
 * token, as always): the handle's events and word of a lost kernel still go to the user callbacks
 * of its table and vmkmgmt_UserOnDisconnect, on the monitor thread Begin starts. For a program
 * with threads of its own for events but none to spare per call in flight (vmkmgmt-bridge).
 *
 * vmkmgmt_UserSubmit: vmk_MgmtUserCallbackInvokeInt without waiting: the same checks (an error is
 * returned at once, and nothing completes), then the INVOKE is corked on the handle and the call
 * returns 0; vmkmgmt_UserFlush sends every corked INVOKE of the handle — together, written at once
 * as far as the socket takes them, the rest by a library thread — and never waits (so a batch of
 * submits costs one system call). p1..p4 are what the variadic invoke would take (NULL past
 * argCount). Every buffer they reach (a vmk_MgmtVectorParm and its data too) must stay valid until
 * the token completes: the library writes returned data into them from its reader thread. Every
 * accepted token completes exactly once: with the kernel's status, EIO when the connection fails, or
 * EIO when the handle is destroyed first (a corked call included).
 *
 * vmkmgmt_QueueDrain: moves whole entries into buf[0..len): *used bytes, *entries entries, in the
 * order they happened (per handle: events and completions as the kernel sent them). ENOSPC when the
 * next entry does not fit in all of `len` (*used says how many bytes it needs). Events drained are
 * acknowledged to the kernel (flow control) as they leave the queue. Never blocks.
 * Each entry starts with a vmkmgmt_QueueEntry; `length` is the whole entry's, a multiple of 8:
 *   VMKMGMT_ENTRY_COMPLETION: `key` is the token, `status` the call's result.
 *   VMKMGMT_ENTRY_EVENT: `key` is the handle's; then vmk_uint64 instanceId, callbackId, numParms, a
 *     vmk_uint64 length per parameter, and the parameters' bytes, each padded to 8.
 *   VMKMGMT_ENTRY_DISCONNECT: `key` is the handle's; `status` is EIO.
 *
 * vmkmgmt_QueueWait: blocks until the queue is not empty (0), for at most timeout_ms (ETIMEDOUT;
 * -1: no limit), or until vmkmgmt_QueueWake (EINTR; a wake with no waiter ends the next wait). While
 * entries have been coming quickly it spins a little before it sleeps (at most 150 us; the
 * variable VMKMGMT_QUEUE_SPIN_US changes that, 0 never spins), since a thread woken on another CPU
 * comes late. One waiter at a time.
 *
 * vmkmgmt_QueuePoll: spins (never sleeps) until the queue is not empty (0) for at most spin_us
 * microseconds (ETIMEDOUT): for a program that has just sent calls and has nothing else to do for
 * that long, so that an answer coming quickly costs no wake-up of its thread.
 *
 * vmkmgmt_UserPoll: vmkmgmt_QueuePoll on the handle's queue that also reads the handle's answers
 * itself while the reader thread is not reading: the answer then costs no wake-up of the reader
 * either: it spins a little, then sleeps on the handle's socket for the rest of spin_us. Once it has
 * read answers itself, fewer than `gather` frames (0 or 1: it returns with the first), it sleeps on
 * the socket for more, up to 60 us after the first, so that answers that came one by one are drained,
 * and their calls' successors sent, together. It reads at most 64 frames itself (they cost the
 * calling thread three system calls each); the reader takes the rest. Entries it
 * completes do not ring the doorbell: drain the queue after a 0, or ring it (vmkmgmt_QueueRing) to
 * drain in the event loop's next turn. EINVAL for a handle with no queue.
 *
 * vmkmgmt_QueueRing: rings the doorbell now (one byte), or calls the hook (vmkmgmt_QueueOnRing);
 * ENOTCONN when there is neither.
 *
 * vmkmgmt_QueueDoorbell: for a program with an event loop that watches sockets: a Unix socket to
 * connect to (its path, in a directory only this user can enter, into path[0..len)); then
 * vmkmgmt_QueueDoorbellAccept takes the connection — only one from this very process (SO_PEERCRED;
 * EACCES for any other, EAGAIN when none has come yet) — and removes the socket's file. From then
 * on the library writes one byte to it each time the queue goes from empty to non-empty (never
 * waiting: the program reads it, drains the queue, and reads again). EEXIST for a second doorbell.
 *
 * vmkmgmt_QueueOnRing: for a program whose own code may run on the library's threads (vmkmgmt-bridge):
 * in place of a doorbell, the thread that made the queue go from empty to non-empty calls fn(ctx)
 * once what it was pushing is in (the reader thread once per read; or a thread in Submit, Flush or
 * Destroy of an attached handle), holding none of the queue's locks, so fn can drain the queue and
 * answer right there, with no thread of the program woken in between. fn may run on several threads
 * at once, and while it runs the handle's reader reads nothing more; it must not call End, Destroy or
 * the (waiting) invoke on a handle attached to the queue — those wait for that very reader. EBUSY
 * once a handle is attached, EEXIST when a doorbell or a hook is already set, EINVAL for a NULL fn.
 *
 * vmkmgmt_QueueAbandon: the program's memory is going away (it is exiting with calls in flight):
 * from now on the library touches no caller buffer of a handle attached to the queue — a reply's
 * data is dropped and the call completes with ECANCELED; the kernel's copies fail with EFAULT.
 * Waits for a write in progress; never undone.
 */
typedef struct vmkmgmt_QueueInt *vmkmgmt_Queue;
#define VMKMGMT_ENTRY_COMPLETION 1u
#define VMKMGMT_ENTRY_EVENT 2u
#define VMKMGMT_ENTRY_DISCONNECT 3u
typedef struct vmkmgmt_QueueEntry {
  vmk_uint32 kind;
  vmk_uint32 length;
  vmk_uint64 key;
  int status;
  vmk_uint32 reserved;
} vmkmgmt_QueueEntry;

int vmkmgmt_QueueCreate(vmkmgmt_Queue *queue);
int vmkmgmt_QueueDestroy(vmkmgmt_Queue queue);
int vmkmgmt_UserAttachQueue(vmk_MgmtUserHandle handle, vmkmgmt_Queue queue, vmk_uint64 key);
int vmkmgmt_UserAttachCompletions(vmk_MgmtUserHandle handle, vmkmgmt_Queue queue);
int vmkmgmt_UserSubmit(vmk_MgmtUserHandle handle, vmk_uint64 token, vmk_uint64 instanceId, vmk_uint64 callbackId,
                       vmk_uint32 argCount, void *p1, void *p2, void *p3, void *p4);
int vmkmgmt_UserFlush(vmk_MgmtUserHandle handle);
int vmkmgmt_QueueDrain(vmkmgmt_Queue queue, void *buf, size_t len, size_t *used, vmk_uint32 *entries);
int vmkmgmt_QueueWait(vmkmgmt_Queue queue, int timeout_ms);
int vmkmgmt_QueuePoll(vmkmgmt_Queue queue, vmk_uint32 spin_us);
int vmkmgmt_UserPoll(vmk_MgmtUserHandle handle, vmk_uint32 spin_us, vmk_uint32 gather);
int vmkmgmt_QueueRing(vmkmgmt_Queue queue);
int vmkmgmt_QueueWake(vmkmgmt_Queue queue);
int vmkmgmt_QueueAbandon(vmkmgmt_Queue queue);
int vmkmgmt_QueueDoorbell(vmkmgmt_Queue queue, char *path, size_t len);
int vmkmgmt_QueueDoorbellAccept(vmkmgmt_Queue queue);
typedef void (*vmkmgmt_RingFn)(void *ctx);
int vmkmgmt_QueueOnRing(vmkmgmt_Queue queue, vmkmgmt_RingFn fn, void *ctx);

/* Counts 0..4 variadic arguments (GNU ## swallows the comma for zero). */
#define VMK_UTIL_NUM_ARGS_(_0, _1, _2, _3, _4, N, ...) N
#define VMK_UTIL_NUM_ARGS(...) VMK_UTIL_NUM_ARGS_(_0, ##__VA_ARGS__, 4, 3, 2, 1, 0)

#define vmk_MgmtUserCallbackInvoke(handle, instanceId, callbackId, ...) \
  vmk_MgmtUserCallbackInvokeInt(handle, instanceId, callbackId, VMK_UTIL_NUM_ARGS(__VA_ARGS__), ##__VA_ARGS__)

#ifdef __cplusplus
}
#endif
#endif
