/**
 * Turning `call` words into invoke input: `name=value`, `struct.field=value`, a JSON object of
 * parameters, vectors as hex, "text" or `@file`, and a vector-out capacity — all typed by the
 * signature.
 * @module
 */
import { commandLayout, isByteElement, paramFromJson } from "../mgmt/codec.ts";
import { ValueError } from "../mgmt/errors.ts";
import type { CallbackInfo, ParamInfo } from "../mgmt/signature.ts";
import { isRecord } from "../mgmt/types/record.ts";
import type { Type } from "../mgmt/types/type.ts";
import { parseTimeout } from "../util/duration.ts";
import { parseHex } from "../util/hex.ts";
import { parseJsonExact } from "../util/ndjson.ts";
import type { Token } from "./tokenize.ts";

/** A value typed in quotes: text, even where hex would otherwise be read. */
class Quoted {
  constructor(readonly text: string) {}
}

/** What a `call` line asks for. */
export interface CallArgs {
  /** Instance name or id, if given. */
  instance?: string;
  /** Parameters ready for `invoke`. */
  params: Record<string, unknown>;
  timeout?: number;
}

/**
 * Sets `path` in `tree`. A value there already is "given twice" — unless `over` holds the paths
 * given by `name=value` words and this one is not among them: then it came from a JSON argument,
 * and a word changes it (`{…template…} msg.seq=7`).
 */
function setPath(
  tree: Record<string, unknown>,
  path: string[],
  value: unknown,
  whole: string,
  over?: Set<string>,
): void {
  let node = tree;
  for (let i = 0; i < path.length - 1; i++) {
    const k = path[i];
    if (node[k] === undefined) node[k] = {};
    if (
      typeof node[k] !== "object" || node[k] === null || node[k] instanceof Quoted || Array.isArray(node[k])
    ) {
      throw new ValueError(
        path.slice(0, i + 1).join("."),
        `is given both as a whole value and by field (${whole})`,
      );
    }
    node = node[k] as Record<string, unknown>;
  }
  const last = path[path.length - 1];
  const key = path.join(".");
  // (a word's value covers its fields: msg={…} and msg.seq=2 both by words is twice)
  const byWord = !over || path.some((_, i) => over.has(path.slice(0, i + 1).join(".")));
  if (last in node && byWord) throw new ValueError(key, "given twice");
  over?.add(key);
  node[last] = value;
}

function leaf(tok: Token, value: string): unknown {
  const t = value.trimStart();
  if (!tok.quoted && (t.startsWith("{") || t.startsWith("["))) {
    try {
      return parseJsonExact(t);
    } catch (e) {
      throw new ValueError("", `${value.slice(0, 40)} is not valid JSON: ${(e as Error).message}`);
    }
  }
  return tok.quoted ? new Quoted(value) : value;
}

/** Replaces quoted leaves by what the type wants: bytes for byte fields, text elsewhere. */
function unquote(type: Type<unknown>, value: unknown): unknown {
  if (value instanceof Quoted) {
    return type.kind === "bytes" ? new TextEncoder().encode(value.text) : value.text;
  }
  if (isRecord(type) && value && typeof value === "object" && !Array.isArray(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const f = type.fields.find((f) => f.name === k);
      out[k] = f ? unquote(f.type, v) : v;
    }
    return out;
  }
  return value;
}

async function vectorBytes(p: ParamInfo, value: unknown, readFile: (path: string) => Promise<Uint8Array>) {
  if (value instanceof Quoted) return new TextEncoder().encode(value.text);
  if (typeof value === "string") {
    if (value.startsWith("@")) {
      const path = value.slice(1);
      try {
        return await readFile(path);
      } catch (e) {
        throw new ValueError(p.name, `cannot read ${path}: ${(e as Error).message}`);
      }
    }
    const hex = parseHex(value);
    if (hex && value.length > 0) return hex;
    throw new ValueError(
      p.name,
      `expected hex bytes (0x0a0b…), "quoted text" or @file, got ${value.slice(0, 40)}`,
    );
  }
  return paramFromJson(p, value);
}

/**
 * Converts one parameter's raw value to what `invoke` takes; `layout`: an ioctl-style payload's
 * layout, by its command (fields such as `arg.port=7` then build that layout's value).
 */
export async function convertParam(
  p: ParamInfo,
  raw: unknown,
  readFile: (path: string) => Promise<Uint8Array>,
  layout?: Type<unknown>,
): Promise<unknown> {
  try {
    if (
      layout && raw !== null && typeof raw === "object" && !Array.isArray(raw) && !(raw instanceof Quoted)
    ) {
      return paramFromJson(p, unquote(layout, raw), p.name, layout);
    }
    if ((p.dir === "vectorIn" || p.dir === "vectorInOut") && isByteElement(p.type)) {
      return await vectorBytes(p, raw, readFile);
    }
    if (p.dir === "vectorOut") return paramFromJson(p, raw instanceof Quoted ? raw.text : raw);
    if (p.dir.startsWith("vector") && Array.isArray(raw)) {
      return paramFromJson(
        p,
        raw.map((v) => unquote(p.type, v)),
      );
    }
    return paramFromJson(p, unquote(p.type, raw));
  } catch (e) {
    if (e instanceof ValueError && !e.path.startsWith(p.name)) {
      throw new ValueError(e.path ? `${p.name}.${e.path}` : p.name, e.reason);
    }
    throw e;
  }
}

