/**
 * The trust rules of the simulator socket on the TypeScript side (the C library applies the same
 * ones in native/trust.c): the socket's directory belongs to the user or to root and no one else
 * may write there (OpenSSH's StrictModes rule: a 0711 or 0755 directory is fine, a group- or
 * world-writable one is not), and the process at the other end runs as the user or as root. Used by the simulator before it listens and on every connection, and by
 * the tools before they send a control request.
 *
 * @example
 * ```ts ignore
 * import { ensureSocketDir } from "./socket_trust.ts";
 * await ensureSocketDir("/tmp/vmkmgmt-1000"); // creates it 0700, or refuses someone else's
 * ```
 * @module
 */
import { DIR_WRITE_MASK, SIM_SOCKET_ENV, trustedUid } from "../abi/facts.ts";
import { dirnameOf } from "./path.ts";

/** A socket directory or a peer that must not be trusted; the message says whose and why. */
export class TrustError extends Error {
  /** The directory or socket refused. */
  readonly path: string;
  /** Builds the error. */
  constructor(path: string, message: string) {
    super(message);
    this.name = "TrustError";
    this.path = path;
  }
}

function me(): number {
  return Deno.uid() ?? 0;
}

function octal(mode: number): string {
  return `0${(mode & 0o7777).toString(8).padStart(3, "0")}`;
}

/**
 * Checks the directory a socket lives in.
 * @throws {TrustError} when it is a symbolic link or not a directory, belongs to someone else,
 * or is writable by others — naming the path, its owner and mode.
 * @throws {Deno.errors.NotFound} when it does not exist.
 */
export async function checkSocketDir(dir: string): Promise<void> {
  const st = await Deno.lstat(dir);
  const uid = me();
  if (!st.isDirectory) {
    throw new TrustError(
      dir,
      `the socket directory ${dir} is not a directory (a symbolic link?): refusing it`,
    );
  }
  const owner = st.uid ?? -1;
  const mode = st.mode ?? 0o7777;
  if (!trustedUid(owner, uid)) {
    throw new TrustError(
      dir,
      `the socket directory ${dir} is owned by uid ${owner}, not you (uid ${uid}): refusing it`,
    );
  }
  if (mode & DIR_WRITE_MASK) {
    throw new TrustError(
      dir,
      `the socket directory ${dir} (owner uid ${owner}, mode ${
        octal(mode)
      }) is writable by others: refusing it (chmod go-w it, or point ${SIM_SOCKET_ENV} elsewhere)`,
    );
  }
}

/**
 * Makes sure the directory of a socket the simulator will create exists and can be trusted:
 * creates it with mode 0700 (never following a symbolic link in its place; its parents as
 * `mkdir -p` would), or checks the one already there.
 * @throws {TrustError} as {@link checkSocketDir}.
 */
export async function ensureSocketDir(dir: string): Promise<void> {
  const parent = dirnameOf(dir);
  if (parent !== dir) await Deno.mkdir(parent, { recursive: true });
  try {
    // Not recursive: mkdir(2) fails on anything already there, a symbolic link included.
    await Deno.mkdir(dir, { mode: 0o700 });
  } catch (e) {
    if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
  }
  await checkSocketDir(dir);
}

/**
 * Checks who is at the other end: `role` says which end it is (`kernel` for a client checking
 * the simulator, `client` for the simulator checking a client).
 * @throws {TrustError} unless it runs as the user or as root, or when that cannot be told.
 */
export function checkPeer(
  peer: { uid: number; pid: number } | null,
  path: string,
  role: "kernel" | "client",
): void {
  const uid = me();
  if (peer === null) throw new TrustError(path, `cannot tell who runs the ${role} at ${path}: refusing it`);
  if (!trustedUid(peer.uid, uid)) {
    const what = role === "kernel" ? `the kernel at ${path} is run by` : `a client of ${path} runs as`;
    throw new TrustError(
      path,
      `${what} uid ${peer.uid} (pid ${peer.pid}), not you (uid ${uid}): refusing it`,
    );
  }
}
