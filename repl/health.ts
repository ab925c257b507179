/**
 * What the REPL knows when a session's call fails with EIO, and getting the session back: the
 * library alone cannot tell "the simulator is gone" from "it dropped this session" from "this one
 * call failed in the kernel", but the REPL can ask — is the simulator answering, does the session
 * still list its instances, what did the simulator record about the call (`sim ctl errors`). A
 * session found gone is marked disconnected (the prompt and `sessions` say so) and reopened on
 * the next command, as redis-cli does.
 * @module
 */
import { ERRNO } from "../abi/facts.ts";
import { VmkMgmtError } from "../mgmt/errors.ts";
import { open } from "../mgmt/open.ts";
import { sendControl, simulatorAnswers } from "../sim/client.ts";
import type { CallError } from "../sim/client.ts";
import type { ReplState } from "./state.ts";

/**
 * Why a call of session `name` failed with EIO, in one line; marks the session disconnected when
 * it is gone. `undefined` when nothing more is known (not the simulator's library).
 */
export async function explainEio(
  state: ReplState,
  name: string,
  callback?: string,
): Promise<string | undefined> {
  const socket = state.simSocket;
  if (!socket) return undefined;
  if (!(await simulatorAnswers(socket, 1000).catch(() => false))) {
    state.dead.add(name);
    return `the simulator is gone (nothing answers on ${socket}); start it again (deno task sim) and the ` +
      `session reconnects on the next command`;
  }
  const s = state.sessions.get(name);
  const alive = s ? await s.instances().then(() => true, () => false) : false;
  if (!alive) {
    state.dead.add(name);
    return "the simulator is running but dropped this session; it reconnects on the next command";
  }
  const errors = await sendControl(socket, { op: "errors", pid: Deno.pid }, 2000).catch(
    () => [],
  ) as CallError[];
  const mine = errors.find((e) => e.api === s!.signature.name && (!callback || e.callback === callback));
  return mine
    ? `the session is fine: the simulator failed this call — ${mine.reason}`
    : "the session and the simulator are fine: the call failed in the kernel";
}

/**
 * Reopens a disconnected session (the current one, or `name`): one line says so. Returns false,
 * leaving it marked, when the simulator still does not take it.
 */
export async function reconnect(state: ReplState, name: string): Promise<boolean> {
  const old = state.sessions.get(name);
  if (!old || !state.dead.has(name)) return true;
  let fresh;
  try {
    fresh = await open(old.signature, {
      onError: (e, ctx) => state.printAbove(`${state.paint.red("error:")} ${ctx}: ${(e as Error).message}`),
    });
  } catch (e) {
    if (e instanceof VmkMgmtError && (e.errno === ERRNO.EIO || e.errno === ERRNO.ENODEV)) return false;
    throw e;
  }
  await old.close().catch(() => {});
  state.sessions.set(name, fresh);
  state.dead.delete(name);
  state.instanceCache.set(name, await fresh.instances().catch(() => []));
  // The session's background watches go on, on the new session.
  const resumed: string[] = [];
  for (const [id, w] of state.watches) {
    if (w.session !== name) continue;
    w.stop();
    w.stop = w.start(fresh);
    resumed.push(`#${id} (${w.what})`);
  }
  console.error(
    `reconnected ${name} (the simulator restarted or had dropped the session)${
      resumed.length ? `; resumed watch ${resumed.join(", ")}` : ""
    }`,
  );
  return true;
}
