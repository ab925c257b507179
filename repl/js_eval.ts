/**
 * The REPL's JavaScript escape: evaluates TypeScript or JavaScript (top-level await allowed) as
 * a module with the current session, all sessions and every export of mod.ts and demo.ts in scope.
 * @module
 */
import * as demo from "../demo.ts";
import * as lib from "../mod.ts";

const api = { ...lib, ...demo };

const SCOPE_KEY = "__vmkmgmtReplScope";
const kept: Record<string, unknown> = {};
let evaluations = 0;

function encode(code: string): string {
  const bytes = new TextEncoder().encode(code);
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return `data:application/typescript;base64,${btoa(bin)}`;
}

/** The offset of the last `;` outside strings and brackets, or -1. */
function lastStatementBreak(source: string): number {
  let depth = 0;
  let quote: string | null = null;
  let last = -1;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (quote) {
      if (c === "\\") i++;
      else if (c === quote) quote = null;
    } else if (c === '"' || c === "'" || c === "`") quote = c;
    else if ("([{".includes(c)) depth++;
    else if (")]}".includes(c)) depth--;
    else if (c === ";" && depth === 0) last = i;
  }
  return last;
}

function isParseFailure(e: unknown): boolean {
  // A module that does not parse fails to load with "SyntaxError: …" before running anything;
  // only then is another form tried (a runtime error must never run the code twice).
  return e instanceof TypeError && e.message.startsWith("SyntaxError:");
}

/**
 * Evaluates `source`: the value of an expression, or of the last expression after statements
 * (`const a = 1; a + 1`), or undefined for statements only.
 */
export async function evaluate(
  source: string,
  scope: { session: unknown; sessions: Record<string, unknown> },
): Promise<unknown> {
  (globalThis as Record<string, unknown>)[SCOPE_KEY] = { ...scope, api, $: kept };
  // Modules are cached by URL: a counter makes every evaluation a new module that runs again.
  const prelude = `// evaluation ${++evaluations}\n` +
    `const { session, sessions, api, $ } = (globalThis as any).${SCOPE_KEY};\n` +
    `const { ${Object.keys(api).join(", ")} } = api;\n`;
  const cut = lastStatementBreak(source.trimEnd().replace(/;$/, ""));
  const forms = [`export default await (\n${source.trim().replace(/;$/, "")}\n);`];
  if (cut > 0) {
    forms.push(
      `${source.slice(0, cut + 1)}\nexport default await (\n${
        source.slice(cut + 1).trim().replace(/;$/, "")
      }\n);`,
    );
  }
  forms.push(`${source}\nexport {};`);
  try {
    for (const [i, form] of forms.entries()) {
      try {
        return (await import(encode(prelude + form))).default;
      } catch (e) {
        if (i === forms.length - 1 || !isParseFailure(e)) throw e;
      }
    }
  } finally {
    delete (globalThis as Record<string, unknown>)[SCOPE_KEY];
  }
}
