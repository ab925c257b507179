/**
 * Where two recordings of a program part ways (`deno task trace diff A B`): each handle of A is
 * paired with the same-numbered handle of the same API in B (in the order Init succeeded), and
 * their records compared in order — kind, callback, instance, status, every byte in and out, the
 * bytes of caller buffers behind pointer members — times and the pointers' own addresses aside. The first difference (the earliest in A) is said with both records, typed by the
 * signatures given, and the first byte that differs.
 * @module
 */
import {
  bufferName,
  pointerBytes,
  type Trace,
  type TraceInvoke,
  type TraceRecord,
} from "../mgmt/trace/mod.ts";
import type { TraceView } from "./trace_view.ts";
import { firstDifference, hexByte } from "../util/hex.ts";

/** One handle's records, by the key a diff pairs them on. */
interface HandleSteps {
  /** `api #n`: the nth handle the program made of that API. */
  readonly key: string;
  readonly steps: TraceRecord[];
}

/** The first place two recordings differ; none when they do not. */
export interface Divergence {
  /** The handle, as `api #n`. */
  readonly handle: string;
  /** Its record number (from 1) where they differ. */
  readonly step: number;
  /** What differs, in words. */
  readonly what: string;
  /** The records there (absent on the side that has none). */
  readonly a?: TraceRecord;
  readonly b?: TraceRecord;
}

function handles(trace: Trace): HandleSteps[] {
  const byKey = new Map<string, TraceRecord[]>();
  const named = new Map<string, string>();
  const count = new Map<string, number>();
  const out: HandleSteps[] = [];
  for (const r of trace.records) {
    if (!("handle" in r) || r.handle === 0) continue;
    const id = `${r.run}/${r.handle}`;
    if (r.kind === "init") {
      const n = (count.get(r.name) ?? 0) + 1;
      count.set(r.name, n);
      named.set(id, `${r.name} #${n}`);
      byKey.set(id, []);
      out.push({ key: named.get(id)!, steps: byKey.get(id)! });
    }
    byKey.get(id)?.push(r);
  }
  return out;
}

function firstByte(
  a: Uint8Array | undefined,
  b: Uint8Array | undefined,
  skip?: ReadonlySet<number>,
): string | undefined {
  const x = a ?? new Uint8Array(0), y = b ?? new Uint8Array(0);
  const i = firstDifference(x, y, skip);
  if (i < 0) return undefined;
  return i < Math.min(x.length, y.length)
    ? `byte ${i}: ${hexByte(x[i])} in A, ${hexByte(y[i])} in B`
    : `${x.length} bytes in A, ${y.length} in B`;
}

const article = (word: string) => (/^[aeiou]/.test(word) ? "an" : "a");

/** The bytes of an invoke's parameters that hold its handle's pointer members (A's, as recorded). */
function pointersOf(r: TraceInvoke, init: TraceRecord | undefined): Set<number>[] {
  const fields = init?.kind === "init" ? init.buffers.filter((f) => f.callbackId === r.callbackId) : [];
  return pointerBytes(fields, r.args.map((a) => ({ size: a.size, length: a.in?.length ?? a.size })));
}

/** How two invokes' caller buffers differ, or undefined when they do not. */
function buffersDiffer(a: TraceInvoke, b: TraceInvoke): string | undefined {
  for (let k = 0; k < Math.max(a.buffers.length, b.buffers.length); k++) {
    const x = a.buffers[k], y = b.buffers[k];
    if (!x || !y) return `${a.buffers.length} caller buffers in A, ${b.buffers.length} in B`;
    const which = bufferName(x);
    if (x.param !== y.param || x.offset !== y.offset) {
      return `${which} in A, behind parameter ${y.param}'s at byte ${y.offset} in B`;
    }
    const din = firstByte(x.in, y.in);
    if (din) return `${which} going in, ${din}`;
    const dout = firstByte(x.out, y.out);
    if (dout) return `${which} coming out, ${dout}`;
  }
  return undefined;
}

