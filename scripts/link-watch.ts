#!/usr/bin/env -S deno run --allow-ffi --allow-env --allow-read
/**
 * link-watch: follow acmeNicMgmt's linkEvent; when a link stays down longer than a threshold,
 * reset that instance and wait (with a deadline) for it to come back. Every action is logged.
 * Stops cleanly on SIGINT/SIGTERM.
 *
 *   deno task run scripts/link-watch.ts --threshold 2s --deadline 10s
 *
 * @permissions --allow-ffi --allow-env --allow-read
 * @module
 */
import { parseArgs } from "@std/cli/parse-args";
import { acmeNic } from "../demo.ts";
import {
  type Instance,
  open,
  parseTimeout,
  type Session,
  toJsonLine,
  trapInterrupts,
  VmkMgmtError,
} from "../mod.ts";

const HELP = `link-watch — reset links that stay down, and check they come back

Usage: link-watch.ts [--threshold DURATION] [--deadline DURATION] [--instances a,b]
                     [--recoveries N] [--keep-going] [--json]

  --threshold D     how long a link may stay down before a reset (default 2s)
  --deadline D      how long to wait for the link to come back after the reset (default 10s)
  --instances LIST  only these instances (default: all)
  --recoveries N    exit 0 after N successful recoveries (default: run until Ctrl-C)
  --keep-going      log a failed recovery and go on watching (default: exit 1)
  --json            log lines as NDJSON
  --host H          [user@]host[:port] running vmkmgmt-bridge, over ssh (default: $VMKMGMT_HOST, else here)
  -h, --help        this text

Durations: 500ms, 10s, 2m (a bare number is milliseconds). Exit status: 0 on Ctrl-C or after --recoveries, 1 when a link did not
come back (without --keep-going) or on an error, 2 on bad flags.`;

class UsageError extends Error {}

function durationFlag(name: string, value: string | undefined, fallback: string): number {
  try {
    return parseTimeout(value ?? fallback);
  } catch (e) {
    throw new UsageError(`--${name}: ${(e as Error).message}`);
  }
}

function parse(argv: string[]) {
  const args = parseArgs(argv, {
    string: ["threshold", "deadline", "instances", "recoveries", "host"],
    boolean: ["json", "help", "keep-going"],
    alias: { h: "help" },
    unknown: (a: string) => {
      throw new UsageError(`unknown option ${a}`);
    },
  });
  const recoveries = args.recoveries === undefined ? Infinity : Number(args.recoveries);
  if (!(recoveries === Infinity || (Number.isInteger(recoveries) && recoveries > 0))) {
    throw new UsageError(`--recoveries: expected a whole number > 0, got ${args.recoveries}`);
  }
  return {
    help: args.help,
    json: args.json,
    keepGoing: args["keep-going"],
    threshold: durationFlag("threshold", args.threshold, "2s"),
    deadline: durationFlag("deadline", args.deadline, "10s"),
    names: args.instances?.split(",").map((s: string) => s.trim()).filter(Boolean) as string[] | undefined,
    recoveries,
    host: args.host as string | undefined,
  };
}

type Options = ReturnType<typeof parse>;
type Log = (action: string, instance: string | null, detail?: Record<string, unknown>) => void;

/** One log line: text, or NDJSON with --json. */
function logger(json: boolean): Log {
  return (action, instance, detail = {}) => {
    const time = new Date().toISOString();
    if (json) console.log(toJsonLine({ time, action, instance, ...detail }));
    else {
      const extra = Object.entries(detail).map(([k, v]) => `${k}=${v}`).join(" ");
      console.log(`${time} ${action.padEnd(10)} ${instance ?? "-"} ${extra}`.trimEnd());
    }
  };
}

/** The watch: links that stay down are reset, once each at a time, and must come back in time. */
class LinkWatcher {
  readonly #downTimers = new Map<bigint, ReturnType<typeof setTimeout>>();
  readonly #recovering = new Set<bigint>();
  #recovered = 0;
  /** Why the watch ended in failure, if it did. */
  failure: Error | undefined;

  constructor(
    private readonly nic: Session<typeof acmeNic.def>,
    private readonly opts: Options,
    private readonly log: Log,
    private readonly stop: AbortSignal,
    /** Ends the watch (a failure, or enough recoveries). */
    private readonly end: () => void,
  ) {}

