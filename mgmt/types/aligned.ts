/**
 * A type with another alignment, as `typedef T name __attribute__((aligned(n)))` gives it (in a
 * typedef GCC lets `aligned` raise or lower the alignment; the size does not change).
 * @module
 */
import { isAlignment } from "./record_layout.ts";
import type { Type } from "./type.ts";

/**
 * `type` aligned to `n` bytes.
 * @throws {TypeError} not a type. @throws {RangeError} `n` is not a power of two.
 */
export function alignedType<V>(type: Type<V>, n: number): Type<V> & { readonly inner: Type<V> } {
  if (!type || typeof type.encode !== "function") {
    throw new TypeError(`t.aligned(…) needs a type such as t.u64, got ${String(type)}`);
  }
  if (!isAlignment(n)) {
    throw new RangeError(`t.aligned(${type.name}, ${n}): the alignment must be a power of two`);
  }
  return Object.freeze({
    ...type,
    name: `${type.name} aligned(${n})`,
    align: n,
    inner: type,
    describe: () => ({ aligned: n, type: type.describe() }),
  });
}