const isJsonWord = (tok: Token) => !tok.quoted && tok.text.startsWith("{");

/**
 * Parses the words after `call CALLBACK`. Unknown names are left for invoke to report. A JSON
 * object gives parameters at once; `name=value` words given with it change what it says.
 */
export async function parseCallArgs(
  cb: CallbackInfo,
  words: Token[],
  readFile: (path: string) => Promise<Uint8Array>,
): Promise<CallArgs> {
  const tree: Record<string, unknown> = {};
  const out: CallArgs = { params: {} };
  const byWord = new Set<string>();
  // JSON arguments first, whatever their place: they are the base the name=value words change.
  words = [...words.filter(isJsonWord), ...words.filter((w) => !isJsonWord(w))];
  for (let i = 0; i < words.length; i++) {
    const tok = words[i];
    const text = tok.text;
    if (text === "--timeout" || text.startsWith("--timeout=")) {
      const v = text.includes("=") ? text.slice(10) : words[++i]?.text;
      if (v === undefined) {
        throw new ValueError("--timeout", "expected a duration (250ms, 5s, 2m), got nothing");
      }
      try {
        out.timeout = parseTimeout(v);
      } catch (e) {
        throw new ValueError("--timeout", `${(e as Error).message}; leave it out to wait without limit`);
      }
      continue;
    }
    if (isJsonWord(tok)) {
      const obj = leaf(tok, text);
      if (!obj || typeof obj !== "object" || Array.isArray(obj)) {
        throw new ValueError("", "a JSON argument must be an object of parameters");
      }
      for (const [k, v] of Object.entries(obj)) setPath(tree, [k], v, text);
      continue;
    }
    const eq = text.indexOf("=");
    const bareWord = eq <= 0 || /^[@"']/.test(tok.raw);
    if (bareWord) {
      if (out.instance === undefined && !("instance" in tree)) {
        out.instance = text;
        continue;
      }
      throw new ValueError(
        "",
        `unexpected ${JSON.stringify(text)}: parameters are written name=value (see: template ${cb.name})`,
      );
    }
    const key = text.slice(0, eq);
    const valueText = tok.raw.slice(tok.raw.indexOf("=") + 1);
    const quoted = /^["']/.test(valueText);
    const value = leaf({ ...tok, quoted }, text.slice(eq + 1));
    setPath(tree, key.split("."), value, text, byWord);
  }
  if ("instance" in tree) {
    const inst = tree.instance;
    out.instance = inst instanceof Quoted ? inst.text : String(inst);
    delete tree.instance;
  }
  for (const [k, v] of Object.entries(tree)) {
    const p = cb.params.find((p) => p.name === k);
    out.params[k] = p && !p.commands ? await convertParam(p, v, readFile) : v;
  }
  // ioctl-style payloads once their command is known (mgmt/types/command.ts).
  for (const p of cb.params) {
    if (!p.commands || !(p.name in tree)) continue;
    out.params[p.name] = await convertParam(
      p,
      tree[p.name],
      readFile,
      commandLayout(p, cb.params, out.params),
    );
  }
  return out;
}

/** How a value of `type` is typed, for a question: enum values, true|false, a buffer's forms. */
function askType(type: Type<unknown>, bits?: number): string {
  if (type.kind === "enum") {
    return Object.keys((type as unknown as { values: Record<string, number> }).values).join("|");
  }
  if (type.kind === "bool") return "true|false";
  if (type.kind === "pointer" && typeof type.describe() === "object") {
    return 'a caller buffer: {"length": N} to receive, {"bytes": "hex"} to send';
  }
  return bits !== undefined ? `${bits} bit${bits === 1 ? "" : "s"}` : type.name;
}

/**
 * What an empty answer to a question stands for: the type's zero value, as `call` reads it (what a
 * C caller's `= {0}` leaves there — the usual answer for a field the driver fills in); undefined
 * where zero is no answer (a caller buffer, a vector, a union).
 */
function zeroWord(type: Type<unknown>, bits?: number): string | undefined {
  if (bits !== undefined) return "0";
  switch (type.kind) {
    case "int":
    case "float":
      return "0";
    case "bool":
      return "false";
    case "string":
    case "chars":
      return '""';
    case "bytes":
      return "00";
    case "enum": {
      const values = (type as unknown as { values: Record<string, number | bigint> }).values;
      return Object.entries(values).find(([, n]) => Number(n) === 0)?.[0];
    }
    case "pointer":
      return typeof type.describe() === "object" ? undefined : "0";
    default:
      return undefined;
  }
}

/** A value a call still needs: its path, and how to ask for it. */
export interface MissingValue {
  /** `mtu`, `msg.payload`, or `cmd.cdw10` for a union none of whose members is given. */
  readonly path: string;
  /** `mtu=<u32>`, `cmd.cdw10.<member>` — as hints show it. */
  readonly hint: string;
  /** The type's name, or `union of a | b | c` for a union. */
  readonly typeName: string;
  /** A union: the answer names a member (`raw=0`). */
  readonly union?: boolean;
  /** What an empty answer gives (the zero value, as typed); none where an answer is needed. */
  readonly zero?: string;
}

/**
 * The fields of a struct value still to give (`call` refuses a struct with a field missing): leaf
 * paths, or the union itself when none of its members is given yet.
 */
export function missingFields(
  type: Type<unknown>,
  prefix: string,
  given: ReadonlySet<string>,
): MissingValue[] {
  if (given.has(prefix)) return [];
  if (!isRecord(type)) {
    return [{
      path: prefix,
      hint: `${prefix}=<${type.name}>`,
      typeName: askType(type),
      zero: zeroWord(type),
    }];
  }
  const inside = [...given].some((g) => g.startsWith(`${prefix}.`));
  if (type.kind === "union") {
    if (inside) return [];
    const members = type.fields.map((f) => f.name);
    return [{
      path: prefix,
      hint: `${prefix}.<member>`,
      typeName: `union of ${members.join(" | ")}`,
      union: true,
    }];
  }
  // (a field the driver fills in is not asked for: it goes as zero)
  return type.fields.filter((f) => !f.out).flatMap((f) =>
    f.bitWidth !== undefined
      ? (given.has(`${prefix}.${f.name}`) ? [] : [{
        path: `${prefix}.${f.name}`,
        hint: `${prefix}.${f.name}=<${f.bitWidth} bits>`,
        typeName: askType(f.type, f.bitWidth),
        zero: zeroWord(f.type, f.type.kind === "enum" ? undefined : f.bitWidth),
      }])
      : missingFields(f.type, `${prefix}.${f.name}`, given)
  );
}

/** The `name=value` words of a call line, by name (not `a.b=` paths): what the command of an ioctl-style payload is read from. */
export function lineValues(words: readonly string[]): Record<string, string> {
  const values: Record<string, string> = {};
  for (const w of words) {
    const eq = w.indexOf("=");
    if (eq > 0 && !w.slice(0, eq).includes(".")) values[w.slice(0, eq)] = w.slice(eq + 1);
  }
  return values;
}

/**
 * What an ioctl-style payload still lacks: by the command on the line, its layout's fields (none
 * when it is one the kernel fills and no field was given: it goes zeroed), else bytes.
 */
function missingPayload(
  cb: CallbackInfo,
  p: ParamInfo,
  words: readonly string[],
  paths: ReadonlySet<string>,
): MissingValue[] {
  const layout = commandLayout(p, cb.params, lineValues(words));
  const inside = [...paths].some((g) => g.startsWith(`${p.name}.`));
  if (layout && !inside && p.dir !== "vectorIn") return [];
  if (layout && isRecord(layout)) return missingFields(layout, p.name, paths);
  if (layout) return [{ path: p.name, hint: `${p.name}=<${layout.name}>`, typeName: layout.name }];
  return [{
    path: p.name,
    hint: `${p.name}=<hex|"text"|@file>`,
    typeName: "bytes (a command without a layout)",
  }];
}

/** What a call line still lacks, parameter by parameter (outputs need nothing). */
export function missingValues(cb: CallbackInfo, words: readonly string[]): MissingValue[] {
  const paths = new Set<string>();
  for (const w of words) {
    const eq = w.indexOf("=");
    if (eq > 0) paths.add(w.slice(0, eq));
    if (w.startsWith("{")) {
      try {
        for (const k of Object.keys(JSON.parse(w))) paths.add(k);
      } catch { /* not JSON yet */ }
    }
  }
  return cb.params.flatMap((p) => {
    if (p.dir === "out" || paths.has(p.name)) return [];
    if (p.commands) return missingPayload(cb, p, words, paths);
    if (p.dir === "vectorOut") {
      return [{ path: p.name, hint: `${p.name}=<capacity>`, typeName: "capacity in elements" }];
    }
    if (p.dir.startsWith("vector") || !isRecord(p.type)) {
      return [{
        path: p.name,
        hint: `${p.name}=<${p.type.name}>`,
        typeName: p.dir.startsWith("vector") ? `${p.type.name}[]` : p.type.name,
        zero: p.dir.startsWith("vector") ? undefined : zeroWord(p.type),
      }];
    }
    return missingFields(p.type, p.name, paths);
  });
}
