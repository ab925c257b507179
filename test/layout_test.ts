/**
 * What TypeScript states about the ABI and the wire protocol (ffi/layout.ts, abi/facts.ts,
 * sim/frames.ts, sim/payloads.ts) against what a C program compiled from native/vmkmgmt.h and native/wire.h
 * prints.
 */
import { assertEquals } from "@std/assert";
import * as abi from "../abi/facts.ts";
import { LINUX_SOCKET } from "../ffi/peer.ts";
import { DLFCN_FLAGS } from "../ffi/keep_mapped.ts";
import * as frames from "../sim/frames.ts";
import * as payloads from "../sim/payloads.ts";
import {
  decodeCallbackInfos,
  decodeInstances,
  encodeApiSignature,
  encodeCallbackInfos,
  LAYOUT,
} from "../ffi/layout.ts";
import { resolveVersion, toCSignature } from "../mgmt/signature.ts";
import { acmeNic } from "../mgmt/demo/acme_nic.ts";

/** The simulator's side of the wire: its frame layer and its payloads. */
const wire = { ...frames, ...payloads };

const ROOT = new URL("../", import.meta.url).pathname;

/** What the C program prints: layout, ABI constants, wire constants. */
async function fromC(): Promise<
  Record<"layout" | "abi" | "wire" | "linux" | "dlfcn", Record<string, number | string>>
