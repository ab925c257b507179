/**
 * The remote path for real: an OpenSSH server on 127.0.0.1 with a throwaway host key and a key made
 * for the run, the bridge as the remote command, and the library, the REPL, a script and an
 * unchanged C client reaching the simulator through `VMKMGMT_HOST`. sshd is stopped afterwards.
 * Skipped, saying so, where OpenSSH's server is not installed (`.ci/run` installs it).
 */
import { assert, assertEquals, assertMatch, assertRejects, assertStringIncludes } from "@std/assert";
import { BRIDGE_ENV, HOST_ENV, SSH_ENV } from "../abi/facts.ts";
import { acmeNic } from "../demo.ts";
import { open, VmkMgmtError } from "../mod.ts";
import { LIB_PATH, type SimProcess, startSimProcess } from "../sim/process.ts";
import { useEnv } from "./support/env.ts";
import { waitUntil } from "./support/wait.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const SSHD = ["/usr/sbin/sshd", "/usr/bin/sshd"].find((p) => {
  try {
    return Deno.statSync(p).isFile;
  } catch {
    return false;
  }
});
const opts = { sanitizeResources: false, sanitizeOps: false };

async function sh(cmd: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  return new TextDecoder().decode(out.stdout);
}

/** A private sshd on 127.0.0.1 that lets in one key, and the options that reach it. */
async function startSshd(sim: SimProcess) {
  const dir = await Deno.makeTempDir({ prefix: "vmkmgmt-sshd-" });
  await sh("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", `${dir}/host_key`]);
  await sh("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", `${dir}/user_key`]);
  await Deno.copyFile(`${dir}/user_key.pub`, `${dir}/authorized_keys`);
  await Deno.mkdir("/run/sshd", { recursive: true }).catch(() => {}); // privilege separation
  const port = 20000 + Math.floor(Math.random() * 20000);
  await Deno.writeTextFile(
    `${dir}/sshd_config`,
    [
      `Port ${port}`,
      "ListenAddress 127.0.0.1",
      `HostKey ${dir}/host_key`,
      `AuthorizedKeysFile ${dir}/authorized_keys`,
      `PidFile ${dir}/sshd.pid`,
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "PubkeyAuthentication yes",
      "PermitRootLogin prohibit-password",
      "StrictModes no",
      "UsePAM no",
      "LogLevel VERBOSE",
    ].join("\n") + "\n",
  );
  const sshd = new Deno.Command(SSHD!, {
    args: ["-D", "-e", "-f", `${dir}/sshd_config`],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let log = "";
  (async () => {
    for await (const c of sshd.stderr.pipeThrough(new TextDecoderStream())) log += c;
  })();
  await waitUntil(async () => {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return true;
    } catch {
      return false;
    }
  }, "sshd to listen");
  const hostKey = (await Deno.readTextFile(`${dir}/host_key.pub`)).trim();
  await Deno.writeTextFile(`${dir}/known_hosts`, `[127.0.0.1]:${port} ${hostKey}\n`);
  const user = (await sh("id", ["-un"])).trim();
  const ssh =
    `-F /dev/null -i ${dir}/user_key -o IdentitiesOnly=yes -o UserKnownHostsFile=${dir}/known_hosts ` +
    "-o StrictHostKeyChecking=yes";
  // The remote command reaches the simulator of this test (sshd does not pass our environment on).
  const bridge =
    `env VMKMGMT_SIM_SOCKET=${sim.socketPath} ${ROOT}native/build/vmkmgmt-bridge --lib ${LIB_PATH}`;
  return {
    dir,
    host: `${user}@127.0.0.1:${port}`,
    port,
    env: { [SSH_ENV]: ssh, [BRIDGE_ENV]: bridge, [HOST_ENV]: `${user}@127.0.0.1:${port}` },
    log: () => log,
    async [Symbol.asyncDispose]() {
      // The shared connection's master outlives its sessions for 60 s: end it, then sshd.
      await new Deno.Command("ssh", {
        args: [
          ...ssh.split(" "),
          "-o",
          `ControlPath=/tmp/vmkmgmt-${Deno.uid()}/ssh/%C`,
          "-O",
          "exit",
          "-p",
          `${port}`,
          `${user}@127.0.0.1`,
        ],
        stdout: "null",
        stderr: "null",
      }).output();
      try {
        sshd.kill("SIGTERM");
      } catch { /* gone */ }
      await sshd.status;
      await Deno.remove(dir, { recursive: true });
    },
  };
}

