/**
 * REPL output: readable text (colours only on a terminal and without NO_COLOR) and lossless JSON
 * (64-bit integers as strings, bytes as hex — the same forms `call` accepts).
 * @module
 */
import * as colors from "@std/fmt/colors";
import { displayWidth } from "./width.ts";
import { recordsTable, table } from "./tables.ts";
import { commandLayout, paramToJson } from "../mgmt/codec.ts";
import type { KernelEvent } from "../mgmt/events.ts";
import type { CallbackInfo, ParamInfo, Signature } from "../mgmt/signature.ts";
import type { ArrayType } from "../mgmt/types/array.ts";
import type { CommandType } from "../mgmt/types/command.ts";
import type { EnumType } from "../mgmt/types/enum.ts";
import { type Field, isRecord, type RecordType } from "../mgmt/types/record.ts";
import type { PointerType } from "../mgmt/types/pointer.ts";
import { fieldTypeName } from "../mgmt/types/struct.ts";
import type { Type } from "../mgmt/types/type.ts";
import { hexDumpLines, toHex } from "../util/hex.ts";
import { losslessReplacer } from "../util/ndjson.ts";

/** ANSI styling that turns itself off. */
export interface Paint {
  /** Dim text. */
  dim(s: string): string;
  /** Bold text. */
  bold(s: string): string;
  /** Red text. */
  red(s: string): string;
  /** Green text. */
  green(s: string): string;
  /** Cyan text. */
  cyan(s: string): string;
  /** Yellow text. */
  yellow(s: string): string;
}

/** Styling for an output: colours on a TTY unless NO_COLOR is set. */
export function paint(enabled: boolean): Paint {
  // @std/fmt/colors (it also honours NO_COLOR); off for pipes and files.
  const wrap = (f: (s: string) => string) => (s: string) => (enabled ? f(s) : s);
  return {
    dim: wrap(colors.dim),
    bold: wrap(colors.bold),
    red: wrap(colors.red),
    green: wrap(colors.green),
    cyan: wrap(colors.cyan),
    yellow: wrap(colors.yellow),
  };
}

