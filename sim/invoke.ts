/**
 * The kernel side of one INVOKE: the checks the real kernel makes (callback, instance, count,
 * sizes — not directions: as on ESXi the kernel's own table decides what is copied in and out),
 * fault injection, the module's handler (sync or queued) with its copies from and to the caller's
 * memory, and the reply built from what the handler returned. A module bug costs one call, never
 * the simulator.
 * @module
 */
import { ERRNO, isVector, MAX_VECTOR_BYTES, NO_INSTANCE_ID, returnsData } from "../abi/facts.ts";
import { type CommandChoice, commandChoice, commandLayout, decodeParam, encodeParam } from "../mgmt/codec.ts";
import type { CallbackInfo, ParamInfo } from "../mgmt/signature.ts";
import type { CallError } from "./client.ts";
import type { Faults } from "./faults.ts";
import type { Session } from "./kernel.ts";
import { type ApiDefinition, KernelError, type KernelInstance, type RawReply } from "./module.ts";
import { MAX_PAYLOAD } from "./frames.ts";
import {
  CopyOp,
  type CopyReply,
  type CopyRequest,
  CopyTarget,
  type InvokeReply,
  type InvokeRequest,
  type ParamDescriptor,
  replyPayloadSize,
} from "./payloads.ts";

/** Sends a COPY_REQUEST for the call and resolves with its COPY_REPLY (server.ts). */
export type CopyChannel = (invokeId: number, req: Omit<CopyRequest, "copyId">) => Promise<CopyReply>;

export type { CallError };

/** What an invoke needs of its kernel. */
export interface InvokeHost {
  readonly faults: Faults;
  /** Diagnostics. */
  log(msg: string): void;
  /** Remembers a failed call for `sim ctl errors`. */
  recordError(e: Omit<CallError, "at">): void;
}

/** Runs one INVOKE of `session`; calls `reply` once, or never for a stalled call. */
export function dispatchInvoke(
  kernel: InvokeHost,
  session: Session,
  req: InvokeRequest,
  reply: (reply: InvokeReply) => void,
  copy: (req: Omit<CopyRequest, "copyId">) => Promise<CopyReply>,
): void {
  const { instanceId } = req;
  const api = session.api;
  // A module that answers from bytes (a replay) answers every call as the recorded kernel did,
  // its refusals included: none of the checks below, no faults.
  const answer = api.definition.answer;
  if (answer) {
    void answerRaw(answer, session, req, reply, callerMemory(req.sync, copy)).catch((e) => {
      kernel.log(
        `${api.signature.name}: answering callback ${req.callbackId} failed: ${(e as Error).stack ?? e}`,
      );
      if (!session.closed) reply(errnoReply(ERRNO.EIO));
    });
    return;
  }
  const cb = api.signature.byId(req.callbackId);
  const instance = instanceId === NO_INSTANCE_ID ? null : api.instances.get(instanceId);
  if (!cb || (instanceId !== NO_INSTANCE_ID && !instance)) return reply(errnoReply(ERRNO.ENOENT));
  const refused = refusal(cb, req.params);
  if (refused) return reply(errnoReply(refused));
  const call = new KernelCall(
    kernel,
    session,
    req,
    reply,
    cb,
    instance ?? null,
    callerMemory(req.sync, copy),
  );
  const fault = kernel.faults.take(api.signature.name, instanceId);
  if (fault.kind === "stall") {
    kernel.faults.hold(session.id, () => call.start(0));
    return;
  }
  if (fault.kind === "fail") {
    const send = () => call.failed(fault.errno, `a fault injected with \`sim fail\` (errno ${fault.errno})`);
    if (fault.delayMs > 0) setTimeout(send, fault.delayMs);
    else send();
    return;
  }
  call.start(fault.delayMs);
}

/** A reply with only a status. */
function errnoReply(errno: number): InvokeReply {
  return { status: errno, params: [] };
}

