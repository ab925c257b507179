#!/usr/bin/env -S deno run --allow-ffi --allow-env --allow-read --allow-run=getent
/**
 * fleet: one operation on every host of an inventory, a few hosts at a time, each through its
 * own vmkmgmt-bridge over ssh. One line of NDJSON per host on stdout (host, ok, values or error),
 * a summary table on a terminal, and exit 1 naming the hosts that failed — an unreachable host
 * never stops the others. The inventory is the admin's Ansible inventory (INI, YAML, or the JSON of
 * `ansible-inventory --list`; `lib/inventory.ts`) or a plain list of hosts; `--limit` takes
 * Ansible's host patterns.
 *
 *   deno task run scripts/fleet.ts --inventory hosts.txt stats
 *   deno task run scripts/fleet.ts --inventory inventory.yml --limit esxi:!esx03 mtu --mtu 9000 --all
 *
 * @permissions --allow-ffi --allow-env --allow-read --allow-run=getent
 * @module
 */
import { parseArgs } from "@std/cli/parse-args";
import { InventoryError, type InventoryHost, parseInventory, selectHosts } from "./lib/inventory.ts";
import { acmeNic } from "../demo.ts";
import {
  type Instance,
  open,
  parseTimeout,
  type Session,
  trapInterrupts,
  VmkMgmtError,
  writeJsonLine,
} from "../mod.ts";

const HELP = `fleet — one operation on every host of an inventory

Usage: fleet.ts --inventory FILE [--limit PATTERN] [--concurrency N] [--timeout DURATION] OPERATION

Operations:
  stats                          every instance's counters
  mtu --mtu N (--instances a,b | --all)
                                 set the MTU on each host, verify it, and roll that host back if
                                 any step fails (all or nothing per host)

  --inventory FILE   an Ansible inventory — INI or YAML (groups, children, vars, ranges like
                     esx[01:20]) or the JSON of ansible-inventory --list — or one host per line,
                     [user@]host[:port]. A host is reached at ansible_host (else its name) as
                     ansible_user, on ansible_port; ansible_host=@local (or ansible_connection=local)
                     is this machine's bridge. A host with no ansible_host whose name does not
                     resolve is reported, not contacted.
  --limit PATTERN    Ansible's host patterns: group, host, esx*, ~regex, a:b, a:&b, a:!b
  --concurrency N    hosts worked on at once (default 8)
  --timeout D        limit for each call: 500ms, 5s, 2m; a bare number is milliseconds (default 10s)
  -h, --help         this text

ssh options come from VMKMGMT_SSH (a key, a jump host), the command on each host from
VMKMGMT_BRIDGE (default vmkmgmt-bridge). Output: one JSON line per host on stdout; a summary
table on stderr when it is a terminal. Exit status: 0 when every host succeeded, 1 when any
failed (they are named), 2 on bad flags.`;

/** Bad command-line input: exit status 2. */
class UsageError extends Error {}

type Operation = { kind: "stats" } | { kind: "mtu"; mtu: number; names?: string[] };

function parse(argv: string[]) {
  const args = parseArgs(argv, {
    string: ["inventory", "limit", "concurrency", "timeout", "mtu", "instances"],
    boolean: ["help", "all"],
    alias: { h: "help" },
    unknown: (a: string) => {
      if (a.startsWith("-")) throw new UsageError(`unknown option ${a}`);
      return true;
    },
  });
  if (args.help) return { help: true } as const;
  if (!args.inventory) throw new UsageError("--inventory FILE is required");
  const concurrency = Number(args.concurrency ?? 8);
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new UsageError(`--concurrency: expected a whole number ≥ 1, got ${args.concurrency}`);
  }
  let timeout: number;
  try {
    timeout = parseTimeout(args.timeout ?? "10s");
  } catch (e) {
    throw new UsageError(`--timeout: ${(e as Error).message}`);
  }
  const [kind, ...rest] = args._.map(String);
  if (rest.length) throw new UsageError(`unexpected argument ${rest[0]}`);
  let op: Operation;
  if (kind === "stats") op = { kind: "stats" };
  else if (kind === "mtu") {
    const mtu = Number(args.mtu);
    if (!Number.isInteger(mtu) || mtu < 1) throw new UsageError(`mtu: --mtu N is required (got ${args.mtu})`);
    if (!args.all === !args.instances) throw new UsageError("mtu: give --instances a,b or --all");
    op = { kind: "mtu", mtu, names: args.instances?.split(",").map((s: string) => s.trim()).filter(Boolean) };
  } else {throw new UsageError(
      kind ? `unknown operation ${kind}; operations: stats, mtu` : "no operation given",
    );}
  return { help: false, inventory: args.inventory, limit: args.limit, concurrency, timeout, op } as const;
}

