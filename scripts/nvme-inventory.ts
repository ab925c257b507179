#!/usr/bin/env -S deno run --allow-ffi --allow-env --allow-read
/**
 * nvme-inventory: list the NVMe adapters of acmeNvmeMgmt, open each adapter's own API (named by
 * the kernel), identify it into a 4 KiB buffer, and print model, serial and firmware revision as
 * a table, or NDJSON with --json. An adapter that fails to answer is reported and the rest go on.
 *
 *   deno task run scripts/nvme-inventory.ts
 *   deno task run scripts/nvme-inventory.ts --json
 *
 * @permissions --allow-ffi --allow-env --allow-read
 * @module
 */
import { parseArgs } from "@std/cli/parse-args";
import { acmeNvme, acmeNvmeAdapter, IdentifyController } from "../demo.ts";
import { decodeBytes, open, parseTimeout, writeJsonLine } from "../mod.ts";

const HELP = `nvme-inventory — model, serial and firmware of every NVMe adapter

Usage: nvme-inventory.ts [--json] [--timeout DURATION] [--host H]

  --json        one JSON object per adapter (NDJSON)
  --timeout D   per call: 500ms, 5s, 2m; a bare number is milliseconds (default 10s)
  --host H      [user@]host[:port] running vmkmgmt-bridge, over ssh (default: $VMKMGMT_HOST, else here)
  -h, --help    this text

Exit status: 0 when every adapter answered, 1 when one did not (the others are still listed),
2 on bad flags.`;

/** Bad command-line input: exit status 2. */
class UsageError extends Error {}

/** An identify page's ASCII field, without the spaces NVMe pads it with. */
const field = (text: string) => text.replace(/ +$/, "");

async function main(): Promise<number> {
  const args = parseArgs(Deno.args, {
    string: ["timeout", "host"],
    boolean: ["json", "help"],
    alias: { h: "help" },
    unknown: (a: string) => {
      throw new UsageError(`unknown option ${a}`);
    },
  });
  if (args.help) {
    console.log(HELP);
    return 0;
  }
  let timeout: number;
  try {
    timeout = parseTimeout(args.timeout ?? "10s");
  } catch (e) {
    throw new UsageError(`--timeout: ${(e as Error).message}`);
  }
  await using nvme = await open(acmeNvme, { host: args.host });
  const { adapters } = await nvme.invoke("listAdapters", { adapters: 32 }, { timeout });
  if (!args.json) {
    console.log(
      ["ADAPTER", "PCI", "MODEL", "SERIAL", "FIRMWARE"].map((h, i) => h.padEnd([24, 13, 20, 16, 8][i]))
        .join(" "),
    );
  }
  let failed = 0;
  for (const a of adapters) {
    try {
      await using ctrl = await open(acmeNvmeAdapter(a.name), { host: args.host });
      const page = new Uint8Array(4096);
      const { request } = await ctrl.invoke("identify", { request: { cns: 1, nsid: 0, page, status: 0 } }, {
        timeout,
      });
      if (request.status !== 0) throw new Error(`identify: the driver answered status ${request.status}`);
      const id = decodeBytes(IdentifyController, page);
      const row = {
        adapter: a.name,
        pci: a.pci,
        model: field(id.mn),
        serial: field(id.sn),
        firmware: field(id.fr),
      };
      if (args.json) writeJsonLine(row);
      else {
        console.log(
          [row.adapter, row.pci, row.model, row.serial, row.firmware].map((v, i) =>
            v.padEnd([24, 13, 20, 16, 8][i])
          )
            .join(" ").trimEnd(),
        );
      }
    } catch (e) {
      failed++;
      console.error(`nvme-inventory: ${a.name}: ${(e as Error).message}`);
    }
  }
  return failed ? 1 : 0;
}

try {
  Deno.exitCode = await main();
} catch (e) {
  console.error(`nvme-inventory: ${(e as Error).message}`);
  Deno.exitCode = e instanceof UsageError ? 2 : 1;
}
