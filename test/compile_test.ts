/**
 * `deno task compile`: the one executable, built for real and run as an admin would — from an
 * empty directory, with a fresh home, no checkout and no Deno on PATH: `version` naming the library
 * it loaded, a `-c` call against the simulator it starts, a script of the user's (type-checked,
 * importing the package by name), and what it refuses (a damaged file, a changed library, a cache
 * directory others can write, an unknown command).
 */
import { assert, assertEquals, assertMatch, assertStringIncludes } from "@std/assert";

const ROOT = new URL("../", import.meta.url).pathname;
const opts = { sanitizeResources: false, sanitizeOps: false };

/** A directory of every program on this machine's PATH but deno. */
async function pathWithoutDeno(dir: string): Promise<string> {
  for (const from of ["/usr/bin", "/bin", "/usr/sbin", "/sbin"]) {
    for await (const e of Deno.readDir(from)) {
      if (e.name === "deno") continue;
      await Deno.symlink(`${from}/${e.name}`, `${dir}/${e.name}`).catch(() => {});
    }
  }
  return dir;
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

Deno.test("deno task compile: one file that runs with no checkout and no Deno", opts, async (t) => {
  const work = await Deno.makeTempDir({ prefix: "vmkmgmt-compile-test-" });
  const exe = `${work}/vmkmgmt`;
  const built = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", `${ROOT}compile/build.ts`, "--out", exe],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert(built.success, new TextDecoder().decode(built.stderr));
  const empty = `${work}/empty`;
  const home = `${work}/home`;
  const bin = `${work}/bin`;
  for (const d of [empty, home, bin]) await Deno.mkdir(d);
  const path = await pathWithoutDeno(bin);
  const env = { HOME: home, PATH: path, NO_COLOR: "1", TERM: "dumb" };
  const run = async (...args: string[]): Promise<Run> => {
    const out = await new Deno.Command(exe, {
      args,
      cwd: empty,
      env,
      clearEnv: true,
      stdout: "piped",
      stderr: "piped",
    })
      .output();
    const text = (b: Uint8Array) => new TextDecoder().decode(b);
    return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
  };
  try {
    await t.step("there is no deno on the PATH it runs with", async () => {
      const which = await new Deno.Command("sh", { args: ["-c", "command -v deno"], env, clearEnv: true })
        .output();
      assert(!which.success);
    });

    await t.step("version: unpacked once into a private cache, and names the library it loaded", async () => {
      const first = await run("version");
      assertEquals(first.code, 0, first.stderr);
      assertStringIncludes(first.stderr, "unpacking into");
      assertMatch(first.stdout, /^vmkmgmt \d+\.\d+\.\d+ \(@vmkmgmt\/deno; deno /);
      const lib = first.stdout.match(/library: (\S+) \(the simulator's, built in; completion queue\)/);
      if (!lib) throw new Error(`no library line in: ${first.stdout}`);
      assert(lib[1].startsWith(`${home}/.cache/vmkmgmt/bundle-`), lib[1]);
      const second = await run("version");
      assertEquals(second.stdout, first.stdout);
      assertEquals(second.stderr, "", "unpacked only once");
      const bundle = lib[1].slice(0, lib[1].indexOf("/app/"));
      assertEquals((await Deno.stat(bundle)).mode! & 0o777, 0o700);
      assertEquals((await Deno.stat(`${home}/.cache/vmkmgmt`)).mode! & 0o777, 0o700);
    });

    await t.step("repl -c: a call against the simulator it starts (and stops)", async () => {
      const r = await run("repl", "-c", "open acmeNicMgmt; call getStats vmnic0");
      assertEquals(r.code, 0, r.stderr);
      assertStringIncludes(r.stdout, "opened acmeNicMgmt");
      assertMatch(r.stdout, /rxPackets\s+\d+/);
    });

    await t.step("run: a script of the user's, type-checked, importing the package by name", async () => {
      await Deno.writeTextFile(
        `${empty}/mine.ts`,
        [
          "// @permissions --allow-ffi --allow-env --allow-read",
          'import { open } from "@vmkmgmt/deno";',
          'import { acmeNic } from "@vmkmgmt/deno/demo";',
          "await using nic = await open(acmeNic);",
          'const { stats } = await nic.invoke("getStats", { instance: "vmnic0" });',
          "console.log(`mtu ${stats.mtu}`);",
        ].join("\n"),
      );
      const r = await run("run", "mine.ts");
      assertEquals(r.code, 0, r.stderr);
      assertEquals(r.stdout.trim(), "mtu 1500");
      await Deno.writeTextFile(
        `${empty}/wrong.ts`,
        (await Deno.readTextFile(`${empty}/mine.ts`)).replace("mtu}", "mtuu}"),
      );
      const wrong = await run("run", "wrong.ts");
      assert(wrong.code !== 0, "a wrong field fails the type check, before any call");
      assertStringIncludes(wrong.stderr, "mtuu");
    });

    await t.step("each subcommand has its --help, in the executable's words", async () => {
      for (const cmd of ["repl", "run", "sim", "import-c", "version"]) {
        const r = await run(cmd, "--help");
        assertEquals(r.code, 0, `${cmd}: ${r.stderr}`);
        assert(!r.stdout.includes("deno task"), `${cmd} --help says deno task:\n${r.stdout}`);
      }
      const fleet = await run("fleet", "--help");
      assertStringIncludes(fleet.stdout, "one operation on every host of an inventory");
      const help = await run("--help");
      for (const cmd of ["repl", "run", "fleet", "sim", "import-c", "trace", "version"]) {
        assertMatch(help.stdout, new RegExp(`^  ${cmd} `, "m"));
      }
      const unknown = await run("frobnicate");
      assertEquals(unknown.code, 2);
      assertStringIncludes(unknown.stderr, "unknown command: frobnicate");
    });

    await t.step("what it refuses: a changed library, a damaged file, a cache it cannot trust", async () => {
      const lib = (await run("version")).stdout.match(/library: (\S+)/)![1];
      await Deno.writeFile(lib, new Uint8Array([1, 2, 3]), { append: true });
      const changed = await run("version");
      assertEquals(changed.code, 1);
      assertStringIncludes(changed.stderr, `${lib} was changed`);
      const withCache = async (file: string, cache: string) => {
        const out = await new Deno.Command(file, {
          args: ["version"],
          cwd: empty,
          env: { ...env, XDG_CACHE_HOME: cache },
          clearEnv: true,
          stdout: "piped",
          stderr: "piped",
        }).output();
        return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
      };
      const whole = await Deno.readFile(exe);
      await Deno.writeFile(`${work}/damaged`, whole.subarray(0, whole.length - 1000), { mode: 0o755 });
      const damaged = await withCache(`${work}/damaged`, `${work}/fresh`);
      assertEquals(damaged.code, 1);
      assertStringIncludes(damaged.stderr, "is damaged");
      await Deno.mkdir(`${work}/real/vmkmgmt`, { recursive: true });
      await Deno.mkdir(`${work}/linked`);
      await Deno.symlink(`${work}/real/vmkmgmt`, `${work}/linked/vmkmgmt`);
      const linked = await withCache(exe, `${work}/linked`);
      assertEquals(linked.code, 1);
      assertStringIncludes(linked.stderr, `${work}/linked/vmkmgmt is a symbolic link: refusing it`);
      if (Deno.uid() === 0) {
        // Someone else's cache directory, open to all: nothing in it is run.
        await Deno.mkdir(`${work}/theirs/vmkmgmt`, { recursive: true });
        await Deno.chown(`${work}/theirs/vmkmgmt`, 65534, 65534);
        await Deno.chmod(`${work}/theirs/vmkmgmt`, 0o777);
        const theirs = await withCache(exe, `${work}/theirs`);
        assertEquals(theirs.code, 1);
        assertStringIncludes(theirs.stderr, "belongs to uid 65534, not you (uid 0): refusing it");
      }
    });
  } finally {
    await Deno.remove(work, { recursive: true });
  }
});
