/**
 * Kernel side of the `acmeNicMgmt` demo driver: four NICs with counters that grow while the
 * link is up, an MTU, a log, firmware flashing with CRC-32 and link events.
 *
 * Module controls (`deno task sim ctl OP …`): `link instance=… up=true|false`,
 * `holdDown instance=… on=true|false` (a reset leaves the link down), `log instance=… message=…`,
 * `periodic ms=N` (a heartbeat logEvent from every instance; 0 stops).
 * @module
 */
import { acmeNic } from "../../mgmt/demo/acme_nic.ts";
import { defineModule, type KernelInstance, type ModuleContext } from "../module.ts";
import { crc32 } from "../../util/crc32.ts";

type Ctx = ModuleContext<typeof acmeNic.def>;

interface NicState {
  mtu: number;
  linkUp: boolean;
  speedMbps: number;
  holdDown: boolean;
  rxPackets: bigint;
  txPackets: bigint;
  rxBytes: bigint;
  txBytes: bigint;
  lastTick: number;
  log: string[];
}

/** Delay between the two link events of a reset. */
const RESET_MS = 100;
/** Longest log kept per instance, in lines. */
const LOG_LINES = 200;
/** triggerEvents sends at most this many events per call (the rest would only be dropped). */
const TRIGGER_MAX = 100_000;

/** State per kernel (two simulators in one process stay apart), then per instance id. */
const kernels = new WeakMap<
  object,
  { nics: Map<bigint, NicState>; periodic?: ReturnType<typeof setInterval> }
>();

function perKernel(kernel: Ctx) {
  let k = kernels.get(kernel);
  if (!k) kernels.set(kernel, k = { nics: new Map() });
  return k;
}

function state(kernel: Ctx, inst: KernelInstance | null): NicState {
  const states = perKernel(kernel).nics;
  const key = inst?.id ?? 0n;
  let s = states.get(key);
  if (!s) {
    const name = inst?.name ?? "acme-nic";
    s = {
      mtu: 1500,
      linkUp: true,
      speedMbps: 10000,
      holdDown: false,
      // A NIC that has been up a while: counters start from a plausible history.
      rxPackets: 1_000_000n * (inst?.id ?? 1n),
      txPackets: 600_000n * (inst?.id ?? 1n),
      rxBytes: 800_000_000n * (inst?.id ?? 1n),
      txBytes: 360_000_000n * (inst?.id ?? 1n),
      lastTick: Date.now(),
      log: [
        `${name}: acme-nic driver 1.0.0 loaded`,
        `${name}: firmware 4.2.1 running`,
        `${name}: link up, 10000 Mb/s, mtu 1500`,
      ],
    };
    states.set(key, s);
  }
  return s;
}

/** Counters grow with time while the link is up: ~2 packets/ms received, ~1 sent, per instance id. */
function advance(inst: KernelInstance | null, s: NicState): void {
  const now = Date.now();
  const ms = BigInt(Math.max(0, now - s.lastTick));
  s.lastTick = now;
  if (!s.linkUp) return;
  const k = inst?.id ?? 1n;
  s.rxPackets += 2n * k * ms;
  s.txPackets += k * ms;
  s.rxBytes += 2n * k * ms * 800n;
  s.txBytes += k * ms * 600n;
}

function log(kernel: Ctx, inst: KernelInstance | null, line: string): void {
  const s = state(kernel, inst);
  s.log.push(`${inst?.name ?? "acme-nic"}: ${line}`);
  if (s.log.length > LOG_LINES) s.log.splice(0, s.log.length - LOG_LINES);
  kernel.emit("logEvent", { message: truncate(`${inst?.name ?? "acme-nic"}: ${line}`, 63) }, {
    instance: inst,
  });
}

function truncate(text: string, bytes: number): string {
  const enc = new TextEncoder().encode(text);
  if (enc.length <= bytes) return text;
  return new TextDecoder().decode(enc.subarray(0, bytes)).replace(/\uFFFD$/, "");
}

function setLink(kernel: Ctx, inst: KernelInstance | null, up: boolean): void {
  const s = state(kernel, inst);
  advance(inst, s);
  s.linkUp = up;
  kernel.emit("linkEvent", { state: { up: up ? 1 : 0, speedMbps: up ? s.speedMbps : 0 } }, {
    instance: inst,
  });
  log(kernel, inst, up ? `link up, ${s.speedMbps} Mb/s` : "link down");
}

