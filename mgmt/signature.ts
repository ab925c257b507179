/**
 * API signatures: `defineSignature()` validates every rule of the vmk_Mgmt ABI in TypeScript
 * (before any C call) and yields the description from which the C `vmk_MgmtApiSignature` is
 * built. The same signature can be written as JSON and loaded with `signatureFromJson()`.
 *
 * @example
 * ```ts
 * import { defineSignature } from "./signature.ts";
 * import { t } from "./t.ts";
 * const sig = defineSignature({
 *   name: "demo", vendor: "acme", version: "1.0.0.0",
 *   callbacks: { ping: { id: 16, sync: true, params: { n: t.inout(t.u32) } } },
 * });
 * sig.callbacks.ping.id; // 16
 * ```
 * @module
 */
import { isCIdentifier } from "../abi/c_text.ts";
import {
  type Direction,
  DIRECTION_CODE,
  FIRST_CALLBACK_ID,
  isVector,
  type Location,
  LOCATION_CODE,
  MAX_CALLBACK_PARMS,
  NAME_MAX_BYTES,
  RESERVED_CALLBACKS,
  returnsData,
  revisionFromNumbers,
  revisionParts,
} from "../abi/facts.ts";
import type { CSignature } from "../ffi/layout.ts";
import { didYouMean } from "../util/suggest.ts";
import { SignatureError } from "./errors.ts";
import type { Param } from "./params.ts";
import type { CommandType } from "./types/command.ts";
import type { EnumType } from "./types/enum.ts";
import type { Type, TypeJson } from "./types/type.ts";

/** A callback as written by the user. */
export interface CallbackDef {
  /** Callback id, 16 or more, unique in the signature. */
  readonly id: number;
  /** Where the callback runs; `kernel` by default. */
  readonly location?: Location;
  /** Kernel callbacks: wait for completion (default true). User callbacks are always async. */
  readonly sync?: boolean;
  /** Up to four payload parameters, in C order. */
  readonly params?: Readonly<Record<string, Param>>;
  /** A line of documentation shown by `describe`. */
  readonly doc?: string;
}

/** A signature as written by the user. */
export interface SignatureDef {
  /** API name, 1..31 bytes. */
  readonly name: string;
  /** Vendor, 1..31 bytes (the real library requires it). */
  readonly vendor: string;
  /**
   * The revision: `"major.minor.update.patch"` (each 0..255), or as the driver's C writes it —
   * `[1, 0, 0, 1007]` for `VMK_REVISION_FROM_NUMBERS(1,0,0,1007)` (each part masked to 8 bits, as
   * the macro does: patch 1007 becomes 239), or a raw `vmk_revnum` number.
   */
  readonly version: VersionDef;
  /** The callbacks by the name typed calls use (a JavaScript identifier). */
  readonly callbacks: Readonly<Record<string, CallbackDef>>;
  /** A line of documentation. */
  readonly doc?: string;
  /**
   * Comments on the named types the parameters use, and on their members, by type name — as the
   * driver's C has them (`import-c` fills this in); the REPL's `describe` shows them.
   */
  readonly typeDocs?: Readonly<Record<string, TypeDocs>>;
}

/** The comments on one named type and its members. */
export interface TypeDocs {
  /** On the type. */
  readonly doc?: string;
  /** On its members, by member name. */
  readonly members?: Readonly<Record<string, string>>;
}

/** A revision as a signature may give it (see {@link SignatureDef.version}). */
export type VersionDef = string | readonly [number, number, number, number] | number;

/** A validated parameter with its position. */
export interface ParamInfo {
  /** Its name in the callback's definition (an identifier; the argument object's key). */
  readonly name: string;
  /** Position among the payload parameters (0-based). */
  readonly index: number;
  /** Which way the bytes go: `in`, `out`, `inout`, or a `vector*` form sized per call. */
  readonly dir: Direction;
  /** Value type, or element type for vectors. */
  readonly type: Type<unknown>;
  /** `parmSizes[i]`: the fixed size, or for a vector the size of one element. */
  readonly size: number;
  /** See {@link Param.lengthFrom}. */
  readonly lengthFrom?: string;
  /** From the definition's `doc`; the REPL's `describe` shows it. */
  readonly doc?: string;
  /**
   * A vector of `t.byCommand(…)`: its layouts by command code, with the name each was given by
   * (the command parameter's enum name, else the code as written).
   */
  readonly commands?: ReadonlyMap<bigint, { readonly name: string; readonly type: Type<unknown> }>;
}

