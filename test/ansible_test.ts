/**
 * The Ansible collection vmkmgmt.esxi, run by real `ansible-playbook` (Debian's ansible-core; `.ci/run`
 * installs it — without it these tests are skipped, saying so) against an inventory of `@local` hosts,
 * each through the bridge to a simulator of its own, and one host that cannot be reached: facts equal
 * to what the REPL reports, an MTU set, a second run that changes nothing, check mode that only reads
 * and shows the diff, a fault on one host that fails only that host with the errno, bad arguments
 * failing with the REPL's words, and `ansible-doc` for every module.
 */
import { assert, assertEquals, assertMatch, assertStringIncludes } from "@std/assert";
import { BRIDGE_ENV, SIM_SOCKET_ENV } from "../abi/facts.ts";
import { LIB_PATH, type SimProcess, startSimProcess } from "../sim/process.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const COLLECTION = `${ROOT}ansible`;
const MODULES = ["vmkmgmt_info", "vmkmgmt_call"];
const hasAnsible = await new Deno.Command("sh", {
  args: ["-c", "command -v ansible-playbook"],
  stdout: "null",
})
  .output().then((o) => o.success, () => false);
const opts = { sanitizeResources: false, sanitizeOps: false, ignore: !hasAnsible };
const text = (b: Uint8Array) => new TextDecoder().decode(b);

/** Three hosts, each a bridge in front of its own simulator, and one that nothing answers. */
async function lab(dir: string) {
  const sims: Record<string, SimProcess> = {};
  for (const h of ["esx01", "esx02", "esx03"]) sims[h] = await startSimProcess();
  const hosts = Object.entries(sims).map(([h, s]) =>
    `    ${h}: {ansible_host: "@local", sim_socket: "${s.socketPath}"}`
  );
  await Deno.writeTextFile(
    `${dir}/inventory.yml`,
    [
      "all:",
      "  children:",
      "    esxi:",
      "      hosts:",
      ...hosts.map((l) => `    ${l}`),
      "    lost:",
      "      hosts:",
      `        ghost: {ansible_host: "root@127.0.0.1:1", sim_socket: "${dir}/none.sock"}`,
    ].join("\n") + "\n",
  );
  const env = {
    ANSIBLE_COLLECTIONS_PATH: COLLECTION,
    ANSIBLE_NOCOLOR: "1",
    ANSIBLE_LOCALHOST_WARNING: "0",
    ANSIBLE_LOCAL_TEMP: `${dir}/tmp`,
    ANSIBLE_PYTHON_INTERPRETER: "auto_silent",
    VMKMGMT_ANSIBLE: `${Deno.execPath()} run --allow-all ${ROOT}ansible/module.ts`,
    [BRIDGE_ENV]: `${ROOT}native/build/vmkmgmt-bridge --lib ${LIB_PATH}`,
    VMKMGMT_SSH: "-o ConnectTimeout=3 -o StrictHostKeyChecking=yes -o UserKnownHostsFile=/dev/null",
  };
  const play = async (name: string, tasks: string, ...flags: string[]) => {
    const book = `${dir}/${name}.yml`;
    await Deno.writeTextFile(
      book,
      [
        "- hosts: all",
        "  gather_facts: false",
        `  environment: {${SIM_SOCKET_ENV}: "{{ sim_socket }}"}`,
        "  tasks:",
        tasks,
        "    - name: keep what the task returned",
        "      copy:",
        '        content: "{{ r | to_nice_json }}"',
        `        dest: "${dir}/${name}-{{ inventory_hostname }}.json"`,
        "      delegate_to: localhost",
        "      check_mode: false",
        "      changed_when: false",
      ].join("\n") + "\n",
    );
    const out = await new Deno.Command("ansible-playbook", {
      args: ["-i", `${dir}/inventory.yml`, book, ...flags],
      env,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const result = async (host: string) => JSON.parse(await Deno.readTextFile(`${dir}/${name}-${host}.json`));
    return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr), result };
  };
  const close = async () => {
    for (const s of Object.values(sims)) await s.stop();
  };
  return { sims, play, env, close };
}

