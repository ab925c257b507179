/**
 * The errors of the typed API, one taxonomy for every method:
 *
 * - bad input (a callback, parameter, field or option) → `TypeError`, its subclass
 *   {@link ValueError} when a parameter or field value is at fault (`path` names it), or
 *   `RangeError` for an option out of range — always before any C call;
 * - a signature that breaks an ABI rule → {@link SignatureError};
 * - an error from the library or the kernel → {@link VmkMgmtError} with the errno;
 * - a timeout → {@link VmkMgmtError} `ETIMEDOUT`; an abort → the signal's reason;
 * - a closed session → {@link VmkMgmtError} `EBADF`.
 *
 * @example
 * ```ts
 * import { VmkMgmtError } from "./errors.ts";
 * const e = new VmkMgmtError(2, { operation: "invoke", callback: "getStats", instance: "vmnic9" });
 * e.code; // "ENOENT"
 * ```
 * @module
 */
import { ERRNO, errnoName } from "../abi/facts.ts";

/** A value did not fit its declared type; `path` names the parameter or field. */
export class ValueError extends TypeError {
  /** Dotted path of the offending parameter or struct field, e.g. `stats.mtu`. */
  readonly path: string;
  /** What was wrong, without the path. */
  readonly reason: string;
  /** Builds the error; the message is `${context}${path}: ${message}`. */
  constructor(path: string, message: string, context = "") {
    super(`${context}${path ? `${path}: ` : ""}${message}`);
    this.name = "ValueError";
    this.path = path;
    this.reason = message;
  }
}

/** A signature broke a rule of the ABI; the message names the callback and field. */
export class SignatureError extends Error {
  /** Builds the error. */
  constructor(message: string) {
    super(message);
    this.name = "SignatureError";
  }
}

const MESSAGES: Partial<Record<keyof typeof ERRNO, string>> = {
  EPERM: "operation not permitted",
  ENOENT: "no such callback or instance",
  EINTR: "interrupted",
  EIO: "I/O error from the kernel (it went away, dropped the session, or failed the call)",
  E2BIG: "argument list too long",
  EBADF: "bad handle",
  EAGAIN: "resource temporarily unavailable",
  ENOMEM: "out of memory",
  EACCES: "permission denied",
  EFAULT: "bad address",
  EBUSY: "device or resource busy",
  EEXIST: "already exists (monitoring already begun)",
  ENODEV: "no kernel module serves this API signature (name, vendor and major.minor must match)",
  EINVAL: "invalid argument (parameter count, size or direction differs from the kernel's, or misuse)",
  ENOSPC: "no space left",
  EPIPE: "broken pipe",
  ERANGE: "result out of range",
  EDEADLK: "would deadlock (called from inside a kernel-to-user callback)",
  ENOSYS: "function not implemented",
  ENODATA: "no data",
  ETIME: "timer expired",
  EPROTO: "protocol error",
  EOVERFLOW: "value too large",
  ENOTSUP: "operation not supported",
  ECONNRESET: "connection reset by peer",
  ETIMEDOUT: "timed out",
  ECONNREFUSED: "connection refused",
  ECANCELED: "operation canceled",
};

/** A short human explanation of an errno in the vmk_Mgmt context. */
export function errnoMessage(errno: number): string {
  return MESSAGES[errnoName(errno) as keyof typeof ERRNO] ?? `error ${errno}`;
}

/** What a failed operation was doing, for the error message. */
export interface ErrorContext {
  /** The library function or API operation, e.g. `vmk_MgmtUserCallbackInvokeInt`. */
  operation: string;
  /** API signature name. */
  signature?: string;
  /** The callback's name in the signature, when the error is a call's. */
  callback?: string;
  /** Instance name or id. */
  instance?: string;
  /** A hint for what to do. */
  hint?: string;
}

/**
 * A vmk_Mgmt function or the kernel returned an errno; also a timeout (`ETIMEDOUT`) and a closed
 * session (`EBADF`).
 *
 * @example
 * ```ts
 * import { VmkMgmtError } from "./errors.ts";
 * const e = new VmkMgmtError(2, { operation: "invoke", callback: "getStats", instance: "vmnic9" });
 * e.code; // "ENOENT"
 * ```
 */
export class VmkMgmtError extends Error {
  /** The positive errno the library or the kernel returned; {@link VmkMgmtError.code} names it. */
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

/** The error every method of a closed session throws or rejects with. */
export function closedError(ctx: ErrorContext): VmkMgmtError {
  return new VmkMgmtError(ERRNO.EBADF, { hint: "the session is closed; open a new one", ...ctx });
}
