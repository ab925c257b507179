/**
 * The symbol table of libvmkmgmt for `Deno.dlopen`. Every call that can wait — on the kernel,
 * or on the monitor thread, which may itself wait for the JavaScript thread inside a
 * kernel-to-user callback — is `nonblocking`, so the event loop stays free. The variadic
 * `vmk_MgmtUserCallbackInvokeInt` is bound once per payload count (0..4 pointers), and once
 * more as blocking aliases for `invokeSync`.
 * @module
 */

/** The name the variadic invoke is bound under, once per payload count. */
const INVOKE = "vmk_MgmtUserCallbackInvokeInt";

/** The libvmkmgmt symbols. */
export const SYMBOLS = {
  // int vmk_MgmtUserInit(vmk_MgmtApiSignature *sig, vmk_uint64 userCookie, vmk_MgmtUserHandle *handle)
  vmk_MgmtUserInit: { parameters: ["buffer", "u64", "buffer"], result: "i32", nonblocking: true },
  // int vmk_MgmtUserGetInstances(vmk_MgmtUserHandle handle, vmk_MgmtInstances *instances)
  vmk_MgmtUserGetInstances: { parameters: ["pointer", "buffer"], result: "i32", nonblocking: true },
  // int vmk_MgmtUserBegin(vmk_MgmtUserHandle handle) — may wait for an End in progress
  vmk_MgmtUserBegin: { parameters: ["pointer"], result: "i32", nonblocking: true },
  // int vmk_MgmtUserContinue(vmk_MgmtUserHandle handle) — blocks until End
  vmk_MgmtUserContinue: { parameters: ["pointer"], result: "i32", nonblocking: true },
  // int vmk_MgmtUserEnd(vmk_MgmtUserHandle handle) — joins the monitor thread
  vmk_MgmtUserEnd: { parameters: ["pointer"], result: "i32", nonblocking: true },
  // int vmk_MgmtUserDestroy(vmk_MgmtUserHandle handle) — ends delivery, joins threads
  vmk_MgmtUserDestroy: { parameters: ["pointer"], result: "i32", nonblocking: true },
  // Extensions of our library (vmkmgmt.h), absent from ESXi's: `optional`, so null there.
  // int vmkmgmt_CheckKernel(char *why, size_t len) — connects, so it can wait
  vmkmgmt_CheckKernel: { parameters: ["buffer", "usize"], result: "i32", nonblocking: true, optional: true },
  // int vmkmgmt_UserOnDisconnect(vmk_MgmtUserHandle handle, void (*fn)(vmk_uint64 cookie, int error))
  vmkmgmt_UserOnDisconnect: { parameters: ["pointer", "function"], result: "i32", optional: true },
  // int vmkmgmt_UserEventStats(vmk_MgmtUserHandle handle, vmk_uint64 *kernelDropped, vmk_uint64 *libraryDropped)
  vmkmgmt_UserEventStats: { parameters: ["pointer", "buffer", "buffer"], result: "i32", optional: true },
  // int vmkmgmt_UserInitWith(vmk_MgmtApiSignature *sig, vmk_uint64 userCookie,
  //                          const vmkmgmt_InitOptions *options, vmk_MgmtUserHandle *handle) — connects
  vmkmgmt_UserInitWith: {
    parameters: ["buffer", "u64", "buffer", "buffer"],
    result: "i32",
    nonblocking: true,
    optional: true,
  },
  // int vmkmgmt_UserPeer(vmk_MgmtUserHandle handle, char *peer, size_t len)
  vmkmgmt_UserPeer: { parameters: ["pointer", "buffer", "usize"], result: "i32", optional: true },
  // The completion queue (vmkmgmt.h; completion_queue.ts): submit and drain never wait, so they
  // are plain (synchronous) calls; only QueueWait parks a thread.
  // int vmkmgmt_QueueCreate(vmkmgmt_Queue *queue)
  vmkmgmt_QueueCreate: { parameters: ["buffer"], result: "i32", optional: true },
  // int vmkmgmt_QueueDestroy(vmkmgmt_Queue queue)
  vmkmgmt_QueueDestroy: { parameters: ["pointer"], result: "i32", optional: true },
  // int vmkmgmt_UserAttachQueue(vmk_MgmtUserHandle handle, vmkmgmt_Queue queue, vmk_uint64 key)
  vmkmgmt_UserAttachQueue: { parameters: ["pointer", "pointer", "u64"], result: "i32", optional: true },
  // int vmkmgmt_UserSubmit(vmk_MgmtUserHandle handle, vmk_uint64 token, vmk_uint64 instanceId,
  //                        vmk_uint64 callbackId, vmk_uint32 argCount, void *p1, void *p2, void *p3, void *p4)
  vmkmgmt_UserSubmit: {
    parameters: ["pointer", "u64", "u64", "u64", "u32", "buffer", "buffer", "buffer", "buffer"],
    result: "i32",
    optional: true,
  },
  // int vmkmgmt_UserFlush(vmk_MgmtUserHandle handle) — sends what was submitted; never waits
  vmkmgmt_UserFlush: { parameters: ["pointer"], result: "i32", optional: true },
  // int vmkmgmt_QueueDrain(vmkmgmt_Queue queue, void *buf, size_t len, size_t *used, vmk_uint32 *entries)
  vmkmgmt_QueueDrain: {
    parameters: ["pointer", "buffer", "usize", "buffer", "buffer"],
    result: "i32",
    optional: true,
  },
  // int vmkmgmt_QueueWait(vmkmgmt_Queue queue, int timeout_ms) — parks until the queue is not empty
  vmkmgmt_QueueWait: { parameters: ["pointer", "i32"], result: "i32", nonblocking: true, optional: true },
  // int vmkmgmt_QueuePoll(vmkmgmt_Queue queue, vmk_uint32 spin_us) — spins at most spin_us, never sleeps
  vmkmgmt_QueuePoll: { parameters: ["pointer", "u32"], result: "i32", optional: true },
  // int vmkmgmt_UserPoll(vmk_MgmtUserHandle handle, vmk_uint32 spin_us, vmk_uint32 gather) — the
  // same, reading the handle's answers itself meanwhile, and waiting a little for up to `gather` of them
  vmkmgmt_UserPoll: { parameters: ["pointer", "u32", "u32"], result: "i32", optional: true },
  // int vmkmgmt_QueueRing(vmkmgmt_Queue queue) — rings the doorbell now; ENOTCONN without one
  vmkmgmt_QueueRing: { parameters: ["pointer"], result: "i32", optional: true },
  // int vmkmgmt_QueueWake(vmkmgmt_Queue queue)
  vmkmgmt_QueueWake: { parameters: ["pointer"], result: "i32", optional: true },
  // int vmkmgmt_QueueAbandon(vmkmgmt_Queue queue) — waits only for a memcpy in progress
  vmkmgmt_QueueAbandon: { parameters: ["pointer"], result: "i32", optional: true },
  // int vmkmgmt_QueueDoorbell(vmkmgmt_Queue queue, char *path, size_t len)
  vmkmgmt_QueueDoorbell: { parameters: ["pointer", "buffer", "usize"], result: "i32", optional: true },
  // int vmkmgmt_QueueDoorbellAccept(vmkmgmt_Queue queue) — the connection is already queued: no wait
  vmkmgmt_QueueDoorbellAccept: { parameters: ["pointer"], result: "i32", optional: true },
  // The variadic vmk_MgmtUserCallbackInvokeInt(vmk_MgmtUserHandle handle, vmk_uint64 instanceId,
  // vmk_uint64 callbackId, vmk_uint32 argCount, void *p1..pN), once per count of pointers; then the
  // same again, blocking, for invokeSync. (Spelt out: a literal is the type JSR reads without inference.)
  invoke0: { name: INVOKE, parameters: ["pointer", "u64", "u64", "u32"], result: "i32", nonblocking: true },
  invoke1: {
    name: INVOKE,
    parameters: ["pointer", "u64", "u64", "u32", "buffer"],
    result: "i32",
    nonblocking: true,
  },
  invoke2: {
    name: INVOKE,
    parameters: ["pointer", "u64", "u64", "u32", "buffer", "buffer"],
    result: "i32",
    nonblocking: true,
  },
  invoke3: {
    name: INVOKE,
    parameters: ["pointer", "u64", "u64", "u32", "buffer", "buffer", "buffer"],
    result: "i32",
    nonblocking: true,
  },
  invoke4: {
    name: INVOKE,
    parameters: ["pointer", "u64", "u64", "u32", "buffer", "buffer", "buffer", "buffer"],
    result: "i32",
    nonblocking: true,
  },
  invokeSync0: {
    name: INVOKE,
    parameters: ["pointer", "u64", "u64", "u32"],
    result: "i32",
    nonblocking: false,
  },
  invokeSync1: {
    name: INVOKE,
    parameters: ["pointer", "u64", "u64", "u32", "buffer"],
    result: "i32",
    nonblocking: false,
  },
  invokeSync2: {
    name: INVOKE,
    parameters: ["pointer", "u64", "u64", "u32", "buffer", "buffer"],
    result: "i32",
    nonblocking: false,
  },
  invokeSync3: {
    name: INVOKE,
    parameters: ["pointer", "u64", "u64", "u32", "buffer", "buffer", "buffer"],
    result: "i32",
    nonblocking: false,
  },
  invokeSync4: {
    name: INVOKE,
    parameters: ["pointer", "u64", "u64", "u32", "buffer", "buffer", "buffer", "buffer"],
    result: "i32",
    nonblocking: false,
  },
} as const satisfies Deno.ForeignLibraryInterface;

/** The seven functions a library must export. */
export const REQUIRED_FUNCTIONS = [
  "vmk_MgmtUserInit",
  "vmk_MgmtUserGetInstances",
  "vmk_MgmtUserBegin",
  "vmk_MgmtUserContinue",
  "vmk_MgmtUserEnd",
  "vmk_MgmtUserDestroy",
  "vmk_MgmtUserCallbackInvokeInt",
] as const;

/** The opened library's typed functions. */
export type VmkMgmtSymbols = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];