/** A validated callback. */
export interface CallbackInfo {
  /** Its key in the definition's `callbacks` (an identifier). */
  readonly name: string;
  /** `callbackId`: 16 (`VMK_MGMT_RESERVED_CALLBACKS`) and up, unique in the signature. */
  readonly id: number;
  /** Where it runs. */
  readonly location: Location;
  /** Synchronous (kernel callbacks only). */
  readonly sync: boolean;
  /** Payload parameters in C order. */
  readonly params: readonly ParamInfo[];
  /** From the definition's `doc`; the REPL's `describe` shows it. */
  readonly doc?: string;
}

/** A validated signature; `D` keeps the definition's literal types for typed invoke and events. */
export interface Signature<D extends SignatureDef = SignatureDef> {
  /** The API's registered name (at most 31 bytes): with the vendor, what `open` looks up. */
  readonly name: string;
  /** The vendor half of the API's key (at most 31 bytes). */
  readonly vendor: string;
  /** Version text `M.m.u.p` of the revnum. */
  readonly version: string;
  /** `vmk_revnum`: `major<<24 | minor<<16 | update<<8 | patch`. */
  readonly revnum: number;
  /**
   * How the definition wrote the revision when not as `M.m.u.p`: `VMK_REVISION_FROM_NUMBERS(1, 0, 0, 1007)`
   * or `0x010000ef`.
   */
  readonly versionSource?: string;
  /** The callbacks by name, each validated. */
  readonly callbacks: { readonly [K in keyof D["callbacks"] & string]: CallbackInfo };
  /** Callbacks in declaration order. */
  readonly list: readonly CallbackInfo[];
  /** Callback by id. */
  byId(id: number | bigint): CallbackInfo | undefined;
  /**
   * The kernel-location callback `name` (one `invoke` can call).
   * @throws {CallbackLookupError} naming the callbacks there are, with a did-you-mean.
   */
  kernelCallback(name: string): CallbackInfo;
  /**
   * The user-location callback (kernel event) `name`.
   * @throws {CallbackLookupError} naming the events there are, with a did-you-mean.
   */
  event(name: string): CallbackInfo;
  /**
   * The callback `name`, kernel or user.
   * @throws {CallbackLookupError} naming the callbacks there are, with a did-you-mean.
   */
  callback(name: string): CallbackInfo;
  /** From the definition's `doc`; the REPL's `describe` and `sigs` show it. */
  readonly doc?: string;
  /** Comments on named types and their members (see {@link SignatureDef.typeDocs}). */
  readonly typeDocs?: Readonly<Record<string, TypeDocs>>;
  /** The JSON form, loadable with {@link signatureFromJson}. */
  toJson(): SignatureJson;
  /** The definition this was built from (for type inference). */
  readonly def: D;
}

/** The JSON form of a signature. */
export interface SignatureJson {
  /** The API's registered name (at most 31 bytes). */
  name: string;
  /** The vendor half of the API's key (at most 31 bytes). */
  vendor: string;
  /** Version: `M.m.u.p`, `[major, minor, update, patch]` as C's macro takes them, or a raw revnum. */
  version: VersionDef;
  /** Shown by the REPL's `describe` and `sigs`. */
  doc?: string;
  /** Named types that parameters may refer to by name. */
  types?: Record<string, TypeJson>;
  /** Comments on named types and their members (see {@link SignatureDef.typeDocs}). */
  typeDocs?: Record<string, { doc?: string; members?: Record<string, string> }>;
  /** The callbacks by name: id, location, sync and parameters, as in {@link SignatureDef}. */
  callbacks: Record<string, {
    id: number;
    location?: Location;
    sync?: boolean;
    doc?: string;
    params?: Record<string, { dir: Direction; type: TypeJson; lengthFrom?: string; doc?: string }>;
  }>;
}

