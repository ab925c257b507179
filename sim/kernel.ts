/**
 * The simulated vmkernel's core: registered APIs and their instances, sessions, callback
 * dispatch with every check the real kernel makes, and per-session event queues with flow
 * control. Transport-free: it takes the typed requests of `payloads.ts` and returns typed
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
import { commandChoice, encodeParam } from "../mgmt/codec.ts";
import { findInstance, parseInstanceRef } from "../mgmt/instance_ref.ts";
import { formatVersion, type Signature } from "../mgmt/signature.ts";
import { escapeForLog } from "../util/log_text.ts";
import { Faults } from "./faults.ts";
import { type CallError, dispatchInvoke } from "./invoke.ts";
import type { ApiDefinition, EmitOptions, KernelInstance, KernelModule, ModuleContext } from "./module.ts";
import { ProtocolError } from "./frames.ts";
import type {
  CopyReply,
  CopyRequest,
  EventMessage,
  HelloReply,
  HelloRequest,
  InstanceList,
  InvokeReply,
  InvokeRequest,
} from "./payloads.ts";

/** How the simulator names itself in HELLO_REPLY (a bridge names itself and its host). */
const SIM_PEER = "vmkmgmt simulator";

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
  /** The module serving it (its control ops and background work). */
  module: KernelModule;
  /** Its handlers and session hooks. */
  definition: ApiDefinition;
  /** False once the module unregistered it (a hot-unplug): new sessions get ENODEV. */
  registered: boolean;
  /** The API's callback table, which every HELLO must match. */
  signature: Signature;
  /** The instances the driver registered, by kernel id. */
  instances: Map<bigint, KernelInstance>;
  /** The sessions open on it now (events go to them). */
  sessions: Set<Session>;
  /** What its module sees of the kernel. */
  context: ModuleContext;
  /** Stops the module's background work. */
  stop?: () => void;
}

/** A connected library handle. */
export interface Session {
  /** Unique in this simulator, from 1. */
  readonly id: number;
  /** The API the session opened with its HELLO. */
  readonly api: ApiState;
  /** Client process id. */
  readonly pid: number;
  /** Its connection to the library; frames to the session go out through it. */
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
  /** The session's id (see {@link Session.id}). */
  id: number;
  /** The API's name. */
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
  readonly #errors: CallError[] = [];

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

  /**
   * Registers a module: its first API, then its background work.
   * @throws {Error} when an API of that name and vendor is registered already.
   */
  register(module: KernelModule): void {
    const api = this.#registerApi(module, module);
    const stop = module.start?.(api.context);
    if (typeof stop === "function") api.stop = stop;
  }

