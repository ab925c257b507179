/**
 * How people and programs name an instance, read in one place: an id (bigint, a safe integer, or
 * a string of digits), a name, an object with a bigint `id`, or null/undefined for
 * `VMK_MGMT_NO_INSTANCE_ID`. Every id is checked to be a `vmk_uint64`: Deno's FFI would wrap a
 * larger one silently and address another instance.
 *
 * @example
 * ```ts
 * import { parseInstanceRef } from "./instance_ref.ts";
 * parseInstanceRef("vmnic1"); // { kind: "name", name: "vmnic1" }
 * parseInstanceRef("2"); // { kind: "id", id: 2n }
 * ```
 * @module
 */
import { U64_MAX } from "../abi/facts.ts";
import { ValueError } from "./errors.ts";

/** An instance of an API: its kernel id and name. */
export interface Instance {
  /** Kernel instance id. */
  readonly id: bigint;
  /** The name the driver registered the instance under (e.g. `vmnic0`). */
  readonly name: string;
}

/** How an instance may be named: its id, its name, an {@link Instance}, or null for none. */
export type InstanceRef = bigint | number | string | Instance | null;

/** A parsed {@link InstanceRef}. */
export type ParsedInstanceRef =
  | { readonly kind: "none" }
  | { readonly kind: "id"; readonly id: bigint }
  | { readonly kind: "name"; readonly name: string };

const NONE: ParsedInstanceRef = Object.freeze({ kind: "none" });

/** `shown`: how the message names the id, when not by its digits. */
function checkId(id: bigint, path: string, shown?: string): ParsedInstanceRef {
  if (id < 0n || id > U64_MAX) {
    throw new ValueError(path, `${shown ?? id} is not an instance id (a vmk_uint64, 0..${U64_MAX})`);
  }
  return { kind: "id", id };
}

/**
 * Reads an instance reference.
 * @throws {ValueError} naming `path` for a negative, fractional or too large id, an empty name,
 * or a value of another kind.
 */
export function parseInstanceRef(ref: unknown, path = "instance"): ParsedInstanceRef {
  if (ref === undefined || ref === null) return NONE;
  if (typeof ref === "bigint") return checkId(ref, path);
  if (typeof ref === "number") {
    if (Number.isInteger(ref) && ref > Number.MAX_SAFE_INTEGER) {
      throw new ValueError(
        path,
        `${ref} is larger than a number holds exactly (2^53−1): give a large id as a bigint or a string`,
      );
    }
    if (!Number.isSafeInteger(ref) || ref < 0) {
      throw new ValueError(path, `${ref} is not an instance id (a whole number ≥ 0)`);
    }
    return { kind: "id", id: BigInt(ref) };
  }
  if (typeof ref === "string") {
    if (/^\d+$/.test(ref)) return checkId(BigInt(ref), path, ref);
    if (ref === "") throw new ValueError(path, "an empty instance name");
    return { kind: "name", name: ref };
  }
  if (typeof ref === "object" && typeof (ref as Instance).id === "bigint") {
    return checkId((ref as Instance).id, path, `id ${(ref as Instance).id}`);
  }
  throw new ValueError(path, `expected an instance id, name or instance object, got ${typeof ref}`);
}

/** The instance of `list` that a parsed reference names, if any. */
export function findInstance<I extends Instance>(list: Iterable<I>, ref: ParsedInstanceRef): I | undefined {
  if (ref.kind === "none") return undefined;
  for (const inst of list) {
    if (ref.kind === "id" ? inst.id === ref.id : inst.name === ref.name) return inst;
  }
  return undefined;
}
