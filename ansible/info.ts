/**
 * `vmkmgmt_info`: what a host's kernel serves for one API — its version, its instances, and the
 * results of the read-only callbacks the task names (each on every instance) — as facts under
 * `vmkmgmt.apis.<API>`. It changes nothing, so check mode runs it as it is. Values are as the REPL's
 * `--json` writes them (instances `{id, name}`, integers exact).
 *
 * @module
 */
import { instancesJson, resultJson } from "../repl/format.ts";
import {
  checkArgs,
  COMMON,
  type ModuleResult,
  openOn,
  readingCallbackOf,
  signatureOf,
  timeoutOf,
} from "./common.ts";

const SPEC = { ...COMMON, read: { type: "list" as const, default: [] } };

/** Runs the module on its arguments. */
export async function vmkmgmtInfo(args: Record<string, unknown>): Promise<ModuleResult> {
  const a = checkArgs("vmkmgmt_info", SPEC, args);
  const sig = await signatureOf(
    a.api as string,
    a.signature as string | undefined,
    a.cflags as string | undefined,
  );
  const timeout = timeoutOf(a.timeout as string);
  const reads = (a.read as unknown[]).map(String);
  const callbacks = reads.map((name) => readingCallbackOf(sig, name, "read: "));
  await using s = await openOn(sig, a.host as string);
  const instances = await s.instances();
  const results: Record<string, Record<string, unknown>> = {};
  for (const cb of callbacks) {
    const byInstance: Record<string, unknown> = {};
    for (const inst of instances) {
      const r = await s.invoke(cb.name as never, { instance: inst } as never, { timeout }) as Record<
        string,
        unknown
      >;
      byInstance[inst.name] = resultJson(cb, r);
    }
    results[cb.name] = byInstance;
  }
  const api = {
    version: sig.version,
    peer: s.peer ?? null,
    instances: instancesJson(instances),
    ...(reads.length ? { read: results } : {}),
  };
  return { changed: false, ansible_facts: { vmkmgmt: { host: a.host, apis: { [sig.name]: api } } } };
}
