/**
 * Finding and opening libvmkmgmt: `VMKMGMT_LIB`, then the ESXi location, then the simulator's
 * library built from `native/` (on first use; fetched into a cache and built there when this
 * module was imported by URL). Which library was loaded is reported by {@link libraryInfo}.
 *
 * @example
 * ```ts ignore
 * import { loadLibrary, libraryInfo } from "./library.ts";
 * loadLibrary();
 * console.log(libraryInfo()?.path);
 * ```
 * @module
 */
import { ESXI_LIBRARY_PATHS, HOST_ENV, LIBRARY_ENV } from "../abi/facts.ts";
import { CompletionQueue } from "./completion_queue.ts";
import { keepMapped } from "./keep_mapped.ts";
import { REQUIRED_FUNCTIONS, SYMBOLS, type VmkMgmtSymbols } from "./symbols.ts";

/** Where a library came from. */
export type LibrarySource = "env" | "esxi" | "simulator";

/** The library in use. */
export interface LibraryInfo {
  /** Absolute path loaded. */
  readonly path: string;
  /** How it was found. */
  readonly source: LibrarySource;
  /** True when it is our simulator library (talks to `sim/`, or to a bridge on another host). */
  readonly simulated: boolean;
  /** `VMKMGMT_HOST`, when set: sessions go to that host's kernel through the bridge. */
  readonly host?: string;
  /**
   * True when the library has our completion queue: calls take no thread of Deno's blocking pool
   * (`completion_queue.ts`). False for a vendor's library (ESXi's): at most 24 calls wait in C at
   * once per process, the rest queue in JavaScript (`blocking_pool.ts`).
   */
  readonly completionQueue: boolean;
}

/** No usable library was found or it could not be loaded. */
export class LibraryError extends Error {
  /** Paths tried, in order, with why each was passed over. */
  readonly tried: readonly string[];
  /** Builds the error. */
  constructor(message: string, tried: readonly string[] = []) {
    super(tried.length ? `${message}\nTried:\n${tried.map((t) => `  - ${t}`).join("\n")}` : message);
    this.name = "LibraryError";
    this.tried = tried;
  }
}

let loaded: { lib: Deno.DynamicLibrary<typeof SYMBOLS>; info: LibraryInfo } | undefined;

function exists(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

function isOurs(path: string): boolean {
  // Our library is built from native/ and named for it in its own directory.
  return path.endsWith("/native/build/libvmkmgmt.so") || path.includes("/vmkmgmt/native-");
}

function build(dir: string): void {
  let out: Deno.CommandOutput;
  try {
    out = new Deno.Command("make", { args: ["-s", "-C", dir, "lib"], stdout: "piped", stderr: "piped" })
      .outputSync();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new LibraryError(
        "cannot build the simulator library: `make` is not installed. Install make and a C compiler " +
          "(e.g. `apt-get install build-essential`), or set VMKMGMT_LIB to a built libvmkmgmt.so",
      );
    }
    if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) {
      throw new LibraryError(
        `the simulator library is not built and building it needs --allow-run=make (or run \`make -C ${dir}\` once)`,
      );
    }
    throw e;
  }
  if (!out.success) {
    const err = new TextDecoder().decode(out.stderr).trim();
    const hint = /cc: (command )?not found|No such file or directory.*cc|gcc: not found/.test(err)
      ? " There is no C compiler: install gcc (e.g. `apt-get install gcc`)."
      : "";
    throw new LibraryError(`building the simulator library in ${dir} failed.${hint}\n${err}`);
  }
}

function cacheDir(): string {
  const base = Deno.env.get("XDG_CACHE_HOME") ?? `${Deno.env.get("HOME") ?? "/tmp"}/.cache`;
  return `${base}/vmkmgmt`;
}

