/**
 * Real client sessions, captured as the bridge receives them, to seed the bridge's fuzz harness
 * (native/fuzz/fuzz_bridge.c). Each session runs through mod.ts against a simulator with
 * `VMKMGMT_HOST=@local`, so our library starts the real bridge; a wrapper in front of the bridge
 * keeps a copy of every byte the library writes to it (`tee`). The bytes are then written in the
 * harness's script format: each frame as a framed record, each COPY_REPLY as "answer the next copy",
 * and, for a session that waited for each reply, a wait before each request.
 * @module
 */
import { BRIDGE_ENV, HOST_ENV, LOCAL_HOST, SIM_SOCKET_ENV } from "../abi/facts.ts";
import { acmeNic, acmeNvme, acmeNvmeAdapter, acmeStorage } from "../demo.ts";
import { open } from "../mod.ts";
import { FrameParser, FrameType } from "../sim/frames.ts";
import { LIB_PATH, startSimProcess } from "../sim/process.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const BRIDGE = `${ROOT}native/build/vmkmgmt-bridge`;

/** The stand-in library's behaviour byte (fuzz_bridge.c's STANDIN_* bits). */
export const STANDIN = {
  extensions: 0x01,
  initFails: 0x02,
  beginFails: 0x04,
  tooMany: 0x08,
  autoAck: 0x10,
  drops: 0x20,
};

/** Script records (fuzz_bridge.c). */
const RECORD = { raw: 0, frame: 1, copy: 2, wait: 3 } as const;

/** One captured session: what the library sent to one bridge, and how its caller waited. */
export interface CapturedSession {
  name: string;
  bytes: Uint8Array;
  /** The caller waited for each reply before the next request. */
  sequential: boolean;
}

type SessionBody = () => Promise<void>;

/** The sessions: every frame a client sends, in the shapes real callers make them. */
const SESSIONS: Record<string, { sequential: boolean; body: SessionBody }> = {
  // Instances, fixed in/out/inout, vectors both ways, events with their acknowledgements, an async call.
  "nic": {
    sequential: true,
    body: async () => {
      await using nic = await open(acmeNic);
      const seen: unknown[] = [];
      nic.on("linkEvent", (e) => void seen.push(e));
      const [first] = await nic.instances();
      await nic.invoke("getStats", { instance: first });
      await nic.invoke("setMtu", { instance: first, mtu: 9000 });
      await nic.invoke("readLog", { instance: first, buffer: 256 });
      await nic.invoke("flashFirmware", { instance: first, image: new Uint8Array(300).fill(7) });
      await nic.invoke("echo", { instance: first, msg: { seq: 1n, payload: new Uint8Array(56).fill(3) } });
      await nic.invoke("triggerEvents", { instance: first, count: 20 });
      await nic.invoke("reset", { instance: first });
      await nic.waitFor("linkEvent", { timeout: 5000 }).catch(() => {});
    },
  },
  // Many calls in flight at once on one session.
  "nic-concurrent": {
    sequential: false,
    body: async () => {
      await using nic = await open(acmeNic);
      const [first, second] = await nic.instances();
      await Promise.all(
        Array.from(
          { length: 24 },
          (_, i) =>
            i % 3 === 0
              ? nic.invoke("getStats", { instance: i % 2 ? first : second })
              : i % 3 === 1
              ? nic.invoke("echo", {
                instance: first,
                msg: { seq: BigInt(i), payload: new Uint8Array(56).fill(i) },
              })
              : nic.invoke("setMtu", { instance: second, mtu: 1500 + i }),
        ),
      );
    },
  },
  // Records with vectors of records, inout vectors, a bool, a union in an admin command.
  "storage": {
    sequential: true,
    body: async () => {
      await using st = await open(acmeStorage);
      const [first] = await st.instances();
      await st.invoke("getDeviceInfo", { instance: first });
      await st.invoke("setWriteCache", { instance: first, enable: true });
      await st.invoke("readSmart", { instance: first, attrs: 8 });
      await st.invoke("remapLbas", { instance: first, lbas: [1n, 2n, 3n], offset: 10n });
    },
  },
  // Caller buffers behind pointer members: HELLO's buffer fields, the kernel's copies (COPY_REQUEST
  // and COPY_REPLY), an address the caller cannot read.
  "nvme": {
    sequential: true,
    body: async () => {
      await using nvme = await open(acmeNvme);
      const { adapters } = await nvme.invoke("listAdapters", { adapters: 32 });
      await using ctrl = await open(acmeNvmeAdapter(adapters[0].name));
      const page = new Uint8Array(4096);
      await ctrl.invoke("identify", { request: { cns: 1, nsid: 0, page, status: 1 } });
      const image = new Uint8Array(8 * 1024).map((_, i) => i & 0xff);
      await ctrl.invoke("firmwareDownload", { request: { image, size: image.length, crc: 0, status: 1 } });
      await ctrl.invoke("identify", { request: { cns: 1, nsid: 0, page: 16n, status: 1 } });
    },
  },
};

