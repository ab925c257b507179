/**
 * The C test client (native/test/client_test.c, written from the public header only) drives
 * every demo row and error path through the real library against a real simulator.
 */
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { startSimProcess } from "../sim/process.ts";
import { waitUntil, within } from "./support/wait.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const CLIENT = `${ROOT}native/build/client_test`;

Deno.test("nm -D shows exactly the seven vmk_Mgmt functions, our extensions, and the queue's unless built without it", async () => {
  const exported = async (lib: string) => {
    const out = await new Deno.Command("nm", { args: ["-D", "--defined-only", `${ROOT}native/build/${lib}`] })
      .output();
    return new TextDecoder().decode(out.stdout).split("\n").filter((l) => / T /.test(l)).map((l) =>
      l.split(" ").pop()
    ).sort();
  };
  const base = [
    "vmk_MgmtUserBegin",
    "vmk_MgmtUserCallbackInvokeInt",
    "vmk_MgmtUserContinue",
    "vmk_MgmtUserDestroy",
    "vmk_MgmtUserEnd",
    "vmk_MgmtUserGetInstances",
    "vmk_MgmtUserInit",
    "vmkmgmt_CheckKernel",
    "vmkmgmt_UserEventStats",
    "vmkmgmt_UserInitWith",
    "vmkmgmt_UserOnDisconnect",
    "vmkmgmt_UserPeer",
  ];
  const queue = [
    "vmkmgmt_QueueAbandon",
    "vmkmgmt_QueueCreate",
    "vmkmgmt_QueueDestroy",
    "vmkmgmt_QueueDoorbell",
    "vmkmgmt_QueueDoorbellAccept",
    "vmkmgmt_QueueDrain",
    "vmkmgmt_QueueOnRing",
    "vmkmgmt_QueuePoll",
    "vmkmgmt_QueueRing",
    "vmkmgmt_QueueWait",
    "vmkmgmt_QueueWake",
    "vmkmgmt_UserAttachCompletions",
    "vmkmgmt_UserAttachQueue",
    "vmkmgmt_UserFlush",
    "vmkmgmt_UserPoll",
    "vmkmgmt_UserSubmit",
  ];
  assertEquals(await exported("libvmkmgmt.so"), [...base, ...queue].sort());
  assertEquals(await exported("vendor/libvmkmgmt.so"), base);
});