/**
 * The errno ESXi refuses a call with before running it (0: none): a callback that is not the
 * kernel's, or a count, size or vector-ness unlike its table's, or a reply no frame could carry.
 */
function refusal(cb: CallbackInfo, parms: readonly ParamDescriptor[]): number {
  if (cb.location !== "kernel" || cb.params.length !== parms.length) return ERRNO.EINVAL;
  for (let i = 0; i < parms.length; i++) {
    // ESXi checks the count and the sizes; a vector must stay a vector (its pointer is a
    // vmk_MgmtVectorParm), but which way the bytes go is the kernel's table's to say.
    const p = cb.params[i];
    if (isVector(parms[i].dir) !== isVector(p.dir) || parms[i].size !== p.size) return ERRNO.EINVAL;
    if (isVector(p.dir) && parms[i].length > MAX_VECTOR_BYTES) return ERRNO.EINVAL;
  }
  // Nothing is allocated for a reply no frame could carry: one small INVOKE must not cost the
  // kernel more memory than the protocol allows a reply.
  return replyPayloadSize(parms) > MAX_PAYLOAD ? ERRNO.EINVAL : 0;
}

/** One accepted call: its parameters decoded, the module's handler run, the reply built. */
class KernelCall {
  constructor(
    private readonly kernel: InvokeHost,
    private readonly session: Session,
    private readonly req: InvokeRequest,
    private readonly reply: (reply: InvokeReply) => void,
    private readonly cb: CallbackInfo,
    private readonly instance: KernelInstance | null,
    /** The caller's memory: reachable while a sync call runs, and only then. */
    private readonly memory: CallerMemory,
  ) {}

  /** Runs the call after `delayMs`; a module bug costs this call, never the simulator. */
  start(delayMs: number): void {
    void this.#run(delayMs).catch((e) => {
      this.kernel.log(
        `${this.session.api.signature.name}.${this.cb.name} failed: ${(e as Error).stack ?? e}`,
      );
      this.failed(ERRNO.EIO, `${this.cb.name} failed in the simulator: ${(e as Error)?.message ?? e}`);
    });
  }

  /** Answers `errno`, remembered for `sim ctl errors` with `reason`. */
  failed(errno: number, reason: string): void {
    const { session, cb } = this;
    this.kernel.recordError({
      pid: session.pid,
      session: session.id,
      api: session.api.signature.name,
      callback: cb.name,
      instance: this.instance?.name ?? null,
      errno,
      reason,
    });
    if (!session.closed) this.reply(errnoReply(errno));
  }

  async #run(delayMs: number): Promise<void> {
    const { session, cb, req: { params: parms, sync } } = this;
    const name = `${session.api.signature.name}.${cb.name}`;
    if (delayMs > 0) await new Promise((res) => setTimeout(res, delayMs));
    if (session.closed) return;
    let params: Record<string, unknown>;
    try {
      params = await this.#params();
    } catch (e) {
      if (!(e instanceof KernelError)) throw e;
      if (!session.closed) this.reply(errnoReply(e.errno));
      return;
    }
    if (session.closed) return;
    const call = {
      instance: this.instance,
      session: session.id,
      params,
      kernel: session.api.context,
      copyFromUser: this.memory.copyFromUser,
      copyToUser: this.memory.copyToUser,
    };
    const handler = (session.api.definition.handlers as Record<string, (c: typeof call) => unknown>)[cb.name];
    if (!sync) {
      // Queued: every parameter's length echoed, nothing returned (as PROTOCOL.md says of status 0).
      this.reply({ status: 0, params: parms.map((p) => ({ length: p.length })) });
      try {
        await handler?.(call);
      } catch (e) {
        this.kernel.log(`async ${name} handler failed: ${(e as Error).stack ?? e}`);
      }
      return;
    }
    let result: Record<string, unknown> = {};
    try {
      result = ((await handler?.(call)) ?? {}) as Record<string, unknown>;
    } catch (e) {
      if (e instanceof KernelError) return this.reply(errnoReply(e.errno));
      this.kernel.log(`${name} handler failed: ${(e as Error).stack ?? e}`);
      return this.failed(ERRNO.EIO, `the ${cb.name} handler failed: ${(e as Error)?.message ?? e}`);
    } finally {
      this.memory.close();
    }
    if (session.closed) return;
    try {
      this.reply(encodeResult(cb, parms, result, params));
    } catch (e) {
      this.kernel.log(`${name} returned a bad result: ${(e as Error).message}`);
      this.failed(ERRNO.EIO, `the ${cb.name} handler returned a bad result: ${(e as Error).message}`);
    }
  }

  /** The handler's parameters, decoded by the kernel's table. @throws {KernelError} a copy that failed. */
  async #params(): Promise<Record<string, unknown>> {
    const { cb, req: { params: parms, sync } } = this;
    const params: Record<string, unknown> = {};
    for (const [i, p] of cb.params.entries()) {
      if (p.dir === "vectorOut") {
        params[p.name] = parms[i].length / p.size;
        continue;
      }
      if (p.dir === "out") continue;
      // An in-ish parameter (by the kernel's table) whose bytes the caller did not send — its
      // own table says out — is copied from the caller's buffer, as a real kernel would.
      if (!parms[i].data && sync) {
        parms[i].data = await this.memory.userCopy(
          CopyOp.FROM_USER,
          CopyTarget.PARAMETER,
          BigInt(i),
          parms[i].length,
        );
      }
      params[p.name] = decodeParam(p, parms[i].data ?? new Uint8Array(parms[i].length));
    }
    // ioctl-style payloads typed by the call's command, for the handler (mgmt/types/command.ts).
    for (const [i, p] of cb.params.entries()) {
      if (!p.commands || p.dir === "vectorOut" || !parms[i].data) continue;
      params[p.name] = decodeParam(p, parms[i].data!, commandLayout(p, cb.params, params));
    }
    return params;
  }
}

