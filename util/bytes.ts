/**
 * Bytes put together: a little-endian builder that writes field by field into one buffer that grows
 * as needed, and the concatenation of parts into one buffer. Why one growing buffer and not an array
 * per field: every new ArrayBuffer, however small, is among the dearest allocations in Deno — the
 * simulator, building each payload field in one of its own (seven an event), spent more encoding an
 * event than sending it.
 *
 * What it gives up: a builder's buffer only grows (a large field once keeps the room for the builder's
 * life — each is built, used and dropped).
 *
 * @example
 * ```ts
 * import { ByteBuilder } from "./bytes.ts";
 * const payload = new ByteBuilder().u32(7).u64(1n).name("vmnic0").finish(); // 4 + 8 + 32 bytes
 * ```
 * @module
 */
import { NAME_SIZE } from "../abi/facts.ts";

const utf8 = new TextEncoder();

/** A little-endian builder over one growing buffer. */
export class ByteBuilder {
  #bytes: Uint8Array;
  #view: DataView;
  #length = 0;

  /** `initial`: the buffer's first size in bytes (it doubles as needed). */
  constructor(initial = 64) {
    this.#bytes = new Uint8Array(initial);
    this.#view = new DataView(this.#bytes.buffer);
  }

  /** Room for `n` more bytes; where they go. (Call it before reading #view or #bytes: it may replace them.) */
  #room(n: number): number {
    const at = this.#length;
    if (at + n > this.#bytes.length) {
      const grown = new Uint8Array(Math.max(at + n, 2 * this.#bytes.length));
      grown.set(this.#bytes.subarray(0, at));
      this.#bytes = grown;
      this.#view = new DataView(grown.buffer);
    }
    this.#length = at + n;
    return at;
  }

  /** Appends a byte. */
  u8(v: number): this {
    const at = this.#room(1);
    this.#view.setUint8(at, v);
    return this;
  }

  /** Appends a 16-bit unsigned integer. */
  u16(v: number): this {
    const at = this.#room(2);
    this.#view.setUint16(at, v, true);
    return this;
  }

  /** Appends a 32-bit unsigned integer (a negative one as its two's complement: a status). */
  u32(v: number): this {
    const at = this.#room(4);
    this.#view.setUint32(at, v >>> 0, true);
    return this;
  }

  /** Appends a 32-bit signed integer. */
  i32(v: number): this {
    const at = this.#room(4);
    this.#view.setInt32(at, v, true);
    return this;
  }

  /** Appends a 64-bit unsigned integer. */
  u64(v: bigint | number): this {
    const at = this.#room(8);
    this.#view.setBigUint64(at, BigInt(v), true);
    return this;
  }

  /** Appends `n` zero bytes (reserved fields). */
  zeros(n: number): this {
    const at = this.#room(n);
    this.#bytes.fill(0, at, at + n); // (a grown buffer is zeroed, but not room written before)
    return this;
  }

  /** Appends a name as a zero-padded `char[n]`: its UTF-8 bytes, cut at n-1 as C's copy cuts them. */
  name(text: string, n = NAME_SIZE): this {
    const at = this.#room(n);
    this.#bytes.fill(0, at, at + n).set(utf8.encode(text).subarray(0, n - 1), at);
    return this;
  }

  /** Appends bytes. */
  bytes(b: Uint8Array): this {
    const at = this.#room(b.length);
    this.#bytes.set(b, at);
    return this;
  }

  /** The bytes so far, as a view of the builder's buffer (good until the next append). */
  written(): Uint8Array {
    return this.#bytes.subarray(0, this.#length);
  }

  /** The bytes so far, in a buffer of their own. */
  finish(): Uint8Array {
    return this.#bytes.slice(0, this.#length);
  }
}

/**
 * The parts one after another in one new buffer (`total`: their summed length, when the caller
 * already has it).
 */
export function concatBytes(
  parts: readonly Uint8Array[],
  total = parts.reduce((n, p) => n + p.length, 0),
): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
