/**
 * Kernel side of the `acmeNvmeMgmt` demo driver, played as a real NVMe driver does it: a global API
 * that lists adapters, and one API per adapter, named by the kernel and registered and removed as
 * adapters come and go (`sim hotplug pci=… [remove=true]`). Identify fills a 4 KiB page in the
 * caller's memory, firmware download reads an image from it; a bad pointer becomes the driver's
 * error status, as a real driver reports a failed vmk_CopyFromUser/ToUser.
 * @module
 */
import { ERRNO } from "../../abi/facts.ts";
import {
  ACME_NVME_ADAPTER_PREFIX,
  acmeNvme,
  acmeNvmeAdapter,
  type AdapterInfoValue,
  type NvmeCommandValue,
} from "../../mgmt/demo/acme_nvme.ts";
import { crc32 } from "../../util/crc32.ts";
import { defineModule, KernelError, type ModuleContext } from "../module.ts";
import type { AcmeNvmeDef } from "../../mgmt/demo/acme_nvme.ts";

/** The global API's context. */
type Global = ModuleContext<AcmeNvmeDef>;

/** What the driver knows of one adapter. */
interface Adapter {
  pci: string;
  serial: string;
  model: string;
  firmware: string;
  /** The adapter's own API, while it is present. */
  api: ModuleContext;
  /** Sessions open on it (the session hooks count them). */
  sessions: number;
}

/** The adapters of each kernel (a module may be loaded into several simulators in one process). */
const drivers = new WeakMap<Global, Map<string, Adapter>>();

function adaptersOf(global: Global): Map<string, Adapter> {
  let m = drivers.get(global);
  if (!m) drivers.set(global, m = new Map());
  return m;
}

const text = new TextEncoder();

/** The identify-controller page, laid out as NVMe lays it: serial @4, model @24, firmware @64. */
function identifyPage(a: Adapter): Uint8Array {
  const page = new Uint8Array(4096);
  const put = (s: string, at: number, n: number) => page.set(text.encode(s.padEnd(n, " ").slice(0, n)), at);
  page[0] = 0x86; // PCI vendor id, little-endian (0x1986)
  page[1] = 0x19;
  put(a.serial, 4, 20);
  put(a.model, 24, 40);
  put(a.firmware, 64, 8);
  return page;
}

/** Runs `copy`; a failed copy of the caller's memory is the driver's status, not a failed call. */
async function status(copy: () => Promise<void>): Promise<number> {
  try {
    await copy();
    return 0;
  } catch (e) {
    if (e instanceof KernelError && e.errno === ERRNO.EFAULT) return -ERRNO.EFAULT;
    throw e;
  }
}

