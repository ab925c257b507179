/**
 * `deno task compile`: one executable, `dist/vmkmgmt` (Linux x86_64), that holds the REPL, the
 * script runner, the simulator, import-c, fleet, trace and the C library, for a machine with no
 * checkout and no Deno: a shell launcher (compile/launcher.sh) followed by a gzipped tar of the Deno
 * runtime, the project's modules, their npm dependencies (a DENO_DIR filled by `deno cache`) and the
 * built libraries. Each subcommand runs its entry point with the permissions its task in deno.json
 * gives it: those lines are read from deno.json, not written twice.
 *
 * Why not `deno compile`: it needs `denort`, a runtime it downloads from dl.deno.land, which is
 * neither reachable from where this project is built and tested nor published on the npm registry;
 * and a `denort` binary cannot run `deno run --check` (the script runner type-checks scripts),
 * `deno fmt` (import-c formats what it writes) or a second program (the simulator the REPL starts).
 * The full runtime inside does all three. What it gives up: the file is larger (the whole Deno CLI),
 * it is unpacked into the user's cache on first use, and the launcher needs a POSIX shell, tar,
 * gzip and sha256sum (every Linux has them).
 *
 * Usage: deno task compile [--out FILE]
 * @module
 */
import { parseArgs } from "@std/cli/parse-args";

const ROOT = new URL("../", import.meta.url).pathname;
/** What a machine without the checkout needs (tests, benchmarks and C sources stay behind). */
const SHIPPED = [
  "mod.ts",
  "demo.ts",
  "deno.json",
  "deno.lock",
  "LICENSE",
  "README.md",
  "abi",
  "util",
  "ffi",
  "mgmt",
  "sim",
  "cimport",
  "repl",
  "scripts",
  "compile/version.ts",
  "ansible",
];
const LIBRARIES = ["native/build/libvmkmgmt.so", "native/build/libvmkmgmt-record.so"];
/** Subcommand → the deno.json task whose `deno run` line it runs, and arguments put before the user's. */
const COMMANDS: Record<string, { task: string; before?: string[] }> = {
  repl: { task: "repl" },
  run: { task: "run" },
  fleet: { task: "run", before: ["fleet"] },
  sim: { task: "sim" },
  "import-c": { task: "import-c" },
  trace: { task: "trace" },
  "ansible-module": { task: "ansible-module" },
};

async function run(cmd: string, args: string[], options: Deno.CommandOptions = {}): Promise<string> {
  const out = await new Deno.Command(cmd, { stdout: "piped", stderr: "piped", ...options, args }).output();
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")} failed:\n${new TextDecoder().decode(out.stderr)}`);
  }
  return new TextDecoder().decode(out.stdout);
}

async function sha256(path: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(path));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Single-quoted for sh. */
function shQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/** A task's `deno run` flags and entry file, from its line in deno.json. */
export function denoRunOf(line: string, task: string): { flags: string[]; entry: string } {
  const run = line.split("&&").map((s) => s.trim()).find((s) => s.startsWith("deno run "));
  if (!run) throw new Error(`deno.json's task ${task} has no \`deno run\` step`);
  const words = run.split(/\s+/).slice(2);
  const entry = words.pop()!;
  if (!entry.endsWith(".ts") || words.some((w) => !w.startsWith("--"))) {
    throw new Error(`deno.json's task ${task}: cannot read its \`deno run\` line (${run})`);
  }
  return { flags: words, entry };
}

/** Each subcommand's `deno run` flags and entry file (read from deno.json once), and its fixed arguments. */
type Runs = Record<string, { flags: string[]; entry: string; before: string[] }>;

function runsOf(tasks: Record<string, string>): Runs {
  return Object.fromEntries(
    Object.entries(COMMANDS).map((
      [name, { task, before = [] }],
    ) => [name, { ...denoRunOf(tasks[task], task), before }]),
  );
}

/** The launcher's `case` arms, one per subcommand. */
function dispatch(runs: Runs): string {
  const arms = Object.entries(runs).map(([name, { flags, entry, before }]) => {
    const args = ["run", "--cached-only", ...flags].map(shQuote).join(" ");
    const pre = before.map(shQuote).join(" ");
    return `  ${name})\n    exec "$deno" ${args} "$app/${entry}" ${pre}${pre ? " " : ""}"$@"\n    ;;`;
  });
  arms.push(
    `  version | --version)\n    exec "$deno" run --cached-only --allow-ffi --allow-read --allow-env ` +
      `"$app/compile/version.ts" "$@"\n    ;;`,
  );
  return arms.join("\n");
}

