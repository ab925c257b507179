/**
 * UNIX error numbers as the vmk_Mgmt functions return them, and the typed error this module
 * throws for them.
 *
 * @example
 * ```ts
 * import { errnoName, VmkMgmtError } from "./errno.ts";
 * errnoName(19); // "ENODEV"
 * ```
 * @module
 */

/** Linux x86_64 error numbers by name (the ones vmk_Mgmt and our simulator use). */
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

/** An errno name known to this table. */
export type ErrnoName = keyof typeof ERRNO;

const MESSAGES: Record<number, string> = {
  1: "operation not permitted",
  2: "no such callback or instance",
  4: "interrupted",
  5: "I/O error talking to the kernel (is the simulator or vmkernel still there?)",
  7: "argument list too long",
  9: "bad handle",
  11: "resource temporarily unavailable",
  12: "out of memory",
  13: "permission denied",
  14: "bad address",
  16: "device or resource busy",
  17: "already exists (monitoring already begun)",
  19: "no kernel module serves this API signature (name, vendor and major.minor must match)",
  22: "invalid argument (parameter count, size or direction differs from the kernel's, or misuse)",
  28: "no space left",
  32: "broken pipe",
  34: "result out of range",
  35: "would deadlock (called from inside a kernel-to-user callback)",
  38: "function not implemented",
  61: "no data",
  62: "timer expired",
  71: "protocol error",
  75: "value too large",
  95: "operation not supported",
  104: "connection reset by peer",
  110: "timed out",
  111: "connection refused",
  125: "operation canceled",
};

const NAMES = new Map<number, string>(Object.entries(ERRNO).map(([k, v]) => [v, k]));

/** The symbolic name of an errno (`ENOENT`), or `E<number>` when unknown. */
export function errnoName(errno: number): string {
  return NAMES.get(errno) ?? `E${errno}`;
}

/** A short human explanation of an errno in the vmk_Mgmt context. */
export function errnoMessage(errno: number): string {
  return MESSAGES[errno] ?? `error ${errno}`;
}

/** What a failed operation was doing, for the error message. */
export interface ErrorContext {
  /** The library function or API operation, e.g. `vmk_MgmtUserCallbackInvokeInt`. */
  operation: string;
  /** API signature name. */
  signature?: string;
  /** Callback name. */
  callback?: string;
  /** Instance name or id. */
  instance?: string;
  /** A hint for what to do. */
  hint?: string;
}

/**
 * A vmk_Mgmt function returned an errno.
 *
 * @example
 * ```ts
 * import { VmkMgmtError } from "./errno.ts";
 * const e = new VmkMgmtError(2, { operation: "invoke", callback: "getStats", instance: "vmnic9" });
 * e.code; // "ENOENT"
 * ```
 */
export class VmkMgmtError extends Error {
  /** The errno number. */
  readonly errno: number;
  /** The errno name, e.g. `ENOENT`. */
  readonly code: string;
  /** The operation that failed. */
  readonly operation: string;
  /** The signature involved, when known. */
  readonly signature?: string;
  /** The callback involved, when known. */
  readonly callback?: string;
  /** The instance involved, when known. */
  readonly instance?: string;

  /** Builds the error with a message naming everything involved. */
  constructor(errno: number, ctx: ErrorContext, options?: ErrorOptions) {
    const what = [
      ctx.signature && `signature ${ctx.signature}`,
      ctx.callback && `callback ${ctx.callback}`,
      ctx.instance && `instance ${ctx.instance}`,
    ].filter(Boolean).join(", ");
    super(
      `${ctx.operation} failed: ${errnoName(errno)} (${errno}) ${errnoMessage(errno)}${
        what ? ` [${what}]` : ""
      }${ctx.hint ? `; ${ctx.hint}` : ""}`,
      options,
    );
    this.name = "VmkMgmtError";
    this.errno = errno;
    this.code = errnoName(errno);
    this.operation = ctx.operation;
    this.signature = ctx.signature;
    this.callback = ctx.callback;
    this.instance = ctx.instance;
  }
}
