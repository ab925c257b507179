/**
 * The fixed-size parameter buffers of one callback's calls (every `in`, `out` and `inout`
 * parameter), carved from one block per call, and the block used again by a later call once this
 * one is over. Why: in Deno every new ArrayBuffer costs about a microsecond — more than all the
 * rest of encoding a call — while writing into one that exists costs nothing of the kind
 * (measured: ARCHITECTURE.md, "Threads and who may block").
 *
 * The rule that makes reuse safe: a block is given back only once C is done with it (the call's
 * completion, or a call that never reached C) and its values have been decoded — decoders copy
 * what they return (the rule of `Type.decode`). Vectors are not in blocks: they vary in size, and a
 * vector-out buffer is itself the value returned.
 *
 * New blocks are carved from slabs of {@link SLAB_BYTES}, each block on cache lines of its own
 * (`ffi/aligned_bytes.ts`): the library's reader thread writes a call's answer into its block and
 * JavaScript reads it, so every line a block spans crosses between two CPUs twice a call — a
 * 64-byte block on a buffer of its own (16-byte aligned) spans two lines three times in four. And a
 * slab is one ArrayBuffer for many blocks, where a block used to be one of its own.
 *
 * The blocks of a callback are shared by every session of its signature ({@link ParamBlocks.of}): a
 * session opened for a burst (a fleet's `getStats`, every minute) finds the blocks the last one left.
 * Blocks of its own were all new in its first burst, all alive until the burst's answers came, and all
 * copied by the collector when a collection fell in the burst: a 1 ms timer set before a new session's
 * first burst of 1,000 fired on average 1.4–3.2 ms late, against 1.2–1.4 ms with shared blocks (12 new
 * sessions per process, three processes each, alternating).
 *
 * The free block a call takes is the first one carved, not the last one given back: after a burst of
 * a thousand calls, whose answers came back in their own order, a stack of free blocks handed the
 * next calls blocks strewn over the burst's slabs and its objects all over V8's old space — and
 * every later call of the callback paid for it. Measured on echo at 32 in flight against the null
 * kernel, after a few seconds of 1,000 in flight: the API's cost over the bare call 11–16 % (medians
 * of nine paired runs, five sets) against 7–10 % before any burst; with the free blocks put back in
 * the order they were carved, 8.6 %. So the free blocks are a set of slots in carving order, and a
 * call takes the lowest: the blocks in use stay the first ones, on the first slabs, whatever came
 * before.
 *
 * What it gives up: up to {@link KEPT_BLOCKS} blocks per callback (and at most {@link KEPT_BYTES} of
 * them) stay allocated as long as the signature's description does (for one defined in a module: the
 * life of the process) once that many calls ran at once — a few hundred bytes each for real drivers'
 * parameters, besides ~300 bytes of objects. So many because a burst of a thousand calls is common
 * (a fleet's worth of `getStats`): with 64 kept, 936 blocks of such a burst were new, each a new
 * ArrayBuffer (~1 µs) and more for the garbage collector to copy while its calls were in flight. The
 * kept blocks are the first ones carved; a block carved while all of them are in use is the garbage
 * collector's once its call is over. A block is rounded up to whole cache lines, and a slab lives
 * while any block carved from it does. Taking the lowest free slot reads one 32-bit word of free
 * bits, and one more for every 32 slots in use below it (none more at 32 calls in flight or fewer).
 *
 * @example
 * ```ts
 * import { ParamBlocks } from "./param_blocks.ts";
 * import { acmeNic } from "./demo/acme_nic.ts";
 * const blocks = ParamBlocks.of(acmeNic.callbacks.setMtu); // (the same for every session)
 * const block = blocks.take(); // block.views[0]: the 4 bytes of `mtu`, zeroed
 * blocks.give(block); // once the call is over
 * ```
 * @module
 */
import { isVector } from "../abi/facts.ts";
import { alignedBytes, wholeCacheLines } from "../ffi/aligned_bytes.ts";
import { zeroBytes } from "./types/byte_pool.ts";
import { writesWhole } from "./types/type.ts";
import type { CallbackInfo } from "./signature.ts";

/** Free blocks kept per callback; calls beyond that many at once allocate (and GC frees) theirs. */
export const KEPT_BLOCKS = 1024;

/** Bytes of free blocks kept per callback at most (one block is always kept, whatever its size). */
export const KEPT_BYTES = 1 << 20;

/** Where each parameter starts in a block: 16-byte aligned, as malloc would give C. */
const ALIGN = 16;

/** New blocks are carved from slabs of this many bytes (a larger block is a slab of its own). */
export const SLAB_BYTES = 4096;

/** The bytes of a block with no fixed-size parameter (every one a vector): nothing to carve. */
const NO_BYTES = new Uint8Array(0);

/** One call's fixed-size parameter buffers. */
export interface ParamBlock {
  /** By parameter index: its bytes in the block (undefined for a vector). */
  readonly views: readonly (Uint8Array | undefined)[];
  /** By parameter index: a DataView of exactly those bytes. */
  readonly dataViews: readonly (DataView | undefined)[];
  /** The whole block. */
  readonly bytes: Uint8Array;
  /** Taken and not yet given back. */
  inUse: boolean;
  /** Its place among the kept blocks, in carving order; -1 for one that is not kept. */
  readonly slot: number;
}