  /** A linkEvent of a watched instance: down starts its timer, up clears it. */
  onLink(inst: Instance, up: boolean, speedMbps: number, time: number): void {
    if (!up) {
      this.log("down", inst.name);
      this.linkDown(inst, time);
      return;
    }
    if (!this.#recovering.has(inst.id)) this.log("up", inst.name, { speedMbps });
    clearTimeout(this.#downTimers.get(inst.id));
    this.#downTimers.delete(inst.id);
  }

  /** A link down since `since`: reset it once it has stayed down for the threshold. */
  linkDown(inst: Instance, since: number): void {
    if (this.#downTimers.has(inst.id) || this.#recovering.has(inst.id)) return;
    this.#downTimers.set(
      inst.id,
      setTimeout(() => {
        this.#downTimers.delete(inst.id);
        void this.#recover(inst, since);
      }, this.opts.threshold),
    );
  }

  /** Stops every timer (the watch is over). */
  close(): void {
    for (const t of this.#downTimers.values()) clearTimeout(t);
  }

  async #recover(inst: Instance, downSince: number): Promise<void> {
    const { nic, opts, stop } = this;
    this.#recovering.add(inst.id);
    try {
      this.log("reset", inst.name, { downMs: Date.now() - downSince });
      // Subscribe before resetting so the link-up event cannot slip past.
      const back = nic.waitFor("linkEvent", {
        filter: (ev) => ev.instance?.id === inst.id && ev.params.state.up === 1,
        timeout: opts.deadline,
        signal: stop,
      });
      back.catch(() => {}); // handled below; a reset failure must not leave it unhandled
      const started = Date.now();
      await nic.invoke("reset", { instance: inst }, { signal: stop, timeout: opts.deadline });
      const ev = await back;
      this.log("recovered", inst.name, {
        afterMs: Date.now() - started,
        speedMbps: ev.params.state.speedMbps,
      });
      if (++this.#recovered >= opts.recoveries) this.end();
    } catch (e) {
      if (stop.aborted) return;
      const why = e instanceof VmkMgmtError && e.code === "ETIMEDOUT" && e.operation === "waitFor"
        ? `did not come back within ${opts.deadline} ms of the reset`
        : (e as Error).message;
      this.log("failed", inst.name, { error: why });
      if (!opts.keepGoing) {
        this.failure = new Error(`${inst.name} ${why}`);
        this.end();
      }
    } finally {
      this.#recovering.delete(inst.id);
    }
  }
}

async function main(): Promise<number> {
  const opts = parse(Deno.args);
  if (opts.help) {
    console.log(HELP);
    return 0;
  }
  const log = logger(opts.json);
  using stop = trapInterrupts();
  const done = Promise.withResolvers<void>();
  let failure: Error | undefined;
  // A lost kernel connection (or a bug in a handler below) ends the watch loudly, never silently.
  await using nic = await open(acmeNic, {
    host: opts.host,
    onError: (e) => {
      failure ??= e as Error;
      done.resolve();
    },
  });
  const all = await nic.instances();
  const watched: Instance[] = opts.names ? await Promise.all(opts.names.map((n) => nic.instance(n))) : all;
  const watcher = new LinkWatcher(nic, opts, log, stop.signal, () => done.resolve());
  const off = nic.on("linkEvent", (ev) => {
    const inst = ev.instance;
    if (inst && watched.some((w) => w.id === inst.id)) {
      watcher.onLink(inst, ev.params.state.up !== 0, ev.params.state.speedMbps, ev.time);
    }
  });
  try {
    // Links already down when we start count from now.
    for (const inst of watched) {
      const { stats } = await nic.invoke("getStats", { instance: inst }, { signal: stop.signal });
      if (!stats.linkUp) {
        log("down", inst.name, { atStart: true });
        watcher.linkDown(inst, Date.now());
      }
    }
    log("watching", null, {
      instances: watched.map((i) => i.name).join(","),
      thresholdMs: opts.threshold,
      deadlineMs: opts.deadline,
    });
    stop.signal.addEventListener("abort", () => done.resolve(), { once: true });
    await done.promise;
  } finally {
    off();
    watcher.close();
  }
  if (stop.received) log("stopped", null, { signal: stop.received });
  if (watcher.failure) failure = watcher.failure; // (the recovery that failed says most)
  if (failure) {
    console.error(`link-watch: ${failure.message}`);
    return 1;
  }
  return 0;
}

try {
  Deno.exitCode = await main();
} catch (e) {
  console.error(`link-watch: ${(e as Error).message}`);
  Deno.exitCode = e instanceof UsageError ? 2 : 1;
}
