/**
 * The REPL's JavaScript escape: evaluates TypeScript or JavaScript (top-level await allowed) as
 * a module with the current session, all sessions and every export of mod.ts in scope.
 * @module
 */
import * as api from "../mod.ts";

const SCOPE_KEY = "__vmkmgmtReplScope";
const kept: Record<string, unknown> = {};

function encode(code: string): string {
  const bytes = new TextEncoder().encode(code);
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return `data:application/typescript;base64,${btoa(bin)}`;
}

/** Evaluates `source`: an expression's value, or undefined for statements. */
export async function evaluate(
  source: string,
  scope: { session: unknown; sessions: Record<string, unknown> },
): Promise<unknown> {
  (globalThis as Record<string, unknown>)[SCOPE_KEY] = { ...scope, api, $: kept };
  const prelude = `const { session, sessions, api, $ } = (globalThis as any).${SCOPE_KEY};\n` +
    `const { ${Object.keys(api).join(", ")} } = api;\n`;
  try {
    return (await import(encode(`${prelude}export default await (\n${source}\n);`))).default;
  } catch (e) {
    // A module that does not parse fails to load with "SyntaxError: …" before running anything;
    // only then is the source tried as statements (a runtime error must not run it twice).
    if (!(e instanceof TypeError && e.message.startsWith("SyntaxError:"))) throw e;
    await import(encode(`${prelude}${source}\nexport {};`));
    return undefined;
  } finally {
    delete (globalThis as Record<string, unknown>)[SCOPE_KEY];
  }
}
