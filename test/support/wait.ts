/**
 * Test support: waits that end. A test that would hang fails instead, naming what it waited for.
 * @module
 */

/** Settles as `work` does, or rejects after `ms` naming `what`. */
export function within<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

/** Polls `cond` every `everyMs` until it holds; fails after `ms` naming `what`. */
export async function waitUntil(
  cond: () => boolean | Promise<boolean>,
  what: string,
  ms = 10_000,
  everyMs = 20,
): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** A child's output; after `ms` the child is killed and the wait fails naming `what`. */
export async function outputWithin(
  child: Deno.ChildProcess,
  ms: number,
  what: string,
): Promise<Deno.CommandOutput> {
  const killer = setTimeout(() => child.kill("SIGKILL"), ms);
  try {
    const out = await child.output();
    if (out.signal === "SIGKILL") throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    return out;
  } finally {
    clearTimeout(killer);
  }
}

/** What a command printed, as text. */
export interface RunText {
  /** Its exit code. */
  code: number;
  /** Its standard output. */
  stdout: string;
  /** Its standard error. */
  stderr: string;
}

/** Runs `cmd` to its end (killed after `ms`, the wait failing naming `what`); its output as text. */
export async function runWithin(
  cmd: string,
  args: string[],
  env: Record<string, string>,
  what: string,
  ms = 90_000,
): Promise<RunText> {
  const child = new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "piped" }).spawn();
  const out = await outputWithin(child, ms, what);
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}
