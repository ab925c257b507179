/**
 * `deno task import-c` on driver interface files written as real drivers write them
 * (test/fixtures/drivers/): a NIC driver with 18 callbacks of two packed parameters, a storage driver
 * with a global and a per-adapter signature (bitfields, unions, a data buffer behind a pointer, a
 * `#pragma pack`), a DDK-style sample with a user callback and packed statistics, an HBA driver whose
 * shared header defines the table and signature (prototypes under `__VMKERNEL__`, an array of records
 * behind one pointer, an entry under `#if`). For each: the
 * generated module and simulator skeleton pass `deno check` and `deno fmt --check`; the JSON equals
 * the expected signature; a C client compiled from the same files drives a simulator running the
 * skeleton with handlers filled in here, and the values round-trip. Then the errors.
 */
import { assert, assertEquals, assertMatch, assertRejects, assertStringIncludes } from "@std/assert";
import { importC, ImportError, signatureFromC, signaturesFromC } from "../cimport/mod.ts";
import { startSimProcess } from "../sim/process.ts";
import { SIM_SOCKET_ENV } from "../abi/facts.ts";
import { open } from "../mod.ts";
import { sendControl } from "../sim/client.ts";
import { useSocket } from "./support/env.ts";
import { signatureFromJson } from "../mgmt/signature_json.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const DRIVERS = `${ROOT}test/fixtures/drivers`;
const hasClang = await new Deno.Command("clang", { args: ["--version"], stdout: "null", stderr: "null" })
  .output()
  .then((o) => o.success, () => false);

async function run(cmd: string, args: string[], env: Record<string, string> = {}, cwd = ROOT) {
  const out = await new Deno.Command(cmd, { args, env, cwd, stdout: "piped", stderr: "piped" }).output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

/** Runs the importer's command line. */
function importCli(args: string[], env: Record<string, string> = {}) {
  return run(Deno.execPath(), ["run", "--allow-all", `${ROOT}cimport/main.ts`, ...args], env);
}

/** Generates the module and skeleton of a fixture into a fresh directory; checks and formats them. */
async function generate(driver: string, extra: string[] = []): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: `vmkmgmt-import-${driver}-` });
  const r = await importCli([
    `${DRIVERS}/${driver}_mgmt.c`,
    "-o",
    `${dir}/${driver}.ts`,
    "--module",
    `${dir}/${driver}_module.ts`,
    ...extra,
  ]);
  assertEquals(r.code, 0, r.stderr);
  assertMatch(r.stderr, /figures checked against the C compiler/);
  return dir;
}

/** `deno check` and `deno fmt --check` of generated files (and the test's wrapper). */
async function checkGenerated(dir: string, files: string[]): Promise<void> {
  const paths = files.map((f) => `${dir}/${f}`);
  const check = await run(Deno.execPath(), ["check", "--no-config", ...paths], {}, dir);
  assertEquals(check.code, 0, `deno check of the generated files:\n${check.stderr}`);
  const fmt = await run(Deno.execPath(), ["fmt", "--check", "--no-config", ...paths.slice(0, 2)], {}, dir);
  assertEquals(fmt.code, 0, `deno fmt --check of the generated files:\n${fmt.stderr}`);
  const lint = await run(Deno.execPath(), ["lint", "--no-config", ...paths.slice(0, 2)], {}, dir);
  assertEquals(lint.code, 0, `deno lint of the generated files:\n${lint.stdout}${lint.stderr}`);
}

/**
 * Builds a fixture's C client from the driver's interface files and our library (`withMgmt`:
 * also its `_mgmt.c`, unless the header the client includes defines everything).
 */
async function buildClient(driver: string, dir: string, withMgmt = true): Promise<string> {
  const make = await run("make", ["-s", "-C", `${ROOT}native`, "lib"]);
  assertEquals(make.code, 0, make.stderr);
  const exe = `${dir}/${driver}_client`;
  const cc = await run("cc", [
    "-std=gnu11",
    "-Wall",
    "-Wextra",
    "-Werror",
    "-pthread",
    "-idirafter",
    `${ROOT}cimport/include`,
    "-o",
    exe,
    `${DRIVERS}/${driver}_client.c`,
    ...(withMgmt ? [`${DRIVERS}/${driver}_mgmt.c`] : []),
    `-L${ROOT}native/build`,
    "-lvmkmgmt",
    `-Wl,-rpath,${ROOT}native/build`,
  ]);
  assertEquals(cc.code, 0, cc.stderr);
  return exe;
}

/**
 * Runs a C client against a simulator running `module`; returns its output lines. `then` runs
 * while that simulator is still up, with its socket.
 */
async function drive(
  exe: string,
  module: string,
  then?: (socket: string) => Promise<void>,
): Promise<string[]> {
  await using sim = await startSimProcess(["--no-demo", "--module", module]);
  const r = await run(exe, [], { [SIM_SOCKET_ENV]: sim.socketPath, VMKMGMT_LIB: "" });
  assertEquals(r.code, 0, `${r.stdout}\n${r.stderr}`);
  await then?.(sim.socketPath);
  return r.stdout.trim().split("\n");
}

/** The same signature, whichever form it was written in (named types or inline). */
const normal = (json: unknown) => signatureFromJson(json).toJson();

