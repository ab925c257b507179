/**
 * The shape of the code, read with the TypeScript parser: no function outside the tests is longer
 * than {@link MAX_FUNCTION_LINES} lines (a longer one is a class or a few steps waiting to be named),
 * no test or test step that has no steps of its own is longer than {@link MAX_LEAF_TEST_LINES}
 * (a longer one checks several behaviours, and its name can say only one; a table of cases goes in
 * a function of its own), and no code reaches into another library's private members (`obj._name`, `obj["_name"]`, or a
 * `"_name"` handed to a helper that looks it up) — they change without notice in any release.
 */
import { assertEquals } from "@std/assert";
import ts from "typescript";

const ROOT = new URL("../", import.meta.url).pathname;

/** The longest a function may be, in lines from its first to its last. */
export const MAX_FUNCTION_LINES = 100;

/** The longest a test or test step with no steps of its own may be, in lines. */
export const MAX_LEAF_TEST_LINES = 70;

/** Every TypeScript source under `dir` (the whole tree outside test/ and native/ by default). */
function sources(dir = "", skip = ["test", "native", ".git", "node_modules"]): string[] {
  const out: string[] = [];
  for (const e of Deno.readDirSync(`${ROOT}${dir}`)) {
    const path = dir ? `${dir}/${e.name}` : e.name;
    if (e.isDirectory) {
      if (!skip.includes(path)) out.push(...sources(path, skip));
    } else if (path.endsWith(".ts")) out.push(path);
  }
  return out;
}

function parse(path: string, text = Deno.readTextFileSync(`${ROOT}${path}`)): ts.SourceFile {
  return ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true);
}

/** Functions (declarations, methods, arrows, accessors) longer than `max` lines: `path:line name (N lines)`. */
export function longFunctions(file: ts.SourceFile, max = MAX_FUNCTION_LINES): string[] {
  const found: string[] = [];
  const visit = (n: ts.Node) => {
    if (ts.isFunctionLike(n) && (n as ts.FunctionLikeDeclaration).body) {
      const first = file.getLineAndCharacterOfPosition(n.getStart(file)).line;
      const last = file.getLineAndCharacterOfPosition(n.getEnd()).line;
      const name = (n as ts.FunctionLikeDeclaration).name?.getText(file) ?? "(anonymous)";
      if (last - first + 1 > max) {
        found.push(`${file.fileName}:${first + 1} ${name} (${last - first + 1} lines)`);
      }
    }
    ts.forEachChild(n, visit);
  };
  visit(file);
  return found;
}

/**
 * Tests and steps (`Deno.test(…)`, `t.step(…)` with a function) longer than `max` lines that have
 * no steps of their own: `path:line name (N lines)`.
 */
export function longLeafTests(file: ts.SourceFile, max = MAX_LEAF_TEST_LINES): string[] {
  const found: string[] = [];
  const isTestCall = (n: ts.Node): n is ts.CallExpression =>
    ts.isCallExpression(n) && /(^Deno\.test|\.step)$/.test(n.expression.getText(file));
  const hasSteps = (n: ts.Node): boolean =>
    ts.forEachChild(n, (c) => (isTestCall(c) && /\.step$/.test(c.expression.getText(file))) || hasSteps(c)) ??
      false;
  const visit = (n: ts.Node) => {
    if (isTestCall(n)) {
      const fn = n.arguments.find((a) => ts.isFunctionLike(a)) ??
        n.arguments.flatMap((a) =>
          ts.isObjectLiteralExpression(a)
            ? a.properties.flatMap((p) =>
              ts.isPropertyAssignment(p) && p.name.getText(file) === "fn" ? [p.initializer] : []
            )
            : []
        )[0];
      if (fn && !hasSteps(fn)) {
        const first = file.getLineAndCharacterOfPosition(fn.getStart(file)).line;
        const last = file.getLineAndCharacterOfPosition(fn.getEnd()).line;
        const arg = n.arguments[0];
        const named = ts.isObjectLiteralExpression(arg)
          ? arg.properties.find((p) => p.name?.getText(file) === "name")
          : undefined;
        const name = (named && ts.isPropertyAssignment(named) ? named.initializer : arg).getText(file).slice(
          0,
          60,
        );
        if (last - first + 1 > max) {
          found.push(`${file.fileName}:${first + 1} ${name} (${last - first + 1} lines)`);
        }
      }
    }
    ts.forEachChild(n, visit);
  };
  visit(file);
  return found;
}

