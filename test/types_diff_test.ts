/**
 * Our types against the C compiler: thousands of random type definitions (a new seed each run,
 * printed; `VMKMGMT_TYPES_SEED=N` replays one, `VMKMGMT_TYPES_CASES=N` sets how many) and a fixed
 * corpus of driver-shaped structs (test/fixtures/driver_types.h). For each: sizeof, _Alignof, every
 * offset, every bitfield's bits, the bytes of a random value, and every field of random bytes.
 */
import { assert, assertEquals } from "@std/assert";
import { typeFromJson } from "../mgmt/types/json.ts";
import { CDeclarations, probe, type ProbeCase, rng } from "../cimport/c_probe.ts";
import { randomTypeJson } from "./support/random_types.ts";
import { DRIVER_TYPES } from "./fixtures/driver_types.ts";

const CASES = Number(Deno.env.get("VMKMGMT_TYPES_CASES") ?? 2000);
const SEED = Number(Deno.env.get("VMKMGMT_TYPES_SEED") ?? Math.floor(Math.random() * 2 ** 31));
const BATCHES = 2; // one compiler per core

function report(seed: number, failures: string[]): string {
  return `${failures.length} difference(s) with the C compiler; replay with VMKMGMT_TYPES_SEED=${seed} deno task test test/types_diff_test.ts\n${
    failures.slice(0, 40).join("\n")
  }`;
}

Deno.test(`random type definitions lay out and encode as the C compiler does (seed ${SEED})`, async () => {
  console.log(`types_diff: seed ${SEED}, ${CASES} cases`);
  const results = await Promise.all(Array.from({ length: BATCHES }, async (_, b) => {
    const seed = SEED + b;
    const random = rng(seed);
    const decls = new CDeclarations(`s${b}`);
    const cases: ProbeCase[] = [];
    for (let i = 0; i < Math.ceil(CASES / BATCHES); i++) {
      const json = randomTypeJson(random);
      const label = `seed ${seed} case ${i}`;
      const type = typeFromJson(json, label);
      // The JSON form round-trips: the description we give is the one we were given.
      assertEquals(type.describe(), json, `${label}: describe() differs from the definition`);
      cases.push({ cType: decls.typeName(type), type, label });
    }
    return { seed, result: await probe(decls.text, cases, seed) };
  }));
  for (const { seed, result } of results) {
    assert(result.failures.length === 0, report(seed, result.failures));
    assert(result.compared > result.cases * 5, `only ${result.compared} figures compared`);
  }
});

Deno.test("driver-shaped structs match the C compiler", async () => {
  const header = await Deno.readTextFile(new URL("./fixtures/driver_types.h", import.meta.url));
  const cases = Object.entries(DRIVER_TYPES).map(([cType, type]) => ({ cType, type, label: cType }));
  for (const seed of [1, 2, 3]) {
    const r = await probe(header, cases, seed);
    assert(r.failures.length === 0, report(seed, r.failures));
  }
  // The figures the ABI facts give.
  assertEquals(DRIVER_TYPES.nic_ifaceName_t.size, 14);
  assertEquals(DRIVER_TYPES["union nvme_cdw10"].size, 4);
});
