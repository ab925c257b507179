/** ffi/aligned_bytes.ts: bytes that start on a cache line, of the size asked, zeroed. */
import { assertEquals, assertThrows } from "@std/assert";
import { addressOf } from "../ffi/address.ts";
import { alignedBytes, CACHE_LINE_BYTES, wholeCacheLines } from "../ffi/aligned_bytes.ts";

Deno.test("aligned bytes start on a cache line, are zeroed and have the size asked", () => {
  for (const size of [0, 1, 16, 63, 64, 65, 100, 4096, 300_000]) {
    for (let i = 0; i < 8; i++) {
      const bytes = alignedBytes(size);
      assertEquals(bytes.length, size);
      assertEquals(bytes.every((b) => b === 0), true, `${size} bytes zeroed`);
      if (size === 0) continue; // (no byte to place: Deno gives an empty view its buffer's address)
      const at = addressOf(bytes);
      assertEquals(at % BigInt(CACHE_LINE_BYTES), 0n, `${size} bytes: address ${at} on a line`);
    }
  }
});

Deno.test("aligned bytes refuse a size that is not one", () => {
  for (const size of [-1, 1.5, NaN, Infinity]) {
    assertThrows(() => alignedBytes(size), RangeError, "is not a size");
  }
});

Deno.test("whole cache lines: a size rounded up to the next multiple of the line", () => {
  assertEquals([0, 1, 63, 64, 65, 300_000].map(wholeCacheLines), [0, 64, 64, 64, 128, 300_032]);
});
