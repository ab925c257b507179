/**
 * The simulated vmkernel's core: registered APIs and their instances, sessions, callback
 * dispatch with every check the real kernel makes, and per-session event queues with flow
 * control. Transport-free: `server.ts` feeds it frames.
 * @module
 */
import { decodeParam, encodeParam } from "../mgmt/codec.ts";
import { DIRECTION_BY_CODE, returnsData, sendsData } from "../mgmt/params.ts";
import { type CallbackInfo, formatVersion, MAX_INSTANCES, type Signature } from "../mgmt/signature.ts";
import { ERRNO } from "../ffi/errno.ts";
import { Faults } from "./faults.ts";
import {
  type EmitOptions,
  KernelError,
  type KernelInstance,
  type KernelModule,
  type ModuleContext,
} from "./module.ts";
import { buildFrame, FrameType, PayloadReader, PayloadWriter, ProtocolError } from "./wire.ts";

/** Unacknowledged EVENT frames allowed in flight per session. */
export const EVENT_WINDOW = 64;
/** Events waiting per session beyond the window; more are dropped and counted. */
export const EVENT_QUEUE_MAX = 1024;

/** How the kernel reaches a session's peer. */
export interface Transport {
  /** Queues a frame for sending, in order. */
  send(frame: Uint8Array): void;
  /** Closes the connection. */
  close(): void;
}

interface ApiState {
  module: KernelModule;
  signature: Signature;
  instances: Map<bigint, KernelInstance>;
  sessions: Set<Session>;
  context: ModuleContext;
  stop?: () => void;
}

/** A connected library handle. */
export interface Session {
  readonly id: number;
  readonly api: ApiState;
  readonly pid: number;
  readonly transport: Transport;
  queue: Uint8Array[];
  inFlight: number;
  delivered: number;
  dropped: number;
  calls: number;
  closed: boolean;
}

/** Public view of a session, for status and control. */
export interface SessionInfo {
  /** Session id. */
  id: number;
  /** API name. */
  api: string;
  /** Client process id. */
  pid: number;
  /** Kernel callbacks invoked. */
  calls: number;
  /** Events delivered to the socket. */
  delivered: number;
  /** Events waiting in the session queue. */
  queued: number;
  /** Events sent but not yet acknowledged. */
  inFlight: number;
  /** Events dropped because the queue was full. */
  dropped: number;
}

function instanceRefMatches(inst: KernelInstance, ref: bigint | number | string): boolean {
  if (typeof ref === "string") return inst.name === ref || (/^\d+$/.test(ref) && inst.id === BigInt(ref));
  return inst.id === BigInt(ref);
}

/** The simulated kernel. */
export class Kernel {
  readonly #apis = new Map<string, ApiState>();
  readonly #sessions = new Map<number, Session>();
  #nextSession = 1;
  /** Fault injection table. */
  readonly faults: Faults = new Faults();
  /** Where diagnostics go. */
  log: (msg: string) => void = (msg) => console.error(`[sim] ${msg}`);