Deno.test("C client: every row of acmeNicMgmt and every error number", async () => {
  await using sim = await startSimProcess();
  const out = await new Deno.Command(CLIENT, {
    args: ["all"],
    env: sim.env,
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  const text = new TextDecoder().decode(out.stdout);
  const failed = text.split("\n").filter((l) => l.startsWith("not ok"));
  assertEquals(failed, [], text);
  assertStringIncludes(text, " passed, 0 failed");
  assert(out.success);
});

async function simDiesMidCall(client: string, env: Record<string, string> = {}) {
  const sim = await startSimProcess();
  try {
    await sim.control({ op: "stall", instance: 1 });
    const child = new Deno.Command(client, {
      args: ["die"],
      env: { ...sim.env, ...env },
      stdout: "piped",
      stderr: "piped",
    })
      .spawn();
    // Never hang: a client stuck past 20 s is killed and the test fails.
    const killer = setTimeout(() => child.kill("SIGKILL"), 20_000);
    let text = "";
    const output = (async () => {
      for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) text += chunk;
    })();
    await waitUntil(() => text.includes("ready"), "the C client to be waiting in a stalled call");
    await new Promise((r) => setTimeout(r, 200));
    const killedAt = Date.now();
    await sim.kill();
    const status = await within(child.status, 10_000, "the C client to finish after the simulator died");
    await output;
    clearTimeout(killer);
    assert(Date.now() - killedAt < 5000, "the waiting call returned promptly");
    assertEquals(text.split("\n").filter((l) => l.startsWith("not ok")), [], text);
    assertStringIncludes(text, "0 failed");
    assert(status.success, text);
  } finally {
    await sim.kill();
  }
}

Deno.test("C client: the simulator dies mid-call -> EIO promptly, later calls fail cleanly", () =>
  simDiesMidCall(CLIENT));

Deno.test("C client under AddressSanitizer, UBSan and LeakSanitizer: no memory error, no leak", async () => {
  const built = await new Deno.Command("make", {
    args: ["-s", "-C", `${ROOT}native`, "asan"],
    stderr: "piped",
  }).output();
  assert(built.success, new TextDecoder().decode(built.stderr));
  const asan = `${ROOT}native/build/asan/client_test`;
  const env = { ASAN_OPTIONS: "detect_leaks=1:abort_on_error=0", UBSAN_OPTIONS: "print_stacktrace=1" };
  await using sim = await startSimProcess();
  const out = await new Deno.Command(asan, {
    args: ["all"],
    env: { ...sim.env, ...env },
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  const text = new TextDecoder().decode(out.stdout);
  const err = new TextDecoder().decode(out.stderr);
  assertEquals(text.split("\n").filter((l) => l.startsWith("not ok")), [], text);
  assert(out.success && !/Sanitizer|runtime error/.test(err), err);
  await simDiesMidCall(asan, env);
});

/** Runs the NVMe demo's C client (`args`) against `sim`; its output when every row passed. */
async function nvmeClient(
  client: string,
  args: string[],
  env: Record<string, string>,
): Promise<string> {
  const out = await new Deno.Command(client, { args, env, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder().decode(out.stdout);
  const err = new TextDecoder().decode(out.stderr);
  assertEquals(text.split("\n").filter((l) => l.startsWith("not ok")), [], text + err);
  assert(out.success && !/Sanitizer|runtime error/.test(err), err);
  return text;
}

Deno.test("a vendor-style C tool drives the NVMe demo: per-adapter APIs, hot-plug, user buffers, sanitizer-clean", async () => {
  const built = await new Deno.Command("make", {
    args: ["-s", "-C", `${ROOT}native`, "asan"],
    stderr: "piped",
  })
    .output();
  assert(built.success, new TextDecoder().decode(built.stderr));
  const sanitizers = { ASAN_OPTIONS: "detect_leaks=1:abort_on_error=0", UBSAN_OPTIONS: "print_stacktrace=1" };
  await using sim = await startSimProcess();
  const plain = await nvmeClient(`${ROOT}native/build/nvme_client`, ["expect", "2"], sim.env);
  assertStringIncludes(plain, "# acmeNvme-0000:3b:00.0 model ACME NVMe 7450 PRO");
  // An adapter hot-plugged at run time is found and driven by the same unchanged tool.
  await sim.control({ op: "hotplug", pci: "0000:af:00.0" });
  const asan = await nvmeClient(`${ROOT}native/build/asan/nvme_client`, ["expect", "3"], {
    ...sim.env,
    ...sanitizers,
  });
  assertStringIncludes(asan, "ok - Init acmeNvme-0000:af:00.0 -> 0");
  await sim.control({ op: "hotplug", pci: "0000:af:00.0", remove: true });
  await nvmeClient(`${ROOT}native/build/nvme_client`, ["expect", "2"], sim.env);
});

Deno.test("an event the library has no memory for is skipped and counted as dropped (libraryDropped), not lost unsaid", async () => {
  await using sim = await startSimProcess();
  // native/test/event_nomem.c: its malloc fails the library's next 2 allocations on the monitor thread.
  const out = await within(
    new Deno.Command(`${ROOT}native/build/event_nomem`, { args: ["2"], env: sim.env }).output(),
    30_000,
    "event_nomem",
  );
  const stdout = new TextDecoder().decode(out.stdout);
  assertEquals(out.code, 0, stdout + new TextDecoder().decode(out.stderr));
  assertStringIncludes(stdout, "ok - 2 of 4 linkEvent callbacks arrive");
  assertStringIncludes(stdout, "ok - the 2 the library had no memory for are counted as dropped (2)");
});