/** `1 byte`, `2 bytes`. */
export function plural(n: number | bigint, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 || n === 1n ? one : many}`;
}

/** JSON text with bigint as decimal strings and bytes as hex. */
export function toJsonText(value: unknown, pretty = false): string {
  return JSON.stringify(value, losslessReplacer, pretty ? 2 : undefined);
}

function isText(b: Uint8Array): boolean {
  if (b.length === 0) return false;
  for (const c of b) if (c < 0x09 || (c > 0x0d && c < 0x20) || c === 0x7f) return false;
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(b);
    return true;
  } catch {
    return false;
  }
}

/**
 * How much of a value to show: what fits the terminal (long lists and bytes cut, with how much is
 * left), all of it (`show -a`), or all of it with every byte value as a hexdump (`show --hex`).
 */
export type Shown = "fit" | "all" | "hex";

/** Bytes up to this many are one line of hex (the form `call` takes); longer ones a hexdump. */
const INLINE_BYTES = 32;
/** Hexdump rows shown before "… N more bytes" when cut to fit. */
const DUMP_ROWS = 4;

function bytes(b: Uint8Array, p: Paint, indent: string, shown: Shown): string {
  const size = p.dim(`(${plural(b.length, "byte")})`);
  if (shown !== "hex" && isText(b)) {
    const text = new TextDecoder().decode(b);
    if (!text.includes("\n")) return `${JSON.stringify(text)} ${size}`;
    // Multi-line text (a log) reads best as a block.
    const lines = text.replace(/\n$/, "").split("\n").map((l) => `${indent}  ${p.dim("|")} ${l}`);
    return `${p.dim(`(${plural(b.length, "byte")} of text)`)}\n${lines.join("\n")}`;
  }
  if (shown === "hex" || b.length > INLINE_BYTES) {
    // Offsets and ASCII, as hexdump -C: where a field of a page is, and what text it holds.
    const { lines, covered } = hexDumpLines(b, shown === "fit" ? DUMP_ROWS : Infinity);
    const more = b.length - covered;
    const tail = more > 0 ? [p.dim(`… ${plural(more, "more byte")} (show --hex)`)] : [];
    return `${size}${[...lines, ...tail].map((l) => `\n${indent}  ${l}`).join("")}`;
  }
  return `0x${toHex(b)} ${size}`;
}

/**
 * Names of fields whose integers are checksums: shown in hex, as the scripts print them and as
 * people compare them with `crc32`/`cksum` output (`crc`, `imageCrc32`, `checksum`, `csum`).
 */
const CHECKSUM_NAME = /(crc|checksum|csum)(32|64)?$/i;

/** An integer as text: a checksum's in hex (`0x1a2b3c4d`, 8 digits for 32 bits), else decimal. */
export function integerText(value: number | bigint, name?: string): string {
  if (!name || !CHECKSUM_NAME.test(name) || value < 0 || !Number.isInteger(Number(value))) {
    return String(value);
  }
  const hex = value.toString(16);
  return `0x${hex.padStart(hex.length <= 8 ? 8 : 16, "0")}`;
}

/** The elements of a list of records shown when it is cut to fit (`show -a` shows them all). */
const LIST_ROWS = 8;

/** Terminal columns (80 when not a terminal). */
export function columns(): number {
  try {
    return Deno.consoleSize().columns;
  } catch {
    return 80;
  }
}

/**
 * A readable rendering of a decoded value (multi-line for structs). How much of a long value is
 * shown: see {@link Shown} — cut to fit, a long list ends with an explicit "… N more" (the whole
 * value is in `--json` and `show -a`). `name` is the field's: a checksum's is shown in hex.
 */
export function formatValue(
  type: Type<unknown> | undefined,
  value: unknown,
  p: Paint,
  indent = "",
  shown: Shown = "fit",
  name?: string,
): string {
  const full = shown !== "fit";
  if (value instanceof Uint8Array) return bytes(value, p, indent, shown);
  if (typeof value === "bigint" || typeof value === "number") return integerText(value, name);
  if (typeof value === "boolean") return String(value);
  if (typeof value === "string") return type?.kind === "enum" ? value : JSON.stringify(value);
  if (Array.isArray(value)) {
    const el = type?.kind === "array" ? undefined : type;
    if (value.some((v) => v && typeof v === "object" && !(v instanceof Uint8Array))) {
      const listed = full ? value : value.slice(0, LIST_ROWS);
      const more = value.length - listed.length;
      const cut = more ? `\n${indent}  ${p.dim(`… ${more} more (show -a, or --json)`)}` : "";
      // Records of scalars read best as a table (a row each), when it fits the terminal.
      const rows = listed.map((v, i) => ({ label: String(i), value: v }));
      const grid = recordsTable(rows, "#", full ? Infinity : columns() - indent.length - 2, p);
      if (grid) return grid.split("\n").map((line) => `\n${indent}  ${line}`).join("") + cut;
      return listed.map((v, i) =>
        `\n${indent}  ${p.dim(`[${i}]`)} ${formatValue(el, v, p, indent + "    ", shown)}`
      )
        .join("") + cut;
    }
    const items = value.map((v) => formatValue(undefined, v, p, "", shown));
    if (full) return `[${items.join(", ")}]`;
    // As many as fit on the rest of the line, then how many more there are.
    const room = Math.max(24, columns() - indent.length - 24);
    let text = "";
    let n = 0;
    for (; n < items.length; n++) {
      const next = `${n ? ", " : ""}${items[n]}`;
      if (displayWidth(text + next) > room && n > 0) break;
      text += next;
    }
    return n === items.length ? `[${text}]` : `[${text}, … ${items.length - n} more]`;
  }
  if (value && typeof value === "object") {
    const fields = isRecord(type) ? type.fields : undefined;
    const entries = Object.entries(value);
    const width = Math.max(...entries.map(([k]) => k.length));
    return entries.map(([k, v]) => {
      const ft = fields?.find((f) => f.name === k)?.type;
      return `\n${indent}  ${p.cyan(k.padEnd(width))}  ${formatValue(ft, v, p, indent + "  ", shown, k)}`;
    }).join("");
  }
  return String(value);
}

/** A call result: one line per returned parameter; long values cut to fit unless shown whole. */
export function formatResult(
  cb: CallbackInfo,
  result: Record<string, unknown>,
  p: Paint,
  shown: Shown = "fit",
): string {
  const keys = Object.keys(result);
  if (keys.length === 0) return p.green(cb.sync ? "ok" : "ok (queued)");
  const width = Math.max(...keys.map((k) => k.length));
  return keys.map((k) => {
    const param = cb.params.find((q) => q.name === k);
    const type = param && param.dir.startsWith("vector") ? param.type : param?.type;
    return `${p.bold(k.padEnd(width))}  ${
      formatValue(param?.dir.startsWith("vector") ? undefined : type, result[k], p, "", shown, k)
    }`;
  }).join("\n");
}

/**
 * The JSON form of a call result (or an event's parameters); `input`: what the call was given (an
 * ioctl-style payload's layout comes from its command).
 */
export function resultJson(
  cb: CallbackInfo,
  result: Record<string, unknown>,
  input?: Record<string, unknown>,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(result)) {
    const param = cb.params.find((q) => q.name === k);
    const layout = param?.commands && commandLayout(param, cb.params, { ...input, ...result });
    out[k] = param ? paramToJson(param, v, layout) : v;
  }
  return out;
}

/** The JSON form of an event (one NDJSON line in `watch --json`). */
export function eventJson(sig: Signature, ev: KernelEvent): Record<string, unknown> {
  const cb = sig.callbacks[ev.name as keyof typeof sig.callbacks] as CallbackInfo;
  return {
    ok: true,
    event: ev.name,
    signature: sig.name,
    instance: ev.instance ? instancesJson([ev.instance])[0] : null,
    time: new Date(ev.time).toISOString(),
    params: resultJson(cb, ev.params),
  };
}

/** One readable line per event. */
export function formatEvent(sig: Signature, ev: KernelEvent, p: Paint): string {
  const cb = sig.callbacks[ev.name as keyof typeof sig.callbacks] as CallbackInfo;
  const time = new Date(ev.time).toISOString().slice(11, 23);
  const params = Object.entries(ev.params).map(([k, v]) => {
    const param = cb.params.find((q) => q.name === k);
    return `${p.cyan(k)}=${inline(param?.type, v)}`;
  }).join(" ");
  return `${p.dim(time)} ${p.yellow(ev.name)} ${
    ev.instance ? ev.instance.name : p.dim("(no instance)")
  } ${params}`;
}

function inline(type: Type<unknown> | undefined, v: unknown): string {
  if (v instanceof Uint8Array) {
    return isText(v) ? JSON.stringify(new TextDecoder().decode(v)) : `0x${toHex(v)}`;
  }
  if (typeof v === "string") return type?.kind === "enum" ? v : JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map((x) => inline(undefined, x)).join(",")}]`;
  if (v && typeof v === "object") {
    const fields = isRecord(type) ? type.fields : [];
    return `{${
      Object.entries(v).map(([k, x]) => `${k}:${inline(fields.find((f) => f.name === k)?.type, x)}`).join(" ")
    }}`;
  }
  return String(v);
}

