/**
 * Trust (README, "Trust"): no one else's kernel, no one else's client. The directory rules run as
 * any user; the second-user cases create a user with `useradd` and run its processes with that
 * uid, so they need root — elsewhere they are skipped, saying why.
 */
import { assert, assertEquals, assertRejects, assertStringIncludes } from "@std/assert";
import { acmeNic } from "../demo.ts";
import { open, VmkMgmtError } from "../mod.ts";
import { sendControl, TrustError } from "../sim/client.ts";
import { buildFrame, FrameType } from "../sim/frames.ts";
import { encodeHello } from "../sim/payloads.ts";
import { startSimulator } from "../sim/server.ts";
import { useSocket } from "./support/env.ts";
import { waitUntil, within } from "./support/wait.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const OTHER_USER = "vmkmgmt-other";
const isRoot = Deno.uid() === 0;

async function privateDir(): Promise<string> {
  return await Deno.makeTempDir({ prefix: "vmkmgmt-trust-" });
}

/** A second local user (created once), and a directory of its own for Deno's cache and files. */
async function otherUser(): Promise<{ uid: number; gid: number; home: string; fixture: string }> {
  const id = (flag: string) =>
    new Deno.Command("id", { args: [flag, OTHER_USER], stdout: "piped", stderr: "null" }).output();
  if (!(await id("-u")).success) {
    const made = await new Deno.Command("useradd", { args: ["--system", "--no-create-home", OTHER_USER] })
      .output();
    if (!made.success) throw new Error(`useradd failed: ${new TextDecoder().decode(made.stderr)}`);
  }
  const num = async (flag: string) => Number(new TextDecoder().decode((await id(flag)).stdout).trim());
  const uid = await num("-u");
  const gid = await num("-g");
  const home = await Deno.makeTempDir({ prefix: "vmkmgmt-other-" });
  await Deno.chown(home, uid, gid);
  // A copy it can read wherever the checkout lives.
  const fixture = `${home}/other_user.ts`;
  await Deno.copyFile(`${ROOT}test/fixtures/other_user.ts`, fixture);
  await Deno.chmod(fixture, 0o644);
  return { uid, gid, home, fixture };
}

type Other = Awaited<ReturnType<typeof otherUser>>;

/** Runs the fixture as the other user; lines of its stdout arrive in `lines`. */
function runAsOther(other: Other, args: string[]): { child: Deno.ChildProcess; lines: string[] } {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", other.fixture, ...args],
    uid: other.uid,
    gid: other.gid,
    cwd: other.home,
    clearEnv: true,
    env: {
      PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
      HOME: other.home,
      DENO_DIR: `${other.home}/.deno`,
      NO_COLOR: "1",
    },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines: string[] = [];
  child.stdout.pipeThrough(new TextDecoderStream()).pipeTo(
    new WritableStream({ write: (c) => void lines.push(...c.split("\n").filter(Boolean)) }),
  ).catch(() => {});
  child.stderr.pipeTo(new WritableStream()).catch(() => {});
  return { child, lines };
}

/** A simulator whose log lines are kept. */
async function simulatorAt(socketPath: string) {
  const log: string[] = [];
  const sim = await startSimulator({ socketPath, log: (line) => log.push(line) });
  return Object.assign(sim, { log });
}

