/**
 * Test support: a real terminal. Runs a command in a detached tmux session, types keys with
 * send-keys and reads the screen with capture-pane.
 * @module
 */

let counter = 0;

/** `text` as one shell word, whatever it holds (single quotes, spaces, `$`, newlines). */
export function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

/**
 * Runs tmux against the server of one terminal: each terminal has a server of its own (`-L`), so
 * one terminal's server exiting cannot race another's start ("server exited unexpectedly"), and
 * no server carries an environment from a terminal before it.
 */
async function tmux(server: string, ...args: string[]): Promise<string> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command("tmux", { args: ["-L", server, ...args], stdout: "piped", stderr: "piped" })
      .output();
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

  /** Starts `command` (a shell line) in a terminal of `cols`×50 (160 by default) with `env`. */
  static async start(command: string, env: Record<string, string>, cols = 160): Promise<Terminal> {
    const name = `vmk-${Deno.pid}-${counter++}`;
    // An empty value unsets the variable (the tmux server may have it from whoever started it).
    const exports = Object.entries(env).map(([k, v]) => {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new Error(`not an environment variable name: ${k}`);
      return v === "" ? `unset ${k};` : `export ${k}=${shellQuote(v)};`;
    }).join(" ");
    await tmux(
      name,
      "new-session",
      "-d",
      "-s",
      name,
      "-x",
      String(cols),
      "-y",
      "50",
      // The program's end shows on the screen, with its status, for waitForExit.
      `${exports} ${command}; echo "[exited $?]"; sleep 600`,
    );
    // A session's size follows its clients unless told otherwise; this one has none.
    await tmux(name, "set-option", "-t", name, "window-size", "manual").catch(() => {});
    return new Terminal(name);
  }

  /** Resizes the terminal (the program gets SIGWINCH). */
  async resize(cols: number, rows = 50): Promise<void> {
    await tmux(this.name, "resize-window", "-t", this.name, "-x", String(cols), "-y", String(rows));
  }

  /** Types literal text. */
  async type(text: string): Promise<void> {
    await tmux(this.name, "send-keys", "-t", this.name, "-l", text);
  }

  /** Presses keys by tmux name: Tab, Enter, Up, C-r, C-c, C-d, BSpace… */
  async press(...keys: string[]): Promise<void> {
    for (const k of keys) await tmux(this.name, "send-keys", "-t", this.name, k);
  }

  /** Presses keys in one send-keys, so that they reach the program in one read (Tab Tab). */
  async pressTogether(...keys: string[]): Promise<void> {
    await tmux(this.name, "send-keys", "-t", this.name, ...keys);
  }

  /** The visible screen as text (wrapped rows joined). */
  async screen(): Promise<string> {
    return await tmux(this.name, "capture-pane", "-t", this.name, "-p", "-J");
  }

  /** The visible screen with its colours (SGR escapes kept). */
  async coloured(): Promise<string> {
    return await tmux(this.name, "capture-pane", "-t", this.name, "-p", "-e");
  }

  /** The visible screen row by row, as the terminal shows it (no joining of wrapped rows). */
  async rows(): Promise<string[]> {
    return (await tmux(this.name, "capture-pane", "-t", this.name, "-p")).split("\n");
  }

  /** Rows scrolled off the top into the scrollback. */
  async historySize(): Promise<number> {
    return Number(
      (await tmux(this.name, "display-message", "-t", this.name, "-p", "#{history_size}")).trim(),
    );
  }

  /** The row the cursor is on, as the terminal shows it. */
  async cursorRow(): Promise<string> {
    const y = Number((await tmux(this.name, "display-message", "-t", this.name, "-p", "#{cursor_y}")).trim());
    return (await this.rows())[y] ?? "";
  }

  /** The line the cursor is on (wrapped rows joined, as {@link screen} gives them). */
  async cursorLine(): Promise<string> {
    const y = Number((await tmux(this.name, "display-message", "-t", this.name, "-p", "#{cursor_y}")).trim());
    return (await this.screen()).split("\n")[y] ?? "";
  }

  /** Reads `read` until `ok` holds for it (every 100 ms); fails after `timeoutMs` naming `what`. */
  async #poll<T>(read: () => Promise<T>, ok: (v: T) => boolean, what: string, timeoutMs: number): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let last: T;
    do {
      last = await read();
      if (ok(last)) return last;
      await new Promise((r) => setTimeout(r, 100));
    } while (Date.now() < deadline);
    throw new Error(
      `timed out waiting for ${what}; screen:\n${Array.isArray(last) ? last.join("\n") : last}`,
    );
  }

  /** Waits until `test` holds for the screen (polling); returns the screen. */
  waitFor(test: string | RegExp | ((s: string) => boolean), timeoutMs = 15_000): Promise<string> {
    const ok = typeof test === "string"
      ? (s: string) => s.includes(test)
      : test instanceof RegExp
      ? (s: string) => test.test(s)
      : test;
    return this.#poll(() => this.screen(), ok, String(test), timeoutMs);
  }

  /** Waits until `test` holds for the screen's rows as the terminal shows them; returns them. */
  waitForRows(test: (rows: string[]) => boolean, what: string, timeoutMs = 15_000): Promise<string[]> {
    return this.#poll(() => this.rows(), test, what, timeoutMs);
  }

  /** Waits until `test` holds for the screen with its colours (SGR escapes kept); returns it. */
  waitForColoured(test: (screen: string) => boolean, what: string, timeoutMs = 15_000): Promise<string> {
    return this.#poll(() => this.coloured(), test, what, timeoutMs);
  }

  /** Waits until the row the cursor is on (trailing spaces aside) is `text`, or matches it. */
  waitForCursorRow(text: string | RegExp, timeoutMs = 15_000): Promise<string> {
    const ok = (r: string) => typeof text === "string" ? r.trimEnd() === text.trimEnd() : text.test(r);
    return this.#poll(() => this.cursorRow(), ok, `the cursor's row to be ${String(text)}`, timeoutMs);
  }

  /** Waits for the program to end; its exit status. */
  async waitForExit(timeoutMs = 15_000): Promise<number> {
    const screen = await this.waitFor(/\[exited \d+\]/, timeoutMs);
    return Number(/\[exited (\d+)\]/.exec(screen)![1]);
  }

  /** Types a line, presses Enter and waits for `expect` on the screen (see {@link waitFor}). */
  async enter(line: string, expect: string | RegExp | ((s: string) => boolean)): Promise<string> {
    await this.type(line);
    await this.press("Enter");
    return await this.waitFor(expect);
  }

  /** Kills the session and its server. */
  async [Symbol.asyncDispose](): Promise<void> {
    await tmux(this.name, "kill-server").catch(() => {});
  }
}
