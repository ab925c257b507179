/**
 * Ansible inventories in fleet (scripts/lib/inventory.ts), held to Ansible itself: the same hosts
 * and connection vars as `ansible-inventory --list` for INI, YAML and that JSON; the same hosts as
 * `ansible PATTERN --list-hosts` for each `--limit`; then fleet through the bridge to `@local`
 * hosts, groups, limits and vars, with a host whose name does not resolve reported, not contacted.
 * Needs Debian's ansible-core (`.ci/run` installs it); without it the Ansible comparisons are
 * skipped, saying so.
 */
import { assert, assertEquals, assertStringIncludes, assertThrows } from "@std/assert";
import { BRIDGE_ENV, SIM_SOCKET_ENV } from "../abi/facts.ts";
import { InventoryError, parseInventory, selectHosts } from "../scripts/lib/inventory.ts";
import { LIB_PATH, startSimProcess } from "../sim/process.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const FIXTURES = `${ROOT}test/fixtures/inventory`;
const CONNECTION = ["ansible_host", "ansible_port", "ansible_user", "ansible_connection", "site"];
const hasAnsible = await new Deno.Command("sh", {
  args: ["-c", "command -v ansible-inventory"],
  stdout: "null",
})
  .output().then((o) => o.success, () => false);
const opts = { sanitizeResources: false, sanitizeOps: false };

/** host → its connection vars (the keys Ansible and fleet both use), sorted. */
type Hosts = Record<string, Record<string, unknown>>;

function pick(vars: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(vars).filter(([k]) => CONNECTION.includes(k)).sort());
}

function ours(file: string, text?: string, limit?: string): Hosts {
  const inv = parseInventory(text ?? Deno.readTextFileSync(file), file);
  return Object.fromEntries(selectHosts(inv, limit).map((h) => [h.name, pick(h.vars)]).sort());
}

