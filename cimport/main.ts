/**
 * `deno task import-c FILE.c|FILE.h … [-I DIR]… [-D NAME[=VALUE]]… [--signature NAME] [--json]
 * [-o OUT] [--module OUT_MODULE.ts] [--name VAR=NAME]… [--buffer Type.member=DIR:LENGTH]…
 * [--commands FILE]`
 * @module
 */
import { cliName } from "../util/cli_name.ts";
import { parseArgs } from "@std/cli/parse-args";
import { dirnameOf } from "../util/path.ts";
import type { BufferHint } from "./c_types.ts";
import { ImportError } from "./clang.ts";
import { formatTs, moduleText, skeletonText } from "./emit.ts";
import { importC } from "./import.ts";
import type { CommandHint } from "./commands.ts";

const USAGE = `${cliName("import-c")} FILE.c|FILE.h … [options]

Reads a driver's management interface (its vmk_MgmtApiSignature, callback tables and payload types)
from its C source with clang, checks every size and offset with the C compiler, and writes a typed
TypeScript module (or the JSON signature form).

  -I DIR              include directory (repeatable); without one to a DDK, our vmkapi.h stand-in is used
  -D NAME[=VALUE]     preprocessor definition (repeatable)
  --signature NAME    import only this signature (its C variable or API name)
  --name VAR=NAME     the API name of a signature whose name the driver sets at run time
  --buffer T.m=DIR:N  member m of type T holds a caller buffer's address: DIR in|out|inout, N a
                      byte count or the member holding it (e.g. img_t.data=in:size)
  --commands FILE     an ioctl-style callback's payload layouts by command, as JSON:
                      {"ioctl.arg": {"command": "cmd", "types": {"GPU_GET_INFO": "struct gpuInfo"}}}
                      (without it, _IOR/_IOW/_IOWR macros in the driver's headers are used)
  --json              write the JSON signature form (an array when there are several)
  -o OUT              write there instead of stdout
  --module OUT.ts     also write a simulator kernel module (needs -o: it imports that module)
  --lib SPEC          how the module imports the library (default: a path to this checkout's mod.ts)
  -h, --help          this text

Needs clang (apt-get install -y clang) and a C compiler (cc).`;

/** Splits `-Idir` and `-DNAME=1` into two arguments, as C compilers accept them. */
function splitJoined(args: string[]): string[] {
  return args.flatMap((a) => (/^-[ID]./.test(a) ? [a.slice(0, 2), a.slice(2)] : [a]));
}

function parseBuffer(spec: string): [string, BufferHint] {
  const m = spec.match(/^([A-Za-z_]\w*\.[A-Za-z_]\w*)=(in|out|inout):(\w+)$/);
  if (!m) {
    throw new ImportError(
      `--buffer ${spec}: expected Type.member=in|out|inout:LENGTH (bytes, or the member holding it)`,
    );
  }
  const hint: BufferHint = /^\d+$/.test(m[3])
    ? { dir: m[2] as BufferHint["dir"], length: Number(m[3]) }
    : { dir: m[2] as BufferHint["dir"], lengthFrom: m[3] };
  return [m[1], hint];
}

/** A relative import specifier from the directory of `from` to `target` (absolute paths). */
function relativeSpecifier(from: string, target: string): string {
  const a = dirnameOf(absolutePath(from)).split("/").filter(Boolean);
  const b = target.split("/").filter(Boolean);
  let i = 0;
  while (i < a.length && i < b.length - 1 && a[i] === b[i]) i++;
  const up = a.length - i;
  const rel = [...Array(up).fill(".."), ...b.slice(i)].join("/");
  return rel.startsWith(".") ? rel : `./${rel}`;
}

/** A `--commands` file: `{ "CALLBACK.PARAM": { "command"?: PARAM, "types": { CODE: "C type" } } }`. */
async function readCommands(path: string): Promise<Record<string, CommandHint>> {
  let json: unknown;
  try {
    json = JSON.parse(await Deno.readTextFile(path));
  } catch (e) {
    throw new ImportError(`--commands ${path}: ${(e as Error).message}`);
  }
  const isObject = (v: unknown): v is Record<string, unknown> =>
    v !== null && typeof v === "object" && !Array.isArray(v);
  const shape = 'expected {"CALLBACK.PARAM": {"command": "PARAM", "types": {"CODE": "C type", …}}, …}';
  if (!isObject(json)) throw new ImportError(`--commands ${path}: ${shape}`);
  for (const [k, v] of Object.entries(json)) {
    const ok = isObject(v) && (v.command === undefined || typeof v.command === "string") &&
      isObject(v.types) &&
      Object.values(v.types).every((t) => typeof t === "string");
    if (!ok || !k.includes(".")) throw new ImportError(`--commands ${path}: ${k}: ${shape}`);
  }
  return json as Record<string, CommandHint>;
}

