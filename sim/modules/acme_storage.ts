/**
 * Kernel side of the `acmeStorMgmt` demo driver: two adapters with device info, a write cache,
 * thresholds, SMART attributes, LBA remapping, and NVMe-shaped admin commands (identify, get/set
 * features, an asynchronous event when a feature changes).
 * @module
 */
import { acmeStorage } from "../../mgmt/demo/acme_storage.ts";
import { defineModule } from "../module.ts";

interface Adapter {
  writeCache: boolean;
  /** Get/Set Features values by feature id. */
  features: Map<number, number>;
  thresholds: { warnC: number; critC: number; hysteresis: number; offsetMilliC: bigint; sequence: number };
}

const adapters = new WeakMap<object, Map<bigint, Adapter>>();

function adapter(kernel: object, id: bigint): Adapter {
  let m = adapters.get(kernel);
  if (!m) adapters.set(kernel, m = new Map());
  let a = m.get(id);
  if (!a) {
    m.set(
      id,
      a = {
        writeCache: true,
        // Power management 0, temperature threshold 343 K, 32 queues each way (0-based).
        features: new Map([[2, 0], [4, 343], [7, 0x001f001f]]),
        thresholds: { warnC: 60, critC: 70, hysteresis: 2, offsetMilliC: 0n, sequence: 0 },
      },
    );
  }
  return a;
}

const SMART = [
  { id: 1, value: 100, worst: 100, raw: 0n },
  { id: 5, value: 100, worst: 99, raw: 2n },
  { id: 9, value: 97, worst: 97, raw: 12345n },
  { id: 194, value: 64, worst: 51, raw: 36n },
  { id: 197, value: 100, worst: 100, raw: 0n },
];

export default defineModule({
  signature: acmeStorage,
  instances: [{ id: 1n, name: "vmhba0" }, { id: 2n, name: "vmhba1" }],
  handlers: {
    getDeviceInfo({ instance, kernel }) {
      const a = adapter(kernel, instance?.id ?? 0n);
      return {
        info: {
          model: "ACME UltraStor 9000",
          serial: `AC${String(instance?.id ?? 0n).padStart(8, "0")}`,
          capacityBytes: 3_840_755_982_336n,
          blockSize: 4096,
          state: instance?.id === 2n ? "degraded" as const : "online" as const,
          temperatureC: 36.5,
          writeCache: a.writeCache,
          latencyUs: [85.5, 120.25, 410, 1999.75],
        },
      };
    },
    setWriteCache({ instance, params, kernel }) {
      if (!instance) return { status: 22 };
      adapter(kernel, instance.id).writeCache = params.enable;
      return { status: 0 };
    },
    thresholds({ instance, params, kernel }) {
      const a = adapter(kernel, instance?.id ?? 0n);
      const previous = { ...a.thresholds, sequence: params.value.sequence + 1 };
      a.thresholds = { ...params.value };
      return { value: previous };
    },
    readSmart({ params }) {
      const attrs = SMART.slice(0, params.attrs);
      return { attrs, count: attrs.length };
    },
    remapLbas({ params }) {
      return { lbas: params.lbas.map((l) => BigInt.asUintN(64, l + params.offset)) };
    },
    adminCommand({ instance, params, kernel }) {
      const a = adapter(kernel, instance?.id ?? 0n);
      const cmd = params.cmd;
      const ok = { phase: 1, sc: 0, sct: 0, more: 0, dnr: 0 };
      const fail = (sc: number) => ({ ...cmd, result: 0, status: { ...ok, sc, dnr: 1 } });
      const featureID = cmd.cdw10.getFeatures?.featureID ?? 0;
      switch (cmd.opcode) {
        case "identify":
          if (cmd.cdw10.identify?.cns !== 1) return { cmd: fail(2) };
          // 16 characters in a char[16]: no NUL, as strncpy leaves it.
          return {
            cmd: {
              ...cmd,
              result: 0,
              status: ok,
              model: `ACME-NVME-${String(instance?.id ?? 0n).padStart(6, "0")}`,
            },
          };
        case "getFeatures": {
          const value = a.features.get(featureID);
          return { cmd: value === undefined ? fail(2) : { ...cmd, result: value, status: ok } };
        }
        case "setFeatures": {
          if (!a.features.has(featureID)) return { cmd: fail(2) };
          a.features.set(featureID, cmd.result);
          kernel.emit("asyncEvent", { event: { type: 2, info: featureID, logPage: 0x0c } }, { instance });
          return { cmd: { ...cmd, status: ok } };
        }
        default:
          return { cmd: fail(1) };
      }
    },
    scan({ kernel }) {
      for (const inst of kernel.instances()) {
        kernel.emit(
          "deviceEvent",
          { kind: "attached", lba: 0n, detail: new TextEncoder().encode(inst.name) },
          {
            instance: inst,
          },
        );
      }
    },
  },
});