async function ansible(cmd: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, {
    args,
    env: { ANSIBLE_NOCOLOR: "1", ANSIBLE_LOCALHOST_WARNING: "0", ANSIBLE_INVENTORY_UNPARSED_WARNING: "0" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert(out.success, `${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  return new TextDecoder().decode(out.stdout);
}

/** What `ansible-inventory --list` says: every host of every group, with its vars. */
function theirs(json: string): Hosts {
  const doc = JSON.parse(json);
  const names = new Set<string>();
  for (const [g, body] of Object.entries(doc as Record<string, { hosts?: string[] }>)) {
    if (g !== "_meta") { for (const h of body.hosts ?? []) names.add(h); }
  }
  return Object.fromEntries([...names].sort().map((h) => [h, pick(doc._meta?.hostvars?.[h] ?? {})]));
}

Deno.test({
  name: "inventory: the hosts and vars ansible-inventory --list gives, from INI, YAML and its own JSON",
  ignore: !hasAnsible,
  ...opts,
  fn: async () => {
    for (const file of [`${FIXTURES}/hosts.ini`, `${FIXTURES}/hosts.yml`]) {
      const json = await ansible("ansible-inventory", ["-i", file, "--list"]);
      const expected = theirs(json);
      assertEquals(ours(file), expected, file);
      assertEquals(Object.keys(expected).length, 7, "every host, range and group counted");
      assertEquals(ours(`${file}.json`, json), expected, `${file}, as ansible-inventory --list writes it`);
    }
  },
});

Deno.test({
  name: "inventory: --limit selects what ansible PATTERN --list-hosts selects",
  ignore: !hasAnsible,
  ...opts,
  fn: async () => {
    const file = `${FIXTURES}/hosts.ini`;
    const patterns = [
      "all",
      "esxi",
      "prod:!edge",
      "esxi:&edge",
      "esx0*",
      "~esx0[13]",
      "edge,broken",
      "ungrouped",
      "prod:!esx04:&esxi",
      "esx02",
    ];
    for (const pattern of patterns) {
      const listed = await ansible("ansible", [pattern, "-i", file, "--list-hosts"]);
      const expected = listed.split("\n").slice(1).map((l) => l.trim()).filter(Boolean).sort();
      assertEquals(Object.keys(ours(file, undefined, pattern)), expected, pattern);
    }
  },
});

Deno.test("inventory: what cannot be read is named, file and line", () => {
  const bad = (text: string, path: string, words: string) => {
    const e = assertThrows(() => parseInventory(text, path), InventoryError);
    assertStringIncludes(e.message, words);
  };
  bad("[esxi:hosts2]\nesx01\n", "a.ini", "a.ini:1: not a section Ansible knows: [esxi:hosts2]");
  bad("[esxi:vars]\njust-a-word\n", "b.ini", "b.ini:2: expected key=value in [esxi:vars]");
  bad("[esxi]\nesx01 'unclosed\n", "c.ini", "c.ini:2: an unclosed '");
  bad("[esxi]\nesx[05:01]\n", "d.ini", "the range in esx[05:01] runs backwards");
  bad("all:\n  hosts: [a, b]\n", "e.yml", "all's hosts is not a mapping of host names");
  bad("all:\n  hostz:\n    a:\n", "f.yml", "group all has hostz; a group has hosts, vars and children");
  bad("[a:children]\nb\n[b:children]\na\n[a]\nh\n", "g.ini", "children form a cycle");
  bad(
    "all:\n  hosts:\n    h:\n      ansible_password: !vault |\n        $ANSIBLE_VAULT;1.1;AES256\n        6162\n",
    "h.yml",
    "h.yml:4: a vaulted value (!vault); fleet cannot decrypt it",
  );
  bad(
    '{"_meta": {"hostvars": {"h": {"p": {"__ansible_vault": "x"}}}}, "all": {"hosts": ["h"]}}',
    "l.json",
    "host h: p is vaulted",
  );
  bad("# nothing\n\n", "i.txt", "i.txt: no hosts");
  const inv = parseInventory("[esxi]\nesx01\n", "j.ini");
  const e = assertThrows(() => selectHosts(inv, "esxi:!exs01"), InventoryError);
  assertStringIncludes(e.message, "--limit: exs01 names no group or host (groups: esxi, all, ungrouped)");
  // The list fleet always took: user@host:port as written.
  const list = parseInventory("root@esx01:2222 # lab\nesx02\n", "k.txt");
  assertEquals(list.format, "list");
  assertEquals(list.hosts.map((h) => h.name), ["root@esx01:2222", "esx02"]);
});

Deno.test(
  "fleet: an Ansible inventory through the bridge to @local hosts — groups, limits, vars",
  opts,
  async (t) => {
    await using sim = await startSimProcess();
    const run = async (...args: string[]) => {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "--allow-all", `${ROOT}scripts/fleet.ts`, ...args],
        env: {
          [SIM_SOCKET_ENV]: sim.socketPath,
          [BRIDGE_ENV]: `${ROOT}native/build/vmkmgmt-bridge --lib ${LIB_PATH}`,
        },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const lines = new TextDecoder().decode(out.stdout).split("\n").filter(Boolean).map((l) =>
        JSON.parse(l)
      );
      return { code: out.code, lines, stderr: new TextDecoder().decode(out.stderr) };
    };
    for (const file of ["hosts.ini", "hosts.yml"]) {
      await t.step(`${file}: --limit prod:!esx04 sets the MTU on exactly those hosts`, async () => {
        const r = await run(
          "--inventory",
          `${FIXTURES}/${file}`,
          "--limit",
          "prod:!esx04",
          "mtu",
          "--mtu",
          "9000",
          "--all",
        );
        assertEquals(r.code, 0, r.stderr);
        assertEquals(r.lines.map((l) => l.host).sort(), ["edge-a", "esx01", "esx02", "esx03"]);
        for (const l of r.lines) {
          assertEquals(l.target, "@local", "ansible_host=@local: this machine's bridge");
          assertEquals(l.ok, true);
        }
        const back = await run(
          "--inventory",
          `${FIXTURES}/${file}`,
          "--limit",
          "esx04",
          "mtu",
          "--mtu",
          "1500",
          "--all",
        );
        assertEquals(back.code, 0, back.stderr);
      });
    }
    await t.step(
      "a host with no ansible_host whose name does not resolve is reported, not contacted",
      async () => {
        const r = await run("--inventory", `${FIXTURES}/hosts.ini`, "--limit", "broken:esx-lab", "stats");
        assertEquals(r.code, 1);
        const skipped = r.lines.find((l) => l.host === "nowhere.invalid");
        assertEquals(skipped?.skipped, true);
        assertStringIncludes(
          skipped?.error,
          "no ansible_host, and the name nowhere.invalid does not resolve",
        );
        assertEquals(r.lines.find((l) => l.host === "esx-lab")?.ok, true, "the others go on");
        assertStringIncludes(r.stderr, "1 of 2 hosts failed: nowhere.invalid (1 not contacted");
      },
    );
    await t.step("a limit that names nothing, or selects nothing, is a usage error", async () => {
      const typo = await run("--inventory", `${FIXTURES}/hosts.yml`, "--limit", "esxii", "stats");
      assertEquals(typo.code, 2);
      assertStringIncludes(typo.stderr, "--limit: esxii names no group or host");
      const none = await run("--inventory", `${FIXTURES}/hosts.yml`, "--limit", "esxi:&edge:!esx02", "stats");
      assertEquals(none.code, 2);
      assertStringIncludes(none.stderr, "selects none of the 7 hosts");
    });
  },
);
