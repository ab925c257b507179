/**
 * Tables, and records as a table: one row per record, one column per scalar field — how a list of adapters or
 * the same call on every instance reads at a glance (as `esxcli … list` prints). Records that do
 * not make a table (a nested list, long bytes, rows of different shapes, wider than the terminal)
 * get `null`, and the caller shows them one by one instead: a table never hides or cuts a value.
 * @module
 */
import { displayWidth, padToWidth } from "./width.ts";
import { toHex } from "../util/hex.ts";
import type { Paint } from "./format.ts";

/**
 * A table with a header row (bold), columns two spaces apart, sized by display width; the columns
 * `right` says are right-aligned (numbers, so that their digits line up).
 */
export function table(headers: string[], rows: string[][], p: Paint, right: boolean[] = []): string {
  // Display width, not .length: wide characters take two columns, escapes none.
  const widths = headers.map((h, i) => Math.max(displayWidth(h), ...rows.map((r) => displayWidth(r[i]))));
  const pad = (c: string, i: number) =>
    right[i] ? " ".repeat(widths[i] - displayWidth(c)) + c : padToWidth(c, widths[i]);
  const line = (cells: string[]) => cells.map(pad).join("  ").trimEnd();
  return [p.bold(line(headers)), ...rows.map(line)].join("\n");
}

/** Bytes short enough for a cell, in hex (an id, a MAC, a GUID); longer ones do not make a table. */
const CELL_BYTES = 16;

/**
 * The scalar leaves of a record, by path (`stats.mtu`); null when it holds anything a cell cannot
 * show whole (a list, bytes longer than {@link CELL_BYTES}).
 */
export function scalarLeaves(value: unknown, prefix = ""): [string, unknown][] | null {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return null;
  const out: [string, unknown][] = [];
  for (const [k, v] of Object.entries(value)) {
    const path = prefix ? `${prefix}.${k}` : k;
    if (v instanceof Uint8Array) {
      if (v.length > CELL_BYTES) return null;
      out.push([path, v]);
    } else if (v !== null && typeof v === "object") {
      const inner = scalarLeaves(v, path);
      if (!inner) return null;
      out.push(...inner);
    } else {
      out.push([path, v]);
    }
  }
  return out;
}

function cell(v: unknown): string {
  if (v instanceof Uint8Array) return `0x${toHex(v)}`;
  return String(v);
}

/** One row: its label (an instance, an index) and its record. */
export interface TableRow {
  label: string;
  value: unknown;
}

/**
 * The rows as a table whose first column is `labelHeader`, or null when they do not make one
 * (see the module doc) or it would be wider than `width` columns. Columns are named by path, less
 * a first part every row shares (`getStats` on each instance: `mtu`, not `stats.mtu`).
 */
export function recordsTable(rows: TableRow[], labelHeader: string, width: number, p: Paint): string | null {
  if (rows.length === 0) return null;
  const leaves = rows.map((r) => scalarLeaves(r.value));
  const first = leaves[0];
  if (!first || first.length === 0) return null;
  const paths = first.map(([path]) => path);
  const key = paths.join("\0");
  if (leaves.some((l) => !l || l.map(([path]) => path).join("\0") !== key)) return null;
  const top = paths[0].split(".")[0];
  const shared = paths.every((path) => path.startsWith(`${top}.`));
  const headers = [labelHeader, ...paths.map((path) => (shared ? path.slice(top.length + 1) : path))];
  const isNumber = (v: unknown) => typeof v === "number" || typeof v === "bigint";
  const right = [false, ...paths.map((_, c) => leaves.every((l) => isNumber(l![c][1])))];
  const text = table(headers, rows.map((r, i) => [r.label, ...leaves[i]!.map(([, v]) => cell(v))]), p, right);
  return text.split("\n").some((line) => displayWidth(line) > width) ? null : text;
}