Deno.test({
  name: "trust: socket directories, socket mode and log lines, as any user",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    await t.step("the library and the tools refuse a socket directory others can write", async () => {
      const dir = await privateDir();
      await using sim = await simulatorAt(`${dir}/sim.sock`);
      using _socket = useSocket(sim.socketPath);
      for (const mode of [0o777, 0o775, 0o757]) {
        await Deno.chmod(dir, mode);
        const e = await assertRejects(() => open(acmeNic), VmkMgmtError);
        assertEquals(e.code, "EACCES");
        const octal = `0${mode.toString(8)}`;
        assertStringIncludes(
          e.message,
          `the socket directory ${dir} (owner uid ${Deno.uid()}, mode ${octal})`,
        );
        assertStringIncludes(e.message, "is writable by others: refusing it (chmod go-w it");
        const te = await assertRejects(() => sendControl(sim.socketPath, { op: "status" }), TrustError);
        assertStringIncludes(te.message, `mode ${octal}) is writable by others`);
      }
      assertEquals((sim.control({ op: "sessions" }) as unknown[]).length, 0, "no session reached the kernel");
      await Deno.chmod(dir, 0o700);
      await (await open(acmeNic)).close();
      await Deno.remove(dir, { recursive: true });
    });

    await t.step("a symbolic link in place of the directory is refused by both ends", async () => {
      const dir = await privateDir();
      await using _sim = await simulatorAt(`${dir}/real/sim.sock`);
      await Deno.symlink(`${dir}/real`, `${dir}/link`);
      using _socket = useSocket(`${dir}/link/sim.sock`);
      const e = await assertRejects(() => open(acmeNic), VmkMgmtError);
      assertEquals(e.code, "EACCES");
      assertStringIncludes(e.message, `the socket directory ${dir}/link is not a directory`);
      const se = await assertRejects(
        () => startSimulator({ socketPath: `${dir}/link/other.sock` }),
        TrustError,
      );
      assertStringIncludes(se.message, `${dir}/link is not a directory`);
      await Deno.remove(dir, { recursive: true });
    });

    await t.step("the simulator will not start in a directory others can write", async () => {
      const dir = await privateDir();
      await Deno.chmod(dir, 0o777);
      const e = await assertRejects(() => startSimulator({ socketPath: `${dir}/sim.sock` }), TrustError);
      assertStringIncludes(e.message, `${dir} (owner uid ${Deno.uid()}, mode 0777) is writable by others`);
      await Deno.remove(dir, { recursive: true });
    });

    await t.step("a directory others may enter or read but not write (0711, 0755) is served", async () => {
      for (const mode of [0o711, 0o755]) {
        const dir = await privateDir();
        await Deno.chmod(dir, mode);
        await using sim = await simulatorAt(`${dir}/sim.sock`);
        assertEquals((await Deno.lstat(sim.socketPath)).mode! & 0o777, 0o600, "the socket stays 0600");
        assertEquals((await Deno.lstat(dir)).mode! & 0o777, mode, "the directory is left as it was");
        using _socket = useSocket(sim.socketPath);
        await using s = await open(acmeNic);
        assertEquals((await s.instances()).length > 0, true);
        assertEquals((await sendControl(sim.socketPath, { op: "status" })) !== undefined, true);
        await Deno.remove(dir, { recursive: true });
      }
    });

    await t.step("with umask 000 the directory is 0700 and the socket 0600 from the start", async () => {
      const dir = await privateDir();
      const before = Deno.umask(0);
      try {
        await using sim = await simulatorAt(`${dir}/made/sim.sock`);
        assertEquals((await Deno.lstat(`${dir}/made`)).mode! & 0o777, 0o700);
        assertEquals((await Deno.lstat(sim.socketPath)).mode! & 0o777, 0o600);
        const left = [...Deno.readDirSync(`${dir}/made`)].map((e) => e.name);
        assertEquals(left, ["sim.sock"], "the private bind directory is gone");
      } finally {
        Deno.umask(before);
      }
      await Deno.remove(dir, { recursive: true });
    });

    await t.step("what a client sends cannot forge a log line", async () => {
      const dir = await privateDir();
      await using sim = await simulatorAt(`${dir}/sim.sock`);
      const conn = await Deno.connect({ transport: "unix", path: sim.socketPath });
      const hello = encodeHello({
        revnum: 0x01000000,
        name: "evil\n[sim] forged",
        vendor: "x\x1b[2J",
        pid: 1,
        callbacks: [],
        buffers: [],
      });
      await conn.write(buildFrame(FrameType.HELLO, 1, hello));
      await waitUntil(() => sim.log.some((l) => l.includes("refused session")), "the refusal in the log");
      conn.close();
      const line = sim.log.find((l) => l.includes("refused session"))!;
      assertStringIncludes(line, "evil\\n[sim] forged/x\\x1b[2J");
      assert(
        sim.log.every((l) => !["\n", "\r", "\x1b"].some((c) => l.includes(c))),
        "no control character in the log",
      );
      await Deno.remove(dir, { recursive: true });
    });
  },
});

