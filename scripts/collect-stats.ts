#!/usr/bin/env -S deno run --allow-ffi --allow-env --allow-read
/**
 * collect-stats: poll every instance's counters of acmeNicMgmt every N seconds for M rounds (or
 * until Ctrl-C) and print a table, or NDJSON with --json, with rates computed between rounds.
 *
 *   deno task run scripts/collect-stats.ts --interval 1s --rounds 5
 *   deno task run scripts/collect-stats.ts --json --instances vmnic0,vmnic2
 *
 * @permissions --allow-ffi --allow-env --allow-read
 * @module
 */
import { parseArgs } from "@std/cli/parse-args";
import { acmeNic, type NicStatsValue } from "../demo.ts";
import { type Instance, open, parseTimeout, trapInterrupts, writeJsonLine } from "../mod.ts";

const HELP = `collect-stats — poll NIC counters and show rates

Usage: collect-stats.ts [--interval DURATION] [--rounds N] [--instances a,b] [--json] [--host H]

  --interval D      time between rounds: 500ms, 1s, 2m; a bare number is milliseconds (default 1s)
  --rounds N        stop after N rounds (default: until Ctrl-C)
  --instances LIST  comma-separated instance names (default: every instance)
  --json            one JSON object per instance per round (NDJSON)
  --host H          [user@]host[:port] running vmkmgmt-bridge, over ssh (default: $VMKMGMT_HOST, else here)
  -h, --help        this text

Exit status: 0 when every round succeeded (Ctrl-C ends cleanly), 1 on an error, 2 on bad flags.`;

/** Bad command-line input: exit status 2. */
class UsageError extends Error {}

function parse(argv: string[]) {
  const args = parseArgs(argv, {
    string: ["interval", "rounds", "instances", "host"],
    boolean: ["json", "help"],
    alias: { h: "help" },
    unknown: (a: string) => {
      throw new UsageError(`unknown option ${a}`);
    },
  });
  let interval: number;
  try {
    interval = parseTimeout(args.interval ?? "1s");
  } catch (e) {
    throw new UsageError(`--interval: ${(e as Error).message}`);
  }
  const rounds = args.rounds === undefined ? Infinity : Number(args.rounds);
  if (!(rounds === Infinity || (Number.isInteger(rounds) && rounds > 0))) {
    throw new UsageError(`--rounds: expected a whole number > 0, got ${args.rounds}`);
  }
  const names = args.instances?.split(",").map((s: string) => s.trim()).filter(Boolean);
  return { help: args.help, json: args.json, interval, rounds, names, host: args.host };
}

const rate = (now: bigint, before: bigint | undefined, seconds: number) =>
  before === undefined ? null : Math.round(Number(now - before) / seconds);

async function main(): Promise<number> {
  const opts = parse(Deno.args);
  if (opts.help) {
    console.log(HELP);
    return 0;
  }
  using stop = trapInterrupts();
  await using nic = await open(acmeNic, { host: opts.host });
  let targets: Instance[] = await nic.instances();
  if (opts.names) targets = await Promise.all(opts.names.map((n: string) => nic.instance(n)));

  const previous = new Map<bigint, { stats: NicStatsValue; at: number }>();
  if (!opts.json) {
    console.log(
      ["ROUND", "INSTANCE", "LINK", "MTU", "RX PKTS", "TX PKTS", "RX PPS", "TX PPS", "RX B/S", "TX B/S"]
        .map((h, i) => (i < 2 ? h.padEnd(9) : h.padStart(i < 4 ? 5 : 12))).join(" "),
    );
  }
  for (let round = 1; round <= opts.rounds && !stop.signal.aborted; round++) {
    // All instances in parallel: one round is as slow as the slowest instance, not their sum.
    const results = await Promise.all(targets.map(async (inst) => ({
      inst,
      stats:
        (await nic.invoke("getStats", { instance: inst }, { signal: stop.signal, timeout: 10_000 })).stats,
      at: performance.now(),
    }))).catch((e) => {
      if (stop.signal.aborted) return null;
      throw e;
    });
    if (!results) break;
    for (const { inst, stats, at } of results) {
      const prev = previous.get(inst.id);
      const secs = prev ? (at - prev.at) / 1000 : 0;
      const rates = {
        rxPps: rate(stats.rxPackets, prev?.stats.rxPackets, secs),
        txPps: rate(stats.txPackets, prev?.stats.txPackets, secs),
        rxBps: rate(stats.rxBytes, prev?.stats.rxBytes, secs),
        txBps: rate(stats.txBytes, prev?.stats.txBytes, secs),
      };
      previous.set(inst.id, { stats, at });
      if (opts.json) {
        writeJsonLine({
          round,
          time: new Date().toISOString(),
          instance: inst.name,
          ...stats,
          rates: prev ? rates : null,
        });
      } else {
        const cells = [
          String(round).padEnd(9),
          inst.name.padEnd(9),
          (stats.linkUp ? "up" : "down").padStart(5),
          String(stats.mtu).padStart(5),
          ...[stats.rxPackets, stats.txPackets].map((v) => String(v).padStart(12)),
          ...Object.values(rates).map((v) => (v === null ? "-" : String(v)).padStart(12)),
        ];
        console.log(cells.join(" "));
      }
    }
    if (round < opts.rounds) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, opts.interval);
        stop.signal.addEventListener("abort", () => (clearTimeout(t), resolve()), { once: true });
      });
    }
  }
  return 0;
}

try {
  Deno.exitCode = await main();
} catch (e) {
  console.error(`collect-stats: ${(e as Error).message}`);
  Deno.exitCode = e instanceof UsageError ? 2 : 1;
}