Deno.test({
  name: "through a real sshd: the library, events, one shared connection, the REPL, a script, a C client",
  ...opts,
  ignore: !SSHD,
  fn: async (t) => {
    await using sim = await startSimProcess();
    await using sshd = await startSshd(sim);
    {
      using _env = useEnv(sshd.env);
      const env = { ...sshd.env, NO_COLOR: "1" };
      await t.step("the library: calls and events in two sessions over one SSH connection", async () => {
        // Two sessions, one SSH connection (ControlMaster): sshd lets a key in once.
        await using a = await open(acmeNic);
        await using b = await open(acmeNic, { host: sshd.host });
        assertMatch(a.peer ?? "", /^vmkmgmt-bridge \d+\.\d+\.\d+ on /);
        assertEquals((await a.invoke("getStats", { instance: "vmnic0" })).stats.mtu, 1500);
        const event = b.waitFor("linkEvent", { timeout: 10_000 });
        await b.invoke("triggerEvents", { instance: "vmnic1", count: 1 });
        assertEquals((await event).instance?.name, "vmnic1");
        const echoed = await a.invoke("echo", {
          instance: "vmnic0",
          msg: { seq: 41n, payload: new Uint8Array(56).fill(7) },
        });
        assertEquals(echoed.msg.seq, 42n);
        assertEquals(sshd.log().match(/Accepted publickey/g)?.length, 1, sshd.log());
      });
      await t.step("the REPL, told the host on its command line", async () => {
        // The REPL, told the host on its command line.
        const repl = await new Deno.Command(Deno.execPath(), {
          args: ["task", "repl", "--host", sshd.host, "-c", "open acmeNicMgmt; call getStats vmnic2"],
          cwd: ROOT,
          env: { ...env, [HOST_ENV]: "" },
          stdout: "piped",
          stderr: "piped",
        }).output();
        const screen = new TextDecoder().decode(repl.stdout);
        assertEquals(repl.code, 0, new TextDecoder().decode(repl.stderr));
        assertStringIncludes(screen, "via vmkmgmt-bridge");
        assertStringIncludes(screen, "mtu");
      });
      await t.step("a script with --host, through the runner", async () => {
        // A script with --host, through the runner (which starts no simulator for a remote host).
        const script = await new Deno.Command(Deno.execPath(), {
          args: [
            "run",
            "-A",
            "scripts/run.ts",
            "scripts/collect-stats.ts",
            "--rounds",
            "1",
            "--host",
            sshd.host,
          ],
          cwd: ROOT,
          env: { ...env, [HOST_ENV]: "", VMKMGMT_SIM_SOCKET: "/nonexistent/sim.sock" },
          stdout: "piped",
          stderr: "piped",
        }).output();
        assertEquals(script.code, 0, new TextDecoder().decode(script.stderr));
        assertStringIncludes(new TextDecoder().decode(script.stdout), "vmnic3");
      });
      await t.step("an unchanged C client, only VMKMGMT_HOST set", async () => {
        // An unchanged C client, only VMKMGMT_HOST set.
        const c = await new Deno.Command(`${ROOT}native/build/client_test`, {
          args: ["all"],
          env,
          stdout: "piped",
          stderr: "piped",
        }).output();
        const text = new TextDecoder().decode(c.stdout);
        assertEquals(text.split("\n").filter((l) => l.startsWith("not ok")), [], text);
        assert(c.success, text);
      });
      await t.step("a host whose key is not the one known: ssh refuses, and says so", async () => {
        // A host whose key is not the one known: ssh refuses, and says so.
        await Deno.writeTextFile(
          `${sshd.dir}/known_hosts`,
          `[127.0.0.1]:${sshd.port} ${(await Deno.readTextFile(`${sshd.dir}/user_key.pub`)).trim()}\n`,
        );
        Deno.env.set(SSH_ENV, `${sshd.env[SSH_ENV]} -o ControlPath=none`);
        const e = await assertRejects(() => open(acmeNic), VmkMgmtError);
        assertEquals(e.code, "EIO");
        assertMatch(e.message, /Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED/);
      });
    }
  },
});
