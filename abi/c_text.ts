/**
 * How C spells text in the ABI and in drivers' sources: a `char[n]` (a `vmk_Name`, a string member,
 * a message the library writes into a caller's buffer) holds UTF-8 up to its first NUL, and a name
 * (a member, a parameter, an enum constant) is a C identifier. One reading of each for every room.
 *
 * @example
 * ```ts
 * import { cString, isCIdentifier } from "./c_text.ts";
 * cString(new Uint8Array([0x6f, 0x6b, 0, 0x78])); // "ok"
 * isCIdentifier("mtu_9000"); // true
 * ```
 * @module
 */

const decoder = new TextDecoder();

/** The text of a NUL-terminated `char[n]`: its bytes up to the first NUL (all of them when none), as UTF-8. */
export function cString(bytes: Uint8Array): string {
  const end = bytes.indexOf(0);
  return decoder.decode(end < 0 ? bytes : bytes.subarray(0, end));
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Whether `text` is a C identifier (`[A-Za-z_][A-Za-z0-9_]*`). */
export function isCIdentifier(text: unknown): text is string {
  return typeof text === "string" && IDENTIFIER.test(text);
}