async function expected(driver: string): Promise<unknown> {
  return JSON.parse(await Deno.readTextFile(`${DRIVERS}/${driver}_mgmt.expected.json`));
}

const opts = { ignore: !hasClang, sanitizeResources: false, sanitizeOps: false };

/** The NIC driver's generated skeleton, filled in as its vendor would: what the C client is checked against. */
const NIC_WRAPPER = `import { moduleWith } from "./nic_module.ts";
let mtu = 1500;
export default moduleWith({
  mtu: ({ params }) => {
    if (params.pMtu.op === "NIC_MGMT_DEV_OPS_SET") mtu = params.pMtu.mtu;
    const status = params.pDevIface.deviceName === "vmnic0" ? 0 : 2;
    return { pDevIface: { ...params.pDevIface, status }, pMtu: { ...params.pMtu, mtu } };
  },
  pciInfoGet: () => ({
    pPciInfo: { pciBDF: "0000:3b:00.0", vendorId: 0x1924, deviceId: 0x0b03, subVendorId: 0x1924, subDeviceId: 0x8022 },
  }),
  sensorRead: ({ params }) => ({ pSensor: { index: params.pSensor.index, deciCelsius: -125 } }),
  mcdiRequest: ({ params }) => {
    const m = params.pMgmtMcdi;
    const payload = new Array(255).fill(0);
    payload[0] = m.payload[1];
    payload[1] = m.payload[0];
    payload[254] = 0xfeedface;
    return { pMgmtMcdi: { ...m, outlen: 12, flags: 0, host_errno: 0, payload } };
  },
  imgUpdate: async ({ params, copyFromUser }) => {
    const image = await copyFromUser(params.pImgUpdate.pFileBuffer, params.pImgUpdate.size);
    let sum = 0;
    for (const b of image) sum += b;
    return { pDevIface: { ...params.pDevIface, status: sum % 1000003 } };
  },
  ledBlink: ({ params }) => ({
    pDevIface: { ...params.pDevIface, status: params.pDevIface.deviceName === "vmnic10abc" ? 0 : 1 },
  }),
}, [{ id: 1n, name: "vmnic0" }]);
`;

/** The storage driver's skeleton filled in: two adapters, one per-adapter API that copies a page out. */
const STOR_WRAPPER = `import { moduleWith } from "./stor_module.ts";
import { storAdapterSig } from "./stor.ts";
const NAME = "contosoNvme-0000:3b:00.0";
const base = moduleWith({
  listAdapters: () => ({
    header: { status: 0, count: 2 },
    adapters: [
      { name: NAME, pciAddress: "0000:3b:00.0", namespaces: 4, state: 1 },
      { name: "contosoNvme-0000:5e:00.0", pciAddress: "0000:5e:00.0-abc", namespaces: 1, state: -1 },
    ],
  }),
});
export default {
  ...base,
  start: (kernel: Parameters<NonNullable<typeof base.start>>[0]) => {
    const api = kernel.registerApi({
      signature: storAdapterSig(NAME),
      handlers: {
        adminPassthru: async ({ params, copyToUser }) => {
          const c = params.cmd;
          const page = new Uint8Array(c.dataLen);
          page.set(new TextEncoder().encode("CONTOSO cns=" + c.cdw10.identify?.cns + " psdt=" + c.cdw0.psdt));
          page[page.length - 1] = 0xab;
          await copyToUser(c.data as bigint, page);
          return {
            cpl: {
              dw0: c.cdw10.identify?.cntid ?? 0, dw1: (c.cdw12Words?.upper ?? 0) * 0x10000 + c.timeoutMs, sqhd: 0, sqid: 0,
              cid: c.cdw0.cid, p: 1, sc: c.cdw0.opc === 6 ? 0 : 1, sct: 0, m: 0, dnr: 1,
            },
          };
        },
        getHealth: () => ({
          status: 0,
          health: {
            criticalWarning: 2, temperatureK: 310, availableSpare: 100, dataUnitsRead: 123456789012n,
            dataUnitsWritten: 42n, powerOnHours: 8760,
          },
        }),
      },
    });
    return () => void api.unregister();
  },
};
`;

/** The DDK sample's skeleton filled in: getStats answers and sends the user callback. */
const SAMPLE_WRAPPER = `import { moduleWith } from "./sample_module.ts";
export default moduleWith({
  getStats: ({ params, kernel, session, instance }) => {
    kernel.emit("thresholdEvent", { crossed: { queue: 2, drops: 1500, limit: 1000 } }, { session, instance });
    return {
      stats: {
        ...params.stats,
        status: 0,
        uptimeUs: 123456789n,
        loadAverage: 0.75,
        queues: [0, 1, 2, 3].map((q) => ({
          packets: BigInt(q * 1000 + 1), bytes: BigInt(q) * 1500n, drops: q * 500, queue: q, flags: q,
        })),
      },
    };
  },
}, [{ id: 7n, name: "sample0" }]);
`;

