/**
 * Importing mod.ts by URL: the tree is served on loopback and a script in a directory with no
 * deno.json imports http://127.0.0.1:PORT/mod.ts. With no VMKMGMT_LIB the module fetches its
 * native sources into a cache and builds the simulator library there.
 */
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { startSimProcess } from "../sim/process.ts";

const ROOT = new URL("../", import.meta.url).pathname;

const TYPES: Record<string, string> = { ts: "application/typescript", c: "text/plain", h: "text/plain" };

/** Serves the tree on loopback as a web server would (no `..`, no build output); `requested` lists each path asked for. */
function serveTree(): { server: Deno.HttpServer<Deno.NetAddr>; requested: string[] } {
  const requested: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const path = decodeURIComponent(new URL(req.url).pathname);
    requested.push(path);
    if (path.includes("..") || path.includes("/build/")) return new Response("no", { status: 403 });
    try {
      const body = await Deno.readFile(`${ROOT}${path.slice(1)}`);
      return new Response(body, {
        headers: { "content-type": TYPES[path.split(".").pop()!] ?? "text/plain" },
      });
    } catch {
      return new Response("not found", { status: 404 });
    }
  });
  return { server, requested };
}

Deno.test("mod.ts imported by URL from a directory without deno.json", async (t) => {
  await using sim = await startSimProcess();
  const { server, requested } = serveTree();
  const port = server.addr.port;
  const dir = await Deno.makeTempDir({ prefix: "vmkmgmt-url-" });
  try {
    await Deno.writeTextFile(
      `${dir}/main.ts`,
      `import { libraryInfo, open } from "http://127.0.0.1:${port}/mod.ts";
import { acmeNic } from "http://127.0.0.1:${port}/demo.ts";
await using s = await open(acmeNic);
const { stats } = await s.invoke("getStats", { instance: "vmnic0" });
console.log(JSON.stringify({ mtu: stats.mtu, source: libraryInfo()!.source, path: libraryInfo()!.path }));
`,
    );
    // Only the permissions the README lists for a library imported by URL.
    const runMain = (env: Record<string, string>) =>
      new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--reload",
          `--allow-import=127.0.0.1:${port}`,
          `--allow-net=127.0.0.1:${port}`,
          "--allow-ffi",
          "--allow-env",
          "--allow-read",
          "--allow-write",
          "--allow-run=make",
          "main.ts",
        ],
        cwd: dir,
        env: { VMKMGMT_SIM_SOCKET: sim.socketPath, DENO_NO_UPDATE_CHECK: "1", ...env },
        stdout: "piped",
        stderr: "piped",
      }).output();
    await t.step(
      "it fetches only library code and its C sources, and builds the library in the user's cache",
      async () => {
        const out = await runMain({ XDG_CACHE_HOME: `${dir}/cache` });
        const stderr = new TextDecoder().decode(out.stderr);
        assertEquals(out.code, 0, stderr);
        const result = JSON.parse(new TextDecoder().decode(out.stdout));
        assertEquals(result.mtu, 1500);
        assertEquals(result.source, "simulator");
        assertStringIncludes(result.path, `${dir}/cache/vmkmgmt/native-`);
        assert(requested.includes("/native/vmkmgmt.c"), "the C sources were fetched over HTTP");
        assert(
          !requested.some((p) => /^\/(sim|repl|scripts|test)\//.test(p)),
          `only library code was fetched: ${requested}`,
        );
      },
    );
    await t.step(
      "no make on the PATH and nothing built yet: one clear error saying what to install",
      async () => {
        const noMake = await runMain({ XDG_CACHE_HOME: `${dir}/cache2`, PATH: "/nonexistent" });
        const err = new TextDecoder().decode(noMake.stderr);
        assertEquals(noMake.code, 1);
        assertStringIncludes(err, "`make` is not installed. Install make and a C compiler");
        assertStringIncludes(err, "/lib64/libvmkmgmt.so: not found (not an ESXi host)");
        assertStringIncludes(err, "not built yet, and building it failed");
      },
    );
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});