> {
  const out = await new Deno.Command(`${ROOT}native/build/layout`).output();
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

Deno.test("every size, alignment and offset matches C", async () => {
  const c = (await fromC()).layout;
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

Deno.test("every ABI constant of abi/facts.ts matches vmkmgmt.h", async () => {
  const c = (await fromC()).abi;
  const ts: Record<string, number | bigint> = {
    VMK_MISC_NAME_MAX: abi.NAME_SIZE,
    VMK_MGMT_MAX_CALLBACK_PARMS: abi.MAX_CALLBACK_PARMS,
    VMK_MGMT_RESERVED_CALLBACKS: abi.RESERVED_CALLBACKS,
    VMK_MGMT_MAX_INSTANCES: abi.MAX_INSTANCES,
    VMK_MGMT_NO_INSTANCE_ID: abi.NO_INSTANCE_ID,
    VMK_MGMT_CALLBACK_KERNEL: abi.LOCATION_CODE.kernel,
    VMK_MGMT_CALLBACK_USER: abi.LOCATION_CODE.user,
    VMK_MGMT_PARMTYPE_IN: abi.DIRECTION_CODE.in,
    VMK_MGMT_PARMTYPE_OUT: abi.DIRECTION_CODE.out,
    VMK_MGMT_PARMTYPE_INOUT: abi.DIRECTION_CODE.inout,
    VMK_MGMT_PARMTYPE_VECTOR_IN: abi.DIRECTION_CODE.vectorIn,
    VMK_MGMT_PARMTYPE_VECTOR_OUT: abi.DIRECTION_CODE.vectorOut,
    VMK_MGMT_PARMTYPE_VECTOR_INOUT: abi.DIRECTION_CODE.vectorInOut,
    VMKMGMT_ENTRY_COMPLETION: abi.QUEUE_ENTRY_KIND.completion,
    VMKMGMT_ENTRY_EVENT: abi.QUEUE_ENTRY_KIND.event,
    VMKMGMT_ENTRY_DISCONNECT: abi.QUEUE_ENTRY_KIND.disconnect,
    // A signature written as the driver's C writes it yields the macro's revnum.
    "VMK_REVISION_FROM_NUMBERS(1,2,3,1007)": resolveVersion([1, 2, 3, 1007]).revnum,
  };
  assertEquals(Object.keys(ts).sort(), Object.keys(c).sort(), "the same facts on both sides");
  for (const [name, value] of Object.entries(ts)) assertEquals(Number(value), c[name], name);
  assertEquals(abi.DIRECTION_BY_CODE.map((d) => abi.DIRECTION_CODE[d]), [0, 1, 2, 3, 4, 5]);
});

/** Frames small enough to measure a payload's fixed part by difference. */
const hello = { revnum: 0, name: "a", vendor: "b", pid: 1, callbacks: [], buffers: [] };
const oneCallback = { ...hello, callbacks: [{ id: 16n, location: 1, sync: true, params: [] }] };
const oneBuffer = {
  ...oneCallback,
  buffers: [{ callbackId: 16n, parm: 0, dir: "in" as const, offset: 0, length: 8 }],
};
const noParams = { instanceId: 1n, callbackId: 16n, sync: true, params: [] };
const oneVectorOut = { ...noParams, params: [{ dir: "vectorOut" as const, size: 1, length: 8 }] };

Deno.test("the wire constants and payload sizes of sim/frames.ts and sim/payloads.ts match wire.h", async () => {
  const c = (await fromC()).wire;
  const T = wire.FrameType;
  const ts: Record<string, number | string> = {
    WIRE_MAGIC: wire.MAGIC,
    WIRE_VERSION: wire.VERSION,
    WIRE_HEADER_SIZE: wire.HEADER_SIZE,
    WIRE_MAX_VECTOR: abi.MAX_VECTOR_BYTES,
    WIRE_MAX_PAYLOAD: wire.MAX_PAYLOAD,
    WIRE_HELLO: T.HELLO,
    WIRE_HELLO_REPLY: T.HELLO_REPLY,
    WIRE_INVOKE: T.INVOKE,
    WIRE_INVOKE_REPLY: T.INVOKE_REPLY,
    WIRE_GET_INSTANCES: T.GET_INSTANCES,
    WIRE_INSTANCES: T.INSTANCES,
    WIRE_EVENT: T.EVENT,
    WIRE_EVENT_ACK: T.EVENT_ACK,
    WIRE_CONTROL: T.CONTROL,
    WIRE_CONTROL_REPLY: T.CONTROL_REPLY,
    WIRE_ERROR: T.ERROR,
    WIRE_EVENTS_DROPPED: T.EVENTS_DROPPED,
    WIRE_COPY_REQUEST: T.COPY_REQUEST,
    WIRE_COPY_REPLY: T.COPY_REPLY,
    WIRE_PARM_DATA: wire.PARM_DATA,
    // The returned-parameters mask sits right after status and count.
    WIRE_REPLY_RETURNED: 8,
    WIRE_COPY_REQUEST_SIZE: wire.encodeCopyRequest({
      copyId: 1,
      op: wire.CopyOp.FROM_USER,
      target: wire.CopyTarget.ADDRESS,
      where: 1n,
      length: 4,
    }).length,
    WIRE_COPY_REPLY_SIZE: 8,
    WIRE_COPY_FROM_USER: wire.CopyOp.FROM_USER,
    WIRE_COPY_TO_USER: wire.CopyOp.TO_USER,
    WIRE_COPY_ADDRESS: wire.CopyTarget.ADDRESS,
    WIRE_COPY_PARAMETER: wire.CopyTarget.PARAMETER,
    WIRE_HELLO_SIZE: wire.encodeHello(hello).length,
    WIRE_CB_ENTRY_SIZE: wire.encodeHello(oneCallback).length - wire.encodeHello(hello).length,
    WIRE_BUF_ENTRY_SIZE: wire.encodeHello(oneBuffer).length - wire.encodeHello(oneCallback).length,
    WIRE_PEER_BRIDGE: wire.PEER_BRIDGE,
    WIRE_MAX_HELLO_ENTRIES: wire.MAX_HELLO_ENTRIES,
    WIRE_HOST_ENV: abi.HOST_ENV,
    WIRE_BRIDGE_ENV: abi.BRIDGE_ENV,
    WIRE_SSH_ENV: abi.SSH_ENV,
    WIRE_LOCAL_HOST: abi.LOCAL_HOST,
    WIRE_HELLO_REPLY_SIZE: wire.encodeHelloReply({ status: 0, sessionId: 1n }).length,
    WIRE_INVOKE_HEADER_SIZE: wire.encodeInvoke(noParams).length,
    WIRE_PARM_DESC_SIZE: wire.encodeInvoke(oneVectorOut).length - wire.encodeInvoke(noParams).length,
    WIRE_REPLY_LENGTHS: wire.encodeInvokeReply({ status: 0, params: [] }).length,
    WIRE_INSTANCES_ENTRIES: wire.encodeInstances({ status: 0, instances: [] }).length,
    WIRE_INSTANCE_SIZE: wire.encodeInstances({ status: 0, instances: [{ id: 1n, name: "x" }] }).length -
      wire.encodeInstances({ status: 0, instances: [] }).length,
    WIRE_EVENT_LENGTHS: wire.encodeEvent({ instanceId: 0n, callbackId: 16n, params: [] }).length,
    WIRE_ACK_SIZE: wire.encodeEventAck(1).length,
    WIRE_DROPPED_SIZE: wire.encodeEventsDropped(1).length,
    WIRE_SOCKET_ENV: abi.SIM_SOCKET_ENV,
    WIRE_SOCKET_DEFAULT: abi.defaultSimSocketPath("%u"),
    WIRE_DIR_WRITE_MASK: abi.DIR_WRITE_MASK,
    WIRE_BRIDGE_WORKERS: abi.BRIDGE_WORKERS,
  };
  assertEquals(Object.keys(ts).sort(), Object.keys(c).sort(), "the same facts on both sides");
  for (const [name, value] of Object.entries(ts)) assertEquals(value, c[name], name);
});

Deno.test("what sim/payloads.ts encodes, it decodes back: INVOKE, HELLO's table, a reply's mask, COPY_REPLY", () => {
  const setMtu = {
    ...noParams,
    params: [{ dir: "in" as const, size: 4, length: 4, data: new Uint8Array([1, 2, 3, 4]) }],
  };
  assertEquals(wire.decodeInvoke(wire.encodeInvoke(setMtu)), setMtu);
  // HELLO carries the whole table and the buffer fields, both ways.
  const table = {
    ...oneBuffer,
    callbacks: [{ id: 16n, location: 1, sync: true, params: [{ dir: "inout" as const, size: 24 }] }],
    buffers: [...oneBuffer.buffers, {
      callbackId: 16n,
      parm: 0,
      dir: "out" as const,
      offset: 8,
      length: { offset: 16, size: 4 as const },
    }],
  };
  assertEquals(wire.decodeHello(wire.encodeHello(table)), table);
  // A reply's mask says which parameters come back; a copy reply decodes its status and bytes.
  const reply = wire.encodeInvokeReply({
    status: 0,
    params: [{ length: 4 }, { length: 2, data: new Uint8Array(2) }],
  });
  assertEquals(new DataView(reply.buffer).getUint32(8, true), 0b10);
  const copyReply = new Uint8Array([7, 0, 0, 0, 14, 0, 0, 0, 9]);
  assertEquals(wire.decodeCopyReply(copyReply), { copyId: 7, status: 14, data: new Uint8Array([9]) });
});

Deno.test("the Linux socket facts of ffi/peer.ts match the C headers", async () => {
  assertEquals({ ...LINUX_SOCKET }, (await fromC()).linux);
});

Deno.test("the dlfcn flags of ffi/keep_mapped.ts match <dlfcn.h>", async () => {
  assertEquals({ ...DLFCN_FLAGS }, (await fromC()).dlfcn);
});