async function hash(text: string): Promise<string> {
  const d = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(d).slice(0, 8)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** The source files the Makefile builds the library from (its `SRCS` and `HDRS` lines). */
function sourcesOf(makefile: string): string[] {
  const files = [...makefile.matchAll(/^(?:SRCS|HDRS)\s*:=\s*(.*)$/gm)].flatMap((m) =>
    m[1].trim().split(/\s+/)
  );
  if (files.length === 0 || files.some((f) => !/^[\w.-]+$/.test(f))) {
    throw new LibraryError("the fetched native/Makefile does not list the library's sources (SRCS, HDRS)");
  }
  return files;
}

async function fetchFile(url: URL): Promise<Uint8Array> {
  const res = await fetch(url);
  if (!res.ok) throw new LibraryError(`cannot fetch ${url.href}: HTTP ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}

/** The directory holding native/ sources for this module (fetched to a cache when remote). */
async function nativeDir(): Promise<string> {
  const url = new URL("../native/", import.meta.url);
  if (url.protocol === "file:") return decodeURIComponent(url.pathname).replace(/\/$/, "");
  const dir = `${cacheDir()}/native-${await hash(url.href)}`;
  if (!exists(`${dir}/build/libvmkmgmt.so`)) {
    await Deno.mkdir(dir, { recursive: true });
    const makefile = await fetchFile(new URL("Makefile", url));
    for (const f of sourcesOf(new TextDecoder().decode(makefile))) {
      await Deno.writeFile(`${dir}/${f}`, await fetchFile(new URL(f, url)));
    }
    await Deno.writeFile(`${dir}/Makefile`, makefile);
  }
  return dir;
}

function tryOpen(path: string, source: LibrarySource): LibraryInfo {
  let lib: Deno.DynamicLibrary<typeof SYMBOLS>;
  try {
    lib = Deno.dlopen(path, SYMBOLS);
  } catch (e) {
    const msg = (e as Error).message;
    if (/undefined symbol/.test(msg)) {
      const missing = REQUIRED_FUNCTIONS.filter((f) => {
        try {
          Deno.dlopen(path, { [f]: { parameters: [], result: "void" } }).close();
          return false;
        } catch {
          return true;
        }
      });
      throw new LibraryError(
        `${path} is not a vmk_Mgmt library: it does not export ${missing.join(", ")} (all seven of ${
          REQUIRED_FUNCTIONS.join(", ")
        } are required). Point ${LIBRARY_ENV} at libvmkmgmt.so`,
      );
    }
    throw new LibraryError(`cannot load ${path}: ${msg}`);
  }
  try {
    keepMapped(path);
  } catch (e) {
    lib.close();
    throw new LibraryError(`cannot keep ${path} loaded for the life of the process: ${(e as Error).message}`);
  }
  // Ours wherever it lies: the extensions say so (a vendor's library has none of them).
  const simulated = isOurs(path) || lib.symbols.vmkmgmt_CheckKernel !== null;
  const info = { path, source, simulated, completionQueue: CompletionQueue.of(lib.symbols) !== null };
  loaded = { lib, info };
  return info;
}

/**
 * Opens the library once per process and returns its symbols. `path` overrides discovery.
 * @throws {LibraryError} listing every path tried, and what to do.
 */
export function loadLibrary(path?: string): Promise<{ symbols: VmkMgmtSymbols; info: LibraryInfo }> {
  // Sessions opened at the same time share one discovery (and at most one build).
  if (!loading || (path && loaded && loaded.info.path !== path)) loading = discover(path);
  const mine = loading;
  mine.catch(() => {
    if (loading === mine) loading = undefined; // a failure is not cached: fix the cause and retry
  });
  return mine;
}

let loading: Promise<{ symbols: VmkMgmtSymbols; info: LibraryInfo }> | undefined;

async function discover(path?: string): Promise<{ symbols: VmkMgmtSymbols; info: LibraryInfo }> {
  if (loaded && (!path || loaded.info.path === path)) {
    return { symbols: loaded.lib.symbols, info: loaded.info };
  }
  if (loaded && path) {
    throw new LibraryError(`libvmkmgmt is already loaded from ${loaded.info.path}; one library per process`);
  }
  const tried: string[] = [];
  const env = path ?? Deno.env.get(LIBRARY_ENV);
  if (env) {
    if (!exists(env)) {
      throw new LibraryError(`${path ? "the library path given" : LIBRARY_ENV} (${env}) does not exist`, [
        `${env}: not found`,
      ]);
    }
    tryOpen(env, "env");
  } else {
    for (const p of ESXI_LIBRARY_PATHS) {
      if (exists(p)) {
        tryOpen(p, "esxi");
        break;
      }
      tried.push(`${p}: not found (not an ESXi host)`);
    }
    if (!loaded) {
      const dir = await nativeDir();
      const lib = `${dir}/build/libvmkmgmt.so`;
      if (!exists(lib)) {
        try {
          build(dir);
        } catch (e) {
          if (!(e instanceof LibraryError)) throw e;
          throw new LibraryError(e.message, [...tried, `${lib}: not built yet, and building it failed`]);
        }
      }
      if (!exists(lib)) {
        tried.push(`${lib}: not built`);
        throw new LibraryError("no libvmkmgmt.so could be found or built", tried);
      }
      tryOpen(lib, "simulator");
    }
  }
  return { symbols: loaded!.lib.symbols, info: loaded!.info };
}

/**
 * The library in use, or undefined before the first session opened; `host` when `VMKMGMT_HOST`
 * sends sessions to another host's kernel through the bridge (each session's `peer` says which
 * bridge answered).
 */
export function libraryInfo(): LibraryInfo | undefined {
  const host = Deno.env.get(HOST_ENV);
  return loaded && host ? { ...loaded.info, host } : loaded?.info;
}
