/**
 * The `acmeNvmeMgmt` demo signatures: an NVMe-like storage driver shaped like a real one. A
 * global API lists the adapters; each adapter has its own API, whose name the kernel makes up
 * (`acmeNvme-0000:3b:00.0`) and which comes and goes with the adapter. Payloads are packed, use
 * bitfields and a union, and carry user pointers: an identify page the kernel fills, a firmware
 * image it reads. The revision is written as the driver's C writes it.
 *
 * @example
 * ```ts ignore
 * import { open } from "../../mod.ts";
 * import { acmeNvme, acmeNvmeAdapter } from "./acme_nvme.ts";
 * await using nvme = await open(acmeNvme);
 * const { adapters } = await nvme.invoke("listAdapters", { adapters: 32 });
 * await using ctrl = await open(acmeNvmeAdapter(adapters[0].name));
 * const page = new Uint8Array(4096);
 * await ctrl.invoke("identify", { request: { cns: 1, nsid: 0, page, status: 0 } });
 * ```
 * @module
 */
import type { Param } from "../params.ts";
import { t } from "../t.ts";
import { defineSignature, type Signature } from "../signature.ts";
import type { EnumType } from "../types/enum.ts";
import type { StructType } from "../types/struct.ts";
import type { UnionType } from "../types/union.ts";

/** `VMK_REVISION_FROM_NUMBERS(1, 0, 0, 1007)`: patch 1007 masked to 239, as the C macro does. */
export const ACME_NVME_VERSION = [1, 0, 0, 1007] as const;

/** The prefix of the per-adapter API names the kernel makes up. */
export const ACME_NVME_ADAPTER_PREFIX = "acmeNvme-";

/**
 * Every adapter's API, as a family: the signature of any name that starts with `prefix` (`--sig`
 * files export such objects for names a driver makes up at run time; the REPL and `deno task trace`
 * type those APIs with them).
 */
export const acmeNvmeAdapters: {
  readonly prefix: string;
  readonly make: (name: string) => Signature<AcmeNvmeAdapterDef>;
} = {
  prefix: ACME_NVME_ADAPTER_PREFIX,
  make: (name) => acmeNvmeAdapter(name),
};

/** An adapter's state. */
export const AdapterState: EnumType<"online" | "failed"> = t.enumOf(
  { online: 0, failed: 1 },
  t.u8,
  "AdapterState",
);

/** Values of {@link AdapterInfo}. */
export interface AdapterInfoValue {
  /** The adapter's API name (open it with {@link acmeNvmeAdapter}). */
  name: string;
  /** The adapter's PCI address, e.g. `0000:3b:00.0`; its API name is `acmeNvme-` and this. */
  pci: string;
  /** Model, as the controller reports it (may fill all 16 bytes). */
  model: string;
  /** Namespaces the controller exposes. */
  namespaces: number;
  /** The controller's state; a number when the driver reports one this signature does not name. */
  state: "online" | "failed" | number;
  /** Sessions open on the adapter's API (the driver counts them in its session hooks). */
  sessions: number;
}

/** One adapter, as `listAdapters` returns it (packed, 71 bytes). */
export const AdapterInfo: StructType<AdapterInfoValue> = t.struct({
  name: t.chars(32),
  pci: t.chars(16),
  model: t.chars(16),
  namespaces: t.u32,
  state: AdapterState,
  sessions: t.u16,
}, { name: "AdapterInfo", packed: true });

/** What happened to an adapter. */
export const AdapterEventKind: EnumType<"added" | "removed"> = t.enumOf(
  { added: 1, removed: 2 },
  t.u8,
  "AdapterEventKind",
);

/** The literal definition of {@link acmeNvme}. */
export interface AcmeNvmeDef {
  /** The global API every adapter's driver instance shares (adapters come and go under their own names). */
  readonly name: "acmeNvmeMgmt";
  /** The vendor half of the API's key, as the driver registers it. */
  readonly vendor: "acme";
  /** Version, as C writes it. */
  readonly version: typeof ACME_NVME_VERSION;
  /** Shown by the REPL's `describe` and `sigs`. */
  readonly doc: string;
  /** The callbacks by the names typed calls use; each comment gives its id and kind. */
  readonly callbacks: {
    /** id 16: the adapters and their per-adapter API names. */
    readonly listAdapters: {
      readonly id: 16;
      readonly doc: string;
      readonly params: {
        readonly count: Param<"out", typeof t.u32>;
        readonly adapters: Param<"vectorOut", StructType<AdapterInfoValue>>;
      };
    };
    /** id 32, user: an adapter came or went. */
    readonly adapterEvent: {
      readonly id: 32;
      readonly location: "user";
      readonly doc: string;
      readonly params: {
        readonly kind: Param<"in", EnumType<"added" | "removed">>;
        readonly name: Param<"in", ReturnType<typeof t.chars>>;
      };
    };
  };
}