/** How two records differ (times aside), or undefined when they do not; `init` is A's handle's. */
function differ(a: TraceRecord, b: TraceRecord, init?: TraceRecord): string | undefined {
  if (a.kind !== b.kind) {
    return `${article(a.kind)} ${a.kind} record in A, ${article(b.kind)} ${b.kind} record in B`;
  }
  switch (a.kind) {
    case "init": {
      const y = b as typeof a;
      if (a.revision !== y.revision) return `revision ${a.revision} in A, ${y.revision} in B`;
      if (a.status !== y.status) return `status ${a.status} in A, ${y.status} in B`;
      if (a.callbacks.length !== y.callbacks.length) return "the callback tables differ";
      return undefined;
    }
    case "instances": {
      const y = b as typeof a;
      const list = (r: typeof a) => r.instances.map((i) => `${i.id}:${i.name}`).join(",");
      if (a.status !== y.status) return `status ${a.status} in A, ${y.status} in B`;
      return list(a) === list(y)
        ? undefined
        : `instances ${list(a) || "none"} in A, ${list(y) || "none"} in B`;
    }
    case "invoke": {
      const y = b as typeof a;
      if (a.callbackId !== y.callbackId) return `callback ${a.callbackId} in A, ${y.callbackId} in B`;
      if (a.instanceId !== y.instanceId) return `instance ${a.instanceId} in A, ${y.instanceId} in B`;
      const skip = pointersOf(a, init);
      for (let i = 0; i < Math.max(a.args.length, y.args.length); i++) {
        const d = firstByte(a.args[i]?.in, y.args[i]?.in, skip[i]);
        if (d) return `parameter ${i} going in, ${d}`;
      }
      const buffers = buffersDiffer(a, y);
      if (buffers) return buffers;
      if (a.status !== y.status) return `status ${a.status} in A, ${y.status} in B`;
      for (let i = 0; i < Math.max(a.args.length, y.args.length); i++) {
        const d = firstByte(a.args[i]?.out, y.args[i]?.out, skip[i]);
        if (d) return `parameter ${i} coming out, ${d}`;
      }
      return undefined;
    }
    case "event": {
      const y = b as typeof a;
      if (a.callbackId !== y.callbackId) return `event ${a.callbackId} in A, ${y.callbackId} in B`;
      if (a.instanceId !== y.instanceId) return `instance ${a.instanceId} in A, ${y.instanceId} in B`;
      for (let i = 0; i < Math.max(a.params.length, y.params.length); i++) {
        const d = firstByte(a.params[i], y.params[i]);
        if (d) return `parameter ${i}, ${d}`;
      }
      return undefined;
    }
    case "control": {
      const y = b as typeof a;
      if (a.op !== y.op) return `${a.op} in A, ${y.op} in B`;
      return a.status === y.status ? undefined : `status ${a.status} in A, ${y.status} in B`;
    }
    case "disconnect":
      return undefined;
    default:
      return undefined;
  }
}

/** The first place `a` and `b` differ (the earliest in A), or undefined when they do not. */
export function firstDivergence(a: Trace, b: Trace): Divergence | undefined {
  const ha = handles(a), hb = handles(b);
  const found: Divergence[] = [];
  for (const h of ha) {
    const other = hb.find((x) => x.key === h.key);
    if (!other) {
      found.push({ handle: h.key, step: 1, what: `${h.key} is only in A`, a: h.steps[0] });
      continue;
    }
    const n = Math.max(h.steps.length, other.steps.length);
    for (let i = 0; i < n; i++) {
      const ra = h.steps[i], rb = other.steps[i];
      const what = !ra
        ? "B goes on where A ended"
        : !rb
        ? "A goes on where B ended"
        : differ(ra, rb, h.steps[0]);
      if (what) {
        found.push({ handle: h.key, step: i + 1, what, a: ra, b: rb });
        break;
      }
    }
  }
  for (const h of hb) {
    if (!ha.some((x) => x.key === h.key)) {
      found.push({ handle: h.key, step: 1, what: `${h.key} is only in B`, b: h.steps[0] });
    }
  }
  const at = (d: Divergence) => d.a?.offset ?? Infinity;
  return found.sort((x, y) => at(x) - at(y))[0];
}

/** A divergence in words, each side's record shown by `view` of its trace. */
export function divergenceText(d: Divergence | undefined, va: TraceView, vb: TraceView): string {
  if (!d) return "the same calls, answers and events (times aside)";
  return [
    `first difference: ${d.handle}, record ${d.step}: ${d.what}`,
    `  A: ${d.a ? va.line(d.a).trim() : "(nothing)"}`,
    `  B: ${d.b ? vb.line(d.b).trim() : "(nothing)"}`,
  ].join("\n");
}
