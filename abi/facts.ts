/**
 * Every fact of the vmk_Mgmt ABI that TypeScript needs, in one place: limits, codes, the errno
 * numbers, the revision encoding, where the library lives and where our simulator listens.
 * `native/vmkmgmt.h` states the same facts for C; `test/layout_test.ts` holds the two to each
 * other through a program compiled from that header.
 *
 * This module imports nothing, so every room of the project (`ffi/`, `mgmt/`, `sim/`, `repl/`,
 * `util/`) may import it.
 *
 * @example
 * ```ts
 * import { DIRECTION_CODE, MAX_CALLBACK_PARMS } from "./facts.ts";
 * DIRECTION_CODE.vectorIn; // 3
 * MAX_CALLBACK_PARMS; // 4
 * ```
 * @module
 */

/** `sizeof(vmk_Name)`: a NUL-terminated name of at most {@link NAME_MAX_BYTES} bytes. */
export const NAME_SIZE = 32;
/** The longest name in bytes (UTF-8), leaving room for the NUL. */
export const NAME_MAX_BYTES = NAME_SIZE - 1;
/** `VMK_MGMT_MAX_CALLBACK_PARMS`: payload parameters per callback. */
export const MAX_CALLBACK_PARMS = 4;
/** `VMK_MGMT_RESERVED_CALLBACKS`: callback ids 0..15 are reserved. */
export const RESERVED_CALLBACKS = 15;
/** The first callback id a driver may use. */
export const FIRST_CALLBACK_ID = RESERVED_CALLBACKS + 1;
/** `VMK_MGMT_MAX_INSTANCES`: instances one API can list. */
export const MAX_INSTANCES = 32;
/** `VMK_MGMT_NO_INSTANCE_ID`: a call or event that concerns no instance. */
export const NO_INSTANCE_ID = 0n;
/** The largest instance or callback id (`vmk_uint64`). */
export const U64_MAX: bigint = (1n << 64n) - 1n;

/** Where a callback runs. */
export type Location = "kernel" | "user";
/** `vmk_MgmtCallbackLocation` numbers. */
export const LOCATION_CODE: Readonly<Record<Location, number>> = { kernel: 1, user: 2 };

/** The six parameter directions; names follow `VMK_MGMT_PARMTYPE_*`. */
export type Direction = "in" | "out" | "inout" | "vectorIn" | "vectorOut" | "vectorInOut";
/** `vmk_MgmtParmType` numbers by direction. */
export const DIRECTION_CODE: Readonly<Record<Direction, number>> = {
  in: 0,
  out: 1,
  inout: 2,
  vectorIn: 3,
  vectorOut: 4,
  vectorInOut: 5,
};
/** The kinds of a completion-queue entry (our library's extension, `VMKMGMT_ENTRY_*` of vmkmgmt.h). */
export const QUEUE_ENTRY_KIND = { completion: 1, event: 2, disconnect: 3 } as const;

/** Directions by `vmk_MgmtParmType` number. */
export const DIRECTION_BY_CODE: readonly Direction[] = [
  "in",
  "out",
  "inout",
  "vectorIn",
  "vectorOut",
  "vectorInOut",
];

/** True for the directions whose data travel from user to kernel. */
export function sendsData(dir: Direction): boolean {
  return dir === "in" || dir === "inout" || dir === "vectorIn" || dir === "vectorInOut";
}

/** True for the directions whose data come back from the kernel (sync kernel callbacks only). */
export function returnsData(dir: Direction): boolean {
  return dir === "out" || dir === "inout" || dir === "vectorOut" || dir === "vectorInOut";
}

/** True for vector directions (passed as a `vmk_MgmtVectorParm`). */
export function isVector(dir: Direction): boolean {
  return dir === "vectorIn" || dir === "vectorOut" || dir === "vectorInOut";
}

/** `vmk_revnum` from its four parts, each masked to 8 bits as `VMK_REVISION_FROM_NUMBERS` does. */
export function revisionFromNumbers(major: number, minor: number, update: number, patch: number): number {
  return (((major & 0xff) << 24) | ((minor & 0xff) << 16) | ((update & 0xff) << 8) | (patch & 0xff)) >>> 0;
}

/** The four parts of a `vmk_revnum`: major, minor, update, patch. */
export function revisionParts(revnum: number): [number, number, number, number] {
  return [(revnum >>> 24) & 0xff, (revnum >>> 16) & 0xff, (revnum >>> 8) & 0xff, revnum & 0xff];
}

