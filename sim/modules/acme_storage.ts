/**
 * Kernel side of the `acmeStorMgmt` demo driver: two adapters with device info, a write cache,
 * thresholds, SMART attributes and LBA remapping.
 * @module
 */
import { acmeStorage } from "../../mgmt/demo/acme_storage.ts";
import { defineModule } from "../module.ts";

interface Adapter {
  writeCache: boolean;
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
