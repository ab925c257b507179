/**
 * Text from elsewhere (a client's API name, a kernel module's error) made safe for a log line:
 * every control character — newline, carriage return, escape sequences, C1 controls and the
 * Unicode line separators — is written as an escape, so what a client sends can neither forge
 * a log line nor drive the terminal that shows the log.
 *
 * @example
 * ```ts
 * import { escapeForLog } from "./log_text.ts";
 * escapeForLog("acme\n[sim] forged"); // "acme\\n[sim] forged"
 * ```
 * @module
 */

const NAMED: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

/** `text` with each control character escaped (`\n`, `\r`, `\t`, else `\xNN` or `\uNNNN`). */
export function escapeForLog(text: string): string {
  // deno-lint-ignore no-control-regex -- matching control characters is the point
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => {
    if (NAMED[c]) return NAMED[c];
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16)}`;
  });
}
