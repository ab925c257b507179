/**
 * Test support: a real terminal. Runs a command in a detached tmux session, types keys with
 * send-keys and reads the screen with capture-pane.
 * @module
 */

let counter = 0;

async function tmux(...args: string[]): Promise<string> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command("tmux", { args, stdout: "piped", stderr: "piped" }).output();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new Error("the REPL tests need tmux: install it (apt-get install -y tmux); .ci/run does");
    }
    throw e;
  }
  if (!out.success) throw new Error(`tmux ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  return new TextDecoder().decode(out.stdout);
}

/** A terminal running one program. */
export class Terminal implements AsyncDisposable {
  readonly name: string;

  private constructor(name: string) {
    this.name = name;
  }

  /** Starts `command` (a shell line) in a 160×50 terminal with `env`. */
  static async start(command: string, env: Record<string, string>): Promise<Terminal> {
    const name = `vmk-${Deno.pid}-${counter++}`;
    const exports = Object.entries(env).map(([k, v]) => `export ${k}='${v}';`).join(" ");
    await tmux("new-session", "-d", "-s", name, "-x", "160", "-y", "50", `${exports} ${command}; sleep 600`);
    return new Terminal(name);
  }

  /** Types literal text. */
  async type(text: string): Promise<void> {
    await tmux("send-keys", "-t", this.name, "-l", text);
  }

  /** Presses keys by tmux name: Tab, Enter, Up, C-r, C-c, C-d, BSpace… */
  async press(...keys: string[]): Promise<void> {
    for (const k of keys) await tmux("send-keys", "-t", this.name, k);
  }

  /** The visible screen as text. */
  async screen(): Promise<string> {
    return await tmux("capture-pane", "-t", this.name, "-p", "-J");
  }

  /** The line the cursor is on. */
  async cursorLine(): Promise<string> {
    const y = Number((await tmux("display-message", "-t", this.name, "-p", "#{cursor_y}")).trim());
    return (await this.screen()).split("\n")[y] ?? "";
  }

  /** Waits until `test` holds for the screen (polling); returns the screen. */
  async waitFor(test: string | RegExp | ((s: string) => boolean), timeoutMs = 15_000): Promise<string> {
    const ok = typeof test === "string"
      ? (s: string) => s.includes(test)
      : test instanceof RegExp
      ? (s: string) => test.test(s)
      : test;
    const deadline = Date.now() + timeoutMs;
    let last = "";
    while (Date.now() < deadline) {
      last = await this.screen();
      if (ok(last)) return last;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`timed out waiting for ${String(test)}; screen:\n${last}`);
  }

  /** Kills the session. */
  async [Symbol.asyncDispose](): Promise<void> {
    await tmux("kill-session", "-t", this.name).catch(() => {});
  }
}
