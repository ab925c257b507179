/**
 * `call CALLBACK *` (or `all`): the same call on every instance at once, as `esxcli … list` shows
 * every NIC — one table row per instance when the results are records of scalars, else a block per
 * instance; in JSON one line per instance, each naming it. One instance failing does not hide the
 * others' answers: they are all shown, then the command fails naming the ones that did not answer.
 * @module
 */
import type { Session } from "../../mgmt/session.ts";
import type { CallbackInfo } from "../../mgmt/signature.ts";
import type { Instance } from "../../mgmt/instance_ref.ts";
import { columns, formatResult, instancesJson, resultJson, toJsonText } from "../format.ts";
import { recordsTable } from "../tables.ts";
import { CommandError, errorJson, type ReplState } from "../state.ts";
import { driverStatus } from "../driver_status.ts";
import { inForeground } from "../waiting.ts";

/** Whether an instance word asks for every instance: `*`, or `all` where no instance has that name. */
export function meansEveryInstance(word: string | undefined, names: readonly string[] | undefined): boolean {
  return word === "*" || (word === "all" && !names?.includes("all"));
}

/** One instance's answer: its result, or why it had none. */
interface Outcome {
  inst: Instance;
  result?: Record<string, unknown>;
  error?: unknown;
}

/**
 * Runs `cb` with `params` on every instance of `s` at once and prints what each answered.
 * @throws {CommandError} when the API has no instances, or when any instance failed (after
 * every answer was shown).
 */
export async function callEveryInstance(
  state: ReplState,
  s: Session,
  cb: CallbackInfo,
  params: Record<string, unknown>,
  timeout: number | undefined,
): Promise<void> {
  const list = await s.instances();
  state.instanceCache.set(s.signature.name, list);
  if (!list.length) {
    throw new CommandError(
      `call ${cb.name} *: ${s.signature.name} has no instances; call ${cb.name} - … calls it with no instance`,
    );
  }
  const what = `${cb.name} on ${list.length} instances (${s.signature.name})`;
  const outcomes = await inForeground(
    state,
    what,
    (signal) =>
      Promise.all(list.map(async (inst): Promise<Outcome> => {
        try {
          const input = { ...params, instance: inst.id };
          const result = await s.invoke(cb.name as never, input as never, { signal, timeout });
          return { inst, result: result as Record<string, unknown> };
        } catch (error) {
          if (signal.aborted) throw error; // (Ctrl-C stops them all)
          return { inst, error };
        }
      })),
  );
  const answered = outcomes.filter((o) => o.result);
  const failed = outcomes.filter((o) => !o.result);
  for (const o of answered) {
    const status = driverStatus(o.result!);
    if (status) state.driverStatuses.push(`${cb.name} ${o.inst.name}: ${status}`);
  }
  const last = answered.at(-1);
  if (last) state.last = { callback: cb, result: last.result!, input: params };
  state.remember(Object.fromEntries(answered.map((o) => [o.inst.name, o.result])));
  if (state.json) printJson(cb, outcomes, params);
  else console.log(readable(state, cb, answered, failed));
  if (failed.length) {
    throw new CommandError(
      `call ${cb.name} *: ${failed.length} of ${outcomes.length} instances failed (${
        failed.map((o) => o.inst.name).join(", ")
      })`,
    );
  }
}

function printJson(cb: CallbackInfo, outcomes: Outcome[], params: Record<string, unknown>): void {
  for (const o of outcomes) {
    const instance = instancesJson([o.inst])[0];
    console.log(toJsonText(
      o.result
        ? { ok: true, callback: cb.name, instance, result: resultJson(cb, o.result, params) }
        : { ok: false, callback: cb.name, instance, error: errorJson(o.error) },
    ));
  }
}

/** A table of the answers when they make one, else a block each; failures after, one line each. */
function readable(state: ReplState, cb: CallbackInfo, answered: Outcome[], failed: Outcome[]): string {
  const p = state.paint;
  const grid = recordsTable(
    answered.map((o) => ({ label: o.inst.name, value: o.result })),
    "INSTANCE",
    columns(),
    p,
  );
  const parts = grid !== null
    ? [grid]
    : answered.map((o) =>
      `${p.bold(o.inst.name)}\n${
        formatResult(cb, o.result!, p).split("\n").map((line) => `  ${line}`).join("\n")
      }`
    );
  for (const o of failed) {
    parts.push(`${p.bold(o.inst.name)}  ${p.red("error:")} ${(o.error as Error)?.message ?? o.error}`);
  }
  return parts.join("\n");
}
