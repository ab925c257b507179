/**
 * The types of a session's methods, derived from its signature definition: what `invoke` takes
 * and its options, and the events `events`, `on` and `waitFor` deliver.
 * @module
 */
import type { EventStats, KernelEvent } from "./events.ts";
import type { InstanceRef } from "./instance_ref.ts";
import type { SignatureDef } from "./signature.ts";
import type { EventName, EventParams, InvokeParams } from "./signature_types.ts";

/** What `session.stats` counts. */
export interface SessionStats extends EventStats {
  /** Calls waiting on C (queued ones included). */
  inFlight: number;
  /**
   * Events the kernel dropped for this session because its queue was full (the reader did not
   * keep up); null when the library cannot tell (ESXi's own).
   */
  kernelDropped: number | null;
  /** Events the library dropped because its own queue was full; null when it cannot tell. */
  libraryDropped: number | null;
}

/** Options of one invoke. */
export interface InvokeOptions {
  /**
   * Reject when aborted. A call still queued (at most 24 calls wait on kernels at once per
   * process; the rest queue in JavaScript) is dropped and never reaches the kernel. A call already
   * in the kernel may still run and complete: only the wait ends; it holds one of Deno's blocking
   * threads until the kernel answers or the session closes, but no longer keeps the process alive.
   */
  signal?: AbortSignal;
  /** Reject with `ETIMEDOUT` after this many ms (same as `signal` for what already runs). */
  timeout?: number;
}

/** The first argument of `invoke` for callback definition `C`. */
export type InvokeInput<C> = { instance?: InstanceRef } & InvokeParams<C>;
/** The rest arguments of `invoke`: the input is optional when the callback takes no parameters. */
export type InvokeArgs<C> = Record<never, never> extends InvokeParams<C>
  ? [input?: InvokeInput<C>, options?: InvokeOptions]
  : [input: InvokeInput<C>, options?: InvokeOptions];

/** The callback definitions of signature definition `D`. */
export type Callbacks<D extends SignatureDef> = D["callbacks"];
/** A kernel event of signature definition `D` named `E`. */
export type EventOf<D extends SignatureDef, E extends EventName<D>> = KernelEvent<
  E,
  EventParams<Callbacks<D>[E]>
>;
/** Any kernel event of signature definition `D`. */
export type AnyEventOf<D extends SignatureDef> = { [E in EventName<D>]: EventOf<D, E> }[EventName<D>];
