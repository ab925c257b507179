/**
 * A link with latency, for measuring pipelining across the bridge: run as the bridge command
 * (`VMKMGMT_BRIDGE="deno run -A bench/delay_relay.ts MS -- vmkmgmt-bridge --lib …"`), it starts the
 * bridge and carries bytes both ways, each chunk held MS milliseconds, in order — as a network with
 * that one-way delay would (bandwidth is not limited).
 *
 *   delay_relay.ts MS -- COMMAND [ARGS…]
 * @module
 */

/** Copies `from` to `to`, each chunk `ms` after it arrived, in order; closes `to` after the last. */
export async function delayed(
  from: ReadableStream<Uint8Array>,
  to: WritableStream<Uint8Array>,
  ms: number,
): Promise<void> {
  const writer = to.getWriter();
  let chain = Promise.resolve();
  for await (const chunk of from) {
    const due = performance.now() + ms;
    chain = chain.then(async () => {
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      await writer.write(chunk);
    });
  }
  await chain;
  await writer.close().catch(() => {});
}

if (import.meta.main) {
  const [ms, dashes, command, ...args] = Deno.args;
  const delay = Number(ms);
  if (!Number.isFinite(delay) || delay < 0 || dashes !== "--" || !command) {
    console.error("usage: delay_relay.ts MS -- COMMAND [ARGS…]");
    Deno.exit(2);
  }
  const child = new Deno.Command(command, { args, stdin: "piped", stdout: "piped", stderr: "inherit" })
    .spawn();
  const up = delayed(Deno.stdin.readable, child.stdin, delay).catch(() => {});
  const down = delayed(child.stdout, Deno.stdout.writable, delay).catch(() => {});
  await Promise.all([up, down]);
  const status = await child.status;
  Deno.exit(status.code);
}
