/**
 * Signal handling for scripts: SIGINT/SIGTERM abort an AbortSignal that every wait, iterator and
 * invoke of this module accepts, so a script unwinds through its `await using` blocks and closes
 * its sessions. A second signal exits at once (status 130).
 *
 * @example
 * ```ts ignore
 * import { trapInterrupts } from "./interrupt.ts";
 * using stop = trapInterrupts();
 * for await (const ev of session.events("linkEvent", { signal: stop.signal })) console.log(ev);
 * ```
 * @module
 */

/** A trap for termination signals; dispose it to remove the handlers. */
export interface InterruptTrap extends Disposable {
  /** Aborted at the first signal; its reason names the signal. */
  readonly signal: AbortSignal;
  /** The signal received, if any. */
  readonly received: Deno.Signal | undefined;
}

/** Traps `signals` (SIGINT and SIGTERM by default) until disposed. */
export function trapInterrupts(signals: Deno.Signal[] = ["SIGINT", "SIGTERM"]): InterruptTrap {
  const controller = new AbortController();
  let received: Deno.Signal | undefined;
  const handlers = signals.map((sig) => {
    const handler = () => {
      if (received) Deno.exit(130);
      received = sig;
      controller.abort(new DOMException(`interrupted by ${sig}`, "AbortError"));
    };
    Deno.addSignalListener(sig, handler);
    return [sig, handler] as const;
  });
  return {
    signal: controller.signal,
    get received() {
      return received;
    },
    [Symbol.dispose]() {
      for (const [sig, h] of handlers) Deno.removeSignalListener(sig, h);
    },
  };
}