/** Plugs an adapter in: its API is registered under a name the kernel makes up. */
function plug(global: Global, pci: string): Adapter {
  const adapters = adaptersOf(global);
  if (adapters.has(pci)) throw new Error(`adapter ${pci} is already present`);
  if (!/^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/.test(pci)) {
    throw new Error(`pci: expected an address such as 0000:3b:00.0, got ${JSON.stringify(pci)}`);
  }
  const n = adapters.size;
  const adapter = {
    pci,
    serial: `ACN${pci.replace(/[:.]/g, "").toUpperCase()}`,
    model: "ACME NVMe 7450 PRO", // 18 characters: fills the 16-byte model of AdapterInfo
    firmware: `1.${n}.0`,
    sessions: 0,
  } as Adapter;
  const name = `${ACME_NVME_ADAPTER_PREFIX}${pci}`;
  adapter.api = global.registerApi({
    signature: acmeNvmeAdapter(name),
    sessionOpened: () => void adapter.sessions++,
    sessionClosed: () => void adapter.sessions--,
    handlers: {
      async adminPassthru({ params, copyToUser }) {
        const cmd = params.cmd;
        const done = (sc: number, result = 0): { cmd: NvmeCommandValue } => ({
          cmd: { ...cmd, sc, dnr: sc === 0 ? 0 : 1, result },
        });
        switch (cmd.opcode) {
          case "identify": {
            if (cmd.dataLength < 4096) return done(2);
            const rc = await status(() => copyToUser(cmd.data as bigint, identifyPage(adapter)));
            return rc === 0 ? done(0) : done(0x14);
          }
          case "getFeatures": {
            const id = cmd.cdw10.getFeatures?.featureID;
            if (id === 7) return done(0, 0x001f001f); // 32 queues each way (0-based)
            if (id === 4) return done(0, 343); // temperature threshold, kelvin
            return done(2);
          }
          case "getLogPage": {
            // SMART log (0x02): a 512-byte page, composite temperature at 1..2.
            if (cmd.cdw10.getLogPage?.lid !== 2) return done(2);
            const bytes = ((cmd.cdw10.getLogPage.numDwords ?? 0) + 1) * 4;
            if (bytes > cmd.dataLength) return done(2);
            const log = new Uint8Array(bytes);
            log[1] = 0x3a; // 314 K
            log[2] = 0x01;
            const rc = await status(() => copyToUser(cmd.data as bigint, log));
            return rc === 0 ? done(0) : done(0x14);
          }
          default:
            return done(1);
        }
      },
      async identify({ params, copyToUser }) {
        const r = params.request;
        if (r.cns !== 1) return { request: { ...r, status: -ERRNO.EINVAL } };
        return {
          request: { ...r, status: await status(() => copyToUser(r.page as bigint, identifyPage(adapter))) },
        };
      },
      async firmwareDownload({ params, copyFromUser }) {
        const r = params.request;
        if (r.size < 1 || r.size > 16 << 20) return { request: { ...r, crc: 0, status: -ERRNO.EINVAL } };
        let image: Uint8Array = new Uint8Array(0);
        const rc = await status(async () => {
          image = await copyFromUser(r.image as bigint, r.size);
        });
        if (rc !== 0) return { request: { ...r, crc: 0, status: rc } };
        // The image's first 8 bytes name its revision (as a real image's header does).
        const revision = new TextDecoder().decode(image.subarray(0, 8)).replace(/[\0 ]+$/, "");
        if (revision) adapter.firmware = revision;
        return { request: { ...r, crc: crc32(image), status: 0 } };
      },
    },
  });
  adapters.set(pci, adapter);
  global.emit("adapterEvent", { kind: "added", name });
  return adapter;
}

/** Removes an adapter: its API goes (its sessions are closed), and the global API says so. */
function unplug(global: Global, pci: string): void {
  const adapter = adaptersOf(global).get(pci);
  if (!adapter) {
    throw new Error(`no adapter ${pci}; present: ${[...adaptersOf(global).keys()].join(", ") || "none"}`);
  }
  adaptersOf(global).delete(pci);
  const name = adapter.api.signature.name;
  adapter.api.unregister();
  global.emit("adapterEvent", { kind: "removed", name });
}

export default defineModule({
  signature: acmeNvme,
  handlers: {
    listAdapters({ params, kernel }) {
      const list: AdapterInfoValue[] = [...adaptersOf(kernel as Global).values()].map((a) => ({
        name: a.api.signature.name,
        pci: a.pci,
        model: a.model.slice(0, 16),
        namespaces: 1,
        state: "online" as const,
        sessions: a.sessions,
      }));
      if (list.length > params.adapters) throw new KernelError(ERRNO.E2BIG, `${list.length} adapters`);
      return { count: list.length, adapters: list };
    },
  },
  start(kernel) {
    for (const pci of ["0000:3b:00.0", "0000:5e:00.0"]) plug(kernel as Global, pci);
  },
  controls: {
    hotplug: {
      doc: "pci=PCI [remove=true]: plug an NVMe adapter in (pci=0000:af:00.0), or take it out (remove=true)",
      run(kernel, args) {
        const pci = String(args.pci ?? "");
        if (args.remove === true || args.remove === "true") {
          unplug(kernel as Global, pci);
          return { removed: pci };
        }
        return { added: plug(kernel as Global, pci).api.signature.name };
      },
    },
  },
});
