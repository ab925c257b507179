#!/usr/bin/env -S deno run --allow-ffi --allow-env --allow-read
/**
 * mtu-rollout: set an MTU on a list of acmeNicMgmt instances, verify each with getStats, and
 * roll every changed instance back to its old MTU if any step fails (a rejected value, an
 * error, a timeout). Nothing is left half-changed: either all instances have the new MTU, or
 * all have their old one (or the script says loudly which could not be restored).
 *
 *   deno task run scripts/mtu-rollout.ts --mtu 9000 --instances vmnic0,vmnic1
 *
 * @permissions --allow-ffi --allow-env --allow-read
 * @module
 */
import { parseArgs } from "@std/cli/parse-args";
import { acmeNic } from "../demo.ts";
import { type Instance, open, parseTimeout, type Session, trapInterrupts, writeJsonLine } from "../mod.ts";

const HELP = `mtu-rollout — set an MTU everywhere, or nowhere

Usage: mtu-rollout.ts --mtu N (--instances a,b,… | --all) [--timeout DURATION] [--json] [--host H]

  --mtu N           the MTU to set (the driver accepts 68..9000)
  --instances LIST  comma-separated instance names, in rollout order
  --all             every instance
  --timeout D       limit for each call: 500ms, 5s, 2m; a bare number is milliseconds (default 5s)
  --json            log each step as NDJSON
  --host H          [user@]host[:port] running vmkmgmt-bridge, over ssh (default: $VMKMGMT_HOST, else here)
  -h, --help        this text

Exit status: 0 when every instance has the new MTU; 1 when the rollout failed and every changed
instance was rolled back; 3 when a rollback failed too (the instances named need attention);
2 on bad flags.`;

class UsageError extends Error {}

function parse(argv: string[]) {
  const args = parseArgs(argv, {
    string: ["mtu", "instances", "timeout", "host"],
    boolean: ["all", "json", "help"],
    alias: { h: "help" },
    unknown: (a: string) => {
      throw new UsageError(`unknown option ${a}`);
    },
  });
  if (args.help) return { help: true } as const;
  const mtu = Number(args.mtu);
  if (args.mtu === undefined || !Number.isInteger(mtu) || mtu < 0 || mtu > 0xffffffff) {
    throw new UsageError(`--mtu: expected a whole number, got ${args.mtu ?? "nothing"}`);
  }
  const names = args.instances?.split(",").map((s: string) => s.trim()).filter(Boolean) ?? [];
  if (args.all === names.length > 0) throw new UsageError("give --instances LIST or --all, not both");
  let timeout: number;
  try {
    timeout = parseTimeout(args.timeout ?? "5s");
  } catch (e) {
    throw new UsageError(`--timeout: ${(e as Error).message}`);
  }
  return { help: false, mtu, names, all: args.all, timeout, json: args.json, host: args.host } as const;
}

async function main(): Promise<number> {
  const opts = parse(Deno.args);
  if (opts.help) {
    console.log(HELP);
    return 0;
  }
  const log = (step: string, instance: string, detail: Record<string, unknown> = {}) => {
    if (opts.json) writeJsonLine({ time: new Date().toISOString(), step, instance, ...detail });
    else {console.log(`${step.padEnd(10)} ${instance} ${
        Object.entries(detail).map(([k, v]) => `${k}=${v}`).join(" ")
      }`.trimEnd());}
  };

  using stop = trapInterrupts();
  await using nic = await open(acmeNic, { host: opts.host });
  const targets: Instance[] = opts.all
    ? await nic.instances()
    : await Promise.all(opts.names.map((n: string) => nic.instance(n)));
  const call = { timeout: opts.timeout, signal: stop.signal };
  // Instances we may have changed, with the MTU to restore.
  const changed: { inst: Instance; oldMtu: number }[] = [];
  let failure: string | undefined;

  for (const inst of targets) {
    let oldMtu: number | undefined;
    try {
      oldMtu = (await nic.invoke("getStats", { instance: inst }, call)).stats.mtu;
      if (oldMtu === opts.mtu) {
        log("unchanged", inst.name, { mtu: oldMtu });
        continue;
      }
      // From the moment setMtu is sent the instance may change (even if we time out waiting).
      changed.push({ inst, oldMtu });
      const { status } = await nic.invoke("setMtu", { instance: inst, mtu: opts.mtu }, call);
      if (status !== 0) {
        changed.pop(); // the driver refused: nothing changed
        throw new Error(`the driver rejected mtu ${opts.mtu} (status ${status})`);
      }
      const now = (await nic.invoke("getStats", { instance: inst }, call)).stats.mtu;
      if (now !== opts.mtu) throw new Error(`verification failed: getStats reports mtu ${now}`);
      log("set", inst.name, { from: oldMtu, to: opts.mtu });
    } catch (e) {
      failure = `${inst.name}: ${stop.signal.aborted ? "interrupted" : (e as Error).message}`;
      log("failed", inst.name, { error: (e as Error).message });
      break;
    }
  }
  if (!failure) {
    log("done", targets.map((t) => t.name).join(","), { mtu: opts.mtu });
    return 0;
  }
  console.error(`mtu-rollout: ${failure}; rolling back ${changed.length} instance(s)`);
  const stuck = await rollback(nic, changed, opts.timeout, log);
  if (stuck.length) {
    console.error(`mtu-rollout: ROLLBACK FAILED for ${stuck.join(", ")}: check these instances by hand`);
    return 3;
  }
  return 1;
}

/** Restores every changed instance, newest first; returns the names that could not be restored. */
async function rollback(
  nic: Session<typeof acmeNic.def>,
  changed: { inst: Instance; oldMtu: number }[],
  timeout: number,
  log: (step: string, instance: string, detail?: Record<string, unknown>) => void,
): Promise<string[]> {
  const stuck: string[] = [];
  for (const { inst, oldMtu } of changed.reverse()) {
    try {
      // No abort signal here: a second Ctrl-C exits at once, the first must not stop the rollback.
      const { status } = await nic.invoke("setMtu", { instance: inst, mtu: oldMtu }, { timeout });
      const now = (await nic.invoke("getStats", { instance: inst }, { timeout })).stats.mtu;
      if (status !== 0 || now !== oldMtu) throw new Error(`status ${status}, mtu now ${now}`);
      log("restored", inst.name, { mtu: oldMtu });
    } catch (e) {
      log("stuck", inst.name, { wanted: oldMtu, error: (e as Error).message });
      stuck.push(inst.name);
    }
  }
  return stuck;
}

try {
  Deno.exitCode = await main();
} catch (e) {
  console.error(`mtu-rollout: ${(e as Error).message}`);
  Deno.exitCode = e instanceof UsageError ? 2 : 1;
}
