/**
 * vmkmgmt-bridge on its own: fed frames on stdin as ssh would, in front of our library and a real
 * simulator; the AddressSanitizer/UBSan build, so a bad byte that corrupted memory would show.
 * Garbage, truncated, oversized and out-of-order frames, a HELLO that lies about its size, a
 * library that does not load, a client that vanishes mid-call; and through the library: a bad
 * host, a bridge that is killed, a kernel that dies behind the bridge.
 */
import { assert, assertEquals, assertMatch, assertRejects, assertStringIncludes } from "@std/assert";
import { BRIDGE_ENV, DIRECTION_BY_CODE, ERRNO, SSH_ENV } from "../abi/facts.ts";
import { acmeNic } from "../demo.ts";
import { toCSignature } from "../mgmt/signature.ts";
import { open, VmkMgmtError } from "../mod.ts";
import {
  buildFrame,
  decodeErrorText,
  encodeHello,
  encodeInvoke,
  type Frame,
  FrameParser,
  FrameType,
  type HelloRequest,
} from "../sim/protocol.ts";
import { LIB_PATH, startSimProcess } from "../sim/process.ts";
import { useEnv, useSocket } from "./support/env.ts";
import { waitUntil } from "./support/wait.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const BRIDGE = `${ROOT}native/build/vmkmgmt-bridge`;
const ASAN_BRIDGE = `${ROOT}native/build/asan/vmkmgmt-bridge`;
const SANITIZERS = { ASAN_OPTIONS: "detect_leaks=1:abort_on_error=0", UBSAN_OPTIONS: "print_stacktrace=1" };
const opts = { sanitizeResources: false, sanitizeOps: false };

async function buildAsan(): Promise<void> {
  const built = await new Deno.Command("make", {
    args: ["-s", "-C", `${ROOT}native`, "asan"],
    stderr: "piped",
  })
    .output();
  assert(built.success, new TextDecoder().decode(built.stderr));
}

/** The HELLO our library sends for acmeNicMgmt. */
function nicHello(): HelloRequest {
  const c = toCSignature(acmeNic);
  return {
    revnum: c.version,
    name: c.name,
    vendor: c.vendor,
    pid: Deno.pid,
    callbacks: c.callbacks.map((cb) => ({
      id: cb.callbackId,
      location: cb.location,
      sync: cb.synchronous === 1,
      params: cb.parmTypes.slice(0, cb.numParms).map((t, i) => ({
        dir: DIRECTION_BY_CODE[t],
        size: cb.parmSizes[i],
      })),
    })),
    buffers: [],
  };
}

/** A bridge process with frames in and out. */
class Bridge {
  readonly child: Deno.ChildProcess;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #frames: Frame[] = [];
  readonly #parser = new FrameParser();
  readonly done: Promise<{ code: number; stderr: string; ended: boolean }>;
  #ended = false;