/** The global `acmeNvmeMgmt` API (vendor `acme`): lists adapters, tells of hot-plug. */
export const acmeNvme: Signature<AcmeNvmeDef> = defineSignature({
  name: "acmeNvmeMgmt",
  vendor: "acme",
  version: ACME_NVME_VERSION,
  doc: "Demo NVMe driver, global API: adapters and hot-plug events (each adapter has its own API)",
  callbacks: {
    listAdapters: {
      id: 16,
      doc: "The adapters; count says how many were written. Each one's name is its API's",
      params: { count: t.out(t.u32), adapters: t.vectorOut(AdapterInfo, { lengthFrom: "count" }) },
    },
    adapterEvent: {
      id: 32,
      location: "user",
      doc: "An adapter was hot-plugged or removed",
      params: { kind: t.in(AdapterEventKind), name: t.in(t.chars(32)) },
    },
  },
});

/** Admin opcodes of {@link NvmeCommand}. */
export const NvmeOpcode: EnumType<"getLogPage" | "identify" | "getFeatures" | "firmwareCommit"> = t.enumOf(
  { getLogPage: 2, identify: 6, getFeatures: 10, firmwareCommit: 16 },
  t.u32,
  "NvmeOpcode",
);

/** Values of {@link NvmeCdw10}: a command sets one member; a result shows every view. */
export interface NvmeCdw10Value {
  /** The whole word. */
  raw?: number;
  /** Get Log Page: log id and dwords wanted (0-based). */
  getLogPage?: { lid: number; numDwords: number };
  /** Get Features: the feature and which value. */
  getFeatures?: { featureID: number; sel: number };
}

/** Command dword 10: a union of bitfield layouts. */
export const NvmeCdw10: UnionType<NvmeCdw10Value> = t.union({
  raw: t.u32,
  getLogPage: t.struct(
    { lid: t.bits(t.u32, 8), _r0: t.pad(t.u32, 8), numDwords: t.bits(t.u32, 16) },
    "LogPageCdw10",
  ),
  getFeatures: t.struct(
    { featureID: t.bits(t.u32, 8), sel: t.bits(t.u32, 3), _r0: t.pad(t.u32, 21) },
    "FeaturesCdw10",
  ),
}, "NvmeCdw10");

/** Values of {@link NvmeCommand}. */
export interface NvmeCommandValue {
  /** The admin opcode by name, or its number for one this signature does not name. */
  opcode: "getLogPage" | "identify" | "getFeatures" | "firmwareCommit" | number;
  /** Command id, echoed. */
  cid: number;
  /** Namespace id. */
  nsid: number;
  /** Command dword 10. */
  cdw10: NvmeCdw10Value;
  /** The data buffer (a Uint8Array, pinned for the call), or an address. */
  data: bigint | Uint8Array;
  /** Bytes of `data` the command may transfer. */
  dataLength: number;
  /** Completion dword 0. */
  result: number;
  /** Status code (0 success, 1 invalid opcode, 2 invalid field, 0x14 data transfer error). */
  sc: number;
  /** Do not retry. */
  dnr: number;
}

/** An admin passthrough command: packed, with bitfields, a union and a user data pointer (30 bytes). */
export const NvmeCommand: StructType<NvmeCommandValue> = t.struct({
  opcode: t.bits(NvmeOpcode, 8),
  _r0: t.pad(t.u32, 8),
  cid: t.bits(t.u32, 16),
  nsid: t.u32,
  cdw10: NvmeCdw10,
  data: t.buffer({ dir: "inout", lengthFrom: "dataLength" }),
  dataLength: t.u32,
  // What the controller answers: the caller sends zeros (or leaves them out).
  result: t.field(t.u32, { out: true }),
  sc: t.bits(t.u8, 8, { out: true }),
  dnr: t.bits(t.u8, 1, { out: true }),
}, { name: "NvmeCommand", packed: true });

/** Values of {@link IdentifyController}: ASCII fields space-padded, as NVMe fills them. */
export interface IdentifyControllerValue {
  /** PCI vendor id. */
  vid: number;
  /** PCI subsystem vendor id. */
  ssvid: number;
  /** Serial number (20 ASCII characters, space-padded). */
  sn: string;
  /** Model number (40, space-padded). */
  mn: string;
  /** Firmware revision (8, space-padded). */
  fr: string;
}