/** A callback looked up by name does not exist, or not at the location asked for. */
export class CallbackLookupError extends TypeError {
  /** The name looked up. */
  readonly callback: string;
  /** The callback of that name at the other location, when there is one. */
  readonly found?: CallbackInfo;
  /** Builds the error. */
  constructor(message: string, callback: string, found?: CallbackInfo) {
    super(message);
    this.name = "CallbackLookupError";
    this.callback = callback;
    this.found = found;
  }
}

const utf8 = new TextEncoder();

function checkName(value: unknown, field: string): string {
  if (typeof value !== "string") throw new SignatureError(`signature ${field}: expected a string`);
  const n = utf8.encode(value).length;
  if (n < 1 || n > NAME_MAX_BYTES) {
    throw new SignatureError(
      `signature ${field}: ${JSON.stringify(value)} is ${n} bytes; must be 1..${NAME_MAX_BYTES}`,
    );
  }
  if (value.includes("\0")) throw new SignatureError(`signature ${field}: must not contain NUL`);
  return value;
}

/**
 * Parses `M.m.u.p` (each 0..255) into a `vmk_revnum`.
 * @throws {SignatureError} for another form, or a part over 255.
 */
export function parseVersion(version: unknown): number {
  if (typeof version !== "string" || !/^\d+\.\d+\.\d+\.\d+$/.test(version)) {
    throw new SignatureError(
      `signature version: expected "major.minor.update.patch" such as "1.0.0.0", [major, minor, update, patch] or a revnum, got ${
        JSON.stringify(version)
      }`,
    );
  }
  const parts = version.split(".").map(Number);
  const bad = parts.findIndex((p) => p > 255);
  if (bad >= 0) {
    const which = ["major", "minor", "update", "patch"][bad];
    throw new SignatureError(
      `signature version: ${which} ${
        parts[bad]
      } is out of range 0..255; to write it as the driver's C does (VMK_REVISION_FROM_NUMBERS masks each part to 8 bits), give version: [${
        parts.join(", ")
      }]`,
    );
  }
  return revisionFromNumbers(parts[0], parts[1], parts[2], parts[3]);
}

/**
 * The revnum of any form {@link SignatureDef.version} takes, and how it was written when not as text.
 * @throws {SignatureError} naming what is wrong with it.
 */
export function resolveVersion(version: unknown): { revnum: number; source?: string } {
  if (typeof version === "string") return { revnum: parseVersion(version) };
  if (typeof version === "number") {
    if (!Number.isInteger(version) || version < 0 || version > 0xffffffff) {
      throw new SignatureError(
        `signature version: a revnum must be an integer 0..0xffffffff, got ${version}`,
      );
    }
    return { revnum: version, source: `0x${version.toString(16).padStart(8, "0")}` };
  }
  if (Array.isArray(version)) {
    if (version.length !== 4 || !version.every((p) => Number.isSafeInteger(p))) {
      throw new SignatureError(
        `signature version: [major, minor, update, patch] needs four integers, got ${
          JSON.stringify(version)
        }`,
      );
    }
    const [a, b, c, d] = version as number[];
    return {
      revnum: revisionFromNumbers(a, b, c, d),
      source: `VMK_REVISION_FROM_NUMBERS(${version.join(", ")})`,
    };
  }
  return { revnum: parseVersion(version) };
}

/** Formats a `vmk_revnum` as `M.m.u.p`. */
export function formatVersion(revnum: number): string {
  return revisionParts(revnum).join(".");
}

