/**
 * The simulator's socket server: listens on a Unix socket in a directory only its user can use
 * (mode 0600, whatever the umask), accepts only clients of its own uid or root (README, "Trust"),
 * speaks the wire protocol and feeds the kernel. A malformed or hostile client is answered with
 * an ERROR frame and disconnected; nothing it sends can stop the server.
 *
 * @example
 * ```ts ignore
 * import { startSimulator } from "./server.ts";
 * await using sim = await startSimulator({ socketPath: "/tmp/my-sim.sock" });
 * sim.kernel.faults.fail("acmeNicMgmt", 1n, 5);
 * ```
 * @module
 */
import { defaultSocketPath } from "./client.ts";
import type { ControlRequest } from "./client.ts";
import { PeerTracker } from "../ffi/peer.ts";
import { concatBytes } from "../util/bytes.ts";
import { dirnameOf } from "../util/path.ts";
import { checkPeer, ensureSocketDir } from "../util/socket_trust.ts";
import { runControl } from "./control.ts";
import { Kernel, type Session } from "./kernel.ts";
import { KernelError, type KernelModule } from "./module.ts";
import { ERRNO } from "../abi/facts.ts";
import nicModule from "./modules/acme_nic.ts";
import storageModule from "./modules/acme_storage.ts";
import nvmeModule from "./modules/acme_nvme.ts";
import { buildFrame, type Frame, FrameParser, FrameType, MAX_PAYLOAD, ProtocolError } from "./frames.ts";
import {
  type CopyReply,
  type CopyRequest,
  decodeCopyReply,
  decodeEventAck,
  decodeHello,
  decodeInvoke,
  decodeJsonPayload,
  encodeCopyRequest,
  encodeErrorText,
  encodeEvent,
  encodeEventsDropped,
  encodeHelloReply,
  encodeInstances,
  encodeInvokeReply,
  encodeJsonPayload,
  type EventMessage,
  replyPayloadSize,
} from "./payloads.ts";

/** The demo modules loaded by default. */
export const DEMO_MODULES: readonly KernelModule[] = [
  nicModule as unknown as KernelModule,
  storageModule as unknown as KernelModule,
  nvmeModule as unknown as KernelModule,
];

/** Options of {@link startSimulator}. */
export interface SimulatorOptions {
  /** Socket path; {@link defaultSocketPath} by default. */
  socketPath?: string;
  /** Modules to load besides (or instead of) the demo ones. */
  modules?: KernelModule[];
  /** Load the demo modules (default true). */
  demo?: boolean;
  /** Per-connection limits (backpressure); {@link DEFAULT_CONNECTION_LIMITS} by default. */
  limits?: Partial<ConnectionLimits>;
  /** Diagnostics sink, one line per call, control characters escaped (stderr by default). */
  log?: (msg: string) => void;
}

/** What one connection may hold before the simulator stops reading from it, or hangs up. */
export interface ConnectionLimits {
  /** Unwritten reply bytes plus replies promised, above which nothing more is read (default 8 MiB). */
  pendingBytes: number;
  /** A client whose replies have not moved for this long while over the limit is disconnected (30 s). */
  stalledWriteMs: number;
}

/** The default {@link ConnectionLimits}. */
export const DEFAULT_CONNECTION_LIMITS: Readonly<ConnectionLimits> = {
  pendingBytes: 8 * 1024 * 1024,
  stalledWriteMs: 30_000,
};

/** A running simulator. */
export interface Simulator extends AsyncDisposable {
  /** Where it listens. */
  readonly socketPath: string;
  /** The kernel, for fault injection and events from code. */
  readonly kernel: Kernel;
  /** Runs a control request (the same as `deno task sim ctl`). */
  control(req: ControlRequest): unknown;
  /** Stops listening, drops every session and removes the socket. */
  close(): Promise<void>;
}

/**
 * Clears the way for a socket at `path`: its directory is created 0700 or checked (someone
 * else's, or one others can write, is refused: they could swap the socket), and a stale socket of
 * an earlier run is removed. A live one is left alone.
 */