Deno.test({
  name: "trust: a second local user can neither impersonate a kernel nor reach the simulator",
  ignore: !isRoot,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    const other = await otherUser();
    const text = (b: Uint8Array) => new TextDecoder().decode(b);

    /** The other user's fake kernel, listening in a directory of its own (mode 0777 unless said). */
    const fakeKernel = async (mode = 0o777) => {
      const dir = `${other.home}/evil`;
      await Deno.mkdir(dir, { mode });
      await Deno.chmod(dir, mode);
      await Deno.chown(dir, other.uid, other.gid);
      const fake = runAsOther(other, ["listen", `${dir}/sim.sock`]);
      await waitUntil(() => fake.lines.includes("listening"), "the fake kernel to listen", 30_000);
      return { dir, ...fake };
    };

    await t.step("a kernel in another user's directory is refused before a byte is sent", async () => {
      for (const mode of [0o777, 0o755]) await refusedInOthersDir(mode);
    });

    /** The other user's kernel in its own directory (of `mode`): refused by the library and the tools. */
    async function refusedInOthersDir(mode: number) {
      const fake = await fakeKernel(mode);
      try {
        using _socket = useSocket(`${fake.dir}/sim.sock`);
        const e = await assertRejects(() => open(acmeNic), VmkMgmtError);
        assertEquals(e.code, "EACCES");
        assertStringIncludes(
          e.message,
          `the socket directory ${fake.dir} is owned by uid ${other.uid}, not you`,
        );
        await assertRejects(() => sendControl(`${fake.dir}/sim.sock`, { op: "status" }), TrustError);
        assertEquals(fake.lines.filter((l) => l.startsWith("got")), [], "the fake kernel received nothing");
      } finally {
        fake.child.kill("SIGKILL");
        await fake.child.status;
        await Deno.remove(fake.dir, { recursive: true });
      }
    }

    await t.step("a kernel run by another user is refused even in my own directory", async () => {
      const fake = await fakeKernel();
      const mine = await privateDir();
      try {
        // Only root could do this, but it isolates the peer check from the directory check.
        await Deno.rename(`${fake.dir}/sim.sock`, `${mine}/sim.sock`);
        using _socket = useSocket(`${mine}/sim.sock`);
        const e = await assertRejects(() => open(acmeNic), VmkMgmtError);
        assertEquals(e.code, "EACCES");
        assertStringIncludes(e.message, `the kernel at ${mine}/sim.sock is run by uid ${other.uid}, not you`);
        const te = await assertRejects(() => sendControl(`${mine}/sim.sock`, { op: "status" }), TrustError);
        assertStringIncludes(te.message, `the kernel at ${mine}/sim.sock is run by uid ${other.uid}`);
        // Each tool says the same, in words, and exits non-zero (the REPL with 2, the others with 1).
        const tools = [
          ["ctl", 1, [`${ROOT}sim/main.ts`, "ctl", "status", "--socket", `${mine}/sim.sock`]],
          ["repl", 2, [`${ROOT}repl/main.ts`, "-c", "help"]],
          ["run", 1, [`${ROOT}scripts/run.ts`, `${ROOT}scripts/collect-stats.ts`]],
        ] as const;
        for (const [tool, code, args] of tools) {
          const out = await new Deno.Command(Deno.execPath(), {
            args: ["run", "--allow-all", ...args],
            env: { VMKMGMT_SIM_SOCKET: `${mine}/sim.sock`, NO_COLOR: "1" },
            stdout: "piped",
            stderr: "piped",
          }).output();
          assertEquals(out.code, code, tool);
          assertStringIncludes(
            text(out.stderr),
            `${tool}: the kernel at ${mine}/sim.sock is run by uid ${other.uid}`,
          );
        }
        assertEquals(fake.lines.filter((l) => l.startsWith("got")), [], "the fake kernel received nothing");
      } finally {
        fake.child.kill("SIGKILL");
        await fake.child.status;
        await Deno.remove(fake.dir, { recursive: true });
        await Deno.remove(mine, { recursive: true });
      }
    });

    await t.step("the simulator refuses another user's connection", async () => {
      const mine = await privateDir();
      const open_ = await Deno.makeTempDir({ prefix: "vmkmgmt-open-" });
      await using sim = await simulatorAt(`${mine}/sim.sock`);
      try {
        // Make the socket reachable as only a mistake could: a link in an open directory, mode 0666.
        await Deno.chmod(open_, 0o777);
        await Deno.link(sim.socketPath, `${open_}/sim.sock`);
        await Deno.chmod(sim.socketPath, 0o666);
        const control = buildFrame(FrameType.CONTROL, 1, new TextEncoder().encode('{"op":"status"}'));
        const hex = [...control].map((b) => b.toString(16).padStart(2, "0")).join("");
        const client = runAsOther(other, ["connect", `${open_}/sim.sock`, hex]);
        await within(client.child.status, 30_000, "the other user's client to finish");
        const replies = client.lines.filter((l) => l.startsWith("reply ")).map((l) => l.slice(6)).join("");
        const bytes = Uint8Array.from(replies.match(/../g) ?? [], (h) => parseInt(h, 16));
        assertEquals(
          new DataView(bytes.buffer).getUint16(6, true),
          FrameType.ERROR,
          "an ERROR frame, no result",
        );
        assertStringIncludes(
          text(bytes.subarray(16)),
          `this simulator accepts only uid ${Deno.uid()} and root`,
        );
        assert(client.lines.includes("closed"));
        const refused = sim.log.find((l) => l.startsWith("refused a connection"));
        assert(refused, "the simulator logs the refusal");
        assertStringIncludes(refused, `runs as uid ${other.uid}`);
        assertEquals((sim.control({ op: "sessions" }) as unknown[]).length, 0);
      } finally {
        await Deno.remove(open_, { recursive: true });
        await Deno.remove(mine, { recursive: true }).catch(() => {});
      }
    });
    await Deno.remove(other.home, { recursive: true });
  },
});
