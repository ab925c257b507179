/**
 * The rooms of the tree and the arrows allowed between them, read from the real import graph
 * (`deno info --json`, type-only imports included). ARCHITECTURE.md states the same table.
 *
 *   abi/      → nothing                       (the ABI facts)
 *   util/     → util/, abi/
 *   ffi/      → ffi/, abi/                    (pointers and raw memory live only here)
 *   mgmt/     → mgmt/, ffi/, util/, abi/
 *   mod.ts, demo.ts → mgmt/, ffi/, util/, abi/
 *   sim/      → sim/, mgmt/, util/, abi/, and of ffi/ only peer.ts (SO_PEERCRED has no Deno API)
 *   cimport/  → cimport/, mod.ts (types only), mgmt/, util/, abi/  (the C importer: a tool)
 *   repl/     → repl/, mod.ts, demo.ts, mgmt/, ffi/, util/, abi/, cimport/, and of sim/ only client.ts, process.ts
 *   scripts/  → mod.ts, demo.ts; the runner (run.ts) also abi/, util/ and sim/client.ts, sim/process.ts;
 *               fleet.ts also scripts/lib/inventory.ts
 *   compile/  → mod.ts, and of ffi/ only library.ts (the one executable: its builder and `version`)
 *   ansible/  → ansible/, mod.ts, demo.ts, util/, and of repl/ only signature_files.ts, values.ts, format.ts
 *   bench/, test/ → anything
 *
 * and, over whole graphs: library code (everything mod.ts and demo.ts load) imports no sim/,
 * repl/, scripts/, cimport/ and nothing but relative files; tools (repl/, scripts/) never load the
 * simulator's server, kernel or modules; every file of a room is reachable from an entry point.
 */
import { assert, assertEquals } from "@std/assert";

const ROOT = new URL("../", import.meta.url).pathname;

/** An import: from one file of the tree to another (paths relative to the root), as written. */
export interface Edge {
  from: string;
  to: string;
  written: string;
}

const ROOMS = [
  "abi",
  "util",
  "ffi",
  "mgmt",
  "sim",
  "cimport",
  "repl",
  "scripts",
  "compile",
  "ansible",
  "bench",
  "test",
] as const;
type Room = (typeof ROOMS)[number] | "entry";

function roomOf(path: string): Room {
  if (path === "mod.ts" || path === "demo.ts") return "entry";
  const top = path.split("/")[0] as Room;
  if (!(ROOMS as readonly string[]).includes(top)) throw new Error(`${path} is in no room`);
  return top;
}

const LOWER: Room[] = ["mgmt", "ffi", "util", "abi"];
/** Which rooms (or exact files) each room may import. */
const ALLOWED: Record<Room, readonly string[]> = {
  abi: [],
  util: ["util", "abi"],
  ffi: ["ffi", "abi"],
  mgmt: LOWER,
  entry: LOWER,
  sim: ["sim", "mgmt", "util", "abi", "ffi/peer.ts"],
  cimport: ["cimport", "mgmt", "util", "abi"],
  repl: ["repl", "entry", ...LOWER, "cimport", "sim/client.ts", "sim/process.ts"],
  scripts: ["entry"],
  compile: ["entry", "ffi/library.ts"],
  ansible: ["ansible", "entry", "util", "repl/signature_files.ts", "repl/values.ts", "repl/format.ts"],
  bench: ["*"],
  test: ["*"],
};
/** Files with more arrows than their room. */
const EXTRA: Record<string, readonly string[]> = {
  // The importer's API re-exports the library's types (type-only) so that a tool needs one import.
  "cimport/mod.ts": ["entry"],
  "scripts/run.ts": ["abi", "util", "sim/client.ts", "sim/process.ts"],
  // fleet reads the admin's Ansible inventory with a helper of the scripts' own.
  "scripts/fleet.ts": ["scripts/lib/inventory.ts"],
};

function allowed(from: string, to: string): boolean {
  const rules = [...ALLOWED[roomOf(from)], ...(EXTRA[from] ?? [])];
  return rules.includes("*") || rules.includes(roomOf(to)) || rules.includes(to);
}