function checkCallback(name: string, def: CallbackDef, seen: Map<number, string>): CallbackInfo {
  const where = `callback ${name}`;
  if (!isCIdentifier(name)) throw new SignatureError(`${where}: the name must be an identifier`);
  if (def === null || typeof def !== "object") throw new SignatureError(`${where}: expected an object`);
  const known = ["id", "location", "sync", "params", "doc"];
  for (const k of Object.keys(def)) {
    if (!known.includes(k)) {
      throw new SignatureError(`${where}: unknown field ${k}; fields are ${known.join(", ")}`);
    }
  }
  const id = def.id;
  if (typeof id !== "number" || !Number.isSafeInteger(id)) {
    throw new SignatureError(`${where}.id: expected an integer, got ${JSON.stringify(id)}`);
  }
  if (id <= RESERVED_CALLBACKS) {
    throw new SignatureError(
      `${where}.id: ${id} is reserved (ids 0..${RESERVED_CALLBACKS}); use ${FIRST_CALLBACK_ID} or more`,
    );
  }
  const other = seen.get(id);
  if (other) throw new SignatureError(`${where}.id: ${id} is already used by callback ${other}`);
  seen.set(id, name);
  const location = def.location ?? "kernel";
  if (location !== "kernel" && location !== "user") {
    throw new SignatureError(
      `${where}.location: expected "kernel" or "user", got ${JSON.stringify(location)}`,
    );
  }
  if (def.sync !== undefined && typeof def.sync !== "boolean") {
    throw new SignatureError(`${where}.sync: expected true or false`);
  }
  if (location === "user" && def.sync === true) {
    throw new SignatureError(`${where}.sync: user-location callbacks are always asynchronous`);
  }
  const sync = location === "kernel" ? def.sync ?? true : false;
  const entries = Object.entries(def.params ?? {});
  if (entries.length > MAX_CALLBACK_PARMS) {
    throw new SignatureError(`${where}.params: ${entries.length} parameters; at most ${MAX_CALLBACK_PARMS}`);
  }
  const params: ParamInfo[] = entries.map(([pname, p], index) => {
    const pw = `${where}.params.${pname}`;
    if (!isCIdentifier(pname)) throw new SignatureError(`${pw}: the name must be an identifier`);
    if (pname === "instance") {
      throw new SignatureError(`${pw}: "instance" is reserved for the target instance`);
    }
    if (!p || typeof p !== "object" || !(p.dir in DIRECTION_CODE)) {
      throw new SignatureError(`${pw}: expected a parameter such as t.in(t.u32)`);
    }
    if (!p.type || typeof p.type.encode !== "function") throw new SignatureError(`${pw}.type: not a type`);
    if (location === "user" && p.dir !== "in" && p.dir !== "vectorIn") {
      throw new SignatureError(
        `${pw}: user-location callbacks take only in and vectorIn parameters, not ${p.dir}`,
      );
    }
    if (location === "kernel" && !sync && returnsData(p.dir)) {
      throw new SignatureError(`${pw}: ${p.dir} needs a synchronous callback (set sync: true)`);
    }
    if (p.lengthFrom !== undefined && !(p.dir === "vectorOut" || p.dir === "vectorInOut")) {
      throw new SignatureError(`${pw}.lengthFrom: only vectorOut and vectorInOut parameters can have it`);
    }
    return {
      name: pname,
      index,
      dir: p.dir,
      type: p.type,
      size: p.type.size,
      lengthFrom: p.lengthFrom,
      doc: p.doc,
    };
  });
  for (const p of params) {
    if (p.lengthFrom === undefined) continue;
    const src = params.find((q) => q.name === p.lengthFrom);
    if (!src || !(src.dir === "out" || src.dir === "inout") || src.type.kind !== "int") {
      throw new SignatureError(
        `${where}.params.${p.name}.lengthFrom: ${
          JSON.stringify(p.lengthFrom)
        } must name an out or inout integer parameter`,
      );
    }
  }
  const resolved = params.map((p) => (p.type.kind === "command" ? withCommands(p, params, where) : p));
  return Object.freeze({ name, id, location, sync, params: Object.freeze(resolved), doc: def.doc });
}

/**
 * A `t.byCommand(…)` vector's layouts resolved against its command parameter: codes from the
 * command parameter's enum names or from numbers as written, each checked.
 * @throws {SignatureError} naming the parameter and what is wrong.
 */
