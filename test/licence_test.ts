/**
 * The licence: one, named everywhere it must be — the LICENSE file (Apache-2.0's text), deno.json's
 * `license` field (what a registry shows), and an SPDX line at the top of every C source we ship
 * (the bridge and the library go onto hosts as binaries built from them).
 * @module
 */
import { assert, assertEquals } from "@std/assert";

const ROOT = new URL("../", import.meta.url).pathname;

Deno.test("the tree is Apache-2.0: LICENSE, deno.json's license, and an SPDX line in every C source", async () => {
  const text = await Deno.readTextFile(`${ROOT}LICENSE`);
  assert(
    text.includes("Apache License") && text.includes("Version 2.0, January 2004"),
    "LICENSE is Apache-2.0",
  );
  const config = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`));
  assertEquals(config.license, "Apache-2.0");
  const files = new TextDecoder().decode(
    (await new Deno.Command("git", {
      args: ["-C", ROOT, "ls-files", "native", "cimport/include"],
      stdout: "piped",
    })
      .output()).stdout,
  ).split("\n").filter((f) => /\.(c|h)$/.test(f) || f.endsWith("Makefile"));
  assert(files.length > 30, `the C sources are listed (${files.length})`);
  const missing: string[] = [];
  for (const f of files) {
    const first = (await Deno.readTextFile(`${ROOT}${f}`)).split("\n", 1)[0];
    if (!first.includes("SPDX-License-Identifier: Apache-2.0")) missing.push(f);
  }
  assertEquals(missing, [], "C sources without an SPDX line at the top");
});
