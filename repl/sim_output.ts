/**
 * The `sim` command's answers in words: an acknowledgement that says what was done, a compact
 * status, tables for sessions and failed calls (the raw JSON with `--json`).
 * @module
 */
import type { ControlRequest } from "../sim/client.ts";
import { type Paint, plural, toJsonText } from "./format.ts";
import { table } from "./tables.ts";

interface Status {
  apis: { name: string; vendor: string; version: string; instances: { id: string; name: string }[] }[];
  sessions: { id: number; api: string; pid: number; calls: number }[];
  faults: Record<string, Record<string, unknown>>;
  stalledCalls: number;
}

/** What the request asked, as typed (`fail instance=vmnic1 errno=EIO`). */
function asTyped(req: ControlRequest): string {
  const words = Object.entries(req).filter(([k]) => k !== "op").map(([k, v]) =>
    `${k}=${typeof v === "string" ? v : toJsonText(v)}`
  );
  return [req.op, ...words].join(" ");
}

/** A control result for people. */
export function formatControl(req: ControlRequest, result: unknown, p: Paint): string {
  switch (req.op) {
    case "status": {
      const s = result as Status;
      const apis = s.apis.map((a) =>
        `  ${a.name} ${a.version} (${a.vendor}): ${
          a.instances.length ? a.instances.map((i) => i.name).join(", ") : "no instances"
        }`
      );
      const faults = Object.entries(s.faults).map(([k, f]) =>
        `  ${k}: ${Object.entries(f).filter(([, v]) => v).map(([n, v]) => `${n} ${v}`).join(", ")}`
      );
      return [
        `${plural(s.apis.length, "API")}, ${plural(s.sessions.length, "session")}, ${
          plural(Object.keys(s.faults).length, "fault")
        } in force${s.stalledCalls ? `, ${plural(s.stalledCalls, "stalled call")}` : ""}`,
        ...apis,
        ...(faults.length ? ["faults:", ...faults] : []),
      ].join("\n");
    }
    case "sessions": {
      const rows = (result as Record<string, unknown>[]).map((r) => [
        String(r.id),
        String(r.api),
        String(r.pid),
        String(r.calls),
        String(r.delivered),
        String(r.queued),
        String(r.dropped),
      ]);
      return rows.length
        ? table(["ID", "API", "PID", "CALLS", "DELIVERED", "QUEUED", "DROPPED"], rows, p)
        : "no sessions";
    }
    case "errors": {
      const rows = (result as Record<string, unknown>[]).map((r) => [
        String(r.at).slice(11, 23),
        `${r.api}.${r.callback}`,
        String(r.instance ?? "-"),
        String(r.errno),
        String(r.reason),
      ]);
      return rows.length ? table(["TIME", "CALL", "INSTANCE", "ERRNO", "WHY"], rows, p) : "no failed calls";
    }
  }
  const empty = result === null || result === undefined ||
    (typeof result === "object" && Object.keys(result as object).length === 0);
  return empty ? `ok: ${asTyped(req)}` : `ok: ${asTyped(req)} → ${toJsonText(result)}`;
}
