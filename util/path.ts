/**
 * Path helpers with no dependencies (library code may not import @std).
 * @module
 */

/** Turns a file path (relative to the working directory, or absolute) into a `file:` URL string. */
export function toFileUrl(path: string): string {
  const abs = path.startsWith("/") ? path : `${Deno.cwd()}/${path}`;
  return new URL(`file://${abs.split("/").map(encodeURIComponent).join("/")}`).href;
}

/** The directory part of a path, as `dirname(1)` gives it (`.` for a bare name, `/` at the root). */
export function dirnameOf(path: string): string {
  const trimmed = path.length > 1 ? path.replace(/\/+$/, "") : path;
  const slash = trimmed.lastIndexOf("/");
  if (slash < 0) return ".";
  return slash === 0 ? "/" : trimmed.slice(0, slash);
}

/**
 * A path the user typed, made absolute against the directory they ran the command in: `deno task`
 * runs in the project's directory and says where the user was in `INIT_CWD`. `~/` is their home.
 */
export function userPath(path: string): string {
  if (path.startsWith("/")) return path;
  const home = Deno.env.get("HOME");
  if (path.startsWith("~/") && home) return `${home}/${path.slice(2)}`;
  return `${userDir()}/${path}`;
}

/** The directory the user ran the command in (`INIT_CWD` under `deno task`, else the working directory). */
export function userDir(): string {
  return Deno.env.get("INIT_CWD") || Deno.cwd();
}
