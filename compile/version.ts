/**
 * `vmkmgmt version`: which vmkmgmt this is, the Deno inside it, and the vmk_Mgmt library it loads
 * (VMKMGMT_LIB, ESXi's, or the simulator's that came with it) — loaded for real, so a library that
 * cannot be loaded says why here, not in the middle of a session.
 *
 * @module
 */
import { LibraryError, type LibraryInfo } from "../mod.ts";
import { loadLibrary } from "../ffi/library.ts";

const config = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)));

/** The version lines: this package, Deno, and the library (or why it could not be loaded). */
export async function versionLines(): Promise<{ lines: string[]; ok: boolean }> {
  const lines = [
    `vmkmgmt ${config.version} (${config.name}; deno ${Deno.version.deno}, ${Deno.build.target})`,
  ];
  let info: LibraryInfo;
  try {
    info = (await loadLibrary()).info;
  } catch (e) {
    if (!(e instanceof LibraryError)) throw e;
    return { lines: [...lines, `library: none loaded: ${e.message}`], ok: false };
  }
  const what = [
    info.source === "simulator"
      ? "the simulator's, built in"
      : info.source === "esxi"
      ? "ESXi's"
      : "VMKMGMT_LIB",
    info.completionQueue ? "completion queue" : "vendor library: blocking pool",
  ];
  return { lines: [...lines, `library: ${info.path} (${what.join("; ")})`], ok: true };
}

if (import.meta.main) {
  if (Deno.args.includes("--help") || Deno.args.includes("-h")) {
    console.log("usage: vmkmgmt version — prints vmkmgmt's version, its Deno's, and the library it loads");
    Deno.exit(0);
  }
  const { lines, ok } = await versionLines();
  for (const line of lines) console.log(line);
  Deno.exit(ok ? 0 : 1);
}
