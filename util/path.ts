/**
 * Path helpers with no dependencies (library code may not import @std).
 * @module
 */

/** Turns a file path (relative to the working directory, or absolute) into a `file:` URL string. */
export function toFileUrl(path: string): string {
  const abs = path.startsWith("/") ? path : `${Deno.cwd()}/${path}`;
  return new URL(`file://${abs.split("/").map(encodeURIComponent).join("/")}`).href;
}
