/**
 * Where a buffer's bytes are, as the number C is given for a pointer member (a `vmk_MgmtVectorParm`'s
 * data, a caller buffer, a table a struct points to) or an alignment is reckoned from.
 *
 * What it gives up: the address holds only while something keeps `buf` alive — the caller's job.
 *
 * @example
 * ```ts
 * import { addressOf } from "./address.ts";
 * const bytes = new Uint8Array(4096);
 * addressOf(bytes) % 16n; // 0n: where the allocator put them
 * ```
 * @module
 */

/** The address of `buf`'s first byte. */
export function addressOf(buf: Uint8Array): bigint {
  return BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(buf as Uint8Array<ArrayBuffer>)));
}