/** A host of the inventory and where to reach it (`[user@]host[:port]`, or `@local`). */
interface Target {
  name: string;
  target: string;
  /** Reached at its inventory name (no ansible_host): that name must resolve, or it is not contacted. */
  byName?: true;
}

/** The hosts of an inventory file that `limit` selects, and where each is reached. */
async function readInventory(path: string, limit: string | undefined): Promise<Target[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new UsageError(
      `--inventory ${path}: ${e instanceof Deno.errors.NotFound ? "no such file" : (e as Error).message}`,
    );
  }
  try {
    const inv = parseInventory(text, path);
    const hosts = selectHosts(inv, limit);
    if (!hosts.length) {
      throw new UsageError(`--limit ${limit}: selects none of the ${inv.hosts.length} hosts`);
    }
    if (inv.format === "list") return hosts.map((h) => ({ name: h.name, target: h.name }));
    return hosts.map(targetOf);
  } catch (e) {
    if (e instanceof InventoryError) throw new UsageError(e.message);
    throw e;
  }
}

/** Where Ansible would connect to `h`: its ansible_host, else its name — which must then resolve. */
function targetOf(h: InventoryHost): Target {
  const v = h.vars;
  if (v.ansible_connection === "local" || v.ansible_host === "@local") {
    return { name: h.name, target: "@local" };
  }
  const host = String(v.ansible_host ?? h.name);
  const user = v.ansible_user === undefined ? "" : `${v.ansible_user}@`;
  const port = v.ansible_port === undefined ? "" : `:${v.ansible_port}`;
  const target = `${user}${host}${port}`;
  return v.ansible_host === undefined ? { name: h.name, target, byName: true } : { name: h.name, target };
}

/** Whether the system resolves `name` (getent: /etc/hosts, DNS, as ssh would). */
async function resolves(name: string): Promise<boolean> {
  const out = await new Deno.Command("getent", { args: ["hosts", name], stdout: "null", stderr: "null" })
    .output();
  return out.success;
}

type Nic = Session<typeof acmeNic.def>;
type Call = { timeout: number; signal: AbortSignal };

async function stats(nic: Nic, call: Call): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const inst of await nic.instances()) {
    out[inst.name] = (await nic.invoke("getStats", { instance: inst }, call)).stats;
  }
  return out;
}

/** Sets the MTU on each instance of one host; on any failure restores what changed, newest first. */
async function mtu(
  nic: Nic,
  op: Extract<Operation, { kind: "mtu" }>,
  call: Call,
): Promise<Record<string, unknown>> {
  const targets: Instance[] = op.names
    ? await Promise.all(op.names.map((n) => nic.instance(n)))
    : await nic.instances();
  const changed: { inst: Instance; oldMtu: number }[] = [];
  try {
    for (const inst of targets) {
      const oldMtu = (await nic.invoke("getStats", { instance: inst }, call)).stats.mtu;
      if (oldMtu === op.mtu) continue;
      changed.push({ inst, oldMtu }); // from here the instance may have changed
      const { status } = await nic.invoke("setMtu", { instance: inst, mtu: op.mtu }, call);
      if (status !== 0) {
        changed.pop();
        throw new Error(`${inst.name}: the driver rejected mtu ${op.mtu} (status ${status})`);
      }
      const now = (await nic.invoke("getStats", { instance: inst }, call)).stats.mtu;
      if (now !== op.mtu) {
        throw new Error(`${inst.name}: getStats reports mtu ${now} after setting ${op.mtu}`);
      }
    }
    return { mtu: op.mtu, changed: changed.map((c) => c.inst.name) };
  } catch (e) {
    const stuck: string[] = [];
    for (const { inst, oldMtu } of changed.reverse()) {
      try {
        const { status } = await nic.invoke("setMtu", { instance: inst, mtu: oldMtu }, {
          timeout: call.timeout,
        });
        if (status !== 0) throw new Error(`status ${status}`);
      } catch {
        stuck.push(inst.name);
      }
    }
    const restored = stuck.length
      ? `; ROLLBACK FAILED for ${stuck.join(", ")}`
      : `; rolled back ${changed.length}`;
    throw new Error(`${(e as Error).message}${restored}`);
  }
}