function withCommands(p: ParamInfo, params: readonly ParamInfo[], where: string): ParamInfo {
  const pw = `${where}.params.${p.name}`;
  const type = p.type as CommandType;
  if (!isVector(p.dir)) {
    throw new SignatureError(
      `${pw}: t.byCommand(…) is the element type of a byte vector (t.vectorIn, t.vectorInOut, t.vectorOut)`,
    );
  }
  const cmd = params.find((q) => q.name === type.param);
  if (!cmd || cmd === p) {
    throw new SignatureError(
      `${pw}: t.byCommand("${type.param}", …) names no other parameter (parameters: ${
        params.map((q) => q.name).join(", ")
      })`,
    );
  }
  const kind = cmd.type.kind;
  if ((cmd.dir !== "in" && cmd.dir !== "inout") || (kind !== "int" && kind !== "enum")) {
    throw new SignatureError(
      `${pw}: the command parameter ${cmd.name} must be an in or inout integer or enum, not ${cmd.dir} ${cmd.type.name}`,
    );
  }
  const names = kind === "enum" ? (cmd.type as EnumType<string>).values : {};
  const commands = new Map<bigint, { name: string; type: Type<unknown> }>();
  for (const [key, layout] of Object.entries(type.commands)) {
    let code: bigint | undefined;
    if (key in names) code = BigInt(names[key]);
    else if (/^(0x[0-9a-f]+|\d+)$/i.test(key)) code = BigInt(key);
    if (code === undefined) {
      throw new SignatureError(
        `${pw}: command ${key} is neither a code nor a name of ${cmd.name}'s enum${
          kind === "enum" ? ` (${Object.keys(names).join(", ")})` : ""
        }`,
      );
    }
    const known = Object.entries(names).find(([, v]) => BigInt(v) === code)?.[0];
    const other = commands.get(code);
    if (other) throw new SignatureError(`${pw}: commands ${other.name} and ${key} are both code ${code}`);
    commands.set(code, { name: known ?? key, type: layout });
  }
  return { ...p, commands };
}

/**
 * Validates a signature definition against every ABI rule and returns the typed signature.
 * @throws {SignatureError} naming the callback and field at fault.
 */
export function defineSignature<const D extends SignatureDef>(def: D): Signature<D> {
  if (def === null || typeof def !== "object") throw new SignatureError("signature: expected an object");
  const name = checkName(def.name, "name");
  const vendor = checkName(def.vendor, "vendor");
  const { revnum, source: versionSource } = resolveVersion(def.version);
  if (def.callbacks === null || typeof def.callbacks !== "object") {
    throw new SignatureError("signature callbacks: expected an object of callbacks by name");
  }
  const seen = new Map<number, string>();
  const list = Object.entries(def.callbacks).map(([n, c]) => checkCallback(n, c, seen));
  const callbacks = Object.fromEntries(list.map((c) => [c.name, c]));
  const byId = new Map(list.map((c) => [c.id, c]));
  const byName = new Map(list.map((c) => [c.name, c]));
  const names = (location?: Location) =>
    list.filter((c) => !location || c.location === location).map((c) => c.name);
  const sig: Signature<D> = {
    name,
    vendor,
    version: formatVersion(revnum),
    revnum,
    ...(versionSource ? { versionSource } : {}),
    callbacks: callbacks as Signature<D>["callbacks"],
    list,
    byId: (id) => byId.get(Number(id)),
    kernelCallback(cb) {
      const found = byName.get(cb);
      if (found?.location === "kernel") return found;
      if (found) {
        throw new CallbackLookupError(
          `${cb} is a user-location callback (a kernel event), not a kernel callback`,
          cb,
          found,
        );
      }
      const kernel = names("kernel");
      throw new CallbackLookupError(
        `${name} has no callback ${cb}${didYouMean(cb, kernel)} (kernel callbacks: ${
          kernel.join(", ") || "none"
        })`,
        cb,
      );
    },
    event(cb) {
      const found = byName.get(cb);
      if (found?.location === "user") return found;
      const events = names("user");
      throw new CallbackLookupError(
        `${name} has no kernel event ${cb}${found ? ` (${cb} is a kernel callback)` : ""}${
          found ? "" : didYouMean(cb, events)
        } — events (user-location callbacks) are: ${events.join(", ") || "none"}`,
        cb,
        found,
      );
    },
    callback(cb) {
      const found = byName.get(cb);
      if (found) return found;
      const all = names();
      throw new CallbackLookupError(
        `${name} has no callback ${cb}${didYouMean(cb, all)} (callbacks: ${all.join(", ") || "none"})`,
        cb,
      );
    },
    doc: def.doc,
    ...(def.typeDocs === undefined ? {} : { typeDocs: checkTypeDocs(def.typeDocs) }),
    def,
    toJson: () => signatureToJson(sig),
  };
  return Object.freeze(sig);
}