/**
 * The head of the identify-controller page (`cns: 1`, 4 KiB) as NVMe lays it out: what an
 * identify's `page` holds, read by field with `decodeBytes` from mod.ts (72 bytes).
 */
export const IdentifyController: StructType<IdentifyControllerValue> = t.struct({
  vid: t.u16,
  ssvid: t.u16,
  sn: t.chars(20),
  mn: t.chars(40),
  fr: t.chars(8),
}, { name: "IdentifyController" });

/** Values of {@link IdentifyRequest}. */
export interface IdentifyRequestValue {
  /** What to identify: 1 the controller. */
  cns: number;
  /** Namespace id. */
  nsid: number;
  /** A 4 KiB buffer the kernel fills (serial at 4, model at 24, firmware at 64, as NVMe lays them). */
  page: bigint | Uint8Array;
  /** 0, or a negative errno the driver reports (-14 for a bad page pointer). */
  status: number;
}

/** Identify: the kernel fills the 4 KiB page behind `page` (packed, 17 bytes). */
export const IdentifyRequest: StructType<IdentifyRequestValue> = t.struct({
  cns: t.u8,
  nsid: t.u32,
  page: t.buffer({ dir: "out", length: 4096 }),
  status: t.field(t.i32, { out: true }),
}, { name: "IdentifyRequest", packed: true });

/** Values of {@link FirmwareRequest}. */
export interface FirmwareRequestValue {
  /** The image (a Uint8Array, pinned for the call), or an address. */
  image: bigint | Uint8Array;
  /** How many bytes of `image` the kernel reads (the buffer's `lengthFrom`). */
  size: number;
  /** CRC-32 of the image as the kernel read it. */
  crc: number;
  /** 0, or a negative errno the driver reports. */
  status: number;
}

/** Firmware download: the kernel reads the image behind `image` (packed, 20 bytes). */
export const FirmwareRequest: StructType<FirmwareRequestValue> = t.struct({
  image: t.buffer({ dir: "in", lengthFrom: "size" }),
  size: t.u32,
  crc: t.field(t.u32, { out: true }),
  status: t.field(t.i32, { out: true }),
}, { name: "FirmwareRequest", packed: true });

/** The literal definition of a per-adapter API (its name is made up by the kernel). */
export interface AcmeNvmeAdapterDef {
  /** API name: the adapter's. */
  readonly name: string;
  /** The vendor half of the API's key, the same for every adapter. */
  readonly vendor: "acme";
  /** Version, as C writes it. */
  readonly version: typeof ACME_NVME_VERSION;
  /** Shown by the REPL's `describe` and `sigs`. */
  readonly doc: string;
  /** The callbacks by the names typed calls use; each comment gives its id and kind. */
  readonly callbacks: {
    /** id 16: an admin command. */
    readonly adminPassthru: {
      readonly id: 16;
      readonly doc: string;
      readonly params: { readonly cmd: Param<"inout", StructType<NvmeCommandValue>> };
    };
    /** id 17: identify into a 4 KiB buffer. */
    readonly identify: {
      readonly id: 17;
      readonly doc: string;
      readonly params: { readonly request: Param<"inout", StructType<IdentifyRequestValue>> };
    };
    /** id 18: firmware download from a buffer. */
    readonly firmwareDownload: {
      readonly id: 18;
      readonly doc: string;
      readonly params: { readonly request: Param<"inout", StructType<FirmwareRequestValue>> };
    };
  };
}

/**
 * The API of one adapter, whose name the kernel made up (`listAdapters` gives it).
 * @throws {SignatureError} for a name that is not 1..31 bytes.
 */
export function acmeNvmeAdapter(name: string): Signature<AcmeNvmeAdapterDef> {
  return defineSignature({
    name,
    vendor: "acme",
    version: ACME_NVME_VERSION,
    doc: "Demo NVMe adapter: admin passthrough, identify into a user buffer, firmware download from one",
    callbacks: {
      adminPassthru: {
        id: 16,
        doc: "An admin command; data moves through the buffer behind cmd.data",
        params: { cmd: t.inout(NvmeCommand) },
      },
      identify: {
        id: 17,
        doc: "Fills the 4 KiB page behind request.page (serial, model, firmware revision)",
        params: { request: t.inout(IdentifyRequest) },
      },
      firmwareDownload: {
        id: 18,
        doc: "Reads the image behind request.image; returns its CRC-32",
        params: { request: t.inout(FirmwareRequest) },
      },
    },
  } as AcmeNvmeAdapterDef);
}
