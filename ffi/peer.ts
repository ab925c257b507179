/**
 * Who is at the other end of a Unix socket (`SO_PEERCRED`), for the simulator and the tools'
 * control connections. Deno has no API for it and does not expose a connection's file
 * descriptor, so this finds the descriptor itself: a connection's socket is the one that
 * appeared in `/proc/self/fd` since the last look and carries the expected address. Linux only.
 *
 * Facts this is built on: `accept()` in Deno happens only when JavaScript asks for the next
 * connection, so when the server looks, exactly one new socket is bound to its address; an
 * accepted socket keeps the address its listener was bound with (the bind path, even after the
 * socket file was renamed), while a client's socket has the server's bind path as peer name.
 *
 * @example
 * ```ts ignore
 * import { PeerTracker } from "./peer.ts";
 * const peers = new PeerTracker(boundPath); // right after Deno.listen
 * for await (const conn of listener) {
 *   const peer = peers.accepted(); // the peer of `conn`, before reading a byte
 * }
 * ```
 * @module
 */
import { cString } from "../abi/c_text.ts";

/** `struct ucred` of the process at the other end. */
export interface PeerCredentials {
  /** Its process id (as seen from our pid namespace; 0 when it is in another). */
  readonly pid: number;
  /** Its effective user id when it connected (or listened). */
  readonly uid: number;
  /** Its effective group id. */
  readonly gid: number;
}

/** Linux x86_64 facts (native/test/layout.c prints them; test/layout_test.ts compares). */
export const LINUX_SOCKET = {
  AF_UNIX: 1,
  SOL_SOCKET: 1,
  SO_PEERCRED: 17,
  /** sizeof(struct ucred): pid, uid, gid as 32-bit integers. */
  UCRED_SIZE: 12,
  /** sizeof(struct sockaddr_un), and where sun_path starts. */
  SOCKADDR_UN_SIZE: 110,
  SUN_PATH_OFFSET: 2,
  /** offsetof(struct dirent, d_name), as glibc's readdir returns it. */
  DIRENT_NAME_OFFSET: 19,
} as const;

const LIBC = {
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  getpeername: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  opendir: { parameters: ["buffer"], result: "pointer" },
  readdir: { parameters: ["pointer"], result: "pointer" },
  closedir: { parameters: ["pointer"], result: "i32" },
  readlink: { parameters: ["buffer", "buffer", "usize"], result: "isize" },
} as const;

let libc: Deno.DynamicLibrary<typeof LIBC>["symbols"] | undefined;

