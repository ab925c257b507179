/**
 * How the user runs a command, for usage texts and advice: `deno task repl` in a checkout,
 * `vmkmgmt repl` in the one executable (`deno task compile`; its launcher sets `VMKMGMT_CLI`).
 *
 * @example
 * ```ts
 * import { cliName } from "./cli_name.ts";
 * console.log(`usage: ${cliName("sim")} [options]`); // "usage: deno task sim [options]"
 * ```
 * @module
 */

/** The words that run `command` (a deno.json task name) the way this process was started. */
export function cliName(command: string): string {
  let cli: string | undefined;
  try {
    cli = Deno.env.get("VMKMGMT_CLI");
  } catch {
    // (no --allow-env: a checkout's task)
  }
  return cli ? `${cli} ${command}` : `deno task ${command}`;
}