/** The JSON form of instances: ids as decimal strings. */
export function instancesJson(list: readonly { id: bigint; name: string }[]): { id: string; name: string }[] {
  return list.map((i) => ({ id: String(i.id), name: i.name }));
}

/** `NAME<TYPE>` hint text of a parameter as `call` takes it. */
export function paramHint(param: ParamInfo): string {
  if (param.dir === "vectorOut") return `${param.name}=<capacity>`;
  if (param.dir === "vectorIn" || param.dir === "vectorInOut") {
    return `${param.name}=<${param.type.name === "u8" ? 'hex|"text"|@file' : `[${param.type.name},…]`}>`;
  }
  if (param.type.kind === "enum") {
    return `${param.name}=<${Object.keys((param.type as EnumType<string>).values).join("|")}>`;
  }
  if (param.type.kind === "union") return `${param.name}.<member>.…=… | ${param.name}={member: …}`;
  if (param.type.kind === "struct") return `${param.name}.<field>=… | ${param.name}={…}`;
  return `${param.name}=<${param.type.name}>`;
}

/** `@BYTE, N bytes`, or for a bitfield `@BYTE bits A..B` counted from that byte (little-endian, as GCC places them). */
function where(f: Field, base: number): string {
  if (f.bitWidth === undefined) return `@${base + f.offset}, ${plural(f.type.size, "byte")}`;
  const first = base * 8 + f.bitOffset!;
  const byte = Math.floor(first / 8);
  const from = first - byte * 8;
  if (f.bitWidth === 0) return `@${byte}, to the next ${f.type.size}-byte unit`;
  return `@${byte} ${f.bitWidth === 1 ? `bit ${from}` : `bits ${from}..${from + f.bitWidth - 1}`}`;
}

