/** Whole-process behaviour: scripts exit by themselves, GC backstop, library discovery errors. */
import { assertEquals, assertStringIncludes } from "@std/assert";
import { HOST_ENV, LIBRARY_ENV } from "../abi/facts.ts";
import { LIB_PATH, startSimProcess } from "../sim/process.ts";

const ROOT = new URL("../", import.meta.url).pathname;

async function run(args: string[], env: Record<string, string>, timeoutMs = 20_000) {
  const child = new Deno.Command(Deno.execPath(), {
    args,
    env,
    stdout: "piped",
    stderr: "piped",
    cwd: ROOT,
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const out = await child.output();
  clearTimeout(timer);
  return {
    code: out.code,
    signal: out.signal,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

Deno.test("a script with an open session and handlers exits by itself after close()", async () => {
  await using sim = await startSimProcess();
  const r = await run(["run", "-A", "test/fixtures/exits_after_close.ts"], sim.env);
  assertEquals(r.signal, null, `killed: it hung\n${r.stderr}`);
  assertEquals(r.code, 0, r.stderr);
  assertEquals(r.stdout.trim(), "done 2");
});

Deno.test("a script without close() or listeners exits when its work is done", async () => {
  await using sim = await startSimProcess();
  const r = await run(["run", "-A", "test/fixtures/exits_without_listeners.ts"], sim.env);
  assertEquals([r.signal, r.code, r.stdout.trim()], [null, 0, "done"], r.stderr);
});

Deno.test("listeners coming and going in any order leave nothing that keeps the process alive", async () => {
  await using sim = await startSimProcess();
  const r = await run(["run", "-A", "test/fixtures/exits_after_listeners_leave.ts"], sim.env);
  assertEquals([r.signal, r.code, r.stdout.trim()], [null, 0, "done"], r.stderr);
});

Deno.test("a script ending while the library's threads still take replies exits cleanly (not SIGSEGV)", async () => {
  await using sim = await startSimProcess();
  // Replies to calls given up on arrive 6–15 ms late, while Deno unloads the library at exit;
  // before ffi/keep_mapped.ts every run of this died with SIGSEGV.
  for (let i = 0; i < 4; i++) await sim.control({ op: "delay", instance: `vmnic${i}`, ms: 6 + 3 * i });
  for (let run_ = 0; run_ < 3; run_++) {
    const r = await run(["run", "-A", "test/fixtures/exits_while_threads_run.ts"], sim.env);
    assertEquals([r.signal, r.code, r.stdout.trim()], [null, 0, "done"], r.stderr);
  }
});

Deno.test("a garbage-collected session is closed by the FinalizationRegistry backstop", async () => {
  await using sim = await startSimProcess();
  const r = await run(["run", "-A", "--v8-flags=--expose-gc", "test/fixtures/gc_backstop.ts"], sim.env);
  assertEquals([r.signal, r.code], [null, 0], r.stderr);
  assertEquals(r.stdout.trim(), "before 1 after 0");
});

Deno.test("library discovery: clear errors listing what was tried", async () => {
  const script = "import { open } from './mod.ts'; import { acmeNic } from './demo.ts'; await open(acmeNic);";
  let r = await run(["eval", script], { VMKMGMT_LIB: "/nonexistent/libvmkmgmt.so" });
  assertEquals(r.code, 1);
  assertStringIncludes(r.stderr, "VMKMGMT_LIB (/nonexistent/libvmkmgmt.so) does not exist");
  const libc = ["/lib/x86_64-linux-gnu/libm.so.6", "/usr/lib/x86_64-linux-gnu/libm.so.6"].find((p) => {
    try {
      return Deno.statSync(p).isFile;
    } catch {
      return false;
    }
  })!;
  r = await run(["eval", script], { VMKMGMT_LIB: libc });
  assertStringIncludes(
    r.stderr,
    `${libc} is not a vmk_Mgmt library: it does not export vmk_MgmtUserInit, vmk_MgmtUserGetInstances, vmk_MgmtUserBegin`,
  );
  r = await run([
    "eval",
    "import { libraryInfo, open } from './mod.ts'; import { acmeNic } from './demo.ts'; await open(acmeNic).catch(() => {}); console.log(JSON.stringify(libraryInfo()))",
  ], {
    VMKMGMT_SIM_SOCKET: "/nonexistent.sock",
  });
  // Through a bridge (the suite's second mode) the library also names the host; on the build without
  // the completion queue (the third), it comes from VMKMGMT_LIB and has no queue.
  const host = Deno.env.get(HOST_ENV);
  const vendor = Deno.env.get(LIBRARY_ENV) !== undefined;
  assertEquals(JSON.parse(r.stdout), {
    path: LIB_PATH,
    source: vendor ? "env" : "simulator",
    simulated: true,
    completionQueue: !vendor,
    ...(host ? { host } : {}),
  });
});
