/**
 * A trace as a person reads it (`deno task trace`): each record one line — or one JSON object —
 * with callbacks named and values typed by the signatures given, bytes otherwise; and the numbers
 * of a run (calls per callback, latency percentiles, errors, events).
 * @module
 */
import { errnoName } from "../abi/facts.ts";
import { commandLayout, decodeParam } from "../mgmt/codec.ts";
import { formatVersion, type ParamInfo, type Signature } from "../mgmt/signature.ts";
import type { Trace, TraceEvent, TraceInvoke, TraceRecord } from "../mgmt/trace/mod.ts";
import { toHex } from "../util/hex.ts";
import { toJsonText } from "./format.ts";
import type { Family } from "./signature_files.ts";

/** One handle as the trace made it known. */
interface HandleInfo {
  api: string;
  sig?: Signature;
  instances: Map<bigint, string>;
}

/** What `stats` counts for one callback. */
export interface CallbackStats {
  /** API and callback name (or id). */
  callback: string;
  calls: number;
  /** Failed calls by errno name. */
  errors: Record<string, number>;
  /** Latency percentiles and maximum, in milliseconds. */
  ms: { p50: number; p90: number; p99: number; max: number };
}

/** The numbers of one trace. */
export interface TraceStats {
  records: number;
  handles: number;
  /** Milliseconds from the start to the last record. */
  spanMs: number;
  /** Per kernel callback. */
  calls: CallbackStats[];
  /** Events per user callback. */
  events: Record<string, number>;
  /** Records the recorder dropped (the disk could not keep up). */
  dropped: number;
  /** The recording was cut short (killed), or damaged. */
  ended: "normally" | "cut short" | "damaged" | "without END";
}

const VALUE_CHARS = 160;

/** Milliseconds from nanoseconds, for lines. */
const ms = (ns: number) => (ns / 1e6).toFixed(3);

/** Reads one trace for people. */
export class TraceView {
  readonly #trace: Trace;
  readonly #sigs: readonly Signature[];
  readonly #families: readonly Family[];
  readonly #handles = new Map<string, HandleInfo>();

  /**
   * A view of `trace`, typed by `signatures` (matched by API name and vendor), and for API names
   * a driver made up at run time, by the `families` whose prefix they start with.
   */
  constructor(trace: Trace, signatures: readonly Signature[], families: readonly Family[] = []) {
    this.#trace = trace;
    this.#sigs = signatures;
    this.#families = families;
    for (const r of trace.records) this.#learn(r);
  }

