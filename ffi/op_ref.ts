/**
 * Whether a pending `nonblocking` FFI call keeps the process alive. Deno has no public API for it;
 * its internal `core.refOpPromise` / `core.unrefOpPromise` do it, where this Deno has them. Without
 * them every pending call keeps the process alive, as Deno does by default, and callers that care
 * (`blocking_pool.ts`, `completion_queue.ts`) fall back to what that allows.
 *
 * @example
 * ```ts ignore
 * import { opRef } from "./op_ref.ts";
 * const op = symbols.vmkmgmt_QueueWait(queue, -1);
 * opRef?.unref(op); // the process may exit while it waits
 * ```
 * @module
 */

type OpRef = (promise: Promise<unknown>) => void;

/** `ref` / `unref` of a pending op's promise, or undefined when this Deno has no way to. */
export const opRef: { ref: OpRef; unref: OpRef } | undefined = (() => {
  try {
    const core =
      (Deno as unknown as Record<symbol, { core?: { refOpPromise?: OpRef; unrefOpPromise?: OpRef } }>)[
        (Deno as unknown as { internal: symbol }).internal
      ]?.core;
    if (!core?.refOpPromise || !core.unrefOpPromise) return undefined;
    return { ref: core.refOpPromise.bind(core), unref: core.unrefOpPromise.bind(core) };
  } catch {
    return undefined;
  }
})();