/** Init matches a kernel API on name, vendor and these revision bits (major.minor). */
export function sameMajorMinor(a: number, b: number): boolean {
  return a >>> 16 === b >>> 16;
}

/**
 * The largest vector our library and simulator carry, in bytes. Not a VMware limit: it bounds
 * what one wire frame may hold (`native/PROTOCOL.md`).
 */
export const MAX_VECTOR_BYTES = 64 * 1024 * 1024;

/** Linux x86_64 error numbers by name (those vmk_Mgmt and our simulator return). */
export const ERRNO = {
  EPERM: 1,
  ENOENT: 2,
  EINTR: 4,
  EIO: 5,
  E2BIG: 7,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  ENODEV: 19,
  EINVAL: 22,
  ENOSPC: 28,
  EPIPE: 32,
  ERANGE: 34,
  EDEADLK: 35,
  ENOSYS: 38,
  ENODATA: 61,
  ETIME: 62,
  EPROTO: 71,
  EOVERFLOW: 75,
  ENOTSUP: 95,
  ECONNRESET: 104,
  ETIMEDOUT: 110,
  ECONNREFUSED: 111,
  ECANCELED: 125,
} as const;

/** An errno name known to {@link ERRNO}. */
export type ErrnoName = keyof typeof ERRNO;

const ERRNO_NAMES = new Map<number, string>(Object.entries(ERRNO).map(([k, v]) => [v, k]));

/** The symbolic name of an errno (`ENOENT`), or `E<number>` when unknown. */
export function errnoName(errno: number): string {
  return ERRNO_NAMES.get(errno) ?? `E${errno}`;
}

/** Where the vendor library lives on an ESXi host (64-bit user worlds). */
export const ESXI_LIBRARY_PATHS: readonly string[] = ["/lib64/libvmkmgmt.so"];
/** The variable that points discovery at a library. */
export const LIBRARY_ENV = "VMKMGMT_LIB";
/**
 * Who may be trusted at the other end of the simulator socket (README, "Trust"; wire.h holds the
 * same number): its directory must belong to the user or to root and have none of these mode bits
 * (no one else may write there: OpenSSH's StrictModes rule, so a 0711 or 0755 home directory is
 * fine — the socket inside stays 0600, and both ends check the other's uid).
 */
export const DIR_WRITE_MASK = 0o022;

/** Whether a peer running as `uid` may be trusted by a process running as `me`: itself or root. */
export function trustedUid(uid: number, me: number): boolean {
  return uid === me || uid === 0;
}

/** The variable naming the host whose kernel our library drives through a bridge (`[user@]host[:port]`). */
export const HOST_ENV = "VMKMGMT_HOST";
/** The bridge's command line on that host (default `vmkmgmt-bridge` from its PATH). */
export const BRIDGE_ENV = "VMKMGMT_BRIDGE";
/** Options for ssh (split at blanks): a key, a jump host, a known-hosts file. */
export const SSH_ENV = "VMKMGMT_SSH";
/** The host value that runs the bridge command on this machine, without ssh. */
export const LOCAL_HOST = "@local";
/** Calls a bridge runs at once in a host library without a completion queue (a vendor's; a thread each); more wait in the bridge. */
export const BRIDGE_WORKERS = 256;

/** The variable that points our library and tools at a simulator socket. */
export const SIM_SOCKET_ENV = "VMKMGMT_SIM_SOCKET";

/** The per-user default simulator socket (the C library computes the same path). */
export function defaultSimSocketPath(uid: number | string): string {
  return `/tmp/vmkmgmt-${uid}/sim.sock`;
}

/**
 * The simulator socket the library will use, for messages: `$VMKMGMT_SIM_SOCKET`, else the
 * per-user default. The uid is read only when `--allow-sys=uid` is already granted (a library
 * must never prompt); otherwise the path says `<uid>`.
 */
export function simSocketPathForMessages(): string {
  const env = Deno.env.get(SIM_SOCKET_ENV);
  if (env) return env;
  let uid: number | string = "<uid>";
  try {
    if (Deno.permissions.querySync({ name: "sys", kind: "uid" }).state === "granted") uid = Deno.uid() ?? 0;
  } catch { /* no permission API: keep the placeholder */ }
  return defaultSimSocketPath(uid);
}
