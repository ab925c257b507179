/**
 * Where a recorded call's pointer members are: the bytes of its parameters that hold addresses of
 * caller buffers. Those differ from run to run (another heap, another stack), so a replay and a
 * diff compare every byte of a call but these — and compare the buffers' own bytes instead.
 * @module
 */
import type { TraceBufferField } from "./reader.ts";

/** A recorded caller buffer, in words: "the buffer behind parameter 0's pointer at byte 5". */
export function bufferName(b: { readonly param: number; readonly offset: number }): string {
  return `the buffer behind parameter ${b.param}'s pointer at byte ${b.offset}`;
}

/**
 * For each parameter, the indexes of its bytes that hold a pointer `fields` names (in every element
 * of a vector).
 * @example
 * ```ts
 * import { pointerBytes } from "./pointers.ts";
 * const field = { callbackId: 17n, param: 0, offset: 5, direction: "out" as const, length: 4096 };
 * pointerBytes([field], [{ size: 17, length: 17 }])[0].has(5); // true: bytes 5..12
 * ```
 */
export function pointerBytes(
  fields: readonly TraceBufferField[] | undefined,
  params: readonly { readonly size: number; readonly length: number }[],
): Set<number>[] {
  return params.map((p, i) => {
    const out = new Set<number>();
    for (const f of fields ?? []) {
      if (f.param !== i || p.size === 0) continue;
      for (let e = 0; e + p.size <= p.length; e += p.size) {
        for (let k = 0; k < 8; k++) out.add(e + f.offset + k);
      }
    }
    return out;
  });
}
