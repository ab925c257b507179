/** The signature's types flow into invoke and events: `deno check` over the @ts-expect-error file. */
import { assertEquals } from "@std/assert";

Deno.test("type-level: wrong names, parameters and value types are compile errors", async () => {
  const root = new URL("../", import.meta.url).pathname;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["check", "test/typecheck/flow.ts"],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
});