/** The HBA driver's skeleton filled in: two adapters of eight slots, ports and VPD. */
const HBA_WRAPPER = `import { moduleWith } from "./hba_module.ts";
const adapter = (i: number) => ({
  name: \`vmhba\${i + 2}\`,
  wwpn: Uint8Array.from([0x21, 0, 0, 0x24, 0xff, 0x7e, 0x10, i]),
  speedGbps: 32,
  ports: 2,
  flags: 1 | (i ? 2 : 0),
  firmware: 0x0c0a0100n + BigInt(i),
});
const empty = { name: "", wwpn: new Uint8Array(8), speedGbps: 0, ports: 0, flags: 0, firmware: 0n };
export default moduleWith({
  listAdapters: () => ({ count: 2, adapters: [0, 1, 2, 3, 4, 5, 6, 7].map((i) => (i < 2 ? adapter(i) : empty)) }),
  getPort: ({ params }) => ({ state: { ...params.state, linkUp: 1, rxFrames: 1000 + params.state.adapter, txFrames: 7 } }),
  readVpd: ({ params }) => ({
    vpd: { partNumber: "LPe35002", serial: \`FC\${params.adapter}-0042\`, revision: 3, reserved: new Uint8Array(7) },
  }),
}, [{ id: 5n, name: "fc0" }]);
`;

/** The GPU driver's skeleton filled in: the typed ioctl commands, and raw bytes for the rest. */
const GPU_WRAPPER = `import { moduleWith } from "./gpu_module.ts";
export default moduleWith({
  ioctl: ({ params }) => {
    const { cmd, arg } = params;
    if (cmd === "GPU_IOCTL_GET_INFO") {
      return { arg: { board: "Contoso A40", memoryMiB: 49152, pciDevice: 0x2235, engines: 84 } };
    }
    if (cmd === "GPU_IOCTL_SET_CLOCK" && !(arg instanceof Uint8Array)) {
      const clock = arg as { domain: number; mhz: number };
      return { arg: { domain: clock.domain, mhz: Math.min(clock.mhz, 1800) } };
    }
    return { arg: (arg as Uint8Array).map((b) => b * 10) };
  },
}, [{ id: 9n, name: "gpu0" }]);
`;