/** One task of vmkmgmt_call on every host, its result registered as `r`. */
function callTask(args: string, extra = ""): string {
  return [
    "    - vmkmgmt.esxi.vmkmgmt_call:",
    '        host: "{{ ansible_host }}"',
    "        api: acmeNicMgmt",
    ...args.split("\n").map((l) => `        ${l}`),
    "      delegate_to: localhost",
    "      register: r",
    "      ignore_errors: true",
    ...(extra ? [extra] : []),
  ].join("\n");
}

/** The REPL's answer to `commands`, on the simulator at `socket` through the bridge (`--json` lines). */
async function repl(socket: string, commands: string, env: Record<string, string>) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", `${ROOT}repl/main.ts`, "--host", "@local", "--json", "-c", commands],
    env: { ...env, [SIM_SOCKET_ENV]: socket, NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    lines: text(out.stdout).split("\n").filter(Boolean).map((l) => JSON.parse(l)),
    stderr: text(out.stderr),
  };
}

Deno.test({
  name: "ansible: vmkmgmt_info facts are what the REPL reports; a lost host is UNREACHABLE",
  ...opts,
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "vmkmgmt-ansible-" });
  const l = await lab(dir);
  try {
    const r = await l.play(
      "info",
      [
        "    - vmkmgmt.esxi.vmkmgmt_info:",
        '        host: "{{ ansible_host }}"',
        "        api: acmeNicMgmt",
        "        read: [getStats]",
        "      delegate_to: localhost",
        "      register: r",
      ].join("\n"),
    );
    assertMatch(r.stdout, /ghost\s+: ok=0\s+changed=0\s+unreachable=1\s+failed=0/);
    assertMatch(r.stdout, /esx01\s+: ok=2\s+changed=0\s+unreachable=0\s+failed=0/);
    assertStringIncludes(r.stdout, "Connection refused");
    const facts = (await r.result("esx01")).ansible_facts.vmkmgmt.apis.acmeNicMgmt;
    const seen = await repl(l.sims.esx01.socketPath, "open acmeNicMgmt; instances; call getStats *", l.env);
    const instances = seen.lines.find((x) => Array.isArray(x.instances))?.instances;
    assertEquals(facts.instances, instances, seen.stderr);
    assertEquals(facts.version, "1.0.0.0");
    for (const line of seen.lines.filter((x) => x.callback === "getStats")) {
      const ours = facts.read.getStats[line.instance.name].stats;
      const theirs = line.result.stats;
      assertEquals(Object.keys(ours).sort(), Object.keys(theirs).sort());
      for (const k of ["mtu", "linkUp", "driver"]) assertEquals(ours[k], theirs[k], k);
      for (const k of ["rxPackets", "txBytes"]) {
        assert(BigInt(theirs[k]) >= BigInt(ours[k]), "counters only grow");
      }
    }
  } finally {
    await l.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test(
  { name: "ansible: vmkmgmt_call — check mode, diff, a change, then no change", ...opts },
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "vmkmgmt-ansible-" });
    const l = await lab(dir);
    const mtuTask = callTask(
      "callback: setMtu\ninstances: all\nparams: {mtu: 9000}\nread: {callback: getStats, path: stats.mtu}\nwant: 9000",
    );
    const mtus = async (host: string) =>
      (await repl(l.sims[host].socketPath, "open acmeNicMgmt; call getStats *", l.env)).lines
        .filter((x) => x.callback === "getStats").map((x) => x.result.stats.mtu);
    try {
      const checked = await l.play("mtu", mtuTask, "--check", "--diff", "--limit", "esxi");
      assertEquals(checked.code, 0, checked.stdout);
      const would = await checked.result("esx01");
      assertEquals([would.changed, would.results.length], [true, 4]);
      assertStringIncludes(would.msg, "check mode: would call setMtu on vmnic0, vmnic1, vmnic2, vmnic3");
      assertStringIncludes(checked.stdout, '-{"vmnic0":1500,"vmnic1":1500');
      assertStringIncludes(checked.stdout, '+{"vmnic0":9000,"vmnic1":9000');
      assertEquals(await mtus("esx01"), [1500, 1500, 1500, 1500], "check mode changed nothing");

      const done = await l.play("mtu", mtuTask, "--limit", "esxi");
      assertMatch(done.stdout, /esx02\s+: ok=2\s+changed=1\s+unreachable=0\s+failed=0/);
      const did = await done.result("esx02");
      assertEquals(did.results.map((x: { after: number }) => x.after), [9000, 9000, 9000, 9000]);
      assertEquals(await mtus("esx03"), [9000, 9000, 9000, 9000]);

      const again = await l.play("mtu", mtuTask, "--limit", "esxi");
      assertMatch(again.stdout, /esx01\s+: ok=2\s+changed=0\s+unreachable=0\s+failed=0/);
      assertEquals((await again.result("esx03")).changed, false);
    } finally {
      await l.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test(
  { name: "ansible: a fault on one host fails only that host, with the errno", ...opts },
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "vmkmgmt-ansible-" });
    const l = await lab(dir);
    try {
      await l.sims.esx02.control({ op: "fail", instance: "vmnic1", errno: "EIO", count: "inf" });
      const r = await l.play(
        "fault",
        callTask("callback: setMtu\ninstances: [vmnic0, vmnic1]\nparams: {mtu: 4000}"),
        "--limit",
        "esxi",
      );
      const failed = await r.result("esx02");
      assertEquals([failed.failed, failed.code, failed.errno, failed.callback], [true, "EIO", 5, "setMtu"]);
      assertStringIncludes(failed.msg, "invoke failed: EIO (5)");
      assertEquals(failed.changed, true, "vmnic0 had changed before vmnic1 failed: said so");
      assert(!("exception" in failed), "no stack trace");
      for (const h of ["esx01", "esx03"]) {
        const ok = await r.result(h);
        assertEquals([ok.failed ?? false, ok.changed], [false, true], h);
      }
    } finally {
      await l.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test({ name: "ansible: bad arguments fail the task with the REPL's words", ...opts }, async () => {
  const dir = await Deno.makeTempDir({ prefix: "vmkmgmt-ansible-" });
  const l = await lab(dir);
  try {
    const socket = l.sims.esx01.socketPath;
    const cases = [
      ["callback: setMtx\ninstances: [vmnic1]", "call setMtx vmnic1"],
      [
        "callback: setMtu\ninstances: [vmnic1]\nparams: {mtu: 99999999999}",
        "call setMtu vmnic1 mtu=99999999999",
      ],
      ["callback: setMtu\ninstances: [vmnic1]\nparams: {mtuu: 9000}", "call setMtu vmnic1 mtuu=9000"],
    ];
    for (const [args, line] of cases) {
      const r = await l.play("bad", callTask(args), "--limit", "esx01");
      const failed = await r.result("esx01");
      assertEquals(failed.failed, true, args);
      const said = (await repl(socket, `open acmeNicMgmt; ${line}`, l.env)).lines.find((x) => x.error)?.error
        .message;
      assert(said, `the REPL refuses ${line}`);
      assertStringIncludes(failed.msg, said.replace(/; call it with: .*$/, ""), args);
    }
    const unknown = await l.play("unknown", callTask("callback: setMtu\nbogus: 1"), "--limit", "esx01");
    assertStringIncludes(
      (await unknown.result("esx01")).msg,
      "Unsupported parameters for (vmkmgmt_call) module: bogus",
    );
  } finally {
    await l.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test(
  { name: "ansible-doc renders every module: options, examples, return values", ...opts },
  async () => {
    for (const m of MODULES) {
      const out = await new Deno.Command("ansible-doc", {
        args: [`vmkmgmt.esxi.${m}`],
        env: { ANSIBLE_COLLECTIONS_PATH: COLLECTION, ANSIBLE_NOCOLOR: "1", PAGER: "cat" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert(out.success, text(out.stderr));
      const doc = text(out.stdout);
      for (const part of ["OPTIONS", "EXAMPLES", "RETURN VALUES", "= host", "= api"]) {
        assertStringIncludes(
          doc,
          part,
          m,
        );
      }
    }
  },
);
