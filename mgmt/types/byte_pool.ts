/**
 * Byte copies without a new ArrayBuffer each: what a decoded byte field (`u8[56]`, a payload) is
 * given, carved from a shared 8 KiB slab — Node's `Buffer` pool does the same for the same reason.
 * In Deno every new ArrayBuffer, however small, costs ~0.5–1 µs (measured: ARCHITECTURE.md,
 * "Threads and who may block"), as much as all the rest of decoding a call's results; a slice of a
 * slab costs ~0.1 µs. Writing and copying bytes go through a Uint8Array made once for each DataView
 * and kept on it (a view made per write cost more than the bytes written).
 *
 * What it gives up: a small decoded byte field is a view of a shared slab, not its own buffer —
 * `value.buffer` holds other values' bytes too (use the view itself, or `value.slice()` for a buffer
 * of its own; transferring `value.buffer` would empty the others), and a value kept alive keeps its
 * slab's 8 KiB. Fields above {@link POOLED_MAX} bytes get their own buffer, as before.
 *
 * @example
 * ```ts
 * import { copyOut } from "./byte_pool.ts";
 * const view = new DataView(new Uint8Array([1, 2, 3, 4]).buffer);
 * copyOut(view, 1, 2); // Uint8Array [2, 3], its own bytes (not the view's)
 * ```
 * @module
 */

/** The largest copy carved from the slab; larger ones get a buffer of their own. */
export const POOLED_MAX = 512;

const SLAB_SIZE = 8192;

/**
 * The bytes of a DataView as a Uint8Array, made once per view and kept on it: the parameter
 * blocks' views live for many calls (param_blocks.ts), and a view made per write cost more than
 * the bytes written, while a loop of `setUint8` over a view handed different sources (Uint8Arrays,
 * strings' bytes, arrays) ran ~70 ns for 56 bytes where `set` takes ~10.
 */
const BYTES = Symbol("bytes");

function bytesOf(view: DataView): Uint8Array {
  const kept = (view as DataView & { [BYTES]?: Uint8Array })[BYTES];
  // (a DataView's buffer, offset and length never change — none of ours tracks a resizable buffer)
  if (kept !== undefined) return kept;
  const made = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
  (view as DataView & { [BYTES]?: Uint8Array })[BYTES] = made;
  return made;
}

/** Up to this many bytes, a loop costs less than the view a native copy or fill needs. */
const LOOP_MAX = 64;

let slab = new ArrayBuffer(SLAB_SIZE);
let slabView = new DataView(slab);
let used = 0;

/**
 * A copy of `length` bytes at `offset` in `view`, sharing nothing with `view`.
 *
 * Why eight bytes at a time through the DataViews and a view made with `new Uint8Array(slab, at,
 * n)`: side by side, 56 bytes copied so took ~55 ns where a byte loop into `subarray` took ~80 (a
 * `subarray` goes through the species lookup; the constructor is inlined), and 6 bytes ~24 ns
 * where it took ~28. Optimised code reads and writes a `BigUint64` without making a BigInt.
 */
export function copyOut(view: DataView, offset: number, length: number): Uint8Array {
  if (length > POOLED_MAX) return bytesOf(view).slice(offset, offset + length);
  if (used + length > SLAB_SIZE) {
    slab = new ArrayBuffer(SLAB_SIZE);
    slabView = new DataView(slab);
    used = 0;
  }
  const at = used;
  const out = new Uint8Array(slab, at, length);
  if (length <= LOOP_MAX) {
    let i = 0;
    for (; i + 8 <= length; i += 8) slabView.setBigUint64(at + i, view.getBigUint64(offset + i));
    for (; i < length; i++) slabView.setUint8(at + i, view.getUint8(offset + i));
  } else {
    out.set(bytesOf(view).subarray(offset, offset + length));
  }
  used += (length + 7) & ~7; // (each copy 8-byte aligned, as a buffer of its own would be)
  return out;
}

/** Writes `src` at `offset` in `view` and zeroes the rest of `length` bytes (`src` fits). */
export function writeBytes(view: DataView, offset: number, src: ArrayLike<number>, length: number): void {
  const dst = bytesOf(view);
  dst.set(src, offset);
  if (src.length < length) dst.fill(0, offset + src.length, offset + length);
}

/** Zeroes `length` bytes at `offset` in `view`. */
export function zeroBytes(view: DataView, offset: number, length: number): void {
  if (length > LOOP_MAX) {
    bytesOf(view).fill(0, offset, offset + length);
    return;
  }
  let i = 0;
  for (; i + 4 <= length; i += 4) view.setUint32(offset + i, 0);
  for (; i < length; i++) view.setUint8(offset + i, 0);
}
