/**
 * The trace reader's fuzz harness (`deno task fuzz --only trace`): mutations of real and forged
 * traces (native/fuzz/corpus/trace/) fed to `parseTrace`. What may come out: records with a torn
 * end or a damaged place, or a `TraceError`; anything else thrown, a parse slower than a second, or
 * records before a stop that differ from those the prefix alone gives, is a defect. The input is
 * kept in native/build/fuzz/artifacts/trace-*; inputs in native/fuzz/regressions/trace/ run first.
 *
 * A JavaScript harness, not libFuzzer: it mutates blindly (bit flips, bytes set, cut, inserted or
 * repeated, lengths rewritten, records spliced between seeds) rather than by coverage — the reader
 * is small, and its every branch is a length check a blind mutation reaches.
 * @module
 */
import { parseTrace, TraceError } from "../mgmt/trace/mod.ts";
import { TRACE_HEADER_SIZE, TRACE_KIND } from "../mgmt/trace/format.ts";
import { RecordBuilder } from "../mgmt/trace/writer.ts";
import { startSimProcess } from "../sim/process.ts";
import { concatBytes } from "../util/bytes.ts";

const ROOT = new URL("../", import.meta.url).pathname;
/** Where its seeds are. */
export const TRACE_CORPUS = `${ROOT}native/fuzz/corpus/trace`;
const REGRESSIONS = `${ROOT}native/fuzz/regressions/trace`;
const ARTIFACTS = `${ROOT}native/build/fuzz/artifacts`;

/** What a run gave. */
export interface TraceFuzzResult {
  ok: boolean;
  executions: number;
  seconds: number;
  artifacts: string[];
  tail: string;
}

/** A small deterministic generator (xorshift32), so a failure can be run again from its seed. */
function random(seed: number): (n: number) => number {
  let x = seed >>> 0 || 1;
  return (n) => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return n > 0 ? x % n : 0;
  };
}

/** The parts, one after another, in one new array. */
const cat = (...parts: Uint8Array[]): Uint8Array => concatBytes(parts);

function mutate(seeds: Uint8Array[], rnd: (n: number) => number): Uint8Array {
  let b: Uint8Array = seeds[rnd(seeds.length)].slice();
  for (let k = 1 + rnd(4); k > 0; k--) {
    const at = rnd(Math.max(1, b.length));
    switch (rnd(8)) {
      case 0: // a bit
        if (b.length) b[at] ^= 1 << rnd(8);
        break;
      case 1: // a byte
        if (b.length) b[at] = [0, 0xff, 0x7f, 0x80, rnd(256)][rnd(5)];
        break;
      case 2: // cut
        b = b.subarray(0, at);
        break;
      case 3: { // insert
        const n = 1 + rnd(32);
        b = cat(b.subarray(0, at), Uint8Array.from({ length: n }, () => rnd(256)), b.subarray(at));
        break;
      }
      case 4: { // repeat a stretch (a record twice)
        const n = 1 + rnd(256);
        b = cat(b.subarray(0, at + n), b.subarray(at, at + n), b.subarray(at + n));
        break;
      }
      case 5: { // a record's length, rewritten (the header's at 8)
        const head = at - (at % TRACE_HEADER_SIZE);
        if (head + 12 <= b.length) {
          new DataView(b.buffer, b.byteOffset).setUint32(
            head + 8,
            [0, 1, 0xffffffff, rnd(1 << 20)][rnd(4)],
            true,
          );
        }
        break;
      }
      case 6: { // splice another seed in
        const other = seeds[rnd(seeds.length)];
        const from = rnd(Math.max(1, other.length));
        b = cat(b.subarray(0, at), other.subarray(from, from + 1 + rnd(4096)));
        break;
      }
      default: { // a 32-bit field anywhere, set to an edge
        if (at + 4 <= b.length) {
          new DataView(b.buffer, b.byteOffset).setUint32(at, [0, 1, 4, 0x7fffffff][rnd(4)], true);
        }
      }
    }
  }
  return b;
}

/** Runs one input; the defect in words, or undefined. */
function check(input: Uint8Array): string | undefined {
  const t0 = performance.now();
  let result;
  try {
    result = parseTrace(input);
  } catch (e) {
    if (e instanceof TraceError) return undefined;
    return `threw ${(e as Error)?.stack ?? e}`;
  }
  if (performance.now() - t0 > 1000) return `took ${(performance.now() - t0).toFixed(0)} ms`;
  const stop = result.torn ?? result.damaged;
  if (stop) {
    if (stop.offset > input.length) return `stopped at ${stop.offset}, past the end (${input.length})`;
    // Stopped at the first record: nothing before it (an empty prefix is no trace at all).
    if (stop.offset === 0) return result.records.length === 0 ? undefined : "records before a stop at byte 0";
    // What came before a stop is what that prefix alone gives.
    let again;
    try {
      again = parseTrace(input.subarray(0, stop.offset));
    } catch (e) {
      return `its prefix before ${stop.offset} threw ${(e as Error)?.message ?? e}`;
    }
    if (again.records.length !== result.records.length || again.torn || again.damaged) {
      return `records before ${stop.offset} (${result.records.length}) differ from the prefix's (${again.records.length})`;
    }
  }
  return undefined;
}

function files(dir: string): Uint8Array[] {
  try {
    return [...Deno.readDirSync(dir)].filter((e) => e.isFile).sort((a, b) => a.name < b.name ? -1 : 1).map((
      e,
    ) => Deno.readFileSync(`${dir}/${e.name}`));
  } catch {
    return [];
  }
}