/** Every arrow that runs the wrong way, as a readable line. */
export function wrongArrows(edges: readonly Edge[]): string[] {
  return edges.filter((e) => !allowed(e.from, e.to)).map((e) =>
    `${e.from} → ${e.to}: ${roomOf(e.from)} may import only ${
      [...ALLOWED[roomOf(e.from)], ...(EXTRA[e.from] ?? [])].join(", ") || "nothing"
    }`
  );
}

/** The modules a graph of `edges` reaches from `root`. */
function reach(edges: readonly Edge[], root: string): Set<string> {
  const seen = new Set([root]);
  const todo = [root];
  while (todo.length) {
    const at = todo.pop()!;
    for (const e of edges) {
      if (e.from === at && !seen.has(e.to)) {
        seen.add(e.to);
        todo.push(e.to);
      }
    }
  }
  return seen;
}

interface Graph {
  /** Imports between files of the tree. */
  edges: Edge[];
  /** Imports of anything else (npm:, node:, jsr:, URLs), by importing file. */
  outside: { from: string; written: string }[];
}

/** The import graph from `roots`, code and type-only imports alike. */
async function importGraph(roots: readonly string[]): Promise<Graph> {
  const graph: Graph = { edges: [], outside: [] };
  const seen = new Set<string>();
  const infos = await Promise.all(roots.map(async (root) => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", root],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert(out.success, `deno info ${root}: ${new TextDecoder().decode(out.stderr)}`);
    return JSON.parse(new TextDecoder().decode(out.stdout));
  }));
  const local = (spec: string) =>
    spec.startsWith(`file://${ROOT}`) ? spec.slice(`file://${ROOT}`.length) : null;
  for (const info of infos) {
    for (const m of info.modules as { specifier: string; dependencies?: Record<string, unknown>[] }[]) {
      const from = local(m.specifier);
      if (!from || seen.has(from)) continue;
      seen.add(from);
      for (const dep of m.dependencies ?? []) {
        const written = dep.specifier as string;
        const resolved = ((dep.code ?? dep.type) as { specifier?: string } | undefined)?.specifier ?? written;
        const to = local(resolved);
        if (to) graph.edges.push({ from, to, written });
        else graph.outside.push({ from, written });
      }
    }
  }
  return graph;
}

async function tsFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(`${ROOT}${dir}`)) {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory) out.push(...await tsFiles(path));
    else if (e.name.endsWith(".ts")) out.push(path);
  }
  return out;
}

const ENTRY_POINTS = async () => [
  "mod.ts",
  "demo.ts",
  "sim/mod.ts",
  "sim/main.ts",
  "repl/main.ts",
  "repl/trace_main.ts",
  "cimport/main.ts",
  "cimport/mod.ts",
  "mgmt/trace/mod.ts",
  "bench/main.ts",
  "compile/build.ts",
  "compile/version.ts",
  "ansible/module.ts",
  ...(await tsFiles("scripts")),
];