  constructor(env: Record<string, string>, args: string[] = ["--lib", LIB_PATH], binary = ASAN_BRIDGE) {
    const child = this.child = new Deno.Command(binary, {
      args,
      env: { ...env, ...SANITIZERS },
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    })
      .spawn();
    this.#writer = this.child.stdin.getWriter();
    const reading = (async () => {
      for await (const chunk of child.stdout) this.#frames.push(...this.#parser.push(chunk));
      this.#ended = true;
    })();
    const stderr = new Response(child.stderr).text();
    this.done = (async () => {
      const status = await child.status;
      await reading;
      return { code: status.code, stderr: await stderr, ended: this.#ended };
    })();
  }

  async send(bytes: Uint8Array): Promise<void> {
    await this.#writer.write(bytes);
  }

  async close(): Promise<void> {
    await this.#writer.close().catch(() => {});
  }

  async next(type: number): Promise<Frame> {
    await waitUntil(
      () => this.#frames.some((f) => f.type === type) || this.#ended,
      `a frame of type ${type}`,
    );
    const i = this.#frames.findIndex((f) => f.type === type);
    assert(i >= 0, `the bridge ended without sending frame type ${type}`);
    return this.#frames.splice(i, 1)[0];
  }
}

/** The bridge exited by itself, cleanly, and the sanitizers said nothing. */
async function cleanExit(b: Bridge): Promise<void> {
  const { code, stderr } = await b.done;
  assertEquals(code, 0, stderr);
  assert(!/Sanitizer|runtime error/.test(stderr), stderr);
}

Deno.test("the bridge: --version, --help, an unknown argument", async () => {
  const run = (args: string[]) =>
    new Deno.Command(BRIDGE, { args, stdout: "piped", stderr: "piped" }).output();
  const v = await run(["--version"]);
  assertMatch(new TextDecoder().decode(v.stdout), /^vmkmgmt-bridge \d+\.\d+\.\d+ \(protocol 4\)\n$/);
  assertStringIncludes(new TextDecoder().decode((await run(["--help"])).stdout), "--lib PATH");
  const bad = await run(["--port", "22"]);
  assertEquals(bad.code, 2);
  assertStringIncludes(new TextDecoder().decode(bad.stderr), "unknown argument --port");
});

Deno.test(
  "the bridge survives any bytes: garbage, truncated, oversized, out of order, a lying HELLO",
  opts,
  async () => {
    await buildAsan();
    await using sim = await startSimProcess();
    const header = (type: number, len: number) =>
      buildFrame(type, 1, new Uint8Array(0)).map((b, i) => i >= 12 ? (len >>> (8 * (i - 12))) & 0xff : b);
    const cases: [string, Uint8Array, string | null][] = [
      ["garbage", crypto.getRandomValues(new Uint8Array(4096)), "bad frame header"],
      ["a length past the limit", header(FrameType.HELLO, 0xffffffff), "bad frame header"],
      [
        "an INVOKE before HELLO",
        buildFrame(FrameType.INVOKE, 1, new Uint8Array(24)),
        "must start with HELLO",
      ],
      [
        "a HELLO shorter than it says",
        buildFrame(FrameType.HELLO, 1, encodeHello(nicHello()).subarray(0, 100)),
        "does not parse",
      ],
      ["a truncated frame", header(FrameType.HELLO, 500).subarray(0, 16), null],
    ];
    for (const [what, bytes, said] of cases) {
      const b = new Bridge(sim.env);
      await b.send(bytes);
      if (said) assertStringIncludes(decodeErrorText((await b.next(FrameType.ERROR)).payload), said, what);
      await b.close();
      await cleanExit(b);
    }
    // After a good HELLO: a frame type no client sends, and an INVOKE whose sizes lie.
    for (
      const bad of [
        buildFrame(FrameType.CONTROL, 2),
        buildFrame(FrameType.INVOKE, 2, new Uint8Array([1, 2, 3])),
      ]
    ) {
      const b = new Bridge(sim.env);
      await b.send(buildFrame(FrameType.HELLO, 1, encodeHello(nicHello())));
      const reply = (await b.next(FrameType.HELLO_REPLY)).payload;
      assertEquals(new DataView(reply.buffer, reply.byteOffset).getInt32(0, true), 0);
      await b.send(bad);
      await b.next(FrameType.ERROR);
      await b.close();
      await cleanExit(b);
    }
  },
);

Deno.test("the bridge: a library that does not load is told to the client in words", opts, async () => {
  const b = new Bridge({}, ["--lib", "/nonexistent/libvmkmgmt.so"], BRIDGE);
  await b.send(buildFrame(FrameType.HELLO, 1, encodeHello(nicHello())));
  const reply = (await b.next(FrameType.HELLO_REPLY)).payload;
  assertEquals(new DataView(reply.buffer, reply.byteOffset).getInt32(0, true), ERRNO.ENOENT);
  assertStringIncludes(
    new TextDecoder().decode(reply.subarray(16)),
    "cannot load /nonexistent/libvmkmgmt.so",
  );
  await b.close();
  await cleanExit(b);
});

Deno.test("the bridge: a client vanishing mid-call leaves no leak and no hang", opts, async () => {
  await buildAsan();
  await using sim = await startSimProcess();
  await sim.control({ op: "stall", instance: 1 });
  const b = new Bridge(sim.env);
  await b.send(buildFrame(FrameType.HELLO, 1, encodeHello(nicHello())));
  await b.next(FrameType.HELLO_REPLY);
  const getStats = toCSignature(acmeNic).callbacks.find((c) => c.label === "getStats")!;
  const params = getStats.parmTypes.slice(0, getStats.numParms).map((t, i) => ({
    dir: DIRECTION_BY_CODE[t],
    size: getStats.parmSizes[i],
    length: getStats.parmSizes[i],
    data: new Uint8Array(getStats.parmSizes[i]),
  }));
  await b.send(
    buildFrame(
      FrameType.INVOKE,
      2,
      encodeInvoke({ instanceId: 1n, callbackId: getStats.callbackId, sync: true, params }),
    ),
  );
  await new Promise((r) => setTimeout(r, 200)); // the call is now held in the kernel
  await b.close(); // the client is gone while the call waits in the kernel
  await cleanExit(b);
});

Deno.test(
  "through the library: a bad host, a killed bridge, a kernel dying behind the bridge",
  opts,
  async () => {
    await using sim = await startSimProcess();
    using _sock = useSocket(sim.socketPath);
    for (
      const [host, said] of [["-oProxyCommand=x", "may not start with '-'"], ["a b", "host name holds"], [
        "h:99999",
        "port must be",
      ]]
    ) {
      const e = await assertRejects(() => open(acmeNic, { host }), VmkMgmtError);
      assertEquals(e.code, "EINVAL");
      assertStringIncludes(e.message, said);
    }
    {
      using _bridge = useEnv({ [BRIDGE_ENV]: `${BRIDGE} --lib ${LIB_PATH}` });
      await using s = await open(acmeNic, { host: "@local" });
      assertMatch(s.peer ?? "", /^vmkmgmt-bridge \d+\.\d+\.\d+ on .+, .*libvmkmgmt\.so$/);
      assertEquals(typeof (await s.invoke("getStats", { instance: 1 })).stats.mtu, "number");
      // The bridge is killed while a call waits: the call fails with EIO, at once.
      await sim.control({ op: "stall", instance: 1 });
      const call = s.invoke("getStats", { instance: 1 }).then(() => null, (e: Error) => e);
      await new Promise((r) => setTimeout(r, 100));
      const pids = new TextDecoder().decode(
        (await new Deno.Command("pgrep", { args: ["-f", `^${BRIDGE} --lib`], stdout: "piped" }).output())
          .stdout,
      ).trim().split("\n").filter(Boolean);
      assert(pids.length >= 1, "the bridge runs");
      const t0 = performance.now();
      for (const pid of pids) Deno.kill(Number(pid), "SIGKILL");
      const e = await call as VmkMgmtError;
      assertEquals(e?.code, "EIO");
      console.log(`EIO ${Math.round(performance.now() - t0)} ms after the bridge was killed`);
      await sim.control({ op: "clear" });
      // The kernel dies behind a live bridge: the bridge hangs up, and the waiting call fails with EIO.
      await using s2 = await open(acmeNic, { host: "@local" });
      await sim.control({ op: "stall", instance: 1 });
      const waiting = s2.invoke("getStats", { instance: 1 }).then(() => null, (e: Error) => e);
      await new Promise((r) => setTimeout(r, 100));
      const t1 = performance.now();
      await sim.kill();
      assertEquals(((await waiting) as VmkMgmtError)?.code, "EIO");
      console.log(
        `EIO ${Math.round(performance.now() - t1)} ms after the kernel behind the bridge was killed`,
      );
      await assertRejects(() => s2.invoke("getStats", { instance: 1 }), VmkMgmtError, "EIO");
    }
    // ssh that cannot reach the host says why, in ssh's words.
    {
      using _ssh = useEnv({
        [SSH_ENV]: "-o ConnectTimeout=2 -o StrictHostKeyChecking=yes -o UserKnownHostsFile=/dev/null",
      });
      const e = await assertRejects(() => open(acmeNic, { host: "127.0.0.1:1" }), VmkMgmtError);
      assertEquals(e.code, "EIO");
      assertMatch(e.message, /127\.0\.0\.1:1|ssh|onnection refused/);
    }
  },
);

Deno.test(
  "fleet: every host of an inventory, one unreachable; NDJSON per host; the failed host named",
  opts,
  async () => {
    await using sim = await startSimProcess();
    const dir = await Deno.makeTempDir();
    const inventory = `${dir}/hosts.txt`;
    await Deno.writeTextFile(
      inventory,
      "# lab\n@local\n127.0.0.1:1   # nothing listens there\n@local\n\n@local\n",
    );
    const env = {
      ...sim.env,
      [BRIDGE_ENV]: `${BRIDGE} --lib ${LIB_PATH}`,
      VMKMGMT_SSH: "-o ConnectTimeout=3 -o StrictHostKeyChecking=yes -o UserKnownHostsFile=/dev/null",
      NO_COLOR: "1",
    };
    const run = async (...args: string[]) => {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "--allow-ffi", "--allow-env", "--allow-read", "scripts/fleet.ts", ...args],
        cwd: ROOT,
        env,
        stdout: "piped",
        stderr: "piped",
      }).output();
      const lines = new TextDecoder().decode(out.stdout).trim().split("\n").filter(Boolean).map((l) =>
        JSON.parse(l)
      );
      return { code: out.code, lines, stderr: new TextDecoder().decode(out.stderr) };
    };
    let r = await run("--inventory", inventory, "--concurrency", "2", "stats");
    assertEquals(r.code, 1, r.stderr);
    assertEquals(r.lines.length, 4, "one line per host");
    assertEquals(r.lines.filter((l) => l.ok).length, 3);
    const failed = r.lines.find((l) => !l.ok);
    assertEquals(failed.host, "127.0.0.1:1");
    assertStringIncludes(r.stderr, "1 of 4 hosts failed: 127.0.0.1:1");
    assert(typeof r.lines.find((l) => l.ok).values.vmnic0.mtu === "number");

    // mtu on one host, all or nothing: vmnic1's setMtu fails, vmnic0 is rolled back.
    await Deno.writeTextFile(inventory, "@local\n");
    await sim.control({ op: "fail", instance: "vmnic1", errno: "EIO", after: 1 });
    r = await run("--inventory", inventory, "mtu", "--mtu", "4000", "--instances", "vmnic0,vmnic1");
    assertEquals(r.code, 1, r.stderr);
    assertStringIncludes(r.lines[0].error, "rolled back 2");
    r = await run("--inventory", inventory, "stats");
    assertEquals([r.lines[0].values.vmnic0.mtu, r.lines[0].values.vmnic1.mtu], [1500, 1500]);
    r = await run("--inventory", inventory, "mtu", "--mtu", "9000", "--all");
    assertEquals([r.code, r.lines[0].ok], [0, true], r.stderr);
    r = await run("--inventory", `${dir}/none.txt`, "stats");
    assertEquals(r.code, 2);
    assertStringIncludes(r.stderr, "no such file");
    await Deno.remove(dir, { recursive: true });
  },
);

