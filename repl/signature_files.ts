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
import { CommandError } from "./state.ts";

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

/**
 * Loads the signatures of one file.
 * @throws {CommandError} naming the file and what is wrong with it.
 */
export async function loadSignatures(path: string, cflags?: string): Promise<LoadedSignatures> {
  let found: Signature[];
  const families: Family[] = [];
  if (/\.[ch]$/.test(path)) {
    // A driver's C interface file: imported (clang + the C compiler), its names set at run time
    // become families any other name opens.
    try {
      const c = await signaturesFromC([path], cFlags(cflags));
      for (const w of c.warnings) console.error(`--sig ${path}: warning: ${w}`);
      found = c.signatures;
      for (const n of c.named) {
        families.push({
          prefix: "",
          make: n.make,
          source: `${path} (${n.variable}, named at run time)`,
        });
      }
    } catch (e) {
      if (e instanceof ImportError) throw new CommandError(`--sig ${path}: ${e.message}`);
      throw e;
    }
  } else if (path.endsWith(".json")) {
    let json: unknown;
    try {
      json = JSON.parse(await Deno.readTextFile(path));
    } catch (e) {
      throw new CommandError(`--sig ${path}: ${(e as Error).message}`);
    }
    try {
      // One signature, or several (`import-c --json` of a file that defines more than one).
      found = Array.isArray(json) ? json.map((j) => signatureFromJson(j)) : [signatureFromJson(json)];
    } catch (e) {
      throw new CommandError(`--sig ${path}: ${(e as Error).message}`);
    }
  } else {
    let mod: Record<string, unknown>;
    try {
      mod = await import(toFileUrl(path));
    } catch (e) {
      throw new CommandError(`--sig ${path}: cannot load it: ${(e as Error).message.split("\n")[0]}`);
    }
    found = Object.values(mod).filter(isSignature);
    for (const [name, v] of Object.entries(mod)) {
      if (isFamily(v)) families.push({ prefix: v.prefix, make: v.make, source: `${path} (${name})` });
    }
    if (found.length === 0) {
      throw new CommandError(`--sig ${path}: the module exports no signature (from defineSignature)`);
    }
  }
  return { signatures: found, families };
}