/** Runs every session through the real bridge and returns what each bridge received. */
export async function captureSessions(): Promise<CapturedSession[]> {
  await using sim = await startSimProcess();
  const dir = await Deno.makeTempDir({ prefix: "vmkmgmt-capture-" });
  // The bridge command is split at blanks (no shell): a script, run by sh, keeps the copy.
  const wrapper = `${dir}/capture.sh`;
  await Deno.writeTextFile(
    wrapper,
    `tee "$VMKMGMT_FUZZ_CAPTURE.$$" | "${BRIDGE}" --lib "${LIB_PATH}"\n`,
  );
  const saved = [SIM_SOCKET_ENV, HOST_ENV, BRIDGE_ENV, "VMKMGMT_FUZZ_CAPTURE"].map((
    k,
  ) => [k, Deno.env.get(k)]);
  Deno.env.set(SIM_SOCKET_ENV, sim.socketPath);
  Deno.env.set(HOST_ENV, LOCAL_HOST);
  Deno.env.set(BRIDGE_ENV, `/bin/sh ${wrapper}`);
  const out: CapturedSession[] = [];
  try {
    for (const [name, { sequential, body }] of Object.entries(SESSIONS)) {
      Deno.env.set("VMKMGMT_FUZZ_CAPTURE", `${dir}/${name}`);
      await body();
      const files = [...Deno.readDirSync(dir)].map((e) => e.name).filter((f) => f.startsWith(`${name}.`))
        .sort();
      if (files.length === 0) throw new Error(`fuzz seeds: the ${name} session reached no bridge`);
      files.forEach((f, i) =>
        out.push({
          name: files.length > 1 ? `${name}-${i}` : name,
          bytes: Deno.readFileSync(`${dir}/${f}`),
          sequential,
        })
      );
    }
  } finally {
    for (const [k, v] of saved) v === undefined ? Deno.env.delete(k!) : Deno.env.set(k!, v);
    await Deno.remove(dir, { recursive: true });
  }
  return out;
}

/** A captured session as a harness script: the stand-in's behaviour byte, then its records. */
export function toScript(session: CapturedSession, behaviour: number): Uint8Array {
  const parts: number[] = [behaviour];
  const u16 = (v: number) => parts.push(v & 0xff, v >>> 8);
  const u32 = (v: number) => parts.push(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24);
  for (const f of new FrameParser().push(session.bytes)) {
    if (f.type === FrameType.COPY_REPLY) {
      // The copy id is the bridge's to choose: the harness answers whichever copy comes next.
      parts.push(RECORD.copy, 0);
      u32(new DataView(f.payload.buffer, f.payload.byteOffset, f.payload.length).getInt32(4, true) >>> 0);
      continue;
    }
    if (f.payload.length > 0xffff) {
      throw new Error(`fuzz seeds: a ${f.type} frame of ${f.payload.length} bytes`);
    }
    if (session.sequential && (f.type === FrameType.INVOKE || f.type === FrameType.GET_INSTANCES)) {
      parts.push(RECORD.wait);
    }
    parts.push(RECORD.frame, f.type);
    u32(f.id);
    u16(f.payload.length);
    parts.push(...f.payload);
  }
  parts.push(RECORD.wait);
  return new Uint8Array(parts);
}
