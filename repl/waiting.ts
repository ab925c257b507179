/**
 * Feedback while a call waits on a kernel: after a second with no answer, a line that says what is
 * waiting, for how long, and what Ctrl-C does — redrawn each second in place, and erased when the
 * answer comes (a person at a silent prompt cannot tell a slow driver from a hung REPL). Only on
 * a terminal: one-shot runs and pipes get their results alone.
 * @module
 */
import { CommandError, type ReplState } from "./state.ts";

/** The first notice comes after this long (most calls answer well within it, and say nothing). */
const AFTER_MS = 1000;

/** Something to stop once the wait is over. */
export interface WaitNotice {
  /** Erases the notice (if it was shown) and stops it. */
  stop(): void;
}

/**
 * Starts the notice for `what` (`getStats on vmnic0 (acmeNicMgmt)`), written to `out` (stderr on
 * a terminal); nothing at all when `out` is undefined.
 */
export function waitingNotice(
  what: string,
  out: { writeSync(b: Uint8Array): number } | undefined,
): WaitNotice {
  if (!out) return { stop() {} };
  const started = performance.now();
  let shown = false;
  const write = (text: string) => out.writeSync(new TextEncoder().encode(text));
  const draw = () => {
    shown = true;
    const seconds = Math.round((performance.now() - started) / 1000);
    write(
      `\r\x1b[Kwaiting for ${what}: ${seconds}s (Ctrl-C stops waiting; the kernel may still complete it)`,
    );
  };
  let ticker: ReturnType<typeof setInterval> | undefined;
  const first = setTimeout(() => {
    draw();
    ticker = setInterval(draw, 1000);
  }, AFTER_MS);
  return {
    stop() {
      clearTimeout(first);
      clearInterval(ticker);
      if (shown) write("\r\x1b[K");
    },
  };
}

/**
 * Runs a command's wait on kernels as the REPL's foreground work: Ctrl-C aborts `signal`, and the
 * command fails saying it stopped waiting (the kernel may still do it); on a terminal the notice
 * above shows while it waits.
 * @throws {CommandError} after Ctrl-C; whatever `run` throws otherwise.
 */
export async function inForeground<T>(
  state: ReplState,
  what: string,
  run: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const controller = new AbortController();
  state.foreground = controller;
  const notice = waitingNotice(what, state.terminal ? Deno.stderr : undefined);
  try {
    return await run(controller.signal);
  } catch (e) {
    if (!controller.signal.aborted) throw e;
    throw new CommandError(`stopped waiting for ${what} (Ctrl-C); the kernel may still complete it`);
  } finally {
    notice.stop();
    state.foreground = undefined;
  }
}