/** Each callback description's blocks, for every session of its signature. */
const shared = new WeakMap<CallbackInfo, ParamBlocks>();

/** The blocks of one callback. */
export class ParamBlocks {
  /** The blocks of `cb` that every session of its signature takes from and gives back to. */
  static of(cb: CallbackInfo): ParamBlocks {
    let blocks = shared.get(cb);
    if (!blocks) shared.set(cb, blocks = new ParamBlocks(cb));
    return blocks;
  }

  readonly #offsets: (number | undefined)[];
  readonly #sizes: number[];
  readonly #size: number;
  /** A block's bytes in its slab: its size in whole cache lines. */
  readonly #stride: number;
  readonly #keep: number;
  /** The parameters a block used again must have zeroed: those no encoder writes whole. */
  readonly #toZero: number[];
  /** The kept blocks, by slot (carving order). */
  readonly #kept: ParamBlock[] = [];
  /** One bit per slot, set while its block is free. */
  readonly #free: Uint32Array;
  /** No word of {@link #free} below this one has a bit set. */
  #lowest = 0;
  /** Where new blocks are carved, and how far it is used. */
  #slab: Uint8Array = NO_BYTES;
  #slabUsed = 0;

  /** Lays out `cb`'s fixed-size parameters in a block. */
  constructor(cb: CallbackInfo) {
    let at = 0;
    this.#sizes = cb.params.map((p) => p.size);
    this.#offsets = cb.params.map((p) => {
      if (isVector(p.dir)) return undefined;
      const here = at;
      at += Math.ceil(p.size / ALIGN) * ALIGN;
      return here;
    });
    this.#size = at;
    this.#stride = wholeCacheLines(at);
    // An out parameter is written by the kernel only, and a union or command by its arm only; every
    // other parameter's encoder writes all its bytes (writesWhole), so zeroing it first — a fill of
    // the whole block, ~15 ns of a call's ~300 ns of JavaScript — was done twice.
    this.#toZero = cb.params.flatMap((p, i) =>
      !isVector(p.dir) && (p.dir === "out" || !writesWhole(p.type)) ? [i] : []
    );
    this.#keep = Math.max(1, Math.min(KEPT_BLOCKS, Math.floor(KEPT_BYTES / Math.max(this.#stride, 1))));
    this.#free = new Uint32Array(Math.ceil(this.#keep / 32));
  }

  /**
   * A block: its out parameters, and those whose encoder may leave bytes as they were, zeroed (a new
   * block is zeroed whole).
   */
  take(): ParamBlock {
    const kept = this.#takeLowest();
    if (kept) {
      const zero = this.#toZero;
      for (let j = 0; j < zero.length; j++) {
        const i = zero[j];
        zeroBytes(kept.dataViews[i]!, 0, this.#sizes[i]);
      }
      kept.inUse = true;
      return kept;
    }
    const slot = this.#kept.length < this.#keep ? this.#kept.length : -1;
    const bytes = this.#carve();
    const views = this.#offsets.map((at, i) =>
      at === undefined ? undefined : bytes.subarray(at, at + this.#sizes[i])
    );
    const block: ParamBlock = {
      views,
      dataViews: views.map((v) => v && new DataView(v.buffer, v.byteOffset, v.byteLength)),
      bytes,
      inUse: true,
      slot,
    };
    if (slot >= 0) this.#kept.push(block);
    return block;
  }

  /** The free kept block of the lowest slot, marked taken; undefined when none is free. */
  #takeLowest(): ParamBlock | undefined {
    const free = this.#free;
    for (let w = this.#lowest; w < free.length; w++) {
      const bits = free[w];
      if (bits === 0) continue;
      this.#lowest = w;
      const low = bits & -bits;
      free[w] = bits ^ low;
      return this.#kept[w * 32 + 31 - Math.clz32(low)];
    }
    this.#lowest = free.length;
    return undefined;
  }

  /** A new block's bytes, zeroed, from the slab (a new one when it is used up). */
  #carve(): Uint8Array {
    const size = this.#size, stride = this.#stride;
    if (size === 0) return NO_BYTES;
    if (this.#slabUsed + stride > this.#slab.length) {
      this.#slab = alignedBytes(Math.max(1, Math.floor(SLAB_BYTES / stride)) * stride);
      this.#slabUsed = 0;
    }
    const at = this.#slabUsed;
    this.#slabUsed += stride;
    return this.#slab.subarray(at, at + size);
  }

  /**
   * Gives a block back for another call: only once C is done with it and its values were decoded.
   * @throws {Error} a block given back twice (a call completed twice: its buffers would be shared).
   */
  give(block: ParamBlock): void {
    if (!block.inUse) throw new Error("a parameter block was given back twice");
    block.inUse = false;
    const slot = block.slot;
    if (slot < 0) return; // (not kept: the garbage collector's)
    const w = slot >>> 5;
    this.#free[w] |= 1 << (slot & 31);
    if (w < this.#lowest) this.#lowest = w;
  }
}
