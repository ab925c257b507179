/**
 * Signatures from the files a user names with `--sig` (the REPL, `deno task trace`): a .ts module's
 * exported signatures (and its families: exports shaped `{ prefix, make(name) }`), the JSON form (one
 * or several), or a driver's C interface file through the importer (whose names set at run time
 * become families).
 * @module
 */
import type { Signature } from "../mgmt/signature.ts";
import { signatureFromJson } from "../mgmt/signature_json.ts";
import { ImportError, signaturesFromC } from "../cimport/mod.ts";
import { toFileUrl } from "../util/path.ts";
import { CommandError, type ReplState } from "./state.ts";

let loads = 0;

/** An API whose name a driver makes up at run time: any name with `prefix` opens `make(name)`. */
export interface Family {
  /** Names that start with it. */
  prefix: string;
  /** The signature of one name. */
  make: (name: string) => Signature;
  /** Where it came from, for messages. */
  source: string;
}

/** What one file gave. */
export interface LoadedSignatures {
  signatures: Signature[];
  /** Its families (C files with names set at run time). */
  families: Family[];
}

/** A module's export that makes the signature of any API name starting with `prefix`. */
function isFamily(v: unknown): v is { prefix: string; make: (name: string) => Signature } {
  return !!v && typeof v === "object" && typeof (v as Family).prefix === "string" &&
    typeof (v as Family).make === "function";
}

function isSignature(v: unknown): v is Signature {
  return !!v && typeof v === "object" && Array.isArray((v as Signature).list) &&
    typeof (v as Signature).revnum === "number";
}

/** `-I DIR -D X` words of `--cflags` as the importer's options. */
function cFlags(text: string | undefined): { includes: string[]; defines: string[] } {
  const words = (text ?? "").split(/\s+/).filter(Boolean).flatMap((
    w,
  ) => (/^-[ID]./.test(w) ? [w.slice(0, 2), w.slice(2)] : [w]));
  const out = { includes: [] as string[], defines: [] as string[] };
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    if ((w === "-I" || w === "-D") && words[i + 1] !== undefined) {
      (w === "-I" ? out.includes : out.defines).push(words[++i]);
    } else throw new CommandError(`--cflags: ${w}: only -I DIR and -D NAME[=VALUE] are taken`);
  }
  return out;
}

/** How a file is loaded. */
export interface LoadOptions {
  /** `--cflags` for a C file. */
  cflags?: string;
  /** Import a module anew even if it was before (its file changed) — its own imports are not. */
  fresh?: boolean;
  /** What errors begin with (`--sig PATH` unless said). */
  label?: string;
}

/**
 * Loads the signatures of one file.
 * @throws {CommandError} naming the file and what is wrong with it.
 */
export async function loadSignatures(path: string, options: LoadOptions = {}): Promise<LoadedSignatures> {
  const { cflags, fresh = false, label = `--sig ${path}` } = options;
  let found: Signature[];
  const families: Family[] = [];
  if (/\.[ch]$/.test(path)) {
    // A driver's C interface file: imported (clang + the C compiler), its names set at run time
    // become families any other name opens.
    try {
      const c = await signaturesFromC([path], cFlags(cflags));
      for (const w of c.warnings) console.error(`${label}: warning: ${w}`);
      found = c.signatures;
      for (const n of c.named) {
        families.push({
          prefix: "",
          make: n.make,
          source: `${path} (${n.variable}, named at run time)`,
        });
      }
    } catch (e) {
      if (e instanceof ImportError) throw new CommandError(`${label}: ${e.message}`);
      throw e;
    }
  } else if (path.endsWith(".json")) {
    let json: unknown;
    try {
      json = JSON.parse(await Deno.readTextFile(path));
    } catch (e) {
      throw new CommandError(`${label}: ${(e as Error).message}`);
    }
    try {
      // One signature, or several (`import-c --json` of a file that defines more than one).
      found = Array.isArray(json) ? json.map((j) => signatureFromJson(j)) : [signatureFromJson(json)];
    } catch (e) {
      throw new CommandError(`${label}: ${(e as Error).message}`);
    }
  } else {
    let mod: Record<string, unknown>;
    try {
      // The user's own file, by its file: URL (`deno publish` cannot analyse this import, and says
      // so: README, "Publishing"); a query makes another module of the same file (Deno keeps one
      // module per URL).
      mod = await import(fresh ? `${toFileUrl(path)}?load=${++loads}` : toFileUrl(path));
    } catch (e) {
      throw new CommandError(`${label}: cannot load it: ${(e as Error).message.split("\n")[0]}`);
    }
    found = Object.values(mod).filter(isSignature);
    for (const [name, v] of Object.entries(mod)) {
      if (isFamily(v)) families.push({ prefix: v.prefix, make: v.make, source: `${path} (${name})` });
    }
    if (found.length === 0) {
      throw new CommandError(`${label}: the module exports no signature (from defineSignature)`);
    }
  }
  return { signatures: found, families };
}

/**
 * Loads a file's signatures into the REPL's (a name loaded again is replaced: the file changed);
 * returns what it gave.
 * @throws {CommandError} naming the file and what is wrong with it.
 */
export async function addSignatures(
  state: ReplState,
  path: string,
  options: LoadOptions = {},
): Promise<LoadedSignatures> {
  const loaded = await loadSignatures(path, options);
  for (const f of loaded.families) {
    const same = state.families.findIndex((g) => g.source === f.source);
    if (same >= 0) state.families.splice(same, 1);
    state.families.push(f);
  }
  for (const sig of loaded.signatures) state.signatures.set(sig.name, { signature: sig, source: path });
  return loaded;
}