function attributeText(type: Type<unknown>): string {
  if (!isRecord(type)) return "";
  const a = type.attributes;
  const parts = [
    a.packed ? "packed" : "",
    a.pack !== undefined ? `pack(${a.pack})` : "",
    a.aligned !== undefined ? `aligned(${a.aligned})` : "",
  ].filter(Boolean);
  return parts.length ? ` ${parts.join(", ")}` : "";
}

/**
 * The members of `type` with offsets (bit offsets for bitfields) counted from the parameter's start,
 * each with the comment the driver's C has on it (`docs`, from the signature).
 */
function typeLines(type: Type<unknown>, indent: string, p: Paint, base = 0, docs?: TypeDocMap): string[] {
  if (type.kind === "array") {
    // The element's members, once, counted from the first element.
    const a = type as ArrayType<unknown>;
    const inner = typeLines(a.element, indent + "  ", p, base, docs);
    if (!inner.length) return [];
    return [
      `${indent}${
        p.dim(`each of ${a.length} (${a.element.name}, ${plural(a.element.size, "byte")} apart), the first:`)
      }`,
      ...docLine(docs?.[a.element.name]?.doc, indent + "  ", p),
      ...inner,
    ];
  }
  if (isRecord(type)) {
    const memberDocs = docs?.[type.name]?.members;
    return type.members.flatMap((f) => {
      const label = f.unnamed
        ? `(${f.bitWidth === 0 ? ": 0" : "padding"})`
        : f.anonymous
        ? `(anonymous ${f.type.kind})`
        : f.name;
      const name = (f.unnamed || f.anonymous ? p.dim : p.cyan)(label.padEnd(14));
      const attrs = f.attributes || f.out
        ? ` ${
          [
            f.attributes?.packed ? "packed" : "",
            f.attributes?.aligned ? `aligned(${f.attributes.aligned})` : "",
            f.out ? "out: the driver fills it in" : "",
          ].filter(Boolean).join(", ")
        }`
        : "";
      const doc = memberDocs?.[f.name];
      return [
        `${indent}${name} ${fieldTypeName(f).padEnd(12)} ${
          p.dim(`${where(f, base)}${attrs}${attributeText(f.type)}`)
        }${doc ? `  ${doc.split("\n")[0]}` : ""}`,
        ...(f.bitWidth === undefined
          ? typeLines(f.type, indent + "  ", p, base + f.offset, docs)
          : typeLines(f.type, indent + "  ", p, base, docs)),
      ];
    });
  }
  if (type.kind === "enum") {
    const values = (type as EnumType<string>).values;
    return [`${indent}${p.dim("values:")} ${Object.entries(values).map(([k, v]) => `${k}=${v}`).join(", ")}`];
  }
  if (type.kind === "pointer") {
    const buffer = (type as PointerType).buffer;
    if (buffer) {
      return [
        `${indent}${
          p.dim(
            `points to a caller buffer (${buffer.dir}), ${
              buffer.length !== undefined ? plural(buffer.length, "byte") : `length in ${buffer.lengthFrom}`
            }`,
          )
        }`,
      ];
    }
  }
  return [];
}