Deno.test("layering: every import follows the allowed arrows", async (t) => {
  const roots = await ENTRY_POINTS();
  const graph = await importGraph(roots);
  assert(graph.edges.length > 100, `the graph has ${graph.edges.length} imports; deno info read nothing?`);

  await t.step("no arrow runs the wrong way", () => {
    assertEquals(wrongArrows(graph.edges), []);
  });

  await t.step(
    "library code (mod.ts, demo.ts) loads no sim/, repl/, scripts/, and only relative files",
    () => {
      for (const root of ["mod.ts", "demo.ts"]) {
        const lib = reach(graph.edges, root);
        assertEquals([...lib].filter((p) => /^(sim|repl|scripts|cimport|bench|test)\//.test(p)), [], root);
        assertEquals(graph.outside.filter((o) => lib.has(o.from)), [], `${root}: no third-party imports`);
        const bare = graph.edges.filter((e) => lib.has(e.from) && !/^\.\.?\//.test(e.written));
        assertEquals(bare, [], `${root}: no bare specifiers`);
      }
    },
  );

  await t.step("tools load the simulator's client, never its server, kernel or modules", () => {
    for (const root of roots.filter((r) => /^(repl|scripts|cimport)\//.test(r))) {
      const loaded = [...reach(graph.edges, root)].filter((p) => p.startsWith("sim/"));
      assertEquals(
        loaded.filter((p) =>
          !["sim/client.ts", "sim/process.ts", "sim/frames.ts", "sim/payloads.ts"].includes(p)
        ),
        [],
        root,
      );
    }
  });

  await t.step("every file of a room is reachable from an entry point", async () => {
    const reached = new Set(roots.flatMap((r) => [...reach(graph.edges, r)]));
    const files = (await Promise.all(
      ["abi", "util", "ffi", "mgmt", "sim", "cimport", "repl", "scripts", "compile", "ansible"].map(tsFiles),
    ))
      .flat();
    assertEquals(files.filter((f) => !reached.has(f)), []);
  });
});

Deno.test("ARCHITECTURE.md names every source file, and every path it names exists", async () => {
  const doc = await Deno.readTextFile(`${ROOT}ARCHITECTURE.md`);
  const named = new Set([...doc.matchAll(/`([^`\s]+)`/g)].map((m) => m[1]));
  const sources = [
    ...(await Promise.all(
      ["abi", "util", "ffi", "mgmt", "sim", "cimport", "repl", "scripts", "compile", "ansible", "bench"].map(
        tsFiles,
      ),
    ))
      .flat(),
    "cimport/include/vmkapi.h",
    ...(await Array.fromAsync(Deno.readDir(`${ROOT}native`))).filter((e) => /\.(c|h)$/.test(e.name)).map((
      e,
    ) => `native/${e.name}`),
    ...(await Array.fromAsync(Deno.readDir(`${ROOT}native/test`))).map((e) => `native/test/${e.name}`),
    ...(await Array.fromAsync(Deno.readDir(`${ROOT}native/record`))).map((e) => `native/record/${e.name}`),
    ...(await Array.fromAsync(Deno.readDir(`${ROOT}native/fuzz`))).filter((e) => e.isFile).map((e) =>
      `native/fuzz/${e.name}`
    ),
    "mod.ts",
    "demo.ts",
  ];
  const dirOf = (f: string) => f.slice(0, f.lastIndexOf("/") + 1);
  const baseOf = (f: string) => f.slice(f.lastIndexOf("/") + 1);
  const unnamed = sources.filter((f) => !named.has(f) && !(named.has(dirOf(f)) && named.has(baseOf(f))));
  assertEquals(unnamed, [], "files ARCHITECTURE.md does not name");
  const gone: string[] = [];
  for (const path of named) {
    if (!/^[\w.-]+\/[\w./-]*$|^[\w-]+\.(ts|c|h|md)$/.test(path) || path.startsWith("../")) continue;
    if (!/\.(ts|c|h|md)$|\/$/.test(path)) continue;
    try {
      await Deno.stat(`${ROOT}${path}`);
    } catch {
      if (!sources.some((f) => baseOf(f) === path)) gone.push(path);
    }
  }
  assertEquals(gone, [], "paths ARCHITECTURE.md names that do not exist");
});

Deno.test("layering: the checker catches an arrow that runs the wrong way", () => {
  const wrong: Edge[] = [
    { from: "ffi/layout.ts", to: "mgmt/signature.ts", written: "../mgmt/signature.ts" },
    { from: "util/ndjson.ts", to: "mgmt/types/type.ts", written: "../mgmt/types/type.ts" },
    { from: "abi/facts.ts", to: "util/hex.ts", written: "../util/hex.ts" },
    { from: "mgmt/session.ts", to: "sim/client.ts", written: "../sim/client.ts" },
    { from: "sim/kernel.ts", to: "ffi/layout.ts", written: "../ffi/layout.ts" },
    { from: "repl/main.ts", to: "sim/server.ts", written: "../sim/server.ts" },
    { from: "scripts/collect-stats.ts", to: "sim/client.ts", written: "../sim/client.ts" },
  ];
  const right: Edge[] = [
    { from: "mgmt/session.ts", to: "ffi/handle.ts", written: "../ffi/handle.ts" },
    { from: "repl/main.ts", to: "sim/client.ts", written: "../sim/client.ts" },
    { from: "scripts/run.ts", to: "sim/process.ts", written: "../sim/process.ts" },
    { from: "mod.ts", to: "mgmt/open.ts", written: "./mgmt/open.ts" },
  ];
  const found = wrongArrows([...wrong, ...right]);
  assertEquals(found.length, wrong.length, found.join("\n"));
  assertEquals(found[0], "ffi/layout.ts → mgmt/signature.ts: ffi may import only ffi, abi");
  assertEquals(found[2], "abi/facts.ts → util/hex.ts: abi may import only nothing");
});