function absolutePath(p: string): string {
  return p.startsWith("/") ? p : `${Deno.cwd()}/${p}`;
}

async function main(argv: string[]): Promise<number> {
  const args = parseArgs(splitJoined(argv), {
    string: ["I", "D", "signature", "o", "module", "name", "buffer", "lib", "commands"],
    boolean: ["json", "help"],
    collect: ["I", "D", "name", "buffer"],
    alias: { h: "help" },
    unknown: (a: string) => {
      if (a.startsWith("-")) throw new ImportError(`unknown option ${a}; see --help`);
      return true;
    },
  });
  if (args.help) {
    console.log(USAGE);
    return 0;
  }
  const files = args._.map(String);
  if (!files.length) throw new ImportError(`give the C file(s) that define the signature\n\n${USAGE}`);
  if (args.module && !args.o) {
    throw new ImportError("--module needs -o: the kernel module imports the signature module");
  }
  if (args.module && args.json) {
    throw new ImportError("--module imports a TypeScript module: leave out --json");
  }
  const names: Record<string, string> = {};
  for (const n of (args.name ?? []) as string[]) {
    const m = n.match(/^([A-Za-z_]\w*)=(.+)$/);
    if (!m) throw new ImportError(`--name ${n}: expected VAR=NAME`);
    names[m[1]] = m[2];
  }
  const buffers = Object.fromEntries(((args.buffer ?? []) as string[]).map(parseBuffer));
  const commands = args.commands ? await readCommands(args.commands) : undefined;
  const result = await importC({
    files,
    includes: (args.I ?? []) as string[],
    defines: (args.D ?? []) as string[],
    signature: args.signature,
    names,
    buffers,
    commands,
  });
  for (const w of result.warnings) console.error(`warning: ${w}`);
  const source = files.join(" ");
  let text: string;
  if (args.json) {
    const unnamed = result.signatures.filter((s) => s.runtimeName);
    if (unnamed.length) {
      throw new ImportError(
        `${unnamed.map((s) => s.variable).join(", ")}: the name is set at run time; give it with ` +
          `${unnamed.map((s) => `--name ${s.variable}=NAME`).join(" ")} (or choose another with --signature)`,
      );
    }
    const jsons = result.signatures.map((s) => s.json);
    text = `${JSON.stringify(jsons.length === 1 ? jsons[0] : jsons, null, 2)}\n`;
  } else {
    const mod = new URL("../mod.ts", import.meta.url);
    const lib = args.lib ?? (args.o ? relativeSpecifier(args.o, mod.pathname) : mod.href);
    text = await formatTs(
      moduleText(result, { libUrl: lib, source }),
      args.o ? dirnameOf(absolutePath(args.o)) : undefined,
    );
  }
  if (args.o) await Deno.writeTextFile(args.o, text);
  else await Deno.stdout.write(new TextEncoder().encode(text));
  if (args.module) {
    const sim = new URL("../sim/mod.ts", import.meta.url).pathname;
    const skeleton = skeletonText(result, {
      signatureModule: relativeSpecifier(args.module, absolutePath(args.o!)),
      simUrl: relativeSpecifier(args.module, sim),
      source,
    });
    await Deno.writeTextFile(args.module, await formatTs(skeleton, dirnameOf(absolutePath(args.module))));
  }
  const sigs = result.signatures.map((s) =>
    `${s.json.name}${s.runtimeName ? " (name set at run time)" : ""}`
  );
  console.error(
    `imported ${
      sigs.join(", ")
    }: ${result.types.size} types, ${result.checked.figures} figures checked against the C compiler` +
      `${args.o ? ` → ${args.o}` : ""}${args.module ? `, module → ${args.module}` : ""}`,
  );
  return 0;
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (e) {
    if (e instanceof ImportError) {
      console.error(`import-c: ${e.message}`);
      Deno.exit(1);
    }
    throw e;
  }
}