/** The comments of `typeDocs`, checked to be strings where strings go. */
function checkTypeDocs(typeDocs: unknown): Readonly<Record<string, TypeDocs>> {
  const isObject = (v: unknown): v is Record<string, unknown> =>
    v !== null && typeof v === "object" && !Array.isArray(v);
  if (!isObject(typeDocs)) {
    throw new SignatureError("signature typeDocs: expected an object of types by name");
  }
  const out: Record<string, TypeDocs> = {};
  for (const [type, d] of Object.entries(typeDocs)) {
    const what = `signature typeDocs.${type}`;
    if (!isObject(d)) throw new SignatureError(`${what}: expected { doc?, members? }`);
    for (const k of Object.keys(d)) {
      if (k !== "doc" && k !== "members") {
        throw new SignatureError(`${what}: unknown key ${k} (doc, members)`);
      }
    }
    if (d.doc !== undefined && typeof d.doc !== "string") {
      throw new SignatureError(`${what}.doc: expected text`);
    }
    if (d.members !== undefined) {
      if (!isObject(d.members)) {
        throw new SignatureError(`${what}.members: expected an object of texts by member`);
      }
      for (const [m, text] of Object.entries(d.members)) {
        if (typeof text !== "string") throw new SignatureError(`${what}.members.${m}: expected text`);
      }
    }
    out[type] = Object.freeze({
      ...(d.doc === undefined ? {} : { doc: d.doc }),
      ...(d.members === undefined
        ? {}
        : { members: Object.freeze({ ...d.members as Record<string, string> }) }),
    });
  }
  return Object.freeze(out);
}

function signatureToJson(sig: Signature): SignatureJson {
  const callbacks: SignatureJson["callbacks"] = {};
  for (const c of sig.list) {
    const params: Record<string, { dir: Direction; type: TypeJson; lengthFrom?: string; doc?: string }> = {};
    for (const p of c.params) {
      params[p.name] = { dir: p.dir, type: p.type.describe() };
      if (p.lengthFrom) params[p.name].lengthFrom = p.lengthFrom;
      if (p.doc) params[p.name].doc = p.doc;
    }
    callbacks[c.name] = { id: c.id, location: c.location, sync: c.sync, params };
    if (c.doc) callbacks[c.name].doc = c.doc;
  }
  const version = Array.isArray(sig.def.version)
    ? [...sig.def.version] as unknown as VersionDef
    : sig.def.version;
  const out: SignatureJson = { name: sig.name, vendor: sig.vendor, version, callbacks };
  if (sig.doc) out.doc = sig.doc;
  if (sig.typeDocs && Object.keys(sig.typeDocs).length) {
    out.typeDocs = JSON.parse(JSON.stringify(sig.typeDocs));
  }
  return out;
}

/** The C form of a signature, ready for `ffi/` (names of callbacks and parameters ride along for diagnostics). */
export function toCSignature(sig: Signature): CSignature {
  const pad = (f: (i: number) => number) => Array.from({ length: MAX_CALLBACK_PARMS }, (_, i) => f(i));
  return {
    version: sig.revnum,
    name: sig.name,
    vendor: sig.vendor,
    callbacks: sig.list.map((c) => ({
      location: LOCATION_CODE[c.location],
      synchronous: c.sync ? 1 : 0,
      numParms: c.params.length,
      parmSizes: pad((i) => c.params[i]?.size ?? 0),
      parmTypes: pad((i) => (c.params[i] ? DIRECTION_CODE[c.params[i].dir] : 0)),
      callbackId: BigInt(c.id),
      label: c.name,
      paramLabels: c.params.map((p) => p.name),
    })),
  };
}
