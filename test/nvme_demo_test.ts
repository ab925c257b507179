/**
 * The NVMe-like demo driver through the real path (libvmkmgmt.so and a simulator process): a global
 * API and per-adapter APIs named by the kernel, hot-plugged at run time; identify into a 4 KiB user
 * buffer; firmware from a user buffer; a bad pointer reported in the driver's status; admin commands
 * with bitfields and a union moving data through a user pointer; session hooks.
 */
import { assert, assertEquals, assertRejects, assertThrows } from "@std/assert";
import { acmeNvme, acmeNvmeAdapter, IdentifyController } from "../demo.ts";
import { crc32, decodeBytes, open, ValueError, VmkMgmtError } from "../mod.ts";
import { sendControl } from "../sim/client.ts";
import { startSimProcess } from "../sim/process.ts";
import { useSocket } from "./support/env.ts";
import { waitUntil } from "./support/wait.ts";

const ascii = (b: Uint8Array, at: number, n: number) =>
  new TextDecoder().decode(b.subarray(at, at + n)).trimEnd();

Deno.test({
  name: "NVMe demo: per-adapter APIs, hot-plug, identify and firmware through user buffers, bad pointers",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    await using sim = await startSimProcess();
    using _socket = useSocket(sim.socketPath);
    await using nvme = await open(acmeNvme);
    const { adapters } = await nvme.invoke("listAdapters", { adapters: 32 });
    await t.step(
      "the global API lists the adapters: a version from the C macro, a full char[16]",
      async () => {
        assertEquals(acmeNvme.version, "1.0.0.239", "VMK_REVISION_FROM_NUMBERS(1,0,0,1007)");
        const { count } = await nvme.invoke("listAdapters", { adapters: 32 });
        assertEquals(count, 2);
        assertEquals(adapters.map((a) => a.name), ["acmeNvme-0000:3b:00.0", "acmeNvme-0000:5e:00.0"]);
        assertEquals(adapters[0].model, "ACME NVMe 7450 P", "a full char[16]");
      },
    );
    await t.step(
      "identify fills the caller's page; the session hooks count the adapter's sessions",
      async () => {
        await using ctrl = await open(acmeNvmeAdapter(adapters[0].name));
        const page = new Uint8Array(4096);
        const id = await ctrl.invoke("identify", { request: { cns: 1, nsid: 0, page, status: 1 } });
        assertEquals(id.request.status, 0);
        assert(id.request.page === page, "the result gives the caller's page back");
        assertEquals([ascii(page, 4, 20), ascii(page, 24, 40), ascii(page, 64, 8)], [
          "ACN00003B000",
          "ACME NVMe 7450 PRO",
          "1.0.0",
        ]);
        // The same page read by field, as the identify-controller struct it holds.
        const head = decodeBytes(IdentifyController, page);
        assertEquals([head.vid, head.sn.trimEnd(), head.mn.trimEnd(), head.fr.trimEnd()], [
          0x1986,
          "ACN00003B000",
          "ACME NVMe 7450 PRO",
          "1.0.0",
        ]);
        // The forms the REPL's call takes work in code too: a buffer made for the call comes back.
        const made = await ctrl.invoke("identify", {
          request: { cns: 1, nsid: 0, page: { length: 4096 } as unknown as Uint8Array, status: 0 },
        });
        assertEquals(decodeBytes(IdentifyController, made.request.page as Uint8Array).fr.trimEnd(), "1.0.0");
        await assertRejects(
          () => ctrl.invoke("identify", { request: { cns: 1, nsid: 0, page: "x" as never, status: 0 } }),
          ValueError,
          "expected a caller buffer — a Uint8Array, { length: n } for n zero bytes the kernel fills, or { bytes } to send — or an address",
        );
        assertThrows(
          () => decodeBytes(IdentifyController, page.subarray(0, 16)),
          RangeError,
          "IdentifyController is 72 bytes; 16 bytes from offset 0 do not hold it",
        );
        assertThrows(
          () => decodeBytes(IdentifyController, 0n as never),
          TypeError,
          "decodeBytes: expected a Uint8Array (the bytes to read), got",
        );
        // The session hook counted this session.
        assertEquals((await nvme.invoke("listAdapters", { adapters: 32 })).adapters[0].sessions, 1);
        await ctrl.close();
        await waitUntil(
          async () => (await nvme.invoke("listAdapters", { adapters: 32 })).adapters[0].sessions === 0,
          "the close hook",
        );
      },
    );
    await t.step(
      "firmware from a user buffer: the kernel reads it, returns its CRC and takes its revision",
      async () => {
        await using ctrl = await open(acmeNvmeAdapter(adapters[0].name));
        const page = new Uint8Array(4096);
        // Firmware from a user buffer: the kernel reads it, returns its CRC, and takes its revision.
        const image = new Uint8Array(256 * 1024).map((_, i) => (i * 7) & 0xff);
        image.set(new TextEncoder().encode("2.4.1\0\0\0"));
        const fw = await ctrl.invoke("firmwareDownload", {
          request: { image, size: image.length, crc: 0, status: 1 },
        });
        assertEquals([fw.request.status, fw.request.crc], [0, crc32(image)]);
        await ctrl.invoke("identify", { request: { cns: 1, nsid: 0, page, status: 1 } });
        assertEquals(ascii(page, 64, 8), "2.4.1");
      },
    );
    await t.step("a bad pointer is the driver's error status, never a crash", async () => {
      await using ctrl = await open(acmeNvmeAdapter(adapters[0].name));
      // A bad pointer is the driver's error status, never a crash.
      const bad = await ctrl.invoke("identify", { request: { cns: 1, nsid: 0, page: 16n, status: 1 } });
      assertEquals(bad.request.status, -14);
      const badFw = await ctrl.invoke("firmwareDownload", {
        request: { image: 8n, size: 64, crc: 0, status: 1 },
      });
      assertEquals(badFw.request.status, -14);
    });
    await t.step("admin commands: bitfields, a union, data through a user pointer", async () => {
      await using ctrl = await open(acmeNvmeAdapter(adapters[0].name));
      // Admin commands: bitfields, a union, data through a user pointer.
      const cmd = (over: Record<string, unknown>) => ({
        opcode: "getFeatures" as const,
        cid: 1,
        nsid: 0,
        cdw10: { raw: 0 },
        data: 0n,
        dataLength: 0,
        result: 0,
        sc: 0,
        dnr: 0,
        ...over,
      });
      const q = await ctrl.invoke("adminPassthru", {
        cmd: cmd({ cdw10: { getFeatures: { featureID: 7, sel: 0 } } }),
      });
      assertEquals([q.cmd.sc, q.cmd.result], [0, 0x001f001f]);
      const log = new Uint8Array(512);
      const smart = await ctrl.invoke("adminPassthru", {
        cmd: cmd({
          opcode: "getLogPage",
          data: log,
          dataLength: 512,
          cdw10: { getLogPage: { lid: 2, numDwords: 127 } },
        }),
      });
      assertEquals([smart.cmd.sc, log[1], log[2]], [0, 0x3a, 0x01]);
      const bogus = await ctrl.invoke("adminPassthru", { cmd: cmd({ opcode: 0x7f }) });
      assertEquals([bogus.cmd.sc, bogus.cmd.dnr], [1, 1]);
    });
    await t.step(
      "hot-plug: an API appears under a name the kernel makes up, and goes away again",
      async () => {
        // Hot-plug: an API appears under a name the kernel makes up, and goes away again.
        const added = nvme.waitFor("adapterEvent", { timeout: 10_000 });
        const r = await sendControl(sim.socketPath, { op: "hotplug", pci: "0000:af:00.0" }) as {
          added: string;
        };
        assertEquals(r.added, "acmeNvme-0000:af:00.0");
        assertEquals((await added).params, { kind: "added", name: "acmeNvme-0000:af:00.0" });
        const hot = await open(acmeNvmeAdapter(r.added));
        const page = new Uint8Array(4096);
        assertEquals(
          (await hot.invoke("identify", { request: { cns: 1, nsid: 0, page, status: 1 } })).request.status,
          0,
        );
        const removed = nvme.waitFor("adapterEvent", { timeout: 10_000 });
        await sendControl(sim.socketPath, { op: "hotplug", pci: "0000:af:00.0", remove: true });
        assertEquals((await removed).params.kind, "removed");
        // Its sessions are closed: calls fail with EIO; a new session finds no such API.
        await assertRejects(
          () => hot.invoke("identify", { request: { cns: 1, nsid: 0, page, status: 1 } }),
          VmkMgmtError,
        );
        await hot.close();
        const e = await assertRejects(() => open(acmeNvmeAdapter(r.added)), VmkMgmtError);
        assertEquals(e.code, "ENODEV");
        assertEquals((await nvme.invoke("listAdapters", { adapters: 32 })).count, 2);
      },
    );
  },
});