interface Result {
  host: string;
  /** Where it was reached, when not at its name. */
  target?: string;
  ok: boolean;
  skipped?: true;
  ms: number;
  values?: Record<string, unknown>;
  error?: string;
}

async function runHost(t: Target, op: Operation, timeout: number, signal: AbortSignal): Promise<Result> {
  const named = { host: t.name, ...(t.target === t.name ? {} : { target: t.target }) };
  // Looked up in the host's turn (within --concurrency), not for the whole inventory at once.
  if (t.byName && !await resolves(t.name)) {
    const error = `no ansible_host, and the name ${t.name} does not resolve: not contacted`;
    return { ...named, ok: false, skipped: true, ms: 0, error };
  }
  const t0 = performance.now();
  try {
    await using nic = await open(acmeNic, { host: t.target });
    const call = { timeout, signal };
    const values = op.kind === "stats" ? await stats(nic, call) : await mtu(nic, op, call);
    return { ...named, ok: true, ms: Math.round(performance.now() - t0), values };
  } catch (e) {
    const error = e instanceof VmkMgmtError || e instanceof Error ? e.message : String(e);
    return { ...named, ok: false, ms: Math.round(performance.now() - t0), error };
  }
}

/** Runs `work` on every item, at most `limit` at once, in the items' order of starting. */
async function pool<T, R>(items: T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await work(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

function table(results: Result[]): string {
  const w = Math.max(4, ...results.map((r) => r.host.length));
  const lines = results.map((r) =>
    `${r.host.padEnd(w)}  ${r.ok ? "ok   " : r.skipped ? "SKIP " : "ERROR"}  ${
      String(r.ms).padStart(6)
    } ms  ${r.ok ? Object.keys(r.values ?? {}).join(", ") : r.error}`
  );
  const failed = results.filter((r) => !r.ok).length;
  return [
    `${"host".padEnd(w)}  state  ${"time".padStart(9)}  detail`,
    ...lines,
    `${results.length - failed} ok, ${failed} failed`,
  ]
    .join("\n");
}

async function main(): Promise<number> {
  const opts = parse(Deno.args);
  if (opts.help) {
    console.log(HELP);
    return 0;
  }
  const hosts = await readInventory(opts.inventory, opts.limit);
  using stop = trapInterrupts();
  const results = await pool(hosts, opts.concurrency, async (host) => {
    const r = await runHost(host, opts.op, opts.timeout, stop.signal);
    writeJsonLine(r); // as each host finishes: a long fleet shows progress
    return r;
  });
  if (Deno.stderr.isTerminal()) console.error(table(results));
  const failed = results.filter((r) => !r.ok).map((r) => r.host);
  const skipped = results.filter((r) => r.skipped).length;
  if (failed.length) {
    const note = skipped
      ? ` (${skipped} not contacted: no ansible_host and a name that does not resolve)`
      : "";
    console.error(`fleet: ${failed.length} of ${hosts.length} hosts failed: ${failed.join(", ")}${note}`);
    return 1;
  }
  return 0;
}

if (import.meta.main) {
  try {
    Deno.exitCode = await main();
  } catch (e) {
    console.error(`fleet: ${(e as Error).message}${e instanceof UsageError ? "\n(see --help)" : ""}`);
    Deno.exitCode = e instanceof UsageError ? 2 : 1;
  }
}
