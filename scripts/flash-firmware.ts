#!/usr/bin/env -S deno run --allow-ffi --allow-env --allow-read
/**
 * flash-firmware: flash an image file to one or all acmeNicMgmt instances, with a progress bar
 * on a terminal, and verify the CRC-32 the kernel returns against the file's.
 *
 *   deno task run scripts/flash-firmware.ts firmware.bin --instance vmnic1
 *   deno task run scripts/flash-firmware.ts firmware.bin --all
 *
 * @permissions --allow-ffi --allow-env --allow-read
 * @module
 */
import { parseArgs } from "@std/cli/parse-args";
import { acmeNic } from "../demo.ts";
import {
  crc32,
  type Instance,
  MAX_VECTOR_BYTES,
  open,
  parseTimeout,
  trapInterrupts,
  writeJsonLine,
} from "../mod.ts";

const HELP = `flash-firmware — flash an image and verify its CRC-32

Usage: flash-firmware.ts IMAGE (--instance NAME … | --all) [--timeout DURATION] [--json] [--host H]

  IMAGE            the firmware file (must exist and not be empty; at most 64 MiB)
  --instance NAME  an instance to flash; repeatable
  --all            every instance
  --timeout D      per-instance limit: 500ms, 5s, 2m; a bare number is milliseconds (default 60s)
  --json           one JSON object per instance instead of text
  --host H         [user@]host[:port] running vmkmgmt-bridge, over ssh (default: $VMKMGMT_HOST, else here)
  -h, --help       this text

Exit status: 0 when every instance was flashed and its CRC matches, 1 otherwise, 2 on bad input.`;

const MAX_IMAGE = MAX_VECTOR_BYTES;

class UsageError extends Error {}

function parse(argv: string[]) {
  const args = parseArgs(argv, {
    string: ["instance", "timeout", "host"],
    boolean: ["all", "json", "help"],
    collect: ["instance"],
    alias: { h: "help" },
    unknown: (a: string) => {
      if (a.startsWith("-")) throw new UsageError(`unknown option ${a}`);
      return true;
    },
  });
  let timeoutMs: number;
  try {
    timeoutMs = parseTimeout(args.timeout ?? "60s");
  } catch (e) {
    throw new UsageError(`--timeout: ${(e as Error).message}`);
  }
  return {
    help: args.help,
    json: args.json,
    all: args.all,
    names: (args.instance ?? []) as string[],
    image: args._[0] === undefined ? undefined : String(args._[0]),
    extra: args._.slice(1).map(String),
    timeoutMs,
    host: args.host,
  };
}

async function readImage(path: string): Promise<Uint8Array> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new UsageError(`image file ${path} does not exist`);
    throw new UsageError(`cannot read image file ${path}: ${(e as Error).message}`);
  }
  if (!info.isFile) throw new UsageError(`image ${path} is not a regular file`);
  if (info.size === 0) throw new UsageError(`image file ${path} is empty; refusing to flash nothing`);
  if (info.size > MAX_IMAGE) {
    throw new UsageError(`image file ${path} is ${info.size} bytes; at most ${MAX_IMAGE}`);
  }
  return await Deno.readFile(path);
}

/** The progress line (stderr, a terminal), drawn over itself. */
function progress(done: number, total: number, label: string): void {
  const width = 30;
  const filled = Math.round((done / total) * width);
  const bar = `[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${done}/${total} ${label}`;
  Deno.stderr.writeSync(new TextEncoder().encode(`\r\x1b[K${bar}`));
}

/** Erases the progress line: a result takes its place, so the screen keeps only results. */
function clearProgress(): void {
  Deno.stderr.writeSync(new TextEncoder().encode("\r\x1b[K"));
}

async function main(): Promise<number> {
  const opts = parse(Deno.args);
  if (opts.help) {
    console.log(HELP);
    return 0;
  }
  if (!opts.image) {
    throw new UsageError("which image? usage: flash-firmware.ts IMAGE (--instance NAME | --all)");
  }
  if (opts.extra.length) throw new UsageError(`unexpected argument ${opts.extra[0]}`);
  if (opts.all === (opts.names.length > 0)) {
    throw new UsageError("give --instance NAME (one or more) or --all, not both");
  }
  const image = await readImage(opts.image);
  const expected = crc32(image);

  using stop = trapInterrupts();
  await using nic = await open(acmeNic, { host: opts.host });
  const targets: Instance[] = opts.all
    ? await nic.instances()
    : await Promise.all(opts.names.map((n) => nic.instance(n)));
  const bar = Deno.stderr.isTerminal() && !opts.json;
  if (!opts.json) {
    console.log(
      `flashing ${opts.image} (${image.length} bytes, crc32 0x${expected.toString(16).padStart(8, "0")}) to ${
        targets.map((t) => t.name).join(", ")
      }`,
    );
  }
  let failures = 0;
  for (const [i, inst] of targets.entries()) {
    if (bar) progress(i, targets.length, `flashing ${inst.name}…`);
    let outcome: { ok: boolean; crc?: number; error?: string };
    try {
      const { crc } = await nic.invoke("flashFirmware", { instance: inst, image }, {
        signal: stop.signal,
        timeout: opts.timeoutMs,
      });
      outcome = crc === expected
        ? { ok: true, crc }
        : { ok: false, crc, error: "CRC mismatch: the kernel received different bytes" };
    } catch (e) {
      if (stop.signal.aborted) {
        if (bar) clearProgress();
        console.error(
          `flash-firmware: interrupted; ${inst.name} may or may not have been flashed, the rest were not`,
        );
        return 1;
      }
      outcome = { ok: false, error: (e as Error).message };
    }
    if (!outcome.ok) failures++;
    if (bar) clearProgress();
    const crcHex = outcome.crc === undefined ? undefined : outcome.crc.toString(16).padStart(8, "0");
    if (opts.json) {
      writeJsonLine({
        instance: inst.name,
        ok: outcome.ok,
        crc: crcHex,
        expected: expected.toString(16).padStart(8, "0"),
        error: outcome.error,
      });
    } else {console.log(`${inst.name}: ${
        outcome.ok
          ? `ok, crc 0x${crcHex} verified`
          : `FAILED: ${outcome.error}${crcHex ? ` (crc 0x${crcHex})` : ""}`
      }`);}
  }
  if (failures) console.error(`flash-firmware: ${failures} of ${targets.length} instance(s) failed`);
  return failures ? 1 : 0;
}

try {
  Deno.exitCode = await main();
} catch (e) {
  console.error(`flash-firmware: ${(e as Error).message}`);
  Deno.exitCode = e instanceof UsageError ? 2 : 1;
}
