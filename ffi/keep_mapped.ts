/**
 * Keeps a loaded library mapped until the process ends.
 *
 * Why: a vmk_Mgmt library runs threads of its own (a handle's reader, the monitor that runs
 * user callbacks, a call given up on by JavaScript but still waiting on the kernel). When a
 * script ends with a session open, Deno drops its `DynamicLibrary` and `dlclose`s the library
 * while those threads still execute its code, and the process dies with SIGSEGV at exit. A
 * second `dlopen` with `RTLD_NODELETE` makes `dlclose` leave the mapping in place (glibc
 * `dlopen(3)`), for our simulator library and a vendor's alike.
 * @module
 */

/** glibc's `<dlfcn.h>` flags (native/test/layout.c prints them; test/layout_test.ts compares). */
export const DLFCN_FLAGS = { RTLD_LAZY: 0x0001, RTLD_NODELETE: 0x1000 } as const;

const DLFCN = { dlopen: { parameters: ["buffer", "i32"], result: "pointer" } } as const;

/** glibc ≥ 2.34 has `dlopen` in libc itself; older ones (an ESXi user world) in libdl. */
const DLFCN_LIBRARIES = ["libc.so.6", "libdl.so.2"];

let dlfcn: Deno.DynamicLibrary<typeof DLFCN>["symbols"] | undefined;

function binding(): Deno.DynamicLibrary<typeof DLFCN>["symbols"] {
  if (dlfcn) return dlfcn;
  const tried: string[] = [];
  for (const name of DLFCN_LIBRARIES) {
    try {
      return dlfcn = Deno.dlopen(name, DLFCN).symbols;
    } catch (e) {
      tried.push(`${name}: ${(e as Error).message}`);
    }
  }
  throw new Error(`no dlopen() found (${tried.join("; ")})`);
}

/**
 * Keeps the library at `path` (already loaded by `Deno.dlopen`) for the life of the process.
 * @throws {Error} when the C library has no `dlopen` or it refuses the path; the message says why.
 */
export function keepMapped(path: string): void {
  const handle = binding().dlopen(
    new TextEncoder().encode(`${path}\0`),
    DLFCN_FLAGS.RTLD_LAZY | DLFCN_FLAGS.RTLD_NODELETE,
  );
  // The handle is never closed: that reference is the pin.
  if (handle === null) throw new Error(`dlopen(${path}, RTLD_NODELETE) failed`);
}
