/**
 * The completion queue (ffi/completion_queue.ts, native/queue.c) under races: every submitted call
 * completes exactly once — none twice, none never — when the kernel is killed, the session closed,
 * calls time out or are aborted, all at once and in any order, many times over; and what was given
 * up on still gets drained (its buffers released).
 */
import { assert, assertEquals } from "@std/assert";
import { acmeNic, acmeStorage } from "../demo.ts";
import { CompletionQueue } from "../ffi/completion_queue.ts";
import { loadLibrary } from "../ffi/library.ts";
import { open, VmkMgmtError } from "../mod.ts";
import { startSimProcess } from "../sim/process.ts";
import { useSocket } from "./support/env.ts";
import { outputWithin, runWithin, waitUntil, within } from "./support/wait.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const { symbols, info } = await loadLibrary();
const queue = CompletionQueue.of(symbols);

/** A seeded generator, so a failing round can be replayed (the seed is in the message). */
function random(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => ((x ^= x << 13), (x ^= x >>> 17), (x ^= x << 5), (x >>> 0) / 2 ** 32);
}

Deno.test({
  name: "every call completes exactly once under kill, close, timeout and abort races (40 rounds)",
  ignore: !info.completionQueue,
  ...opts,
  fn: async () => {
    const seed = Number(Deno.env.get("VMKMGMT_RACE_SEED") ?? Date.now() % 100_000);
    const rnd = random(seed);
    for (let round = 0; round < 40; round++) {
      const what = `round ${round} (VMKMGMT_RACE_SEED=${seed})`;
      await using sim = await startSimProcess();
      using _socket = useSocket(sim.socketPath);
      const sessions = await Promise.all([0, 1, 2].map(() => open(acmeNic)));
      // Some instances answer late, so calls are in flight when the end comes.
      await sim.control({ op: "delay", instance: "vmnic0", ms: Math.floor(rnd() * 5) });
      if (rnd() < 0.5) await sim.control({ op: "stall", instance: "vmnic1", count: "inf" });
      const settled: string[] = [];
      const calls = sessions.flatMap((s, n) =>
        Array.from({ length: 60 }, (_, i) => {
          const abort = new AbortController();
          const r = rnd();
          const options = r < 0.3
            ? { timeout: 1 + Math.floor(rnd() * 4) }
            : r < 0.5
            ? { signal: abort.signal }
            : {};
          if (r >= 0.3 && r < 0.5) setTimeout(() => abort.abort(new Error("aborted")), Math.floor(rnd() * 4));
          let times = 0;
          return s.invoke("getStats", { instance: i % 2 }, options).then(
            () => "ok",
            (e) => (e instanceof VmkMgmtError ? e.code : "aborted"),
          ).then((how) => {
            times++;
            settled.push(`${n}.${i} ${how} ${times}`);
          });
        })
      );
      // The end: the kernel dies, or the sessions close, a moment after the calls went out.
      await new Promise((r) => setTimeout(r, Math.floor(rnd() * 6)));
      if (rnd() < 0.5) await sim.kill();
      else await Promise.all(sessions.map((s) => s.close()));
      await within(Promise.all(calls), 20_000, `every call to settle, ${what}`);
      assertEquals(settled.length, 180, what);
      assert(settled.every((l) => l.endsWith(" 1")), what);
      await Promise.all(sessions.map((s) => s.close()));
      // Every token came back from C, once: also those whose callers gave up.
      await waitUntil(() => queue!.pending === 0, `every token drained, ${what}`);
      assertEquals(queue!.strays, 0, `a token completed twice, ${what}`);
    }
  },
});