/** The files of the checkout that ship: tracked, or new and not ignored (never build output). */
async function shippedFiles(): Promise<string[]> {
  const listed = await run("git", [
    "-C",
    ROOT,
    "ls-files",
    "--cached",
    "--others",
    "--exclude-standard",
    "--",
    ...SHIPPED,
  ]);
  const files = listed.split("\n").filter(Boolean);
  if (!files.includes("mod.ts")) throw new Error(`${ROOT} is not a git checkout with its files`);
  return files;
}

async function stage(dir: string, runs: Runs): Promise<void> {
  await run("make", ["-s", "-C", `${ROOT}native`, "lib", "record"]);
  for (const f of [...await shippedFiles(), ...LIBRARIES]) {
    const to = `${dir}/app/${f}`;
    await Deno.mkdir(to.slice(0, to.lastIndexOf("/")), { recursive: true });
    await Deno.copyFile(`${ROOT}${f}`, to);
  }
  await Deno.copyFile(Deno.execPath(), `${dir}/deno`);
  await Deno.chmod(`${dir}/deno`, 0o755);
  // Every npm package the entry points reach, into the DENO_DIR that ships (run with --cached-only).
  const entries = [...new Set(Object.values(runs).map((r) => r.entry))];
  await run(Deno.execPath(), [
    "cache",
    "--config",
    `${dir}/app/deno.json`,
    ...entries.map((e) => `${dir}/app/${e}`),
    `${dir}/app/repl/js_worker.ts`,
    `${dir}/app/compile/version.ts`,
    ...[...Deno.readDirSync(`${dir}/app/scripts`)].filter((e) => e.isFile && e.name.endsWith(".ts"))
      .map((e) => `${dir}/app/scripts/${e.name}`),
  ], { env: { DENO_DIR: `${dir}/deno_dir`, DENO_NO_UPDATE_CHECK: "1" } });
}

/** Builds the executable at `out`; returns its size in bytes. */
export async function build(out: string): Promise<number> {
  const config = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`));
  // Where it goes first: a bad --out fails before a minute of packing, not after.
  await Deno.mkdir(out.slice(0, out.lastIndexOf("/")) || ".", { recursive: true });
  const work = await Deno.makeTempDir({ prefix: "vmkmgmt-compile-" });
  try {
    const runs = runsOf(config.tasks);
    await stage(`${work}/stage`, runs);
    const payload = `${work}/payload.tgz`;
    await run("tar", ["-czf", payload, "--owner=0", "--group=0", "-C", `${work}/stage`, "."]);
    const template = await Deno.readTextFile(`${ROOT}compile/launcher.sh`);
    const payloadHash = await sha256(payload);
    const libHash = await sha256(`${work}/stage/app/native/build/libvmkmgmt.so`);
    const arms = dispatch(runs);
    // The payload starts where the launcher ends: its offset is written at a fixed width, so
    // writing it does not move it.
    const filled = (offset: number) =>
      template
        .replaceAll("@VERSION@", config.version)
        .replaceAll("@DENO_VERSION@", Deno.version.deno)
        .replace("@HASH@", payloadHash)
        .replace("@LIB_HASH@", libHash)
        .replace("@OFFSET@", String(1e12 + offset))
        .replace("@DISPATCH@", arms);
    const header = new TextEncoder().encode(filled(0));
    const head = new TextEncoder().encode(filled(header.length));
    if (head.length !== header.length) throw new Error("the launcher's length changed with its offset");
    const file = await Deno.open(`${out}.tmp`, { write: true, create: true, truncate: true, mode: 0o755 });
    await file.write(head);
    await (await Deno.open(payload)).readable.pipeTo(file.writable);
    await Deno.chmod(`${out}.tmp`, 0o755);
    await Deno.rename(`${out}.tmp`, out);
    return (await Deno.stat(out)).size;
  } finally {
    await Deno.remove(work, { recursive: true });
  }
}

if (import.meta.main) {
  const args = parseArgs(Deno.args, {
    string: ["out"],
    boolean: ["help"],
    default: { out: `${ROOT}dist/vmkmgmt` },
  });
  if (args.help) {
    console.log("usage: deno task compile [--out FILE]   (default dist/vmkmgmt)");
    Deno.exit(0);
  }
  const out = args.out.startsWith("/") ? args.out : `${Deno.env.get("INIT_CWD") ?? Deno.cwd()}/${args.out}`;
  try {
    const size = await build(out);
    console.log(`${out}: ${(size / 2 ** 20).toFixed(0)} MiB — try: ${out} version`);
  } catch (e) {
    // A step that failed (make, git, deno cache, tar, writing `out`) says which, in its own words.
    console.error(`compile: ${(e as Error).message}`);
    Deno.exit(1);
  }
}