/** Comments on named types and their members, by type name (a signature's `typeDocs`). */
type TypeDocMap = Signature["typeDocs"];

/** A comment's first line, dimmed, or nothing. */
function docLine(doc: string | undefined, indent: string, p: Paint): string[] {
  return doc ? [`${indent}${p.dim(doc.split("\n")[0])}`] : [];
}

/**
 * `describe CALLBACK`: id, location, sync, and each parameter with its type, size and fields — with
 * the comments the driver's C has on its types and members when the signature carries them.
 */
export function describeCallback(cb: CallbackInfo, p: Paint, docs?: TypeDocMap): string {
  const kind = cb.location === "user"
    ? "user-location (kernel event)"
    : `kernel-location, ${cb.sync ? "sync" : "async"}`;
  const lines = [`${p.bold(cb.name)}  id ${cb.id}  ${kind}`];
  if (cb.doc) lines.push(`  ${cb.doc}`);
  if (cb.params.length === 0) lines.push(p.dim("  no parameters"));
  for (const prm of cb.params) {
    const size = prm.dir.startsWith("vector")
      ? `${plural(prm.size, "byte")} per element`
      : plural(prm.size, "byte");
    const extra = prm.lengthFrom ? `, length in ${prm.lengthFrom}` : "";
    lines.push(
      `  ${p.yellow(prm.dir.padEnd(11))} ${p.cyan(prm.name.padEnd(10))} ${prm.type.name} ${
        p.dim(`(${size}${extra}${attributeText(prm.type)})`)
      }`,
    );
    if (prm.doc) lines.push(`      ${prm.doc}`);
    lines.push(...docLine(docs?.[prm.type.name]?.doc, "      ", p));
    lines.push(...typeLines(prm.type, "      ", p, 0, docs));
    // An ioctl-style payload: each command's layout.
    for (const [code, c] of prm.commands ?? []) {
      lines.push(
        `      ${p.dim("when")} ${(prm.type as CommandType).param}=${p.yellow(c.name)} ${
          p.dim(`(0x${code.toString(16)})`)
        }: ${c.type.name} ${p.dim(`(${plural(c.type.size, "byte")})`)}`,
      );
      lines.push(...docLine(docs?.[c.type.name]?.doc, "          ", p));
      lines.push(...typeLines(c.type, "          ", p, 0, docs));
    }
    if (prm.commands) lines.push(`      ${p.dim("any other command: bytes")}`);
  }
  return lines.join("\n");
}

/** The length a template gives a caller buffer whose signature fixes none: a page. */
const TEMPLATE_BUFFER_BYTES = 4096;

/** `describe` with no callback: the signature's callbacks in a table. */
export function describeSignature(sig: Signature, p: Paint): string {
  const version = sig.versionSource
    ? `${sig.version} (${sig.versionSource} = 0x${sig.revnum.toString(16).padStart(8, "0")})`
    : sig.version;
  const head = `${p.bold(sig.name)} ${version} by ${sig.vendor}${sig.doc ? ` — ${sig.doc}` : ""}`;
  const rows = sig.list.map((c) => [
    String(c.id),
    c.name,
    c.location === "user" ? "event" : c.sync ? "sync" : "async",
    c.params.map((q) => `${q.dir} ${q.name}`).join(", ") || "-",
  ]);
  return `${head}\n${table(["ID", "CALLBACK", "KIND", "PARAMETERS"], rows, p)}`;
}