Deno.test({
  name:
    "without write permission for the doorbell, a parked wait serves: calls, events, and the script exits",
  ignore: !info.completionQueue,
  ...opts,
  fn: async () => {
    await using sim = await startSimProcess();
    const root = new URL("../", import.meta.url).pathname;
    for (
      const fixture of [
        "exits_after_close.ts",
        "exits_after_listeners_leave.ts",
        "exits_while_threads_run.ts",
      ]
    ) {
      const child = new Deno.Command(Deno.execPath(), {
        // No --allow-write: Deno may not connect to the doorbell's socket (and must not ask).
        args: ["run", "--allow-ffi", "--allow-env", "--allow-read", `test/fixtures/${fixture}`],
        cwd: root,
        env: sim.env,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const out = await outputWithin(child, 20_000, `${fixture} to exit by itself`);
      const stderr = new TextDecoder().decode(out.stderr);
      assertEquals([out.signal, out.code], [null, 0], `${fixture}: ${stderr}`);
      assert(new TextDecoder().decode(out.stdout).startsWith("done"), fixture);
    }
  },
});

Deno.test({
  name: "an event's bytes stay its own after later drains (the queue hands out views of its buffer)",
  ...opts,
  fn: async () => {
    await using sim = await startSimProcess();
    using _socket = useSocket(sim.socketPath);
    await using s = await open(acmeStorage);
    const devs = s.events("deviceEvent", { buffer: 1000 });
    const got: string[] = [];
    // Many drains' worth: every event is read only once all have been delivered.
    for (let i = 0; i < 100; i++) await s.invoke("scan");
    for (let i = 0; i < 200; i++) {
      const e = (await within(devs.next(), 5000, `deviceEvent ${i}`)).value!;
      got.push(`${e.instance?.name}=${new TextDecoder().decode(e.params.detail)}`);
    }
    await devs.return!();
    assertEquals(got.filter((g) => g !== "vmhba0=vmhba0" && g !== "vmhba1=vmhba1"), []);
  },
});

Deno.test({
  name: "small and large events interleaved arrive whole and in order (small ones reuse kept entries)",
  ...opts,
  fn: async () => {
    await using sim = await startSimProcess();
    using _socket = useSocket(sim.socketPath);
    await using s = await open(acmeStorage);
    const devs = s.events("deviceEvent", { buffer: 1000 });
    // Details on both sides of the largest event the library copies into a kept entry (native/queue.c,
    // INLINE_EVENT_BYTES = 192 bytes of EVENT payload: instance, callback, count and a length per
    // parameter — PROTOCOL.md — then kind, lba and the detail's bytes).
    const head = 8 + 8 + 4 + 3 * 8 + acmeStorage.callbacks.deviceEvent.params[0].type.size + 8;
    const largest = 192 - head;
    const sizes = [1, largest - 1, largest, largest + 1, largest + 2, 4000];
    const digest = (bytes: ArrayLike<number>) => {
      let h = 0;
      for (let i = 0; i < bytes.length; i++) h = (h * 31 + bytes[i]) >>> 0;
      return h;
    };
    const want: string[] = [];
    for (let round = 0; round < 30; round++) {
      for (const size of sizes) {
        const detail = Array.from({ length: size }, (_, i) => (i * 7 + round + size) & 0xff);
        want.push(`${round}:${size}:${digest(detail)}`);
        await sim.control({
          op: "emit",
          api: acmeStorage.name,
          event: "deviceEvent",
          instance: "vmhba0",
          params: { kind: 1, lba: String(round), detail },
        });
      }
    }
    const got: string[] = [];
    for (let i = 0; i < want.length; i++) {
      const e = (await within(devs.next(), 5000, `deviceEvent ${i}`)).value!;
      const d = e.params.detail as Uint8Array;
      got.push(`${e.params.lba}:${d.length}:${digest(d)}`);
    }
    await devs.return!();
    assertEquals(got, want);
  },
});

Deno.test({
  name: "events acknowledged ahead while the program is busy: every one arrives, in order, none dropped",
  ignore: !info.completionQueue,
  ...opts,
  fn: async () => {
    await using sim = await startSimProcess();
    using _socket = useSocket(sim.socketPath);
    await using s = await open(acmeNic);
    const logs = s.events("logEvent", { buffer: 5000 });
    for (let round = 0; round < 3; round++) {
      // 1,000 queued in the kernel at once; this thread then blocks, so the library's reader queues
      // them, acknowledging ahead up to its mark and then only as drained — past the kernel's
      // window of 64 either way, and with the queue never empty (no doorbell owed) for most.
      await sim.control({ op: "emit", event: "logEvent", params: { message: `${round}.{i}` }, count: 1000 });
      const until = performance.now() + 150;
      while (performance.now() < until) { /* busy: nothing drains */ }
      for (let i = 0; i < 1000; i++) {
        const e = (await within(logs.next(), 5000, `logEvent ${round}.${i}`)).value!;
        assertEquals(e.params.message, `${round}.${i}`);
      }
    }
    await logs.return!();
    const st = s.stats;
    assertEquals([st.eventsDropped, st.kernelDropped ?? 0, st.libraryDropped ?? 0], [0, 0, 0]);
  },
});

Deno.test({
  name: "events the kernel sent before the first listener: they and every later one arrive (none stall)",
  ignore: !info.completionQueue,
  ...opts,
  fn: async () => {
    await using sim = await startSimProcess();
    using _socket = useSocket(sim.socketPath);
    await using s = await open(acmeNic);
    // Sent with no listener yet, so before vmk_MgmtUserBegin: the library holds the kernel's whole
    // window of 64 until Begin moves them into the completion queue, acknowledged ahead there. Those
    // acknowledgements must reach the kernel, or it never sends the rest.
    await sim.control({ op: "emit", event: "logEvent", params: { message: "{i}" }, count: 300 });
    const inFlight = async () => {
      const sessions = await sim.control({ op: "sessions" }) as { inFlight: number }[];
      return sessions[0]?.inFlight;
    };
    await waitUntil(async () => (await inFlight()) === 64, "the kernel's window to be full before Begin");
    const logs = s.events("logEvent", { buffer: 1000 });
    const got: string[] = [];
    for (let i = 0; i < 300; i++) {
      got.push((await within(logs.next(), 5000, `logEvent ${i}`)).value!.params.message);
    }
    await logs.return!();
    assertEquals(got, Array.from({ length: 300 }, (_, i) => `${i}`));
  },
});

/** Context switches of this process's threads named `comm` (Linux's per-task status), summed. */
function contextSwitches(comm: string): number {
  let n = 0;
  for (const t of Deno.readDirSync("/proc/self/task")) {
    try {
      if (Deno.readTextFileSync(`/proc/self/task/${t.name}/comm`).trim() !== comm) continue;
      const status = Deno.readTextFileSync(`/proc/self/task/${t.name}/status`);
      for (const m of status.matchAll(/^(?:non)?voluntary_ctxt_switches:\s+(\d+)$/gm)) n += Number(m[1]);
    } catch { /* the thread ended meanwhile */ }
  }
  return n;
}

Deno.test({
  name: "once the writer thread has started, frames the socket takes at once do not wake it",
  ignore: !info.completionQueue || Deno.build.os !== "linux",
  ...opts,
  fn: async () => {
    await using sim = await startSimProcess();
    using _socket = useSocket(sim.socketPath);
    await using s = await open(acmeNic);
    // A vector larger than the socket's buffer: what the socket does not take goes to the writer.
    await s.invoke("flashFirmware", { instance: 1, image: new Uint8Array(8 << 20) });
    const before = contextSwitches("vmkmgmt-writer");
    assert(before > 0, "the writer thread started");
    const payload = new Uint8Array(56);
    for (let i = 0; i < 2000; i++) await s.invoke("echo", { instance: 1, msg: { seq: BigInt(i), payload } });
    // Each call is a frame written at once by the flush; the writer, with nothing queued, sleeps on.
    const woken = contextSwitches("vmkmgmt-writer") - before;
    assert(woken < 100, `the writer thread was woken ${woken} times for 2,000 calls it had no part in`);
  },
});

/** Builds a sanitizer flavour of the native tree. */
async function make(target: "asan" | "tsan"): Promise<void> {
  const out = await new Deno.Command("make", { args: ["-s", "-C", `${ROOT}native`, target], stderr: "piped" })
    .output();
  assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
}

const ROOT = new URL("../", import.meta.url).pathname;

for (const kind of ["plain", "asan", "tsan"] as const) {
  Deno.test({
    name: `${kind === "plain" ? "C" : kind === "asan" ? "ASan and UBSan" : "TSan"}: a program polling for ` +
      "its own answers (vmkmgmt_UserPoll) beside the reader, blocking calls and events on the same handle; " +
      "calls answered from a ring hook on the library's thread; a wake no wait took ends only the next wait",
    ignore: !info.completionQueue,
    ...opts,
    fn: async () => {
      if (kind !== "plain") await make(kind);
      await using sim = await startSimProcess();
      const out = await runWithin(
        `${ROOT}native/build/${kind === "plain" ? "" : `${kind}/`}queue_stress`,
        ["60"],
        {
          ...sim.env,
          ASAN_OPTIONS: "detect_leaks=1:abort_on_error=0:exitcode=66",
          TSAN_OPTIONS: `halt_on_error=1:exitcode=66:suppressions=${ROOT}native/test/tsan.supp`,
        },
        `queue_stress (${kind})`,
      );
      assertEquals(out.code, 0, out.stdout + out.stderr);
      // 60 rounds of 32 echo calls + 15 bursts of 25 events, and 4 threads × 240 blocking calls;
      // then 60 rounds of 32 echo calls answered by the hook.
      const [ok, calls, events, polled, hooked] = out.stdout.trim().split(" ");
      assertEquals([ok, calls, events, hooked], ["ok", "2895", "375", "1920"]);
      assert(Number(polled) > 0, "some answers were taken by polling");
    },
  });
}