/**
 * Keys that begin with `_` because a documented data format says so, not because they are someone's
 * private members: reading them is using that format as its documentation says.
 */
const DOCUMENTED_KEYS: readonly RegExp[] = [
  // Ansible's inventory JSON (`ansible-inventory --list`, dynamic inventory scripts): host vars.
  /^_meta$/,
  // The internal arguments Ansible hands every module (`_ansible_check_mode`, `_ansible_diff`, …):
  // how a module not written in Python learns of check mode (Ansible's docs, "Internal arguments").
  /^_ansible_\w*$/,
];

/**
 * Uses of a member named `_something` (JavaScript's convention for a private member: `_` then a
 * lower-case letter; C's reserved words, `_Bool` or `_Alignof`, are not members): a property
 * access, or such a name as a string (an element access, a helper that looks it up) — except the
 * {@link DOCUMENTED_KEYS} of data formats.
 */
export function privateMemberUses(file: ts.SourceFile): string[] {
  const found: string[] = [];
  const at = (n: ts.Node) =>
    `${file.fileName}:${file.getLineAndCharacterOfPosition(n.getStart(file)).line + 1}`;
  const documented = (name: string) => DOCUMENTED_KEYS.some((re) => re.test(name));
  const visit = (n: ts.Node) => {
    if (ts.isPropertyAccessExpression(n) && /^_[a-z]/.test(n.name.text) && !documented(n.name.text)) {
      found.push(`${at(n)} .${n.name.text}`);
    }
    if (ts.isStringLiteral(n) && /^_[a-z]\w*$/.test(n.text) && !documented(n.text)) {
      found.push(`${at(n)} "${n.text}"`);
    }
    ts.forEachChild(n, visit);
  };
  visit(file);
  return found;
}

Deno.test("no function outside the tests is longer than 100 lines", () => {
  assertEquals(sources().flatMap((p) => longFunctions(parse(p))), []);
});

Deno.test("no test or step without steps of its own is longer than 70 lines", () => {
  assertEquals(sources("test", []).flatMap((p) => longLeafTests(parse(p))), []);
});

Deno.test("no code uses another library's private members", () => {
  assertEquals(sources().flatMap((p) => privateMemberUses(parse(p))), []);
});

Deno.test("the checks catch what they are for", () => {
  const body = Array.from({ length: 100 }, (_, i) => `  const v${i} = ${i};`).join("\n");
  const long = parse("long.ts", `function long() {\n${body}\n}\nconst short = () => 1;\n`);
  assertEquals(longFunctions(long), ["long.ts:1 long (102 lines)"]);
  assertEquals(longFunctions(long, 102), []);
  const inner = parse("inner.ts", `class C {\n  m() {\n${body}\n  }\n}\n`);
  assertEquals(longFunctions(inner), ["inner.ts:2 m (102 lines)"]);
  const tests = parse(
    "t.ts",
    `Deno.test("leaf", () => {\n${body}\n});\nDeno.test({ name: "obj", fn: () => {\n${body}\n} });\n` +
      `Deno.test("parent", async (t) => {\n${body}\n  await t.step("short", () => {});\n});\n`,
  );
  assertEquals(longLeafTests(tests), [
    't.ts:1 "leaf" (102 lines)',
    't.ts:103 "obj" (102 lines)',
  ]);
  const reach = parse(
    "reach.ts",
    `rl._refreshLine();\nconst f = internal(rl, "_ttyWrite");\nobj["_x"] = 1;\nconst ok = ["a_b", "_Bool"]; this.#own = 1;\n` +
      `const fmt = [inv._meta, args._ansible_check_mode, "_ansible_diff"];\n`,
  );
  assertEquals(privateMemberUses(reach), [
    "reach.ts:1 ._refreshLine",
    'reach.ts:2 "_ttyWrite"',
    'reach.ts:3 "_x"',
  ]);
});