/** The INVOKE_REPLY of a call the handler answered with `result`. */
function encodeResult(
  cb: CallbackInfo,
  parms: ParamDescriptor[],
  result: Record<string, unknown>,
  request: Record<string, unknown>,
): InvokeReply {
  return {
    status: 0,
    params: cb.params.map((p, i) => ({
      length: parms[i].length,
      data: returnsData(p.dir)
        ? returned(p, parms[i], result, commandChoice(p, cb.params, { ...request, ...result }))
        : undefined,
    })),
  };
}

/** The bytes a parameter returns: the handler's value, else an inout's input, else zeros. */
function returned(
  p: ParamInfo,
  parm: ParamDescriptor,
  result: Record<string, unknown>,
  choice?: CommandChoice,
): Uint8Array {
  const len = parm.length;
  let blob: Uint8Array;
  if (p.name in result && result[p.name] !== undefined) {
    const value = result[p.name];
    const isEmptyVector = (value instanceof Uint8Array || Array.isArray(value)) && value.length === 0;
    if (!isVector(p.dir)) blob = encodeParam({ ...p, dir: "in" }, value);
    else {
      blob = isEmptyVector
        ? new Uint8Array(0)
        : encodeParam({ ...p, dir: "vectorIn" }, value, p.name, undefined, choice);
    }
  } else if (p.dir === "inout" || p.dir === "vectorInOut") {
    blob = parm.data!;
  } else {
    blob = new Uint8Array(0);
  }
  // The caller's buffer has a fixed length: the kernel writes at most that, zero-filled.
  const out = new Uint8Array(len);
  out.set(blob.subarray(0, len));
  return out;
}