  #signatureOf(name: string, vendor: string): Signature | undefined {
    const exact = this.#sigs.find((s) => s.name === name && s.vendor === vendor);
    if (exact) return exact;
    for (const f of this.#families) {
      if (!name.startsWith(f.prefix)) continue;
      const sig = f.make(name);
      if (sig.vendor === vendor) return sig;
    }
    return undefined;
  }

  #key(r: { run: number; handle: number }): string {
    return `${r.run}/${r.handle}`;
  }

  #learn(r: TraceRecord): void {
    if (r.kind === "init" && r.status === 0) {
      const sig = this.#signatureOf(r.name, r.vendor);
      this.#handles.set(this.#key(r), { api: r.name, sig, instances: new Map() });
    } else if (r.kind === "instances" && r.status === 0) {
      const h = this.#handles.get(this.#key(r));
      for (const i of r.instances) h?.instances.set(i.id, i.name);
    }
  }

  #handle(r: { run: number; handle: number }): HandleInfo | undefined {
    return this.#handles.get(this.#key(r));
  }

  #callbackName(h: HandleInfo | undefined, id: bigint): string {
    const cb = h?.sig?.byId(id);
    return cb ? cb.name : `callback ${id}`;
  }

  #instance(h: HandleInfo | undefined, id: bigint): string {
    if (id === 0n) return "-";
    const name = h?.instances.get(id);
    return name ? name : `#${id}`;
  }

  /** Typed values of an invoke's arguments, in and out (bytes where no signature says more). */
  #values(r: TraceInvoke): { in: Record<string, unknown>; out: Record<string, unknown> } {
    const h = this.#handle(r);
    const cb = h?.sig?.byId(r.callbackId);
    const params: readonly ParamInfo[] | undefined = cb && cb.location === "kernel" &&
        cb.params.length === r.args.length
      ? cb.params
      : undefined;
    const decode = (which: "in" | "out") => {
      const out: Record<string, unknown> = {};
      r.args.forEach((a, i) => {
        const bytes = a[which];
        const name = params ? params[i].name : `arg${i}`;
        if (a.unreadable) out[name] = "(unreadable)";
        else if (a.tooLarge) out[name] = "(longer than 64 MiB: not recorded)";
        else if (bytes) out[name] = params ? typed(params, i, bytes, out) : bytes;
      });
      return out;
    };
    return { in: decode("in"), out: decode("out") };
  }

  /** The caller buffers of an invoke, each named by its parameter and the pointer's offset in it. */
  #buffers(r: TraceInvoke) {
    const cb = this.#handle(r)?.sig?.byId(r.callbackId);
    return r.buffers.map((b) => ({
      at: `${cb?.params[b.param]?.name ?? `arg${b.param}`}+${b.offset}`,
      direction: b.direction,
      ...(b.in ? { in: b.in } : {}),
      ...(b.out ? { out: b.out } : {}),
      unreadable: b.unreadable,
      tooLarge: b.tooLarge,
    }));
  }

  #eventValues(r: TraceEvent): Record<string, unknown> {
    const h = this.#handle(r);
    const cb = h?.sig?.byId(r.callbackId);
    const params = cb && cb.location === "user" && cb.params.length === r.params.length
      ? cb.params
      : undefined;
    const out: Record<string, unknown> = {};
    r.params.forEach((b, i) =>
      out[params ? params[i].name : `arg${i}`] = params ? typed(params, i, b, out) : b
    );
    return out;
  }

  /** One record as one line. */
  line(r: TraceRecord): string {
    const at = "t" in r ? ms(r.t).padStart(10) : "".padStart(10);
    const who = "handle" in r ? `#${r.handle}` : "";
    const status = (s: number) => (s === 0 ? "0" : `${errnoName(s)} (${s})`);
    switch (r.kind) {
      case "start":
        return `${"0.000".padStart(10)}  START pid ${r.pid} ${JSON.stringify(r.argv.join(" "))} at ${
          new Date(r.wallMs).toISOString()
        }`;
      case "init":
        return `${at}  ${who} INIT ${r.name}/${r.vendor} ${formatVersion(r.revision)} → ${
          status(r.status)
        } in ${ms(r.dur)} ms; ${r.callbacks.length} callbacks${r.host ? `; host ${r.host}` : ""}${
          r.noEvents ? "; events not recorded" : ""
        }${r.openedBefore ? "; open before the recording began" : ""}`;
      case "instances":
        return `${at}  ${who} INSTANCES → ${status(r.status)}: ${
          r.instances.map((i) => `${i.name} (${i.id})`).join(", ") || "none"
        }`;
      case "invoke": {
        const h = this.#handle(r);
        const v = this.#values(r);
        const parts = [
          `${at}  ${who} ${this.#callbackName(h, r.callbackId)} ${this.#instance(h, r.instanceId)} → ${
            status(r.status)
          } in ${ms(r.dur)} ms`,
        ];
        if (r.raw) parts.push("(not in the handle's table: no bytes recorded)");
        if (Object.keys(v.in).length) parts.push(`in ${brief(v.in)}`);
        if (Object.keys(v.out).length) parts.push(`out ${brief(v.out)}`);
        for (const b of this.#buffers(r)) {
          const bytes = { ...(b.in ? { in: b.in } : {}), ...(b.out ? { out: b.out } : {}) };
          const state = b.unreadable ? " (unreadable)" : b.tooLarge ? " (too large: not recorded)" : "";
          parts.push(
            `buffer ${b.at} ${b.direction}${state}${Object.keys(bytes).length ? ` ${brief(bytes)}` : ""}`,
          );
        }
        return parts.join("  ");
      }
      case "event": {
        const h = this.#handle(r);
        return `${at}  ${who} EVENT ${this.#callbackName(h, r.callbackId)} ${
          this.#instance(h, r.instanceId)
        }  ${brief(this.#eventValues(r))}`;
      }
      case "control":
        return `${at}  ${who} ${r.op.toUpperCase()} → ${status(r.status)} in ${ms(r.dur)} ms`;
      case "disconnect":
        return `${at}  ${who} DISCONNECTED (${errnoName(r.error)}): the kernel went away`;
      case "dropped":
        return `${at}  DROPPED so far: ${r.records} records (${r.bytes} bytes) — the disk could not keep up`;
      case "end":
        return `${at}  END ${r.written} records written, ${r.dropped} dropped`;
      case "unknown":
        return `${at}  (a record of kind ${r.code}, ${r.length} bytes: from a newer recorder; skipped)`;
    }
  }

  /** One record as a JSON object (bigint as decimal strings, bytes as hex). */
  json(r: TraceRecord): Record<string, unknown> {
    const base: Record<string, unknown> = { kind: r.kind, offset: r.offset, run: r.run };
    if ("t" in r) base.ms = r.t / 1e6;
    if ("dur" in r) base.durMs = r.dur / 1e6;
    if ("status" in r) base.status = r.status === 0 ? 0 : errnoName(r.status);
    switch (r.kind) {
      case "invoke": {
        const h = this.#handle(r);
        const v = this.#values(r);
        return {
          ...base,
          handle: r.handle,
          api: h?.api,
          callback: this.#callbackName(h, r.callbackId),
          callbackId: r.callbackId,
          instance: { id: r.instanceId, name: h?.instances.get(r.instanceId) },
          thread: r.thread,
          raw: r.raw,
          in: v.in,
          out: v.out,
          buffers: this.#buffers(r),
        };
      }
      case "event": {
        const h = this.#handle(r);
        return {
          ...base,
          handle: r.handle,
          api: h?.api,
          event: this.#callbackName(h, r.callbackId),
          callbackId: r.callbackId,
          instance: { id: r.instanceId, name: h?.instances.get(r.instanceId) },
          params: this.#eventValues(r),
        };
      }
      case "init":
        return { ...r, ...base, version: formatVersion(r.revision) };
      default:
        return { ...r, ...base };
    }
  }

  /** The numbers of the trace. */
  stats(): TraceStats {
    const lat = new Map<string, number[]>();
    const errors = new Map<string, Record<string, number>>();
    const events: Record<string, number> = {};
    let dropped = 0;
    let last = 0;
    for (const r of this.#trace.records) {
      if ("t" in r) last = Math.max(last, r.t);
      if (r.kind === "invoke") {
        const h = this.#handle(r);
        const name = `${h?.api ?? "?"} ${this.#callbackName(h, r.callbackId)}`;
        if (!lat.has(name)) lat.set(name, []), errors.set(name, {});
        lat.get(name)!.push(r.dur / 1e6);
        if (r.status !== 0) {
          const e = errors.get(name)!;
          e[errnoName(r.status)] = (e[errnoName(r.status)] ?? 0) + 1;
        }
      } else if (r.kind === "event") {
        const h = this.#handle(r);
        const name = `${h?.api ?? "?"} ${this.#callbackName(h, r.callbackId)}`;
        events[name] = (events[name] ?? 0) + 1;
      } else if (r.kind === "dropped" || r.kind === "end") {
        dropped = r.kind === "dropped" ? r.records : r.dropped;
      }
    }
    const records = this.#trace.records;
    return {
      records: records.length,
      handles: records.filter((r) => r.kind === "init" && r.status === 0).length,
      spanMs: last / 1e6,
      calls: [...lat].map(([callback, l]) => {
        l.sort((a, b) => a - b);
        const pick = (q: number) => l[Math.min(l.length - 1, Math.floor(q * l.length))];
        return {
          callback,
          calls: l.length,
          errors: errors.get(callback)!,
          ms: { p50: pick(0.5), p90: pick(0.9), p99: pick(0.99), max: l[l.length - 1] },
        };
      }).sort((a, b) => b.calls - a.calls),
      events,
      dropped,
      ended: this.#trace.damaged
        ? "damaged"
        : this.#trace.torn
        ? "cut short"
        : records.at(-1)?.kind === "end"
        ? "normally"
        : "without END",
    };
  }

  /** The numbers as a table. */
  statsText(s: TraceStats): string {
    const rows = s.calls.map((c) =>
      `  ${c.callback.padEnd(36)} ${String(c.calls).padStart(8)}  ${c.ms.p50.toFixed(3).padStart(9)} ${
        c.ms.p90.toFixed(3).padStart(9)
      } ${c.ms.p99.toFixed(3).padStart(9)} ${c.ms.max.toFixed(3).padStart(9)}  ${
        Object.entries(c.errors).map(([k, v]) => `${k}×${v}`).join(" ")
      }`
    );
    const ev = Object.entries(s.events).map(([k, v]) => `  ${k.padEnd(36)} ${String(v).padStart(8)}`);
    return [
      `${s.records} records, ${s.handles} handles, ${(s.spanMs / 1000).toFixed(3)} s; ended ${s.ended}${
        s.dropped ? `; ${s.dropped} records dropped by the recorder` : ""
      }`,
      "",
      `  ${"calls".padEnd(36)} ${"count".padStart(8)}  ${"p50 ms".padStart(9)} ${"p90 ms".padStart(9)} ${
        "p99 ms".padStart(9)
      } ${"max ms".padStart(9)}  errors`,
      ...(rows.length ? rows : ["  (none)"]),
      ...(ev.length ? ["", `  ${"events".padEnd(36)} ${"count".padStart(8)}`, ...ev] : []),
    ].join("\n");
  }
}

/** A parameter's value by its type; its bytes when they do not decode (a trace is what happened). */
function typed(params: readonly ParamInfo[], i: number, bytes: Uint8Array, decoded: Record<string, unknown>) {
  try {
    return decodeParam(params[i], bytes.slice(), commandLayout(params[i], params, decoded));
  } catch {
    return bytes;
  }
}

/** Values on one line: JSON, each cut to a readable length. */
function brief(values: Record<string, unknown>): string {
  return Object.entries(values).map(([k, v]) => {
    const text = v instanceof Uint8Array
      ? `0x${toHex(v.subarray(0, 32))}${v.length > 32 ? `… (${v.length} bytes)` : ""}`
      : toJsonText(v);
    return `${k}=${text.length > VALUE_CHARS ? `${text.slice(0, VALUE_CHARS)}…` : text}`;
  }).join(" ");
}