async function prepareSocketPath(path: string): Promise<void> {
  await ensureSocketDir(dirnameOf(path));
  let st: Deno.FileInfo;
  try {
    st = await Deno.lstat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return;
    throw e;
  }
  if (!st.isSocket) throw new Error(`${path} exists and is not a socket; refusing to replace it`);
  const live = await Deno.connect({ transport: "unix", path }).then((c) => (c.close(), true), () => false);
  if (live) {
    throw new Error(`a simulator is already listening on ${path} (set VMKMGMT_SIM_SOCKET for another)`);
  }
  await Deno.remove(path);
}

/**
 * Listens on `path` with a socket that is never more open than 0600, whatever the umask: it is
 * bound inside a fresh private directory, narrowed there, and only then renamed into place (so
 * there is no moment when another user could connect). Returns the listener and the path it
 * was bound with, which its connections keep as their address.
 */
async function listenPrivately(path: string): Promise<{ listener: Deno.UnixListener; boundPath: string }> {
  const dir = await Deno.makeTempDir({ dir: dirnameOf(path), prefix: ".bind-" });
  const boundPath = `${dir}/s`;
  try {
    const listener = Deno.listen({ transport: "unix", path: boundPath });
    try {
      await Deno.chmod(boundPath, 0o600);
      await Deno.rename(boundPath, path);
    } catch (e) {
      listener.close();
      throw e;
    }
    return { listener, boundPath };
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** Starts a simulator listening on a Unix socket. */
export async function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const socketPath = options.socketPath ?? defaultSocketPath();
  const kernel = new Kernel(options.log);
  const limits = { ...DEFAULT_CONNECTION_LIMITS, ...options.limits };
  for (const [k, v] of Object.entries(limits)) {
    if (typeof v !== "number" || !(v > 0) || !Number.isFinite(v)) {
      throw new RangeError(`limits.${k}: expected a number > 0, got ${String(v)}`);
    }
  }
  for (const m of [...(options.demo === false ? [] : DEMO_MODULES), ...(options.modules ?? [])]) {
    kernel.register(m);
  }
  await prepareSocketPath(socketPath);
  const { listener, boundPath } = await listenPrivately(socketPath);
  const peers = new PeerTracker(boundPath);
  const conns = new Set<Deno.Conn>();
  const accepting = (async () => {
    for await (const conn of listener) {
      // Before the next accept and before reading a byte: who is this?
      try {
        checkPeer(peers.accepted(), socketPath, "client");
      } catch (e) {
        kernel.log(`refused a connection: ${(e as Error).message}`);
        refuse(conn, `this simulator accepts only uid ${Deno.uid() ?? 0} and root`);
        continue;
      }
      conns.add(conn);
      new Connection(kernel, conn, limits).serve().finally(() => conns.delete(conn));
    }
  })().catch(() => {/* listener closed */});
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    listener.close();
    kernel.shutdown();
    for (const c of conns) {
      try {
        c.close();
      } catch { /* already closed */ }
    }
    await accepting;
    await Deno.remove(socketPath).catch(() => {});
  };
  return {
    socketPath,
    kernel,
    control: (req) => runControl(kernel, req),
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** Tells a refused client why (an ERROR frame) and hangs up, reading nothing it sent. */
async function refuse(conn: Deno.Conn, why: string): Promise<void> {
  try {
    await conn.write(buildFrame(FrameType.ERROR, 0, encodeErrorText(why)));
  } catch { /* gone already */ }
  try {
    conn.close();
  } catch { /* already closed */ }
}

/** Frames of one task are written together up to this many bytes (a larger one goes alone). */
const CORK_BYTES = 256 * 1024;

/** One encoding per event, however many sessions it goes to. */
const eventFrames = new WeakMap<EventMessage, Uint8Array>();

function eventFrame(e: EventMessage): Uint8Array {
  let frame = eventFrames.get(e);
  if (!frame) eventFrames.set(e, frame = buildFrame(FrameType.EVENT, 0, encodeEvent(e)));
  return frame;
}

/** One client connection: a session's frames or control requests, with backpressure both ways. */
class Connection {
  readonly #kernel: Kernel;
  readonly #conn: Deno.Conn;
  readonly #limits: ConnectionLimits;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  #open = true;
  // Backpressure: bytes handed to the writer and not yet written, plus the reply bytes promised to
  // calls in progress. Above `pendingBytes` no further frame is read or handled until it drains.
  #queued = 0;
  #reserved = 0;
  #lastWrite = Date.now();
  /** Frames sent in this task, not yet written (see #send). */
  #corked: Uint8Array[] = [];
  #corkedBytes = 0;
  // The replies to one read's calls go out together (see #hold): whether they are held, whether
  // that read's frames are still being handled, how many of its calls are unanswered, and which
  // hold a call was counted in (a reply after its hold ended counts for none).
  #holding = false;
  #holdReading = false;
  #holdCalls = 0;
  #holdGeneration = 0;
  #holdTimer: ReturnType<typeof setTimeout> | undefined;
  #progress: PromiseWithResolvers<void> | undefined;
  // The kernel's copies from and to the caller's memory, waiting for their COPY_REPLY. While one
  // waits, reading goes on whatever is pending (the reply must get through); a library that does
  // not answer in `stalledWriteMs` is disconnected.
  readonly #copies = new Map<number, { done: (r: CopyReply) => void; fail: (e: Error) => void }>();
  #nextCopy = 1;
  #session: Session | undefined;
  #role: "none" | "session" | "control" = "none";

  constructor(kernel: Kernel, conn: Deno.Conn, limits: ConnectionLimits) {
    this.#kernel = kernel;
    this.#conn = conn;
    this.#limits = limits;
    this.#writer = conn.writable.getWriter();
  }

  /** Serves the connection until it closes or misbehaves. */
  async serve(): Promise<void> {
    const parser = new FrameParser();
    const buf = new Uint8Array(256 * 1024);
    try {
      while (this.#open) {
        // A large payload is read straight into its own buffer; everything else through `buf`.
        const sink = parser.sink();
        const n = await this.#conn.read(sink ?? buf);
        if (n === null) break;
        this.#hold();
        for (const f of sink ? parser.filled(n) : parser.push(buf.slice(0, n))) {
          await this.#room();
          if (!this.#open) break;
          this.#handle(f);
        }
        this.#holdReading = false;
        if (this.#holdCalls === 0) this.#release();
        await this.#room();
      }
    } catch (e) {
      if (e instanceof ProtocolError) {
        this.#kernel.log(`disconnecting a client: ${e.message}`);
        this.#send(buildFrame(FrameType.ERROR, 0, encodeErrorText(e.message)));
      } else if (
        !(e instanceof Deno.errors.BadResource || e instanceof Deno.errors.ConnectionReset ||
          e instanceof Deno.errors.Interrupted)
      ) {
        this.#kernel.log(`connection failed: ${(e as Error).message}`);
      }
    } finally {
      for (const c of this.#copies.values()) c.fail(new KernelError(ERRNO.EIO, "the caller has gone"));
      this.#copies.clear();
      if (this.#session) this.#kernel.sessionClosed(this.#session);
      this.#shut();
    }
  }

  #wake(): void {
    this.#progress?.resolve();
    this.#progress = undefined;
  }

  #hangUp(): void {
    try {
      this.#conn.close(); // drops the writes still queued, and the memory they hold
    } catch { /* already closed */ }
  }

  /**
   * Holds what is sent from now until every call of the read being handled is answered, or until
   * the event loop's next turn (a call that waits on a timer, a copy or a fault): one write for a
   * read's replies. A reply comes several promise turns after its INVOKE, so the microtask that
   * ends a task (#send) went off after each one — the simulator wrote every reply alone (~23
   * writes a read at 32 calls in flight), and each woke its reader for one answer.
   */
  #hold(): void {
    this.#holdReading = true;
    if (this.#holding) return; // (the previous read's calls are still being answered: one hold)
    this.#holding = true;
    this.#holdTimer = setTimeout(this.#release, 0);
  }

  /** Ends the hold, if one is on, and writes what is corked. */
  readonly #release = (): void => {
    if (this.#holding) {
      clearTimeout(this.#holdTimer);
      this.#holding = false;
      this.#holdReading = false;
      this.#holdCalls = 0;
      this.#holdGeneration++;
    }
    this.#uncork();
  };

  /**
   * Queues a frame. The frames of one task go out together, in one write, at its end — or, while
   * a read's calls are being answered, at the hold's end (#hold): a burst of events (up to the
   * session's window of 64) or of replies took one write and one promise each, and the write of
   * each frame cost the simulator more than the rest of sending it.
   */
  readonly #send = (frame: Uint8Array): void => {
    if (!this.#open) return;
    this.#queued += frame.length;
    // A large frame goes alone (joined, it would be copied): after what was queued before it.
    if (frame.length >= CORK_BYTES) this.#uncork();
    if (this.#corked.length === 0 && !this.#holding) queueMicrotask(this.#uncork);
    this.#corked.push(frame);
    this.#corkedBytes += frame.length;
    if (this.#corkedBytes >= CORK_BYTES) this.#uncork();
  };

  /** Writes the frames queued so far (joined into one buffer when there are several). */
  readonly #uncork = (): void => {
    const frames = this.#corked;
    if (frames.length === 0) return;
    const bytes = this.#corkedBytes;
    this.#corked = [];
    this.#corkedBytes = 0;
    const chunk = frames.length === 1 ? frames[0] : concatBytes(frames, bytes);
    this.#writer.write(chunk).then(() => {
      this.#queued -= bytes;
      this.#lastWrite = Date.now();
      this.#wake();
    }, () => this.#shut());
  };

  readonly #shut = (): void => {
    if (!this.#open) return;
    this.#release(); // (what was sent before goes first: an ERROR frame says why)
    this.#open = false;
    this.#wake();
    // A client that does not read would keep a graceful close waiting forever.
    const force = setTimeout(() => this.#hangUp(), 2000);
    this.#writer.close().catch(() => {}).finally(() => {
      clearTimeout(force);
      this.#hangUp();
    });
  };

  /** Waits until what this client has pending is back under the limit; hangs up on one that stopped reading. */
  async #room(): Promise<void> {
    const limits = this.#limits;
    while (this.#open && this.#copies.size === 0 && this.#queued + this.#reserved > limits.pendingBytes) {
      if (this.#queued > 0 && Date.now() - this.#lastWrite > limits.stalledWriteMs) {
        this.#kernel.log(
          `disconnecting a client that stopped reading: ${this.#queued} bytes unread for ${limits.stalledWriteMs} ms`,
        );
        this.#open = false;
        this.#hangUp();
        return;
      }
      this.#progress = Promise.withResolvers<void>();
      const tick = setTimeout(() => this.#wake(), Math.min(1000, limits.stalledWriteMs));
      await this.#progress.promise;
      clearTimeout(tick);
    }
  }

  /** A copy the kernel asks of the caller's memory during call `invokeId`. */
  #copy(invokeId: number, req: Omit<CopyRequest, "copyId">): Promise<CopyReply> {
    if (!this.#open) return Promise.reject(new KernelError(ERRNO.EIO, "the caller has gone"));
    const copyId = this.#nextCopy++ >>> 0;
    this.#send(buildFrame(FrameType.COPY_REQUEST, invokeId, encodeCopyRequest({ ...req, copyId })));
    this.#uncork(); // (the call waits for its answer: no hold keeps it)
    const stalledMs = this.#limits.stalledWriteMs;
    return new Promise<CopyReply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#copies.delete(copyId);
        this.#kernel.log(`disconnecting a client that did not answer a copy in ${stalledMs} ms`);
        reject(new KernelError(ERRNO.EIO, "the caller did not answer a copy"));
        this.#hangUp();
      }, stalledMs);
      this.#copies.set(copyId, {
        done: (r) => (clearTimeout(timer), resolve(r)),
        fail: (e) => (clearTimeout(timer), reject(e)),
      });
    });
  }

  /** One frame: its first decides whether this is a session or a control connection. */
  #handle(f: Frame): void {
    if (this.#role === "none") {
      if (f.type === FrameType.HELLO) this.#role = "session";
      else if (f.type === FrameType.CONTROL) this.#role = "control";
      else throw new ProtocolError(`a connection must start with HELLO or CONTROL, not frame type ${f.type}`);
    }
    if (this.#role === "control") this.#control(f);
    else this.#sessionFrame(f);
  }

  #control(f: Frame): void {
    if (f.type !== FrameType.CONTROL) {
      throw new ProtocolError("a control connection sends only CONTROL frames");
    }
    let reply: unknown;
    try {
      reply = {
        ok: true,
        result: runControl(this.#kernel, decodeJsonPayload(f.payload) as ControlRequest) ?? null,
      };
    } catch (e) {
      reply = { ok: false, error: (e as Error).message };
    }
    this.#send(buildFrame(FrameType.CONTROL_REPLY, f.id, encodeJsonPayload(reply)));
  }

  #sessionFrame(f: Frame): void {
    const kernel = this.#kernel;
    const session = this.#session;
    if (!session && f.type in FRAME_NAMES) throw new ProtocolError(`${FRAME_NAMES[f.type]} before HELLO`);
    switch (f.type) {
      case FrameType.HELLO: {
        if (session) throw new ProtocolError("HELLO sent twice");
        const dropped = (total: number) =>
          this.#send(buildFrame(FrameType.EVENTS_DROPPED, 0, encodeEventsDropped(total)));
        const event = (e: EventMessage) => this.#send(eventFrame(e));
        const { reply, session: s } = kernel.hello(decodeHello(f.payload), {
          event,
          dropped,
          close: this.#shut,
        });
        this.#session = s;
        this.#send(buildFrame(FrameType.HELLO_REPLY, f.id, encodeHelloReply(reply)));
        if (!s) this.#shut();
        return;
      }
      case FrameType.INVOKE: {
        const req = decodeInvoke(f.payload);
        const promised = Math.min(replyPayloadSize(req.params), MAX_PAYLOAD);
        this.#reserved += promised;
        const hold = this.#holding ? this.#holdGeneration : -1;
        if (hold >= 0) this.#holdCalls++;
        kernel.invoke(session!, req, (r) => {
          this.#reserved -= promised;
          this.#send(buildFrame(FrameType.INVOKE_REPLY, f.id, encodeInvokeReply(r)));
          if (hold === this.#holdGeneration && --this.#holdCalls === 0 && !this.#holdReading) this.#release();
        }, (c) => this.#copy(f.id, c));
        return;
      }
      case FrameType.GET_INSTANCES:
        if (f.payload.length !== 0) throw new ProtocolError("GET_INSTANCES carries no payload");
        this.#send(buildFrame(FrameType.INSTANCES, f.id, encodeInstances(kernel.instances(session!))));
        return;
      case FrameType.COPY_REPLY: {
        const r = decodeCopyReply(f.payload);
        const waiting = this.#copies.get(r.copyId);
        if (!waiting) throw new ProtocolError(`COPY_REPLY for copy ${r.copyId}, which was not asked for`);
        this.#copies.delete(r.copyId);
        waiting.done(r);
        return;
      }
      case FrameType.EVENT_ACK:
        kernel.ack(session!, decodeEventAck(f.payload));
        return;
      default:
        throw new ProtocolError(`unexpected frame type ${f.type}`);
    }
  }
}

/** The frames a client may send after HELLO, by type, for the error that it came too early. */
const FRAME_NAMES: Record<number, string> = {
  [FrameType.INVOKE]: "INVOKE",
  [FrameType.GET_INSTANCES]: "GET_INSTANCES",
  [FrameType.COPY_REPLY]: "COPY_REPLY",
  [FrameType.EVENT_ACK]: "EVENT_ACK",
};
