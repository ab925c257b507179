/**
 * Bytes that start on a cache line, for buffers that C on another thread writes and JavaScript reads
 * call after call (parameter blocks, which the library's reader thread fills with a call's answer).
 * Why: every cache line such a buffer spans moves between two CPUs twice a call — the reader's
 * write, JavaScript's read — and on these machines a move costs about as much as encoding a small
 * parameter. A buffer of its own per call is where `malloc` puts it, 16-byte aligned, so a 64-byte
 * parameter spans two lines three times in four. Measured side by side (32 echo calls in flight on
 * the null kernel, a buffer per call, eight alternating processes): buffers carved on cache lines
 * from one allocation made the calls ~4 % faster than a `new Uint8Array(64)` each (ARCHITECTURE.md,
 * "Threads and who may block").
 *
 * What it gives up: up to {@link CACHE_LINE_BYTES} − 1 bytes of each allocation, unused.
 *
 * @example
 * ```ts
 * import { alignedBytes, CACHE_LINE_BYTES } from "./aligned_bytes.ts";
 * const slab = alignedBytes(4096); // 4096 zeroed bytes, the first at a multiple of 64
 * const second = slab.subarray(CACHE_LINE_BYTES, 2 * CACHE_LINE_BYTES); // the next line, alone
 * ```
 * @module
 */
import { addressOf } from "./address.ts";

/** The cache line of x86_64, ESXi's. */
export const CACHE_LINE_BYTES = 64;

/**
 * `size` zeroed bytes whose first byte starts a cache line, in an ArrayBuffer of their own (which
 * V8 never moves: it is larger than the small typed arrays it keeps on its heap).
 * @throws {RangeError} a size that is not a whole number ≥ 0.
 */
export function alignedBytes(size: number): Uint8Array {
  if (!Number.isSafeInteger(size) || size < 0) {
    throw new RangeError(`aligned bytes: ${size} is not a size`);
  }
  // (≥ 2 lines whatever the size: an ArrayBuffer of 64 bytes or fewer may live on V8's heap, which moves)
  const raw = new Uint8Array(size + 2 * CACHE_LINE_BYTES);
  const skip = (CACHE_LINE_BYTES - Number(addressOf(raw) % BigInt(CACHE_LINE_BYTES))) % CACHE_LINE_BYTES;
  return raw.subarray(skip, skip + size);
}

/** `size` bytes rounded up to whole cache lines: how far apart to carve blocks of that size. */
export function wholeCacheLines(size: number): number {
  return Math.ceil(size / CACHE_LINE_BYTES) * CACHE_LINE_BYTES;
}