Deno.test({
  name:
    "import-c: a NIC driver (18 callbacks, packed payloads, enum ids, patch 1042) → module, skeleton, C client",
  ...opts,
  fn: async (t) => {
    const dir = await generate("nic");
    try {
      await Deno.writeTextFile(`${dir}/wrapper.ts`, NIC_WRAPPER);
      await checkGenerated(dir, ["nic.ts", "nic_module.ts", "wrapper.ts"]);
      await t.step(
        "the signature: 18 callbacks numbered from 16, the patch masked, packed sizes; --json the same",
        async () => {
          const { nic_mgmtSig } = await import(`file://${dir}/nic.ts`);
          assertEquals(nic_mgmtSig.toJson(), normal(await expected("nic")));
          assertEquals(nic_mgmtSig.list.length, 18);
          assertEquals(
            nic_mgmtSig.revnum,
            0x02010012,
            "VMK_REVISION_FROM_NUMBERS(2, 1, 0, 1042): patch masked to 0x12",
          );
          assertEquals(
            nic_mgmtSig.list.map((c: { id: number }) => c.id),
            Array.from({ length: 18 }, (_, i) => 16 + i),
          );
          assertEquals(nic_mgmtSig.callbacks.mcdiRequest.params.map((p: { size: number }) => p.size), [
            14,
            1032,
          ]);
          assertEquals(nic_mgmtSig.callbacks.pciInfoGet.params[1].dir, "out");
          const json = await importCli([`${DRIVERS}/nic_mgmt.c`, "--json"]);
          assertEquals(JSON.parse(json.stdout), await expected("nic"), "--json gives the same signature");
        },
      );
      await t.step(
        "a C client built on the driver's header drives the filled-in skeleton, a user pointer included",
        async () => {
          const out = await drive(await buildClient("nic", dir), `${dir}/wrapper.ts`);
          const img = out.find((l) => l.startsWith("img "))!.split(" ");
          assertEquals(img[2], img[4], "the driver read the image behind the user pointer");
          assertEquals(out.filter((l) => !l.startsWith("img ")), [
            "instance vmnic0",
            "mtu.set 9000 status 0",
            "mtu.get 9000",
            "pci 0000:3b:00.0 1924:0b03 1924:8022",
            "sensor 2 -125",
            "mcdi outlen 12 flags 0 errno 0 payload a0b0c0d0 11223344 feedface",
            "led status 0",
            "done",
          ]);
        },
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "import-c: a storage driver's global and per-adapter signatures (bitfields, unions, a buffer pointer, pack(4))",
  ...opts,
  fn: async (t) => {
    const dir = await generate("stor", ["--buffer", "stor_adminCmd_t.data=inout:dataLen"]);
    try {
      await t.step("the module: a per-adapter signature made by name, a buffer hint applied", async () => {
        const module = await Deno.readTextFile(`${dir}/stor.ts`);
        assertStringIncludes(module, "export function storAdapterSig(name: string)");
        assertStringIncludes(module, 'data: t.buffer({ dir: "inout", lengthFrom: "dataLen" })');
        await Deno.writeTextFile(`${dir}/wrapper.ts`, STOR_WRAPPER);
      });
      await checkGenerated(dir, ["stor.ts", "stor_module.ts", "wrapper.ts"]);
      const { storGlobalSig, storAdapterSig } = await import(`file://${dir}/stor.ts`);
      await t.step("--json gives both signatures as an array, and the REPL loads it as it is", async () => {
        const json = await importCli([
          `${DRIVERS}/stor_mgmt.c`,
          "--json",
          "--buffer",
          "stor_adminCmd_t.data=inout:dataLen",
          "--name",
          "storAdapterSig=contosoNvme-0000:3b:00.0",
        ]);
        assertEquals(json.code, 0, json.stderr);
        const want = await expected("stor");
        assertEquals(JSON.parse(json.stdout), want);
        // The JSON of several signatures is an array, and the REPL loads it as it is.
        await Deno.writeTextFile(`${dir}/stor.json`, json.stdout);
        const sigs = await run(Deno.execPath(), [
          "run",
          "--allow-all",
          `${ROOT}repl/main.ts`,
          "--no-sim",
          "--json",
          "--sig",
          `${dir}/stor.json`,
          "-c",
          "sigs",
        ]);
        assertEquals(sigs.code, 0, sigs.stderr);
        assertEquals(
          // (not the APIs a simulator running here registered at run time, which sigs lists too)
          JSON.parse(sigs.stdout).signatures.filter((s: { source: string }) =>
            !s.source.startsWith("run time")
          )
            .map((s: { name: string }) => s.name).slice(-2),
          ["contosoStorMgmt", "contosoNvme-0000:3b:00.0"],
        );
        assertEquals(
          [storGlobalSig.toJson(), storAdapterSig("contosoNvme-0000:3b:00.0").toJson()],
          (want as unknown[]).map(normal),
        );
      });
      await t.step(
        "a C client drives both APIs: adapters, a passthrough that copies a page out, health",
        async () => {
          const out = await drive(await buildClient("stor", dir), `${dir}/wrapper.ts`);
          assertEquals(out, [
            "adapters 2 status 0",
            "adapter contosoNvme-0000:3b:00.0 0000:3b:00.0 4 1",
            "adapter contosoNvme-0000:5e:00.0 0000:5e:00.0-abc 1 -1",
            "cpl cid beef sc 0 sct 0 dnr 1 p 1 dw0 77 dw1 5a5a09c4",
            "page CONTOSO cns=1 psdt=1 171",
            "health 0 2 310 100 123456789012 42 8760",
            "reset 0",
            "done",
          ]);
        },
      );
      await t.step(
        "the skeleton as generated answers zeroed outputs; the per-adapter API is added by its control op",
        async () => {
          // The skeleton as generated: every kernel callback answers zeroed outputs, and the per-adapter
          // API is registered under a name by its control op.
          await using sim = await startSimProcess(["--no-demo", "--module", `${dir}/stor_module.ts`]);
          using _socket = useSocket(sim.socketPath);
          assertEquals(
            await sendControl(sim.socketPath, { op: "add-storAdapterSig", name: "contosoNvme-x" }),
            { registered: "contosoNvme-x" },
          );
          await using adapter = await open(storAdapterSig("contosoNvme-x"));
          // (The module was imported at run time, so its types are not known here.)
          const health = await adapter.invoke("getHealth", {}) as unknown as {
            status: number;
            health: { dataUnitsRead: bigint };
          };
          assertEquals(health.status, 0);
          assertEquals(health.health.dataUnitsRead, 0n);
          await using global = await open(storGlobalSig);
          const list = await global.invoke("listAdapters", { adapters: 8 } as never) as unknown as {
            header: unknown;
          };
          assertEquals(list.header, { status: 0, count: 0 });
        },
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "import-c: a DDK-style sample with a user callback and packed statistics; the API for tools",
  ...opts,
  fn: async (t) => {
    const dir = await generate("sample");
    try {
      await Deno.writeTextFile(`${dir}/wrapper.ts`, SAMPLE_WRAPPER);
      await checkGenerated(dir, ["sample.ts", "sample_module.ts", "wrapper.ts"]);
      await t.step("the signature, with its user callback", async () => {
        const sig = await signatureFromC([`${DRIVERS}/sample_mgmt.c`]);
        assertEquals(sig.toJson(), normal(await expected("sample")));
        assertEquals(sig.callbacks.thresholdEvent.location, "user");
      });
      await t.step(
        "the C client and the REPL drive the same skeleton; describe shows the C comments",
        async () => {
          let repl = "";
          const out = await drive(await buildClient("sample", dir), `${dir}/wrapper.ts`, async (socket) => {
            // The REPL takes the C file as it is, and drives the same skeleton.
            const queue = { packets: 0, bytes: 0, drops: 0, queue: 0, flags: 0 };
            const stats = JSON.stringify({
              status: 0,
              device: "eth1",
              uptimeUs: 0,
              queues: [queue, queue, queue, queue],
              loadAverage: 0,
            });
            const r = await run(Deno.execPath(), [
              "run",
              "--allow-all",
              `${ROOT}repl/main.ts`,
              "--no-sim",
              "--sig",
              `${DRIVERS}/stor_mgmt.c`,
              "--sig",
              `${DRIVERS}/sample_mgmt.c`,
              "-c",
              `sigs; open sampleDrvMgmt; describe getStats; call getStats sample0 stats=${stats}`,
            ], { NO_COLOR: "1", [SIM_SOCKET_ENV]: socket });
            assertEquals(r.code, 0, r.stderr);
            repl = r.stdout;
          });
          for (const s of ["contosoStorMgmt", "sampleDrvMgmt", "loadAverage", "f32", "123456789", "eth1"]) {
            assertStringIncludes(repl, s);
          }
          // describe shows the comments the C has on the types and their members.
          assertMatch(repl, /Device statistics\./);
          assertMatch(repl, /device +char\[16\] +@4, 16 bytes +which device/);
          assertMatch(
            repl,
            /each of 4 \(sample_queueStats_t, 23 bytes apart\), the first:\n +Statistics of one queue/,
          );
          assertEquals(out.filter((l) => !l.startsWith("event")), [
            "stats status 0 device eth0 uptime 123456789 load 0.75",
            "queue 0 packets 1 bytes 0 drops 0 flags 0",
            "queue 1 packets 1001 bytes 1500 drops 500 flags 1",
            "queue 2 packets 2001 bytes 3000 drops 1000 flags 2",
            "queue 3 packets 3001 bytes 4500 drops 1500 flags 3",
            "done 1",
          ]);
          assertEquals(out.filter((l) => l.startsWith("event")), [
            "event cookie 42 instance 7 queue 2 drops 1500 limit 1000",
          ]);
        },
      );
      await t.step(
        "the API for tools: signaturesFromC gives the signatures and the ones named at run time",
        async () => {
          const stor = await signaturesFromC([`${DRIVERS}/stor_mgmt.c`]);
          assertEquals(stor.signatures.map((s) => s.name), ["contosoStorMgmt"]);
          assertEquals(stor.named.map((n) => n.variable), ["storAdapterSig"]);
          assertEquals(stor.named[0].make("contosoNvme-x").name, "contosoNvme-x");
        },
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "import-c: an HBA driver whose shared header defines everything (guards, cookies/envelope, an array of records, #if entries)",
  ...opts,
  fn: async () => {
    const dir = await generate("hba");
    try {
      await Deno.writeTextFile(`${dir}/wrapper.ts`, HBA_WRAPPER);
      await checkGenerated(dir, ["hba.ts", "hba_module.ts", "wrapper.ts"]);
      const { hbaSignature } = await import(`file://${dir}/hba.ts`);
      assertEquals(hbaSignature.toJson(), normal(await expected("hba")));
      const list = hbaSignature.callbacks.listAdapters.params;
      assertEquals(list.map((p: { name: string; size: number }) => [p.name, p.size]), [["count", 4], [
        "adapters",
        8 * 56,
      ]]);
      assertEquals(list[1].type.kind, "array", "sizeof(struct hbaAdapterInfo) * HBA_MAX_ADAPTERS: 8 records");
      assertEquals(
        hbaSignature.callbacks.readVpd.params[1].type.name,
        "hbaVpd",
        "a byte pointer sized by a struct",
      );

      // The debug build's entry, with the user's -D: four callbacks (numCallbacks is a sizeof).
      const debug = await importC({ files: [`${DRIVERS}/hba_mgmt.c`], defines: ["HBA_DEBUG_FEATURE=1"] });
      const callbacks = debug.signatures[0].json.callbacks;
      assertEquals(Object.keys(callbacks), ["listAdapters", "getPort", "readVpd", "traceDump"]);
      assertEquals(callbacks.traceDump.params, {
        trace: { dir: "out", type: { bytes: 512 }, doc: "C: vmk_uint8 *trace" },
      });

      const out = await drive(await buildClient("hba", dir, false), `${dir}/wrapper.ts`);
      assertEquals(out, [
        "adapters 2",
        "adapter 0 vmhba2 wwpn 21000024ff7e1000 speed 32 ports 2 flags 1 fw c0a0100",
        "adapter 1 vmhba3 wwpn 21000024ff7e1001 speed 32 ports 2 flags 3 fw c0a0101",
        "port 1.0 up 1 rx 1001 tx 7",
        "vpd LPe35002 FC1-0042 rev 3",
        "done",
      ]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "import-c: a GPU driver's ioctl callback — the commands from its _IOWR macros, typed payloads, unknown ones as bytes",
  ...opts,
  fn: async (t) => {
    const dir = await generate("gpu");
    try {
      await Deno.writeTextFile(`${dir}/wrapper.ts`, GPU_WRAPPER);
      await checkGenerated(dir, ["gpu.ts", "gpu_module.ts", "wrapper.ts"]);
      const { gpuSignature } = await import(`file://${dir}/gpu.ts`);
      await t.step("the commands from its _IOWR macros, each with its payload type", async () => {
        assertEquals(gpuSignature.toJson(), normal(await expected("gpu")));
        const codes = [...gpuSignature.callbacks.ioctl.params[1].commands.entries()].map((
          [k, v]: [bigint, { name: string; type: { name: string } }],
        ) => [k, v.name, v.type.name]);
        assertEquals(codes, [
          [0x80204701n, "GPU_IOCTL_GET_INFO", "gpu_info_t"],
          [0xc0084702n, "GPU_IOCTL_SET_CLOCK", "gpu_clock_t"],
        ]);
      });
      await t.step("the C client and TypeScript drive the skeleton by command", async () => {
        const out = await drive(await buildClient("gpu", dir), `${dir}/wrapper.ts`, async (socket) => {
          // The same skeleton from TypeScript, by command name.
          using _socket = useSocket(socket);
          await using s = await open(gpuSignature);
          const r = await s.invoke(
            "ioctl" as never,
            { instance: "gpu0", cmd: "GPU_IOCTL_SET_CLOCK", arg: { domain: 0, mhz: 2500 } } as never,
          ) as Record<string, unknown>;
          assertEquals(
            r.arg,
            { domain: 0, mhz: 1800 },
          );
        });
        assertEquals(out, [
          "info Contoso A40 49152 MiB device 2235 engines 84",
          "clock 1 1800",
          "raw 0 10 20 30 40",
          "done",
        ]);
      });
      await t.step(
        "a --commands hint file does the same; one that names nothing says what would fit",
        async () => {
          // With a hint file instead (here: the same commands, one of them by number).
          const hint = `${dir}/commands.json`;
          await Deno.writeTextFile(
            hint,
            JSON.stringify({ "ioctl.arg": { command: "cmd", types: { "0x80204701": "gpu_info_t" } } }),
          );
          const hinted = await importCli([`${DRIVERS}/gpu_mgmt.c`, "--json", "--commands", hint]);
          assertEquals(hinted.code, 0, hinted.stderr);
          assertEquals(JSON.parse(hinted.stdout).callbacks.ioctl.params.arg.type, {
            byCommand: "cmd",
            commands: { "2149598977": "gpu_info_t" },
          });
          await Deno.writeTextFile(hint, JSON.stringify({ "ioctl.args": { types: { "1": "gpu_info_t" } } }));
          const wrong = await importCli([`${DRIVERS}/gpu_mgmt.c`, "--json", "--commands", hint]);
          assertEquals(wrong.code, 1);
          assertStringIncludes(
            wrong.stderr,
            "--commands ioctl.args: no callback ioctl with a vector parameter args",
          );
          assertStringIncludes(wrong.stderr, "ioctl.arg would fit");
        },
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/** Writes a driver interface file into a temp dir and imports it, expecting an error. */
async function importError(
  source: string,
  extra: Partial<Parameters<typeof importC>[0]> = {},
): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "vmkmgmt-import-err-" });
  try {
    await Deno.writeTextFile(`${dir}/drv.c`, source);
    const e = await assertRejects(() => importC({ files: [`${dir}/drv.c`], ...extra }), ImportError);
    return e.message;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const SIG = (table: string, n: number) => `
${table}
vmk_MgmtApiSignature drvSig = {
  .version = VMK_REVISION_FROM_NUMBERS(1, 0, 0, 0),
  .name.string = "drv", .vendor.string = "v",
  .numCallbacks = ${n}, .callbacks = drvCallbacks,
};`;
const ENTRY = (sizes: string, types = "VMK_MGMT_PARMTYPE_INOUT") =>
  `{
    .location = VMK_MGMT_CALLBACK_KERNEL, .callback = NULL, .synchronous = 1, .numParms = 1,
    .parmSizes = { ${sizes} }, .parmTypes = { ${types} }, .callbackId = VMK_MGMT_RESERVED_CALLBACKS + 1 }`;

Deno.test({
  name: "import-c: errors name what is wrong; what it finds in headers, command tables and byte pointers",
  ...opts,
  fn: async (t) => {
    await t.step("a header alone defines no signature", async () => {
      // A header alone defines no signature.
      const none = await assertRejects(() => importC({ files: [`${DRIVERS}/nic_mgmt.h`] }), ImportError);
      assertStringIncludes(none.message, "no vmk_MgmtApiSignature is defined in");
    });
    await t.step("a construct the type model cannot express is named with its line", async () => {
      // A construct the type model cannot express: the error names it and its line.
      const ld = await importError(`#include <vmkapi.h>
typedef struct { vmk_uint32 status;
  long double value; } __attribute__((packed)) reading_t;
vmk_MgmtCallbackInfo drvCallbacks[] = { ${ENTRY("sizeof(reading_t)")} };${SIG("", 1)}`);
      assertMatch(ld, /drv\.c:3: long double is not supported/);
      const flex = await importError(`#include <vmkapi.h>
typedef struct { vmk_uint32 n; vmk_uint8 data[]; } blob_t;
vmk_MgmtCallbackInfo drvCallbacks[] = { ${ENTRY("sizeof(blob_t)")} };${SIG("", 1)}`);
      assertMatch(flex, /drv\.c:2: .*flexible array/);
    });
    await t.step("the table's size disagreeing with the kernel callback's prototype is named", async () => {
      // The table's size disagrees with the kernel callback's prototype.
      const mismatch = await importError(`#include <vmkapi.h>
typedef struct { vmk_uint32 status; char name[10]; } __attribute__((packed)) dev_t14;
#ifdef VMKERNEL
VMK_ReturnStatus drvGet(vmk_MgmtCookies *c, vmk_MgmtEnvelope *e, dev_t14 *dev);
#else
#define drvGet NULL
#endif
vmk_MgmtCallbackInfo drvCallbacks[] = { {
    .location = VMK_MGMT_CALLBACK_KERNEL, .callback = drvGet, .synchronous = 1, .numParms = 1,
    .parmSizes = { 16 }, .parmTypes = { VMK_MGMT_PARMTYPE_INOUT }, .callbackId = 16 } };${SIG("", 1)}`);
      assertMatch(
        mismatch,
        /callback drvGet parameter 1 \(dev\): the table's parmSizes\[0\] is 16 but its type dev_t14 is 14 bytes/,
      );
      const wrongType = await importError(`#include <vmkapi.h>
typedef struct { vmk_uint32 a; } a_t;
typedef struct { vmk_uint64 b; } b_t;
#ifdef VMKERNEL
VMK_ReturnStatus drvGet(vmk_MgmtCookies *c, vmk_MgmtEnvelope *e, b_t *b);
#else
#define drvGet NULL
#endif
vmk_MgmtCallbackInfo drvCallbacks[] = { {
    .location = VMK_MGMT_CALLBACK_KERNEL, .callback = drvGet, .synchronous = 1, .numParms = 1,
    .parmSizes = { sizeof(a_t) }, .parmTypes = { VMK_MGMT_PARMTYPE_INOUT }, .callbackId = 16 } };${
        SIG("", 1)
      }`);
      assertMatch(
        wrongType,
        /the table says sizeof\(a_t\) \(4 bytes\) but the prototype's parameter is b_t \* \(8 bytes\)/,
      );
    });
    await t.step("a pointer to records sized by no whole number of them is named", async () => {
      // A pointer to records sized by something that is not a whole number of them; the guard here is
      // VMK_KERNEL (the prototype is read: the parameter's name is its own).
      const partial = await importError(`#include <vmkapi.h>
typedef struct { vmk_uint32 id; vmk_uint16 ports; vmk_uint16 flags; } rec_t;
#ifdef VMK_KERNEL
VMK_ReturnStatus drvList(vmk_MgmtCookies *c, vmk_MgmtEnvelope *e, rec_t *records);
#else
#define drvList NULL
#endif
vmk_MgmtCallbackInfo drvCallbacks[] = { {
    .location = VMK_MGMT_CALLBACK_KERNEL, .callback = drvList, .synchronous = 1, .numParms = 1,
    .parmSizes = { sizeof(rec_t) * 3 + 2 }, .parmTypes = { VMK_MGMT_PARMTYPE_OUT }, .callbackId = 16 } };${
        SIG("", 1)
      }`);
      assertMatch(
        partial,
        /parameter 1 \(records\): the table's parmSizes\[0\] is 26 \(sizeof\(rec_t\) \* 3 \+ 2\) but its type rec_t is 8 bytes, and 26 is not a whole number of them/,
      );
    });
    await t.step("the table is found in the headers the file includes, never in system headers", async () => {
      // The table in a header the file given includes (found under -I or by a path), never in a
      // system header; without one, the message says where it looked.
      const tree = await Deno.makeTempDir({ prefix: "vmkmgmt-import-own-" });
      try {
        await Deno.mkdir(`${tree}/drv/include`, { recursive: true });
        await Deno.mkdir(`${tree}/tools`);
        await Deno.writeTextFile(
          `${tree}/drv/include/drv_mgmt.h`,
          `#include <vmkapi.h>
#ifdef __VMKERNEL_MODULE__
VMK_ReturnStatus drvList(vmk_MgmtCookies *c, vmk_MgmtEnvelope *e, vmk_uint32 *count);
#else
#define drvList NULL
#endif
static vmk_MgmtCallbackInfo drvCallbacks[] = { {
    .location = VMK_MGMT_CALLBACK_KERNEL, .callback = drvList, .synchronous = 1, .numParms = 1,
    .parmSizes = { sizeof(vmk_uint32) }, .parmTypes = { VMK_MGMT_PARMTYPE_OUT }, .callbackId = 16 } };
static ${SIG("", 1).trim()}`,
        );
        const params = { count: { dir: "out", type: "u32", doc: "C: vmk_uint32 *count" } };
        await Deno.writeTextFile(`${tree}/tools/tool.c`, `#include "drv_mgmt.h"\n`);
        const viaI = await importC({ files: [`${tree}/tools/tool.c`], includes: [`${tree}/drv/include`] });
        assertEquals(viaI.signatures[0].json.callbacks.drvList.params, params);
        await Deno.writeTextFile(`${tree}/tools/tool.c`, `#include "../drv/include/drv_mgmt.h"\n`);
        const viaPath = await importC({ files: [`${tree}/tools/tool.c`] });
        assertEquals(viaPath.signatures[0].json.callbacks.drvList.params, params);
        await Deno.writeTextFile(`${tree}/tools/tool.c`, `#include <stdio.h>\n`);
        const none = await assertRejects(() => importC({ files: [`${tree}/tools/tool.c`] }), ImportError);
        assertStringIncludes(
          none.message,
          `no vmk_MgmtApiSignature is defined in ${tree}/tools/tool.c and the headers they include (not system headers)`,
        );
      } finally {
        await Deno.remove(tree, { recursive: true });
      }
    });
    await t.step(
      "an ioctl-style callback's commands are paired with their payload types by the driver's table",
      async () => {
        // An ioctl-style callback whose commands a table pairs with their payload types.
        const sw = await Deno.makeTempDir({ prefix: "vmkmgmt-import-cmds-" });
        try {
          await Deno.writeTextFile(
            `${sw}/sw_mgmt.c`,
            `#include <vmkapi.h>
typedef struct { vmk_uint16 port; vmk_uint16 vlan; } sw_port_t;
struct sw_stats { vmk_uint64 rx; vmk_uint64 tx; };
enum sw_cmd { SW_GET_PORT = 0x101, SW_GET_STATS = 0x102 };
/* The driver checks each command's payload size against this table. */
static const struct { vmk_uint32 cmd; vmk_uint32 size; } swCommands[] = {
  { SW_GET_PORT, sizeof(sw_port_t) },
  { SW_GET_STATS, sizeof(struct sw_stats) },
};
#ifdef VMKERNEL
VMK_ReturnStatus swIoctl(vmk_MgmtCookies *c, vmk_MgmtEnvelope *e, vmk_uint32 *cmd, vmk_MgmtVectorParm *arg);
#else
#define swIoctl NULL
#endif
vmk_MgmtCallbackInfo drvCallbacks[] = { {
    .location = VMK_MGMT_CALLBACK_KERNEL, .callback = swIoctl, .synchronous = 1, .numParms = 2,
    .parmSizes = { sizeof(vmk_uint32), 1 },
    .parmTypes = { VMK_MGMT_PARMTYPE_IN, VMK_MGMT_PARMTYPE_VECTOR_INOUT }, .callbackId = 16 } };${
              SIG("", 1)
            }`,
          );
          const r = await importC({ files: [`${sw}/sw_mgmt.c`] });
          const params = r.signatures[0].json.callbacks.swIoctl.params!;
          assertEquals(params.cmd.type, { enum: { SW_GET_PORT: 0x101, SW_GET_STATS: 0x102 }, base: "u32" });
          assertEquals(params.arg.type, {
            byCommand: "cmd",
            commands: { SW_GET_PORT: "sw_port_t", SW_GET_STATS: "sw_stats" },
          });
        } finally {
          await Deno.remove(sw, { recursive: true });
        }
      },
    );
    await t.step("a byte pointer in the prototype takes the table's sizeof(T), with no warning", async () => {
      // A byte pointer in the prototype says nothing of the type: the table's sizeof(T) is used, no error.
      const dir = await Deno.makeTempDir({ prefix: "vmkmgmt-import-ok-" });
      try {
        await Deno.writeTextFile(
          `${dir}/drv.c`,
          `#include <vmkapi.h>
typedef struct { vmk_uint32 len; vmk_uint8 data[60]; } __attribute__((packed)) blob_t;
#ifdef VMKERNEL
VMK_ReturnStatus drvPut(vmk_MgmtCookies *c, vmk_MgmtEnvelope *e, vmk_uint8 *raw);
#else
#define drvPut NULL
#endif
vmk_MgmtCallbackInfo drvCallbacks[] = { {
    .location = VMK_MGMT_CALLBACK_KERNEL, .callback = drvPut, .synchronous = 1, .numParms = 1,
    .parmSizes = { sizeof(blob_t) }, .parmTypes = { VMK_MGMT_PARMTYPE_IN }, .callbackId = 16 } };${
            SIG("", 1)
          }`,
        );
        const r = await importC({ files: [`${dir}/drv.c`] });
        assertEquals(r.signatures[0].json.callbacks.drvPut.params, {
          raw: { dir: "in", type: "blob_t", doc: "C: vmk_uint8 *raw" },
        });
        assertEquals(r.warnings, []);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    });
    await t.step("a file that does not compile: clang's error with its line", async () => {
      // A file that does not compile: clang's error with its line.
      const broken = await importError(`#include <vmkapi.h>\nvmk_uint32 x = ;\n`);
      assertMatch(broken, /do not compile with clang[\s\S]*drv\.c:2:\d+: error/);
    });
    await t.step("a --buffer hint that names nothing", async () => {
      // A --buffer hint that names nothing.
      const hint = await assertRejects(
        () =>
          importC({
            files: [`${DRIVERS}/sample_mgmt.c`],
            buffers: { "sample_stats_t.nope": { dir: "in", length: 4 } },
          }),
        ImportError,
      );
      assertStringIncludes(hint.message, "--buffer sample_stats_t.nope: no such member");
    });
    await t.step("several signatures asked for one; a name set at run time not given", async () => {
      // Several signatures and a name set at run time, asked for one.
      const several = await assertRejects(() => signatureFromC([`${DRIVERS}/stor_mgmt.c`]), ImportError);
      assertStringIncludes(several.message, "define 2 signatures (storGlobalSig, storAdapterSig)");
      const unnamed = await importCli([`${DRIVERS}/stor_mgmt.c`, "--json"]);
      assertEquals(unnamed.code, 1);
      assertStringIncludes(
        unnamed.stderr,
        "storAdapterSig: the name is set at run time; give it with --name storAdapterSig=NAME",
      );
      assert(!unnamed.stderr.includes("    at "), "no stack trace");
    });
    await t.step("no clang: the error names the package; a missing file is named", async () => {
      // No clang: the error names the package.
      const noClang = await importCli([`${DRIVERS}/sample_mgmt.c`], { VMKMGMT_CLANG: "/nonexistent/clang" });
      assertEquals(noClang.code, 1);
      assertStringIncludes(noClang.stderr, "apt-get install -y clang");
      const missing = await importCli([`${DRIVERS}/nope.c`]);
      assertStringIncludes(missing.stderr, "nope.c: no such file");
    });
  },
});
