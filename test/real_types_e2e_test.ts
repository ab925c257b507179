/**
 * Real-driver types through the real path: the demo storage driver's NVMe-shaped admin command
 * (a packed struct with bitfields, a union of bitfield layouts, a full char[16]) and its
 * asynchronous event (a word of bitfields), through libvmkmgmt.so and a simulator process.
 */
import { assertEquals } from "@std/assert";
import { acmeStorage } from "../demo.ts";
import { open } from "../mod.ts";
import { startSimProcess } from "../sim/process.ts";
import { useSocket } from "./support/env.ts";

Deno.test({
  name: "an NVMe-shaped admin command and event: bitfields, unions and full char arrays both ways",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    await using sim = await startSimProcess();
    using _socket = useSocket(sim.socketPath);
    await using s = await open(acmeStorage);
    assertEquals(s.signature.callbacks.adminCommand.params[0].size, 34, "packed: 34 bytes, not 36");
    const base = {
      fuse: 0,
      nsid: 0,
      result: 0,
      status: { phase: 0, sc: 0, sct: 0, more: 0, dnr: 0 },
      model: "",
    };
    const id = await s.invoke("adminCommand", {
      instance: "vmhba1",
      cmd: { ...base, opcode: "identify", cid: 7, cdw10: { identify: { cns: 1, cntid: 0 } } },
    });
    assertEquals(id.cmd.model, "ACME-NVME-000002", "all 16 bytes, no NUL");
    assertEquals([id.cmd.opcode, id.cmd.cid, id.cmd.status.sc, id.cmd.status.phase], ["identify", 7, 0, 1]);
    // The union comes back with every view of the same word.
    assertEquals(id.cmd.cdw10, {
      raw: 1,
      identify: { cns: 1, cntid: 0 },
      getFeatures: { featureID: 1, sel: 0 },
    });

    const get = (featureID: number) =>
      s.invoke("adminCommand", {
        instance: "vmhba0",
        cmd: { ...base, opcode: "getFeatures", cid: 8, cdw10: { getFeatures: { featureID, sel: 0 } } },
      });
    assertEquals((await get(7)).cmd.result, 0x001f001f);
    const bad = (await get(99)).cmd.status;
    assertEquals([bad.sc, bad.dnr], [2, 1], "invalid field, do not retry");

    const event = s.waitFor("asyncEvent", { timeout: 10_000 });
    const set = await s.invoke("adminCommand", {
      instance: "vmhba0",
      cmd: {
        ...base,
        opcode: "setFeatures",
        cid: 9,
        result: 1,
        cdw10: { getFeatures: { featureID: 2, sel: 0 } },
      },
    });
    assertEquals(set.cmd.status.sc, 0);
    const ev = await event;
    assertEquals(ev.params.event, { type: 2, info: 2, logPage: 0x0c });
    assertEquals(ev.instance?.name, "vmhba0");
    assertEquals((await get(2)).cmd.result, 1);
    // A result given back as input (every union view) is accepted: the views agree.
    const again = await s.invoke("adminCommand", {
      instance: "vmhba0",
      cmd: { ...(await get(2)).cmd, cid: 10 },
    });
    assertEquals([again.cmd.cid, again.cmd.result], [10, 1]);
  },
});