/**
 * Fuzzes the reader for `seconds` (or `runs` inputs), after the regressions.
 * @throws {Error} when the seed corpus is missing (`deno task fuzz --write-seeds`).
 */
export async function fuzzTrace(
  options: { seconds?: number; runs?: number; seed?: number },
): Promise<TraceFuzzResult> {
  const seeds = files(TRACE_CORPUS);
  if (seeds.length === 0) throw new Error(`no seeds in ${TRACE_CORPUS} (deno task fuzz --write-seeds)`);
  const start = performance.now();
  const end = options.runs === undefined ? start + (options.seconds ?? 60) * 1000 : Infinity;
  const rnd = random(options.seed ?? Date.now());
  let executions = 0;
  const fail = async (input: Uint8Array, why: string): Promise<TraceFuzzResult> => {
    await Deno.mkdir(ARTIFACTS, { recursive: true });
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-1", input.slice()));
    const path = `${ARTIFACTS}/trace-${
      [...digest.subarray(0, 8)].map((x) => x.toString(16).padStart(2, "0")).join("")
    }`;
    await Deno.writeFile(path, input);
    const seconds = (performance.now() - start) / 1000;
    return { ok: false, executions, seconds, artifacts: [path], tail: why };
  };
  for (const input of [...files(REGRESSIONS), ...seeds]) {
    executions++;
    const why = check(input);
    if (why) return await fail(input, why);
  }
  while (performance.now() < end && (options.runs === undefined || executions < options.runs)) {
    const input = mutate(seeds, rnd);
    executions++;
    const why = check(input);
    if (why) return await fail(input, why);
    if (executions % 512 === 0) await new Promise((r) => setTimeout(r, 0)); // (Ctrl-C, timers)
  }
  return { ok: true, executions, seconds: (performance.now() - start) / 1000, artifacts: [], tail: "" };
}

/** A record around a payload (its CRC right): the kinds a short recording rarely holds, and forgeries. */
export function traceRecord(kind: number, payload: Uint8Array): Uint8Array {
  return new RecordBuilder().bytes(payload).frame(kind);
}

/**
 * The seed corpus: real recordings (the C test client, cut to 64 KiB, and whole; threads and
 * events; the NVMe client with the bytes behind its pointer members, images cut short) made with
 * the recorder against a simulator, and a recording with every record kind (DISCONNECT, DROPPED
 * and one of a kind a newer recorder might write, forged).
 */
export async function traceSeeds(): Promise<Record<string, Uint8Array>> {
  const dir = await Deno.makeTempDir({ prefix: "vmkmgmt-trace-seeds-" });
  await using sim = await startSimProcess();
  const recorded = async (name: string, cmd: string, args: string[], env: Record<string, string> = {}) => {
    const out = await new Deno.Command(cmd, {
      args,
      env: {
        ...sim.env,
        ...env,
        LD_PRELOAD: `${ROOT}native/build/libvmkmgmt-record.so`,
        VMKMGMT_RECORD: `${dir}/${name}`,
      },
      stdout: "null",
      stderr: "piped",
    }).output();
    if (!out.success) throw new Error(`${cmd}: ${new TextDecoder().decode(out.stderr)}`);
    return Deno.readFileSync(`${dir}/${name}`);
  };
  const client = await recorded("client", `${ROOT}native/build/client_test`, ["all"]);
  const stress = await recorded("stress", `${ROOT}native/build/record_stress`, ["5"]);
  await Deno.writeTextFile(
    `${dir}/nvme.buffers`,
    "acmeNvme-* acme 16 0 12 inout @20:4\nacmeNvme-* acme 17 0 5 out 4096\nacmeNvme-* acme 18 0 0 in @8:4\n",
  );
  const nvme = await recorded("nvme", `${ROOT}native/build/nvme_client`, ["plain"], {
    VMKMGMT_RECORD_SIG: `${dir}/nvme.buffers`,
  });
  const start = client.subarray(0, TRACE_HEADER_SIZE + new DataView(client.buffer).getUint32(8, true));
  const u = (n: number, bytes: number) => {
    const b = new Uint8Array(bytes);
    const v = new DataView(b.buffer);
    if (bytes === 4) v.setUint32(0, n, true);
    else v.setBigUint64(0, BigInt(n), true);
    return b;
  };
  const kinds = new Uint8Array([
    ...start,
    ...traceRecord(
      TRACE_KIND.disconnect,
      new Uint8Array([...u(1, 8), ...u(5000, 8), ...u(5, 4), ...u(0, 4)]),
    ),
    ...traceRecord(TRACE_KIND.dropped, new Uint8Array([...u(6000, 8), ...u(3, 8), ...u(900, 8)])),
    ...traceRecord(42, new Uint8Array([1, 2, 3])),
    ...traceRecord(TRACE_KIND.end, new Uint8Array([...u(7000, 8), ...u(4, 8), ...u(3, 8), ...u(900, 8)])),
  ]);
  await Deno.remove(dir, { recursive: true });
  return {
    "c-client-64k": client.subarray(0, 65536),
    "c-client-end": new Uint8Array([...start, ...client.subarray(client.length - 16384)]),
    "threads-events": stress,
    // (its first adapter's records: the 100 kB image makes the rest slow to mutate)
    "nvme-buffers": nvme.subarray(0, 131072),
    "every-kind": kinds,
  };
}