  /** Registers a module's API; its name must be unique. */
  register(module: KernelModule): void {
    const sig = module.signature;
    if (this.#apis.has(sig.name)) throw new Error(`an API named ${sig.name} is already registered`);
    const api: ApiState = {
      module,
      signature: sig,
      instances: new Map(),
      sessions: new Set(),
      context: undefined as unknown as ModuleContext,
    };
    api.context = this.#context(api);
    for (const i of module.instances ?? []) api.context.addInstance(i.id, i.name);
    this.#apis.set(sig.name, api);
    const stop = module.start?.(api.context);
    if (typeof stop === "function") api.stop = stop;
  }

  /** Stops background work of every module and drops every session. */
  shutdown(): void {
    for (const s of [...this.#sessions.values()]) this.dropSession(s.id);
    for (const api of this.#apis.values()) api.stop?.();
  }

  /** Names of the registered APIs. */
  apis(): Signature[] {
    return [...this.#apis.values()].map((a) => a.signature);
  }

  /** The module serving an API. */
  moduleOf(api: string): KernelModule {
    return this.#api(api).module;
  }

  /** The module context of an API (for tests and control ops). */
  context(api?: string): ModuleContext {
    return this.#api(api).context;
  }

  #api(name?: string): ApiState {
    if (name === undefined) {
      const first = this.#apis.values().next().value;
      if (!first) throw new Error("no API is registered");
      return first;
    }
    const api = this.#apis.get(name);
    if (!api) throw new Error(`no API named ${name}; registered: ${[...this.#apis.keys()].join(", ")}`);
    return api;
  }

  #context(api: ApiState): ModuleContext {
    const ctx: ModuleContext = {
      signature: api.signature,
      emit: (event, params, options) =>
        this.emit(api.signature.name, event, params as Record<string, unknown>, options),
      instances: () => [...api.instances.values()],
      instance: (ref) => [...api.instances.values()].find((i) => instanceRefMatches(i, ref)),
      addInstance: (id, name) => {
        const bid = BigInt(id);
        if (bid <= 0n || bid >= 1n << 64n) throw new RangeError(`instance id ${id} must be 1..2^64-1`);
        const len = new TextEncoder().encode(name).length;
        if (len < 1 || len > 31) {
          throw new RangeError(`instance name ${JSON.stringify(name)} must be 1..31 bytes`);
        }
        if (api.instances.has(bid)) throw new Error(`instance ${id} already exists in ${api.signature.name}`);
        if (api.instances.size >= MAX_INSTANCES) {
          throw new RangeError(`at most ${MAX_INSTANCES} instances per API`);
        }
        const inst = Object.freeze({ id: bid, name });
        api.instances.set(bid, inst);
        return inst;
      },
      removeInstance: (ref) => {
        const inst = ctx.instance(ref);
        return inst ? api.instances.delete(inst.id) : false;
      },
      sessions: () => [...api.sessions].map((s) => s.id),
    };
    return ctx;
  }

  // ---------------------------------------------------------------- sessions

  /** Answers HELLO: matches name, vendor, major and minor; returns the reply payload. */
  hello(payload: Uint8Array, transport: Transport): { reply: Uint8Array; session?: Session } {
    const r = new PayloadReader(payload);
    const revnum = r.u32();
    const name = r.name();
    const vendor = r.name();
    const pid = r.u32();
    if (r.remaining !== 0) throw new ProtocolError("HELLO has trailing bytes");
    const api = this.#apis.get(name);
    const majorMinor = (v: number) => v >>> 16;
    if (!api || api.signature.vendor !== vendor || majorMinor(api.signature.revnum) !== majorMinor(revnum)) {
      const why = !api
        ? `no API named ${JSON.stringify(name)}`
        : api.signature.vendor !== vendor
        ? `vendor ${JSON.stringify(vendor)} != ${JSON.stringify(api.signature.vendor)}`
        : `version ${formatVersion(revnum)} does not match ${api.signature.version} (major.minor)`;
      this.log(`refused session for ${name}/${vendor} ${formatVersion(revnum)}: ${why}`);
      return { reply: new PayloadWriter().i32(ERRNO.ENODEV).u64(0).finish() };
    }
    const session: Session = {
      id: this.#nextSession++,
      api,
      pid,
      transport,
      queue: [],
      inFlight: 0,
      delivered: 0,
      dropped: 0,
      calls: 0,
      closed: false,
    };
    api.sessions.add(session);
    this.#sessions.set(session.id, session);
    return { reply: new PayloadWriter().i32(0).u64(session.id).finish(), session };
  }

  /** Forgets a session whose connection ended. */
  sessionClosed(session: Session): void {
    if (session.closed) return;
    session.closed = true;
    session.api.sessions.delete(session);
    this.#sessions.delete(session.id);
    this.faults.forgetSession(session.id);
  }

  /** Closes a session's connection (fault injection: "drop a session"). */
  dropSession(id: number): boolean {
    const s = this.#sessions.get(id);
    if (!s) return false;
    this.sessionClosed(s);
    s.transport.close();
    return true;
  }

  /** Sessions, for status. */
  sessions(): SessionInfo[] {
    return [...this.#sessions.values()].map((s) => ({
      id: s.id,
      api: s.api.signature.name,
      pid: s.pid,
      calls: s.calls,
      delivered: s.delivered,
      queued: s.queue.length,
      inFlight: s.inFlight,
      dropped: s.dropped,
    }));
  }

  /** Answers GET_INSTANCES. */
  instances(session: Session): Uint8Array {
    const list = [...session.api.instances.values()].slice(0, MAX_INSTANCES);
    const w = new PayloadWriter().i32(0).u32(list.length);
    for (const i of list) w.u64(i.id).name(i.name);
    return w.finish();
  }

  // ---------------------------------------------------------------- events

  /** Sends a user-location callback; returns the number of sessions it was queued for. */
  emit(apiName: string, event: string, params: Record<string, unknown>, options: EmitOptions = {}): number {
    const api = this.#api(apiName);
    const cb = api.signature.callbacks[event as keyof typeof api.signature.callbacks] as
      | CallbackInfo
      | undefined;
    if (!cb || cb.location !== "user") {
      const events = api.signature.list.filter((c) => c.location === "user").map((c) => c.name);
      throw new Error(
        `${api.signature.name} has no user-location callback ${event}; events: ${events.join(", ")}`,
      );
    }
    let instanceId = 0n;
    const ref = options.instance;
    if (ref !== undefined && ref !== null) {
      if (typeof ref === "object") instanceId = ref.id;
      else {
        const inst = api.context.instance(ref);
        if (!inst) throw new Error(`${api.signature.name} has no instance ${ref}`);
        instanceId = inst.id;
      }
    }
    for (const k of Object.keys(params ?? {})) {
      if (!cb.params.some((p) => p.name === k)) throw new Error(`${event} has no parameter ${k}`);
    }
    const blobs = cb.params.map((p) => {
      if (!(p.name in (params ?? {}))) throw new Error(`${event}: missing parameter ${p.name}`);
      return encodeParam(p, params[p.name]);
    });
    const w = new PayloadWriter().u64(instanceId).u64(cb.id).u32(blobs.length);
    for (const b of blobs) w.u64(b.length);
    for (const b of blobs) w.bytes(b);
    const frame = buildFrame(FrameType.EVENT, 0, w.finish());
    const targets = options.session === undefined
      ? [...api.sessions]
      : [...api.sessions].filter((s) => s.id === options.session);
    for (const s of targets) this.#enqueue(s, frame);
    return targets.length;
  }

  #enqueue(s: Session, frame: Uint8Array): void {
    if (s.queue.length >= EVENT_QUEUE_MAX) {
      s.dropped++;
      return;
    }
    s.queue.push(frame);
    this.#pump(s);
  }