function instanceArg(kernel: Ctx, args: Record<string, unknown>): KernelInstance {
  const ref = args.instance;
  const inst = ref === undefined ? undefined : kernel.instance(ref as string);
  if (!inst) throw new Error(`instance: acmeNicMgmt has no instance ${JSON.stringify(ref)}`);
  return inst;
}

function boolArg(v: unknown, what: string): boolean {
  if (v === true || v === "true" || v === "1" || v === 1) return true;
  if (v === false || v === "false" || v === "0" || v === 0) return false;
  throw new Error(`${what}: expected true or false`);
}

export default defineModule({
  signature: acmeNic,
  instances: [0, 1, 2, 3].map((i) => ({ id: BigInt(i + 1), name: `vmnic${i}` })),
  start(kernel) {
    return () => clearInterval(perKernel(kernel).periodic);
  },
  handlers: {
    getStats({ instance, kernel }) {
      const s = state(kernel, instance);
      advance(instance, s);
      return {
        stats: {
          rxPackets: s.rxPackets,
          txPackets: s.txPackets,
          rxBytes: s.rxBytes,
          txBytes: s.txBytes,
          linkUp: s.linkUp ? 1 : 0,
          mtu: s.mtu,
          driver: "acme-nic",
        },
      };
    },
    setMtu({ instance, params, kernel }) {
      const s = state(kernel, instance);
      if (!instance || params.mtu < 68 || params.mtu > 9000) return { status: 22 };
      s.mtu = params.mtu;
      log(kernel, instance, `mtu set to ${params.mtu}`);
      return { status: 0 };
    },
    reset({ instance, kernel }) {
      log(kernel, instance, "reset requested");
      setLink(kernel, instance, false);
      setTimeout(() => {
        if (!state(kernel, instance).holdDown) setLink(kernel, instance, true);
        else log(kernel, instance, "link stays down after reset (hold-down)");
      }, RESET_MS);
    },
    flashFirmware({ instance, params, kernel }) {
      const crc = crc32(params.image as Uint8Array);
      log(
        kernel,
        instance,
        `firmware image of ${params.image.length} bytes flashed, crc ${crc.toString(16)}`,
      );
      return { crc };
    },
    readLog({ instance, params, kernel }) {
      const text = new TextEncoder().encode(state(kernel, instance).log.join("\n") + "\n");
      const buffer = text.subarray(0, params.buffer);
      return { buffer, length: buffer.length };
    },
    echo({ params }) {
      // seq + 1 as a vmk_uint64 does it in C: 2^64 - 1 wraps to 0.
      return { msg: { seq: BigInt.asUintN(64, params.msg.seq + 1n), payload: params.msg.payload } };
    },
    triggerEvents({ instance, params, session, kernel }) {
      const s = state(kernel, instance);
      const linkState = { up: s.linkUp ? 1 : 0, speedMbps: s.linkUp ? s.speedMbps : 0 };
      const n = Math.min(params.count, TRIGGER_MAX);
      for (let i = 0; i < n; i++) kernel.emit("linkEvent", { state: linkState }, { instance, session });
      return {};
    },
  },
  controls: {
    link: {
      doc: "instance=ID|NAME up=true|false: the link goes up or down (linkEvent to all sessions)",
      run(kernel, args) {
        setLink(kernel, instanceArg(kernel, args), boolArg(args.up, "up"));
        return {};
      },
    },
    holdDown: {
      doc: "instance=ID|NAME on=true|false: while on, a reset leaves the link down",
      run(kernel, args) {
        state(kernel, instanceArg(kernel, args)).holdDown = boolArg(args.on, "on");
        return {};
      },
    },
    log: {
      doc: "instance=ID|NAME message=TEXT: append a log line (logEvent to all sessions)",
      run(kernel, args) {
        if (typeof args.message !== "string") throw new Error("message: expected text");
        log(kernel, instanceArg(kernel, args), args.message);
        return {};
      },
    },
    periodic: {
      doc: "ms=N: every N ms each instance sends a heartbeat logEvent (0 stops)",
      run(kernel, args) {
        const ms = Number(args.ms);
        if (!Number.isInteger(ms) || ms < 0) throw new Error("ms: expected a whole number ≥ 0");
        const k = perKernel(kernel);
        clearInterval(k.periodic);
        k.periodic = undefined;
        if (ms > 0) {
          k.periodic = setInterval(() => {
            for (const inst of kernel.instances()) {
              const s = state(kernel, inst);
              advance(inst, s);
              kernel.emit("logEvent", { message: `${inst.name}: heartbeat rx=${s.rxPackets}` }, {
                instance: inst,
              });
            }
          }, ms);
        }
        return {};
      },
    },
  },
});