function skeleton(type: Type<unknown>): unknown {
  switch (type.kind) {
    case "int":
      return type.size === 8 ? "0" : 0;
    case "float":
      return 0;
    case "bool":
      return false;
    case "string":
    case "chars":
      return "";
    case "bytes":
    case "command":
      return "00";
    case "pointer": {
      // A caller buffer: bytes the call pins (the form `call` takes); a bare pointer: NULL.
      const buffer = (type as PointerType).buffer;
      return buffer ? { length: buffer.length ?? TEMPLATE_BUFFER_BYTES } : "0x0";
    }
    case "enum":
      return Object.keys((type as EnumType<string>).values)[0];
    case "array":
      return [];
    case "union": {
      // A union value sets one member: the first, to be changed to the one meant.
      const first = (type as RecordType<unknown>).fields[0];
      return { [first.name]: skeleton(first.type) };
    }
    default: {
      // (not the fields the driver fills in: a call may leave them out)
      const fields = (type as RecordType<unknown>).fields.filter((f) => !f.out);
      const value: Record<string, unknown> = Object.fromEntries(
        fields.map((f) => [f.name, skeleton(f.type)]),
      );
      // A buffer whose length a member holds: the member says the buffer's length, not 0.
      for (const f of fields) {
        const from = f.type.kind === "pointer" ? (f.type as PointerType).buffer?.lengthFrom : undefined;
        if (from !== undefined && from in value) value[from] = TEMPLATE_BUFFER_BYTES;
      }
      return value;
    }
  }
}

/** `template CALLBACK`: a call line and a JSON skeleton to edit. */
export function template(
  cb: CallbackInfo,
  instance: string,
): { line: string; json: Record<string, unknown> } {
  const json: Record<string, unknown> = { instance };
  const words: string[] = [];
  for (const prm of cb.params) {
    if (prm.dir === "out") continue;
    if (prm.dir === "vectorOut") {
      json[prm.name] = 256;
      words.push(`${prm.name}=256`);
    } else if (prm.commands) {
      // An ioctl-style payload: the layout of the command the template chose.
      const layout = commandLayout(prm, cb.params, json);
      const v = layout ? skeleton(layout) : "00";
      json[prm.name] = v;
      words.push(`${prm.name}=${typeof v === "object" ? toJsonText(v) : "0x00"}`);
    } else if (prm.dir.startsWith("vector")) {
      json[prm.name] = prm.type.name === "u8" ? "00" : [skeleton(prm.type)];
      words.push(`${prm.name}=${prm.type.name === "u8" ? "0x00" : toJsonText([skeleton(prm.type)])}`);
    } else {
      const v = skeleton(prm.type);
      json[prm.name] = v;
      words.push(
        `${prm.name}=${
          typeof v === "object"
            ? toJsonText(v)
            : typeof v === "string" && prm.type.kind === "string"
            ? '""'
            : String(v)
        }`,
      );
    }
  }
  return { line: ["call", cb.name, instance, ...words].join(" "), json };
}

/**
 * A command list as `help` prints it: usage, then the summary word-wrapped in a column of its own
 * that fits `width` (a usage too long for its column gets a line to itself).
 */
export function usageList(
  entries: readonly { usage: string; summary: string }[],
  width: number,
  dim: (s: string) => string = (s) => s,
): string {
  const usageColumn = 44;
  const indent = " ".repeat(2 + usageColumn + 1);
  const room = Math.max(20, width - indent.length - 1);
  const lines: string[] = [];
  for (const { usage, summary } of entries) {
    const wrapped = wrapWords(summary, room).map(dim);
    if (usage.length <= usageColumn) lines.push(`  ${usage.padEnd(usageColumn)} ${wrapped.shift()}`);
    else lines.push(...wrapWords(usage, Math.max(20, width - 5)).map((l, i) => `${i ? "    " : "  "}${l}`));
    for (const rest of wrapped) lines.push(`${indent}${rest}`);
  }
  return lines.join("\n");
}

/** `text` in lines of at most `width` characters, broken between words (a longer word alone). */
function wrapWords(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  return [...lines, line];
}