  #pump(s: Session): void {
    while (!s.closed && s.inFlight < EVENT_WINDOW && s.queue.length > 0) {
      s.transport.send(s.queue.shift()!);
      s.inFlight++;
      s.delivered++;
    }
  }

  /** Handles EVENT_ACK. */
  ack(session: Session, payload: Uint8Array): void {
    const r = new PayloadReader(payload);
    const n = r.u32();
    if (r.remaining !== 0 || n > session.inFlight) {
      throw new ProtocolError("EVENT_ACK acknowledges more than was sent");
    }
    session.inFlight -= n;
    this.#pump(session);
  }

  // ---------------------------------------------------------------- invoke

  /**
   * Handles INVOKE. Calls `reply` with the reply payload once (or never, for a stalled call).
   * Throws {@link ProtocolError} for a frame that does not parse.
   */
  invoke(session: Session, payload: Uint8Array, reply: (payload: Uint8Array) => void): void {
    const r = new PayloadReader(payload);
    const instanceId = r.u64();
    const callbackId = r.u64();
    const sync = r.u8();
    const numParms = r.u8();
    r.bytes(6);
    if (numParms > 4 || sync > 1) throw new ProtocolError("INVOKE: bad sync flag or parameter count");
    const parms: { type: number; size: number; length: number; data?: Uint8Array }[] = [];
    for (let i = 0; i < numParms; i++) {
      const type = r.u8();
      r.bytes(3);
      const size = r.u32();
      const length = r.u64();
      if (type > 5 || size === 0 || length > BigInt(payload.length) + (1n << 27n)) {
        throw new ProtocolError("INVOKE: bad parameter descriptor");
      }
      const len = Number(length);
      const vector = type >= 3;
      if ((!vector && len !== size) || (vector && (len === 0 || len % size !== 0))) {
        throw new ProtocolError("INVOKE: parameter length does not fit its size");
      }
      parms.push({ type, size, length: len });
    }
    for (const p of parms) if (sendsData(DIRECTION_BY_CODE[p.type])) p.data = r.bytes(p.length);
    if (r.remaining !== 0) throw new ProtocolError("INVOKE: trailing bytes");
    session.calls++;

    const status = (errno: number) => new PayloadWriter().i32(errno).u32(0).finish();
    const api = session.api;
    const cb = api.signature.byId(callbackId);
    const instance = instanceId === 0n ? null : api.instances.get(instanceId);
    if (!cb || (instanceId !== 0n && !instance)) return reply(status(ERRNO.ENOENT));
    if (cb.location !== "kernel" || cb.params.length !== numParms) return reply(status(ERRNO.EINVAL));
    for (let i = 0; i < numParms; i++) {
      const p = cb.params[i];
      if (DIRECTION_BY_CODE[parms[i].type] !== p.dir || parms[i].size !== p.size) {
        return reply(status(ERRNO.EINVAL));
      }
    }

    const run = async (delayMs: number) => {
      if (delayMs > 0) await new Promise((res) => setTimeout(res, delayMs));
      if (session.closed) return;
      const params: Record<string, unknown> = {};
      cb.params.forEach((p, i) => {
        if (p.dir === "vectorOut") params[p.name] = parms[i].length / p.size;
        else if (parms[i].data) params[p.name] = decodeParam(p, parms[i].data);
      });
      const call = { instance: instance ?? null, session: session.id, params, kernel: api.context };
      const handler = (api.module.handlers as Record<string, (c: typeof call) => unknown>)[cb.name];
      if (!sync) {
        reply(status(0));
        try {
          await handler?.(call);
        } catch (e) {
          this.log(`async ${api.signature.name}.${cb.name} handler failed: ${(e as Error).stack ?? e}`);
        }
        return;
      }
      let result: Record<string, unknown> = {};
      try {
        result = ((await handler?.(call)) ?? {}) as Record<string, unknown>;
      } catch (e) {
        if (e instanceof KernelError) return reply(status(e.errno));
        this.log(`${api.signature.name}.${cb.name} handler failed: ${(e as Error).stack ?? e}`);
        return reply(status(ERRNO.EIO));
      }
      if (session.closed) return;
      try {
        reply(this.#encodeResult(cb, parms, result));
      } catch (e) {
        this.log(`${api.signature.name}.${cb.name} returned a bad result: ${(e as Error).message}`);
        reply(status(ERRNO.EIO));
      }
    };

    // A module bug must cost one call, never the simulator.
    const crashed = (e: unknown) => {
      this.log(`${api.signature.name}.${cb.name} failed: ${(e as Error).stack ?? e}`);
      if (!session.closed) reply(status(ERRNO.EIO));
    };
    const fault = this.faults.take(api.signature.name, instanceId);
    if (fault.kind === "stall") {
      this.faults.hold(session.id, () => void run(0).catch(crashed));
      return;
    }
    if (fault.kind === "fail") {
      const send = () => !session.closed && reply(status(fault.errno));
      if (fault.delayMs > 0) setTimeout(send, fault.delayMs);
      else send();
      return;
    }
    void run(fault.delayMs).catch(crashed);
  }

  #encodeResult(
    cb: CallbackInfo,
    parms: { length: number; data?: Uint8Array }[],
    result: Record<string, unknown>,
  ): Uint8Array {
    const w = new PayloadWriter().i32(0).u32(parms.length);
    for (const p of parms) w.u64(p.length);
    cb.params.forEach((p, i) => {
      if (!returnsData(p.dir)) return;
      const len = parms[i].length;
      let blob: Uint8Array;
      if (p.name in result && result[p.name] !== undefined) {
        const value = result[p.name];
        const isEmptyVector = (value instanceof Uint8Array || Array.isArray(value)) && value.length === 0;
        if (!p.dir.startsWith("vector")) blob = encodeParam({ ...p, dir: "in" }, value);
        else blob = isEmptyVector ? new Uint8Array(0) : encodeParam({ ...p, dir: "vectorIn" }, value);
      } else if (p.dir === "inout" || p.dir === "vectorInOut") {
        blob = parms[i].data!;
      } else {
        blob = new Uint8Array(0);
      }
      // The caller's buffer has a fixed length: the kernel writes at most that, zero-filled.
      const out = new Uint8Array(len);
      out.set(blob.subarray(0, len));
      w.bytes(out);
    });
    return w.finish();
  }
}