function sys(): Deno.DynamicLibrary<typeof LIBC>["symbols"] {
  return libc ??= Deno.dlopen("libc.so.6", LIBC).symbols;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A path as the NUL-terminated bytes libc takes. */
function nulTerminated(text: string): Uint8Array {
  return encoder.encode(`${text}\0`);
}

/**
 * The open sockets of this process: inode → file descriptor, from `/proc/self/fd` — read through
 * libc, since Deno grants that directory only to `--allow-all` (FFI is that much already).
 */
function sockets(): Map<number, number> {
  const found = new Map<number, number>();
  const dir = sys().opendir(nulTerminated("/proc/self/fd"));
  if (dir === null) throw new Error("cannot list /proc/self/fd (is /proc mounted?)");
  const link = new Uint8Array(64);
  try {
    for (let entry = sys().readdir(dir); entry !== null; entry = sys().readdir(dir)) {
      const name = new Deno.UnsafePointerView(entry).getCString(LINUX_SOCKET.DIRENT_NAME_OFFSET);
      if (!/^\d+$/.test(name)) continue;
      const n = Number(sys().readlink(nulTerminated(`/proc/self/fd/${name}`), link, BigInt(link.length)));
      if (n <= 0) continue; // closed while we looked (the directory's own descriptor, for one)
      const m = /^socket:\[(\d+)\]$/.exec(decoder.decode(link.subarray(0, n)));
      if (m) found.set(Number(m[1]), Number(name));
    }
  } finally {
    sys().closedir(dir);
  }
  return found;
}

function address(fd: number, which: "getsockname" | "getpeername"): string | null {
  const buf = new Uint8Array(LINUX_SOCKET.SOCKADDR_UN_SIZE);
  const len = new Uint32Array([buf.length]);
  if (sys()[which](fd, buf, new Uint8Array(len.buffer)) !== 0) return null;
  if (new DataView(buf.buffer).getUint16(0, true) !== LINUX_SOCKET.AF_UNIX) return null;
  const path = buf.subarray(LINUX_SOCKET.SUN_PATH_OFFSET, Math.min(len[0], buf.length));
  return cString(path);
}

function credentials(fd: number): PeerCredentials | null {
  const buf = new Uint8Array(LINUX_SOCKET.UCRED_SIZE);
  const len = new Uint32Array([buf.length]);
  const rc = sys().getsockopt(
    fd,
    LINUX_SOCKET.SOL_SOCKET,
    LINUX_SOCKET.SO_PEERCRED,
    buf,
    new Uint8Array(len.buffer),
  );
  if (rc !== 0 || len[0] !== buf.length) return null;
  const v = new DataView(buf.buffer);
  return { pid: v.getInt32(0, true), uid: v.getUint32(4, true), gid: v.getUint32(8, true) };
}

/**
 * The server side: finds the peer of each connection a listener accepts. Create it right after
 * `Deno.listen` (it records the listener's own socket), and call {@link PeerTracker.accepted} as
 * the first thing after each accept, before the next one.
 */
export class PeerTracker {
  readonly #bound: string;
  /** Inodes of the sockets already accounted for (the listener, earlier connections). */
  readonly #known = new Set<number>();

  /**
   * Records the listener bound to `boundPath` (the path given to `bind`, before any rename).
   * @throws {Error} when no such listener is open in this process.
   */
  constructor(boundPath: string) {
    this.#bound = boundPath;
    const mine = [...sockets()].filter(([, fd]) => address(fd, "getsockname") === boundPath);
    if (mine.length !== 1) {
      throw new Error(`expected one listener bound to ${boundPath}, found ${mine.length}`);
    }
    this.#known.add(mine[0][0]);
  }

  /**
   * The credentials of the connection accepted last; `null` when it cannot be told apart from
   * another new one (never expected): refuse such a connection.
   */
  accepted(): PeerCredentials | null {
    const open = sockets();
    // Forget sockets that are really closed now (Deno closes a connection's descriptor some time
    // after close() returns, so "closed" is only what has left /proc/self/fd). Socket inode numbers
    // are not reused while the kernel counts up, so a live inode is never mistaken for a new one.
    for (const inode of this.#known) if (!open.has(inode)) this.#known.delete(inode);
    const fresh = [...open].filter(([inode, fd]) =>
      !this.#known.has(inode) && address(fd, "getsockname") === this.#bound
    );
    for (const [inode] of fresh) this.#known.add(inode);
    return fresh.length === 1 ? credentials(fresh[0][1]) : null;
  }
}

/** The socket inodes open now; pass them to {@link connectedPeers} after connecting. */
export function socketSnapshot(): Set<number> {
  return new Set(sockets().keys());
}

/**
 * The client side: the credentials of the socket(s) this process opened since `before` whose
 * peer is bound under `dir` — the connection just made, and any other made there meanwhile.
 * A socket file renamed into `dir` from elsewhere keeps its old address: when nothing matches,
 * every new Unix connection counts (refuse unless all are trusted). Null for one whose
 * credentials cannot be read.
 */
export function connectedPeers(before: Set<number>, dir: string): (PeerCredentials | null)[] {
  const prefix = dir.endsWith("/") ? dir : `${dir}/`;
  const fresh = [...sockets()].filter(([inode]) => !before.has(inode)).map(([, fd]) => ({
    fd,
    peer: address(fd, "getpeername"),
  })).filter((s) => s.peer !== null);
  const under = fresh.filter((s) => s.peer!.startsWith(prefix));
  return (under.length > 0 ? under : fresh).map((s) => credentials(s.fd));
}
