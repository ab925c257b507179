/**
 * The REPL's JavaScript escape: TypeScript or JavaScript (top-level await allowed) evaluated in a
 * worker (`js_worker.ts`) whose scope lasts between lines, with the sessions and every export of
 * mod.ts and demo.ts in scope. A runaway evaluation is stopped on Ctrl-C by terminating the worker
 * (its scope is lost then, and said so); the session calls it makes run here, in the REPL's thread.
 * @module
 */
import type { Session } from "../mgmt/session.ts";
import { CommandError } from "./state.ts";
import type { FromWorker, ToWorker } from "./js_worker.ts";

let worker: Worker | undefined;
let nextId = 0;
const waiting = new Map<number, (m: FromWorker) => void>();
let sessionsNow = new Map<string, Session>();

/** The methods of a session the worker may call. */
const FORWARDED = new Set(["invoke", "instances", "instance"]);

function start(): Worker {
  if (worker) return worker;
  const w = new Worker(new URL("./js_worker.ts", import.meta.url), { type: "module" });
  w.onmessage = async (e: MessageEvent<FromWorker>) => {
    const m = e.data;
    if (m.type === "rpc") {
      const s = sessionsNow.get(m.session);
      const reply = (r: Omit<Extract<ToWorker, { type: "rpc-result" }>, "type" | "id">) =>
        w.postMessage({ type: "rpc-result", id: m.id, ...r } as ToWorker);
      if (!s || !FORWARDED.has(m.method)) {
        reply({ error: { name: "TypeError", message: `no session ${m.session} or no method ${m.method}` } });
        return;
      }
      try {
        const fn = (s as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[m.method];
        reply({ value: await fn.apply(s, m.args) });
      } catch (err) {
        reply({
          error: { name: (err as Error).name ?? "Error", message: (err as Error).message ?? String(err) },
        });
      }
      return;
    }
    const done = waiting.get(m.id);
    waiting.delete(m.id);
    done?.(m);
  };
  worker = w;
  return w;
}

/** Stops the worker (its scope is lost); the next evaluation starts a fresh one. */
export function stopJs(): void {
  worker?.terminate();
  worker = undefined;
  for (const done of waiting.values()) done({ type: "eval-result", id: -1, error: "stopped" });
  waiting.clear();
}

/**
 * Evaluates `source` in the lasting scope, `_` … `_9` being `context.results`; resolves with its
 * value shown for people and as JSON, and the value itself when it could be copied out of the
 * worker (not a function, say).
 * @throws {CommandError} when it throws (its error in words), or when `signal` aborts (Ctrl-C): the
 * evaluation is stopped and the scope starts afresh.
 */
export function evaluate(
  source: string,
  context: { current?: string; sessions: Map<string, Session>; colors: boolean; results: unknown[] },
  signal?: AbortSignal,
): Promise<{ inspected: string; json: string; value?: unknown }> {
  sessionsNow = context.sessions;
  const w = start();
  const id = nextId++;
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      waiting.delete(id);
      stopJs();
      reject(
        new CommandError("js: interrupted — the evaluation was stopped, and the js scope starts afresh"),
      );
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    waiting.set(id, (m) => {
      signal?.removeEventListener("abort", onAbort);
      if (m.type !== "eval-result") return;
      if (m.error !== undefined) reject(new CommandError(`js: ${m.error}`));
      else resolve({ inspected: m.inspected ?? "", json: m.json ?? "null", value: m.value });
    });
    w.postMessage(
      {
        type: "eval",
        id,
        code: source,
        colors: context.colors,
        current: context.current ?? null,
        sessions: [...context.sessions].map(([name, s]) => ({ name, signature: s.signature.toJson() })),
        results: context.results,
      } satisfies ToWorker,
    );
  });
}

/** Completions of the expression `text` in the lasting scope (none when the worker is busy). */
export function completeJs(text: string, timeoutMs = 300): Promise<string[]> {
  const w = start();
  const id = nextId++;
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      waiting.delete(id);
      resolve([]);
    }, timeoutMs);
    waiting.set(id, (m) => {
      clearTimeout(timer);
      resolve(m.type === "complete-result" ? m.candidates : []);
    });
    w.postMessage({ type: "complete", id, text } satisfies ToWorker);
  });
}
