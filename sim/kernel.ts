/**
 * The simulated vmkernel's core: registered APIs and their instances, sessions, callback
 * dispatch with every check the real kernel makes, and per-session event queues with flow
 * control. Transport-free: it takes the typed requests of `protocol.ts` and returns typed
 * replies; `server.ts` turns frames into requests and replies into frames.
 * @module
 */
import {
  ERRNO,
  MAX_INSTANCES,
  NAME_MAX_BYTES,
  NO_INSTANCE_ID,
  sameMajorMinor,
  U64_MAX,
} from "../abi/facts.ts";
import { encodeParam } from "../mgmt/codec.ts";
import { findInstance, parseInstanceRef } from "../mgmt/instance_ref.ts";
import { formatVersion, type Signature } from "../mgmt/signature.ts";
import { escapeForLog } from "../util/log_text.ts";
import { Faults } from "./faults.ts";
import { dispatchInvoke } from "./invoke.ts";
import type { EmitOptions, KernelInstance, KernelModule, ModuleContext } from "./module.ts";
import {
  type CopyReply,
  type CopyRequest,
  type EventMessage,
  type HelloReply,
  type HelloRequest,
  type InstanceList,
  type InvokeReply,
  type InvokeRequest,
  ProtocolError,
} from "./protocol.ts";

/** Unacknowledged EVENT frames allowed in flight per session. */
export const EVENT_WINDOW = 64;
/** Events waiting per session beyond the window; more are dropped and counted. */
export const EVENT_QUEUE_MAX = 1024;

/** How the kernel reaches a session's peer. */
export interface Transport {
  /** Sends an event, in order. */
  event(event: EventMessage): void;
  /** Tells the library how many events have been dropped for this session so far. */
  dropped(total: number): void;
  /** Closes the connection. */
  close(): void;
}

/** A registered API: its module, instances, sessions and the context its module sees. */
export interface ApiState {
  /** The module serving it. */
  module: KernelModule;
  /** Its signature. */
  signature: Signature;
  /** Its instances by id. */
  instances: Map<bigint, KernelInstance>;
  /** The sessions open on it. */
  sessions: Set<Session>;
  /** What its module sees of the kernel. */
  context: ModuleContext;
  /** Stops the module's background work. */
  stop?: () => void;
}

/** A connected library handle. */
export interface Session {
  /** Session id. */
  readonly id: number;
  /** The API it opened. */
  readonly api: ApiState;
  /** Client process id. */
  readonly pid: number;
  /** Its connection. */
  readonly transport: Transport;
  /** Events waiting for credit. */
  queue: EventMessage[];
  /** Events sent and not yet acknowledged. */
  inFlight: number;
  /** Events sent. */
  delivered: number;
  /** Events dropped because the queue was full. */
  dropped: number;
  /** A report of `dropped` to the library is scheduled (one per burst of drops). */
  droppedReport: boolean;
  /** Kernel callbacks invoked. */
  calls: number;
  /** The connection ended. */
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

/** The simulated kernel. */
export class Kernel {
  readonly #apis = new Map<string, ApiState>();
  readonly #sessions = new Map<number, Session>();
  #nextSession = 1;
  /** Fault injection table. */
  readonly faults: Faults = new Faults();
  readonly #sink: (line: string) => void;

  /** A kernel whose diagnostics go to `sink` (stderr, with a `[sim]` prefix, by default). */
  constructor(sink: (line: string) => void = (line) => console.error(`[sim] ${line}`)) {
    this.#sink = sink;
  }

