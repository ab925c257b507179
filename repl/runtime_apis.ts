/**
 * APIs a kernel registers at run time under names a driver makes up (an NVMe adapter's
 * `acmeNvme-0000:3b:00.0`): the ones a signature family of the REPL's can open. The simulator says
 * which APIs it has (`sim status`); a real kernel has no such list, so there they are the names the
 * user opened. `open` completes them and `sigs` lists them.
 * @module
 */
import { sendControl } from "../sim/client.ts";
import type { Family } from "./signature_files.ts";
import type { ReplState } from "./state.ts";

/** An API registered at run time, and the family that opens it. */
export interface RuntimeApi {
  name: string;
  version: string;
  family: Family;
}

/** How long the simulator's answer is reused (completion asks on every Tab). */
const FRESH_MS = 2000;

let cache: { socket: string; at: number; apis: { name: string; version: string }[] } | undefined;

async function simulatorApis(socket: string): Promise<{ name: string; version: string }[]> {
  if (cache?.socket === socket && performance.now() - cache.at < FRESH_MS) return cache.apis;
  const status = await sendControl(socket, { op: "status" }, 1000).catch(() => undefined) as
    | { apis?: { name: string; version: string }[] }
    | undefined;
  const apis = status?.apis ?? [];
  cache = { socket, at: performance.now(), apis };
  return apis;
}

/**
 * The run-time APIs the simulator has that no known signature names and a family with a prefix
 * opens (a family of any name — a C file's — would claim every API, so it lists none).
 */
export async function runtimeApis(state: ReplState): Promise<RuntimeApi[]> {
  if (!state.simSocket) return [];
  const out: RuntimeApi[] = [];
  for (const api of await simulatorApis(state.simSocket)) {
    if (state.signatures.has(api.name)) continue;
    const family = state.families.find((f) => f.prefix && api.name.startsWith(f.prefix));
    if (family) out.push({ name: api.name, version: api.version, family });
  }
  return out;
}