  #registerApi(module: KernelModule, definition: ApiDefinition): ApiState {
    const sig = definition.signature;
    const key = apiKey(sig.name, sig.vendor);
    if (this.#apis.has(key)) {
      throw new Error(`an API named ${sig.name} by ${sig.vendor} is already registered`);
    }
    const api: ApiState = {
      module,
      definition,
      registered: true,
      signature: sig,
      instances: new Map(),
      sessions: new Set(),
      context: undefined as unknown as ModuleContext,
    };
    api.context = this.#context(api);
    for (const i of definition.instances ?? []) api.context.addInstance(i.id, i.name);
    this.#apis.set(key, api);
    return api;
  }

  /** Removes an API: its sessions are closed; a new session for it gets ENODEV. */
  #unregister(api: ApiState): boolean {
    if (!api.registered) return false;
    api.registered = false;
    this.#apis.delete(apiKey(api.signature.name, api.signature.vendor));
    for (const s of [...api.sessions]) this.dropSession(s.id);
    return true;
  }

  /** Stops background work of every module and drops every session. */
  shutdown(): void {
    for (const s of [...this.#sessions.values()]) this.dropSession(s.id);
    for (const api of this.#apis.values()) api.stop?.();
  }

  /** The registered APIs' signatures. */
  apis(): Signature[] {
    return [...this.#apis.values()].map((a) => a.signature);
  }

  /** The module serving an API (`name`, or `name/vendor` when several share the name). */
  moduleOf(api: string): KernelModule {
    return this.#api(api).module;
  }

  /** The module context of an API (`name` or `name/vendor`; for tests and control ops). */
  context(api?: string): ModuleContext {
    return this.#api(api).context;
  }

  #api(ref?: string): ApiState {
    if (ref === undefined) {
      const first = this.#apis.values().next().value;
      if (!first) throw new Error("no API is registered");
      return first;
    }
    const exact = this.#apis.get(ref);
    if (exact) return exact;
    const named = [...this.#apis.values()].filter((a) => a.signature.name === ref);
    if (named.length === 1) return named[0];
    const all = [...this.#apis.keys()].join(", ");
    if (named.length > 1) throw new Error(`several APIs are named ${ref}: give name/vendor (${all})`);
    throw new Error(`no API named ${ref}; registered: ${all || "none"}`);
  }

  #context(api: ApiState): ModuleContext {
    const ctx: ModuleContext = {
      signature: api.signature,
      emit: (event, params, options) =>
        this.#emit(api, event, params as Record<string, unknown>, options ?? {}),
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
      registerApi: (definition) =>
        this.#registerApi(api.module, definition as ApiDefinition).context as never,
      unregister: () => this.#unregister(api),
      get registered() {
        return api.registered;
      },
    };
    return ctx;
  }

  // ---------------------------------------------------------------- sessions

  /** Answers HELLO: matches name, vendor, major and minor. */
  hello(req: HelloRequest, transport: Transport): { reply: HelloReply; session?: Session } {
    const { revnum, name, vendor, pid } = req;
    const api = this.#apis.get(apiKey(name, vendor));
    if (!api || !sameMajorMinor(api.signature.revnum, revnum)) {
      const vendors = [...this.#apis.values()].filter((a) => a.signature.name === name).map((a) =>
        a.signature.vendor
      );
      const why = api
        ? `version ${formatVersion(revnum)} does not match ${api.signature.version} (major.minor)`
        : vendors.length
        ? `vendor ${JSON.stringify(vendor)} is not ${vendors.map((v) => JSON.stringify(v)).join(" or ")}`
        : `no API named ${JSON.stringify(name)}`;
      this.log(`refused session for ${name}/${vendor} ${formatVersion(revnum)}: ${why}`);
      return { reply: { status: ERRNO.ENODEV, sessionId: 0n, peer: `${SIM_PEER}: ${why}` } };
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
    this.#hook(api, "sessionOpened", session);
    return { reply: { status: 0, sessionId: BigInt(session.id), peer: SIM_PEER }, session };
  }

  /** Forgets a session whose connection ended. */
  sessionClosed(session: Session): void {
    if (session.closed) return;
    session.closed = true;
    session.api.sessions.delete(session);
    this.#sessions.delete(session.id);
    this.faults.forgetSession(session.id);
    this.#hook(session.api, "sessionClosed", session);
  }

  /** Runs a module's session hook; a failing one is logged, never the kernel's problem. */
  #hook(api: ApiState, which: "sessionOpened" | "sessionClosed", session: Session): void {
    const fn = api.definition[which];
    if (!fn) return;
    try {
      fn({ id: session.id, pid: session.pid }, api.context);
    } catch (e) {
      this.log(`${api.signature.name}.${which} failed: ${(e as Error).stack ?? e}`);
    }
  }

  /** Closes a session's connection (fault injection: "drop a session"). */
  dropSession(id: number): boolean {
    const s = this.#sessions.get(id);
    if (!s) return false;
    this.sessionClosed(s);
    s.transport.close();
    return true;
  }

  /** Remembers a failed call (the last 64), for `sim ctl errors`. */
  recordError(e: Omit<CallError, "at">): void {
    this.#errors.push({ at: new Date().toISOString(), ...e });
    if (this.#errors.length > 64) this.#errors.shift();
  }

  /** Failed calls, newest first; only those of process `pid` when given. */
  errors(pid?: number): CallError[] {
    return this.#errors.filter((e) => pid === undefined || e.pid === pid).reverse();
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
    return this.#emit(this.#api(apiName), event, params, options);
  }

  #emit(api: ApiState, event: string, params: Record<string, unknown>, options: EmitOptions): number {
    if (!api.registered) throw new Error(`${api.signature.name} is no longer registered`);
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
        return encodeParam(p, params[p.name], p.name, undefined, commandChoice(p, cb.params, params));
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

/** APIs are unique by name and vendor. */
function apiKey(name: string, vendor: string): string {
  return `${name}/${vendor}`;
}