Deno.test(
  "deno task bridge-bundle: the binary, its install steps, its glibc need, and sources that rebuild it",
  opts,
  async () => {
    const made = await new Deno.Command("make", {
      args: ["-s", "-C", `${ROOT}native`, "bundle"],
      stdout: "piped",
    }).output();
    assert(made.success);
    assertMatch(new TextDecoder().decode(made.stdout), /needs GLIBC_2\.\d+/);
    const dir = await Deno.makeTempDir();
    try {
      const tar = `${ROOT}native/build/vmkmgmt-bridge-x86_64.tar.gz`;
      assert((await new Deno.Command("tar", { args: ["-C", dir, "-xzf", tar] }).output()).success);
      const top = `${dir}/vmkmgmt-bridge`;
      assertStringIncludes(await Deno.readTextFile(`${top}/INSTALL.md`), "execInstalledOnly");
      assertMatch(await Deno.readTextFile(`${top}/GLIBC_NEEDED`), /^GLIBC_2\.\d+\n$/);
      const rebuilt = await new Deno.Command("make", { args: ["-s", "-C", `${top}/src`, "bridge"] }).output();
      assert(rebuilt.success, "the bundled sources build the bridge");
      const v = await new Deno.Command(`${top}/src/build/vmkmgmt-bridge`, {
        args: ["--version"],
        stdout: "piped",
      }).output();
      assertMatch(new TextDecoder().decode(v.stdout), /^vmkmgmt-bridge /);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);
