/**
 * One `invoke` on its way: checked, encoded and submitted in its slice (`slices.ts`), completed by
 * the library (`ffi/handle.ts`'s `CallSink`), decoded, and its promise settled — all through this
 * one object. Why an object and not closures: a call made of closures (the slice's work, its
 * failure, its completion, its refusal) allocated ~1.3 KB before it reached C, most of it their
 * shared contexts; a burst of a thousand calls then gave the garbage collector megabytes to copy
 * while they were in flight, and scavenges of 10–20 ms made a 1 ms timer that late (ARCHITECTURE.md,
 * "Threads and who may block"). Each call still makes its promise and its result.
 *
 * What it gives up: the session's private checks are reached through {@link InvocationHost}, an
 * object the session builds once, not through `this`.
 *
 * @example
 * ```ts ignore
 * const call = new Promise((resolve, reject) =>
 *   inSlice(new Invocation(host, plan, "echo", input, undefined, resolve, reject)));
 * ```
 * @module
 */
import type { CallSink, NativeCall } from "../ffi/handle.ts";
import type { CCallback } from "../ffi/layout.ts";
import type { ArgumentCodec } from "./arguments_codegen.ts";
import type { ErrorContext, VmkMgmtError } from "./errors.ts";
import type { ParamBlock, ParamBlocks } from "./param_blocks.ts";
import { type CallRecording, recordCall } from "./recording.ts";
import type { Core } from "./session_core.ts";
import type { CallbackInfo } from "./signature.ts";
import type { SliceJob } from "./slices.ts";
import { CallerBuffers } from "./types/type.ts";

/** One kernel callback of a session, ready to invoke (made on its first call). */
export interface Plan {
  cb: CallbackInfo;
  /** Its C form. */
  c: CCallback;
  call: NativeCall;
  /** Its calls' fixed-size parameter buffers. */
  blocks: ParamBlocks;
  /** Its arguments to those buffers and back. */
  args: ArgumentCodec;
}

/** What an invocation needs of its session (built once per session). */
export interface InvocationHost {
  readonly core: Core;
  /** @throws {VmkMgmtError} `EBADF` once the session is closed. */
  assertOpen(operation: string): void;
  /**
   * The instance id an invoke addresses.
   * @throws {ValueError} a bad reference. @throws {VmkMgmtError} `ENOENT`: no such instance.
   */
  instanceId(ref: unknown, callback: string): bigint;
  /** The error for a result code, in the session's words. */
  error(rc: number, ctx: Partial<ErrorContext> & { operation: string }): VmkMgmtError;
  /** How an instance is named in messages. */
  instanceLabel(id: bigint): string | undefined;
}

/**
 * The caller buffers an encoding collects, kept for the call only when there are any: most calls
 * have none, and a list of its own for each cost every call two objects. (An encoding runs no other
 * call's: a getter that invokes only records its call for a later slice.)
 */
let scratch = new CallerBuffers();
const NO_BUFFERS: CallerBuffers = Object.freeze({
  list: Object.freeze([]) as unknown as CallerBuffers["list"],
});

/** The buffers collected in {@link scratch}, handed over whole (a fresh one collects from then on). */
function takeScratch(): CallerBuffers {
  const taken = scratch;
  scratch = new CallerBuffers();
  return taken;
}

/** One invoke, from its slice to its settled promise. */
export class Invocation implements SliceJob, CallSink {
  /** The instance addressed, once its slice found it. */
  instance: bigint | undefined;
  readonly #host: InvocationHost;
  readonly #plan: Plan;
  readonly #callback: string;
  #input: Record<string, unknown> | undefined;
  #signal: AbortSignal | undefined;
  #resolve: ((value: never) => void) | undefined;
  #reject: ((reason: unknown) => void) | undefined;
  #block: ParamBlock | undefined;
  #data: readonly Uint8Array[] | undefined;
  #pinned: CallerBuffers | undefined;
  #recording: CallRecording | undefined;

  /**
   * `signal` (the call's deadline, if it has one) also reaches the queue of kernel calls: a call
   * given up on while it waits for a slot never reaches the kernel. The session counted the call
   * in flight; this counts it out when the promise settles.
   */
  constructor(
    host: InvocationHost,
    plan: Plan,
    callback: string,
    input: Record<string, unknown> | undefined,
    signal: AbortSignal | undefined,
    resolve: (value: never) => void,
    reject: (reason: unknown) => void,
  ) {
    this.#host = host;
    this.#plan = plan;
    this.#callback = callback;
    this.#input = input;
    this.#signal = signal;
    this.#resolve = resolve;
    this.#reject = reject;
  }

  /** Its slice: checks, encodes and submits (what it throws rejects the call, before any C call). */
  run(): void {
    const host = this.#host;
    host.assertOpen("invoke");
    if (this.#signal?.aborted) throw this.#signal.reason;
    const inst = this.instance = host.instanceId(this.#input?.instance, this.#callback);
    const plan = this.#plan;
    const block = this.#block = plan.blocks.take();
    let data: readonly Uint8Array[];
    try {
      data = this.#data = plan.args.encode(this.#input, scratch, block);
    } catch (e) {
      scratch.list.length = 0;
      plan.blocks.give(block);
      throw e;
    }
    const pinned = this.#pinned = scratch.list.length === 0 ? NO_BUFFERS : takeScratch();
    this.#recording = recordCall(host.core.recordable, plan.c, inst, data, pinned.list);
    try {
      plan.call.start(inst, data, this, this.#signal, pinned.list);
    } catch (e) {
      if (block.inUse) plan.blocks.give(block); // (refused before any C call)
      throw e;
    }
  }

  /** The call failed before or without C: rejects it. */
  fail(e: unknown): void {
    const reject = this.#reject;
    if (!reject) return; // (settled already)
    this.#release();
    this.#host.core.inFlight--;
    reject(e);
  }

  /** C is done with the buffers: decodes the results (the block may then serve the next call). */
  done(rc: number): void {
    this.#recording?.end(rc);
    const plan = this.#plan;
    let result;
    let error: { e: unknown } | undefined;
    if (rc !== 0) {
      error = { e: this.#error(rc) };
    } else {
      try {
        result = plan.args.decode(this.#data!, this.#pinned, this.#block!, this.#input);
      } catch (e) {
        error = { e };
      }
    }
    plan.blocks.give(this.#block!);
    if (error) return this.fail(error.e);
    const resolve = this.#resolve!;
    this.#release();
    this.#host.core.inFlight--;
    resolve(result as never);
  }

  /** The call never reached C (its signal aborted while it waited for a slot). */
  failed(reason: unknown): void {
    this.#plan.blocks.give(this.#block!);
    this.fail(reason);
  }

  /**
   * Lets go of everything the call held once it is settled. Why: an invocation that lived through
   * two scavenges sits in V8's old space until the next full collection, and whatever it still
   * pointed to — its promise, and through the caller's `Promise.all` a whole burst's results —
   * counted as alive in every scavenge until then (measured: scavenges copying megabytes of such
   * garbage, ARCHITECTURE.md "Threads").
   */
  #release(): void {
    this.#resolve = this.#reject = undefined;
    this.#input = this.#signal = undefined;
    this.#block =
      this.#data =
      this.#pinned =
      this.#recording =
        undefined;
  }

  #error(rc: number): VmkMgmtError {
    const host = this.#host;
    return host.error(rc, {
      operation: "invoke",
      callback: this.#callback,
      instance: host.instanceLabel(this.instance!),
    });
  }
}