  /**
   * Writes one diagnostic line. Messages carry what clients and modules sent (names, errors), so
   * every control character is escaped: nothing a client sends can forge a line.
   */
  log(msg: string): void {
    this.#sink(escapeForLog(msg));
  }

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
      instance: (ref) => findInstance(api.instances.values(), parseInstanceRef(ref)),
      addInstance: (id, name) => {
        const bid = typeof id === "bigint" || Number.isSafeInteger(id) ? BigInt(id) : -1n;
        if (bid <= NO_INSTANCE_ID || bid > U64_MAX) {
          throw new RangeError(`instance id ${id} must be 1..2^64-1`);
        }
        const len = typeof name === "string" ? new TextEncoder().encode(name).length : 0;
        if (len < 1 || len > NAME_MAX_BYTES) {
          throw new RangeError(`instance name ${JSON.stringify(name)} must be 1..${NAME_MAX_BYTES} bytes`);
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

  /** Answers HELLO: matches name, vendor, major and minor. */
  hello(req: HelloRequest, transport: Transport): { reply: HelloReply; session?: Session } {
    const { revnum, name, vendor, pid } = req;
    const api = this.#apis.get(name);
    if (!api || api.signature.vendor !== vendor || !sameMajorMinor(api.signature.revnum, revnum)) {
      const why = !api
        ? `no API named ${JSON.stringify(name)}`
        : api.signature.vendor !== vendor
        ? `vendor ${JSON.stringify(vendor)} != ${JSON.stringify(api.signature.vendor)}`
        : `version ${formatVersion(revnum)} does not match ${api.signature.version} (major.minor)`;
      this.log(`refused session for ${name}/${vendor} ${formatVersion(revnum)}: ${why}`);
      return { reply: { status: ERRNO.ENODEV, sessionId: 0n } };
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
      droppedReport: false,
      calls: 0,
      closed: false,
    };
    api.sessions.add(session);
    this.#sessions.set(session.id, session);
    return { reply: { status: 0, sessionId: BigInt(session.id) }, session };
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
  instances(session: Session): InstanceList {
    return { status: 0, instances: [...session.api.instances.values()].slice(0, MAX_INSTANCES) };
  }

  // ---------------------------------------------------------------- events

  /**
   * Sends a user-location callback; returns the number of sessions it was queued for.
   * @throws {Error} naming an unknown API, event, instance or parameter.
   */
  emit(apiName: string, event: string, params: Record<string, unknown>, options: EmitOptions = {}): number {
    const api = this.#api(apiName);
    const cb = api.signature.event(event);
    let instanceId = NO_INSTANCE_ID;
    const ref = parseInstanceRef(options.instance);
    // An instance object is taken as it is: it may have been removed since (an event after a delay).
    if (ref.kind === "id" && typeof options.instance === "object") instanceId = ref.id;
    else if (ref.kind !== "none") {
      const inst = findInstance(api.instances.values(), ref);
      if (!inst) throw new Error(`${api.signature.name} has no instance ${String(options.instance)}`);
      instanceId = inst.id;
    }
    for (const k of Object.keys(params ?? {})) {
      if (!cb.params.some((p) => p.name === k)) throw new Error(`${event} has no parameter ${k}`);
    }
    const message: EventMessage = {
      instanceId,
      callbackId: BigInt(cb.id),
      params: cb.params.map((p) => {
        if (!(p.name in (params ?? {}))) throw new Error(`${event}: missing parameter ${p.name}`);
        return encodeParam(p, params[p.name]);
      }),
    };
    const targets = options.session === undefined
      ? [...api.sessions]
      : [...api.sessions].filter((s) => s.id === options.session);
    for (const s of targets) this.#enqueue(s, message);
    return targets.length;
  }

  #enqueue(s: Session, event: EventMessage): void {
    if (s.queue.length >= EVENT_QUEUE_MAX) {
      s.dropped++;
      // Say so once the burst is over (after this task), not once per dropped event.
      if (!s.droppedReport) {
        s.droppedReport = true;
        queueMicrotask(() => {
          s.droppedReport = false;
          if (!s.closed) s.transport.dropped(s.dropped);
        });
      }
      return;
    }
    s.queue.push(event);
    this.#pump(s);
  }

  #pump(s: Session): void {
    while (!s.closed && s.inFlight < EVENT_WINDOW && s.queue.length > 0) {
      s.transport.event(s.queue.shift()!);
      s.inFlight++;
      s.delivered++;
    }
  }

  /** Handles EVENT_ACK: `n` events are done with. @throws {ProtocolError} for more than were sent. */
  ack(session: Session, n: number): void {
    if (n > session.inFlight) throw new ProtocolError("EVENT_ACK acknowledges more than was sent");
    session.inFlight -= n;
    this.#pump(session);
  }

  // ---------------------------------------------------------------- invoke

  /**
   * Handles INVOKE. Calls `reply` once (or never, for a stalled call). The kernel's own table
   * decides what a call means and what is copied in and out; the request must agree with it on
   * the count and the sizes. `copy` reaches the caller's memory while a sync call runs.
   */
  invoke(
    session: Session,
    req: InvokeRequest,
    reply: (reply: InvokeReply) => void,
    copy: (req: Omit<CopyRequest, "copyId">) => Promise<CopyReply>,
  ): void {
    session.calls++;
    dispatchInvoke(this, session, req, reply, copy);
  }
}
