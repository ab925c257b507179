/**
 * The Ansible modules' implementation: `module.ts vmkmgmt_info|vmkmgmt_call ARGS_FILE`, as the
 * collection's module files run it (`ansible/ansible_collections/vmkmgmt/esxi/plugins/modules/`:
 * shell files marked WANT_JSON, so Ansible hands them their arguments as a JSON file). It prints one
 * JSON result on stdout and nothing else there; a failure is `failed` (or `unreachable`) with the
 * error's words, code and errno, never a stack trace.
 *
 * @module
 */
import { toJsonLine } from "../util/ndjson.ts";
import { vmkmgmtCall } from "./call.ts";
import { failure, type ModuleResult } from "./common.ts";
import { vmkmgmtInfo } from "./info.ts";

const MODULES: Record<string, (args: Record<string, unknown>) => Promise<ModuleResult>> = {
  vmkmgmt_info: vmkmgmtInfo,
  vmkmgmt_call: vmkmgmtCall,
};

/** Runs one module on the arguments in `file`; its result. */
export async function runModule(name: string, file: string): Promise<ModuleResult> {
  const run = MODULES[name];
  if (!run) return { failed: true, msg: `no module ${name} (modules: ${Object.keys(MODULES).join(", ")})` };
  let args: unknown;
  try {
    args = JSON.parse(await Deno.readTextFile(file));
  } catch (e) {
    return { failed: true, msg: `${name}: cannot read its arguments from ${file}: ${(e as Error).message}` };
  }
  if (typeof args !== "object" || args === null || Array.isArray(args)) {
    return { failed: true, msg: `${name}: its arguments are not a JSON object` };
  }
  try {
    return await run(args as Record<string, unknown>);
  } catch (e) {
    const out = failure(e);
    const done = (e as { results?: { changed?: boolean }[] }).results;
    if (done && !out.unreachable) {
      out.results = done;
      out.changed = args && (args as Record<string, unknown>)._ansible_check_mode !== true &&
        done.some((r) => r.changed);
    }
    return out;
  }
}

if (import.meta.main) {
  const [name, file] = Deno.args;
  if (!name || !file) {
    console.log(toJsonLine({ failed: true, msg: "usage: module.ts vmkmgmt_info|vmkmgmt_call ARGS_FILE" }));
    Deno.exit(1);
  }
  const result = await runModule(name, file);
  console.log(toJsonLine(result));
  Deno.exit(result.failed || result.unreachable ? 1 : 0);
}