/** The caller's memory, as one call's kernel side reaches it (COPY_REQUESTs to the client). */
interface CallerMemory {
  /** A copy of the call's own parameter or of an address; EFAULT once the call has been answered. */
  userCopy(
    op: CopyRequest["op"],
    target: CopyRequest["target"],
    where: bigint,
    length: number,
    data?: Uint8Array,
  ): Promise<Uint8Array>;
  /** A module's `copyFromUser`. */
  copyFromUser(address: bigint, length: number): Promise<Uint8Array>;
  /** A module's `copyToUser`. */
  copyToUser(address: bigint, data: Uint8Array): Promise<void>;
  /** The call is answered: its caller's memory is out of reach from now on. */
  close(): void;
}

/** The caller's memory for one call: reachable while a sync call runs, and only then. */
function callerMemory(
  sync: boolean,
  copy: (req: Omit<CopyRequest, "copyId">) => Promise<CopyReply>,
): CallerMemory {
  let reachable = sync;
  const userCopy = async (
    op: CopyRequest["op"],
    target: CopyRequest["target"],
    where: bigint,
    length: number,
    data?: Uint8Array,
  ) => {
    const what = op === CopyOp.FROM_USER ? "copyFromUser" : "copyToUser";
    if (!reachable) {
      throw new KernelError(
        ERRNO.EFAULT,
        `${what}: the caller's memory is reachable only during a sync call`,
      );
    }
    if (!Number.isSafeInteger(length) || length < 0 || length > MAX_VECTOR_BYTES) {
      throw new KernelError(ERRNO.EFAULT, `${what}: ${length} bytes is outside 0..${MAX_VECTOR_BYTES}`);
    }
    const r = await copy({ op, target, where, length, data });
    if (r.status !== 0) {
      throw new KernelError(r.status, `${what} at 0x${where.toString(16)}: errno ${r.status}`);
    }
    if (op === CopyOp.FROM_USER && r.data.length !== length) {
      throw new KernelError(ERRNO.EIO, `${what}: ${r.data.length} bytes came back, not ${length}`);
    }
    return r.data;
  };
  const addressOf = (address: bigint) => {
    if (typeof address !== "bigint" || address < 0n || address >= 1n << 64n) {
      throw new KernelError(ERRNO.EFAULT, `not a user address: ${String(address)}`);
    }
    return address;
  };

  return {
    userCopy,
    copyFromUser: (address, length) =>
      userCopy(CopyOp.FROM_USER, CopyTarget.ADDRESS, addressOf(address), length),
    async copyToUser(address, data) {
      if (!(data instanceof Uint8Array)) throw new KernelError(ERRNO.EFAULT, "copyToUser takes a Uint8Array");
      await userCopy(CopyOp.TO_USER, CopyTarget.ADDRESS, addressOf(address), data.length, data);
    },
    close: () => void (reachable = false),
  };
}

/** A call answered from bytes ({@link ApiDefinition.answer}): no decoding, no handler. */
async function answerRaw(
  answer: NonNullable<ApiDefinition["answer"]>,
  session: Session,
  req: InvokeRequest,
  reply: (reply: InvokeReply) => void,
  memory: CallerMemory,
): Promise<void> {
  const api = session.api;
  const cb = api.signature.byId(req.callbackId);
  let raw: RawReply;
  try {
    raw = await answer({
      session: session.id,
      instanceId: req.instanceId,
      callbackId: req.callbackId,
      sync: req.sync,
      params: req.params.map((p, i) => ({
        kernelDir: cb?.params[i]?.dir ?? p.dir,
        size: p.size,
        length: p.length,
        data: p.data,
      })),
      copyFromUser: memory.copyFromUser,
      copyToUser: memory.copyToUser,
    }, api.context);
  } finally {
    memory.close();
  }
  if (session.closed) return;
  if (raw.status !== 0) return reply({ status: raw.status, params: [] });
  reply({
    status: 0,
    params: req.params.map((p, i) => ({ length: p.length, data: req.sync ? raw.data?.[i] : undefined })),
  });
}
