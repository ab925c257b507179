/** ffi/layout.ts against what a C program compiled from native/vmkmgmt.h prints. */
import { assertEquals } from "@std/assert";
import {
  decodeCallbackInfos,
  decodeInstances,
  encodeApiSignature,
  encodeCallbackInfos,
  LAYOUT,
} from "../ffi/layout.ts";
import { toCSignature } from "../mgmt/signature.ts";
import { acmeNic } from "../mgmt/demo/acme_nic.ts";

const ROOT = new URL("../", import.meta.url).pathname;

Deno.test("every size, alignment and offset matches C", async () => {
  const out = await new Deno.Command(`${ROOT}native/build/layout`).output();
  const c = JSON.parse(new TextDecoder().decode(out.stdout)) as Record<string, number>;
  let checked = 0;
  for (const [struct, fields] of Object.entries(LAYOUT)) {
    if (typeof fields === "number") {
      assertEquals(fields, c.enum, "enum size");
      checked++;
      continue;
    }
    for (const [field, value] of Object.entries(fields)) {
      const key = field === "size" ? struct : `${struct}.${field}`;
      assertEquals(value, c[key], key);
      checked++;
    }
  }
  // Every fact C printed is held by the TypeScript table, and vice versa.
  assertEquals(checked, Object.keys(c).length);
});

Deno.test("the demo signature encodes to the C bytes the library reads back", () => {
  const cs = toCSignature(acmeNic);
  const ptrs = cs.callbacks.map((c) => (c.location === 2 ? 0x1000n + c.callbackId : 0n));
  const table = encodeCallbackInfos(cs.callbacks, ptrs);
  assertEquals(table.length, 64 * 9);
  const back = decodeCallbackInfos(table, 9);
  const { label: _label, paramLabels: _names, ...setMtu } = cs.callbacks[1];
  assertEquals(back[1], { ...setMtu, callback: 0n });
  assertEquals(back[7].callback, 0x1000n + 32n);
  assertEquals(back[3].parmTypes.slice(0, 2), [3, 1]); // VECTOR_IN, OUT
  assertEquals(back[3].parmSizes.slice(0, 2), [1, 4]);
  const sig = encodeApiSignature(cs, 0xdead0000n);
  const v = new DataView(sig.buffer);
  assertEquals(v.getUint32(0, true), 0x01000000);
  assertEquals(new TextDecoder().decode(sig.subarray(4, 15)), "acmeNicMgmt");
  assertEquals(sig[15], 0);
  assertEquals(new TextDecoder().decode(sig.subarray(36, 40)), "acme");
  assertEquals(v.getInt32(68, true), 9);
  assertEquals(v.getBigUint64(72, true), 0xdead0000n);
});

Deno.test("vmk_MgmtInstances decodes ids and names", () => {
  const b = new Uint8Array(1288);
  const v = new DataView(b.buffer);
  b[0] = 2;
  v.setBigUint64(8, 7n, true);
  v.setBigUint64(16, 1n << 63n, true);
  b.set(new TextEncoder().encode("a"), 264);
  b.set(new TextEncoder().encode("x".repeat(31)), 296);
  assertEquals(decodeInstances(b), [{ id: 7n, name: "a" }, { id: 1n << 63n, name: "x".repeat(31) }]);
});
