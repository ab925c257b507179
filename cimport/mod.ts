/**
 * Importing a driver's management signatures from its own C source (a tool: it runs clang and the
 * C compiler, so it is not part of `mod.ts`'s graph). `signatureFromC` and `signaturesFromC` give
 * ready signatures; `importC` gives everything found, for code generators.
 *
 * @example
 * ```ts ignore
 * import { signatureFromC } from "./mod.ts";
 * const sig = await signatureFromC(["driver_mgmt.c"], { includes: ["include"] });
 * sig.list.map((c) => c.name);
 * ```
 * @module
 */
import type { Signature } from "../mgmt/signature.ts";
import { signatureFromJson } from "../mgmt/signature_json.ts";
import { ImportError } from "./clang.ts";
import { importC, type ImportOptions } from "./import.ts";

export { type CompileOptions, ImportError } from "./clang.ts";
export type { BufferHint } from "./c_types.ts";
export type { CommandHint } from "./commands.ts";
// The library's types these refer to, so that a tool needs one import.
export type * from "../mod.ts";
export { importC, type ImportedSignature, type ImportOptions, type ImportResult } from "./import.ts";
export { formatTs, moduleText, skeletonText } from "./emit.ts";

/** The signatures of some C files: fixed ones, and builders for those named at run time. */
export interface CSignatures {
  /** Signatures with their names. */
  readonly signatures: Signature[];
  /** Signatures whose name the driver sets at run time (one per adapter): build one for a name. */
  readonly named: { readonly variable: string; make(name: string): Signature }[];
  /** What the import warned about. */
  readonly warnings: string[];
}

/**
 * Every signature the files define, checked against the C compiler.
 * @throws {ImportError} see {@link importC}.
 */
export async function signaturesFromC(
  files: readonly string[],
  options: Omit<ImportOptions, "files"> = {},
): Promise<CSignatures> {
  const r = await importC({ ...options, files });
  return {
    signatures: r.signatures.filter((s) => !s.runtimeName).map((s) => signatureFromJson(s.json)),
    named: r.signatures.filter((s) => s.runtimeName).map((s) => ({
      variable: s.variable,
      make: (name: string) => signatureFromJson({ ...s.json, name }),
    })),
    warnings: r.warnings,
  };
}

/**
 * The one signature the files define (or the one `options.signature` names; a name set at run
 * time comes from `options.names`).
 * @throws {ImportError} when there are several and none was chosen, or see {@link importC}.
 */
export async function signatureFromC(
  files: readonly string[],
  options: Omit<ImportOptions, "files"> = {},
): Promise<Signature> {
  const r = await importC({ ...options, files });
  if (r.signatures.length > 1) {
    throw new ImportError(
      `${files.join(", ")} define ${r.signatures.length} signatures (${
        r.signatures.map((s) => s.variable).join(", ")
      }): choose one with the signature option`,
    );
  }
  const s = r.signatures[0];
  if (s.runtimeName) {
    throw new ImportError(
      `${s.variable}'s name is set at run time: give it with names: { ${s.variable}: "NAME" }`,
    );
  }
  return signatureFromJson(s.json);
}
