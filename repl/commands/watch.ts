/**
 * `watch` and `unwatch`: stream kernel events in the foreground (until Ctrl-C, a count or a
 * duration) or in the background above the prompt.
 * @module
 */
import { parseArgs } from "@std/cli/parse-args";
import type { KernelEvent } from "../../mgmt/events.ts";
import { format as formatDuration } from "@std/fmt/duration";
import { plural } from "../format.ts";
import type { Session } from "../../mgmt/session.ts";
import { findInstance, type ParsedInstanceRef, parseInstanceRef } from "../../mgmt/instance_ref.ts";
import { eventJson, formatEvent, toJsonText } from "../format.ts";
import { CommandError, errorJson, type ReplState } from "../state.ts";
import { ERRNO } from "../../abi/facts.ts";
import { VmkMgmtError } from "../../mgmt/errors.ts";
import { completeAs } from "../completer.ts";
import { callbackOf, type Command, durationArg } from "./command.ts";

/** What a `watch` line asks for. */
interface WatchArgs {
  names: string[];
  count: number;
  duration?: number;
  instance?: ParsedInstanceRef;
  filter?: (ev: KernelEvent) => boolean;
  background: boolean;
}

const VALUE_FLAGS = ["count", "for", "instance", "filter"] as const;

function parseWatchArgs(words: string[], usage: string): WatchArgs {
  const args = parseArgs(words, {
    string: [...VALUE_FLAGS],
    boolean: ["background", "bg"],
    unknown: (arg: string) => {
      if (arg.startsWith("-")) throw new CommandError(`unknown option ${arg.split("=")[0]}; usage: ${usage}`);
      return true;
    },
  });
  for (const flag of VALUE_FLAGS) {
    if (args[flag] === "") throw new CommandError(`--${flag} needs a value; usage: ${usage}`);
  }
  const out: WatchArgs = {
    names: args._.map(String),
    count: Infinity,
    background: Boolean(args.background || args.bg),
  };
  if (args.count !== undefined) {
    out.count = Number(args.count);
    if (!Number.isInteger(out.count) || out.count < 1) {
      throw new CommandError("--count: expected a whole number ≥ 1");
    }
  }
  if (args.for !== undefined) out.duration = durationArg(args.for);
  if (args.instance !== undefined) {
    try {
      out.instance = parseInstanceRef(args.instance, "--instance");
    } catch (e) {
      throw new CommandError((e as Error).message);
    }
  }
  if (args.filter !== undefined) {
    try {
      out.filter = new Function("ev", `return (${args.filter});`) as (ev: KernelEvent) => boolean;
    } catch (e) {
      // The parser names the token where it gave up; when that is one of the parentheses the
      // expression is wrapped in (the user typed none), the expression ended too soon.
      const said = (e as Error).message;
      const token = /^Unexpected token '(.)'$/.exec(said)?.[1];
      const why = token && !args.filter.includes(token) ? "the expression ends too soon" : said;
      throw new CommandError(
        `--filter ${args.filter}: ${why} (a JavaScript expression over ev, e.g. ev.params.state.up === 0)`,
      );
    }
  }
  return out;
}

/**
 * Watches a session's drop counters (kernel and library: events that never reached JavaScript)
 * and says so, once per change, while a watch runs: a watch that misses events must not look
 * complete. Returns the check to run (on each event and every second) and its stop.
 */
function dropWarner(
  s: Session,
  say: (line: string) => void,
  json: boolean,
  paint: (t: string) => string,
): { check: () => void; stop: () => void } {
  const total = () => {
    const st = s.stats;
    return { kernel: st.kernelDropped ?? 0, library: st.libraryDropped ?? 0 };
  };
  let last = total();
  const check = () => {
    if (s.closed) return;
    const now = total();
    const lost = now.kernel - last.kernel + now.library - last.library;
    if (lost <= 0) return;
    last = now;
    say(
      json
        ? toJsonText({
          warning: "events dropped",
          dropped: lost,
          kernelDropped: now.kernel,
          libraryDropped: now.library,
        })
        : paint(
          `⚠ ${lost} event${
            lost === 1 ? "" : "s"
          } dropped before reaching the REPL (the kernel's queue for this ` +
            `session was full; dropped so far: kernel ${now.kernel}, library ${now.library})`,
        ),
    );
  };
  const timer = setInterval(check, 1000);
  return { check, stop: () => (clearInterval(timer), check()) };
}

export const watch: Command = {
  name: "watch",
  usage: "watch [EVENT …] [--count N] [--for DURATION] [--instance I] [--filter JS] [--background]",
  summary: "stream kernel events until Ctrl-C, N events or a duration",
  help: `With no EVENT, every event of the current session. --filter takes a JavaScript expression
over ev (ev.name, ev.instance.name, ev.params…), e.g. --filter 'ev.params.state.up === 0'.
--background keeps watching while you type (events print above the prompt); stop with unwatch.
In --json mode each event is one NDJSON line.`,
  args: ["event"],
  flags: ["--count", "--for", "--instance", "--filter", "--background"],
  needsSession: true,
  complete(ctx) {
    if (ctx.current.startsWith("-")) return undefined;
    const last = ctx.done[ctx.done.length - 1];
    if (["--count", "--for", "--filter"].includes(last)) return [[], ctx.current]; // (a value of the user's)
    return last === "--instance" ? completeAs(ctx, "instance") : undefined;
  },
  async run(state, tokens) {
    const s = state.session();
    const { names, count, duration, instance, filter, background } = parseWatchArgs(
      tokens.map((t) => t.text),
      this.usage,
    );
    for (const name of names) callbackOf(s.signature, name, "user");
    const wanted = new Set(names);
    const match = (ev: KernelEvent) =>
      (wanted.size === 0 || wanted.has(ev.name)) &&
      (!instance || findInstance(ev.instance ? [ev.instance] : [], instance) !== undefined) &&
      (!filter || Boolean(filter(ev)));
    // With more than one watch, each line says which watch it belongs to (the same event may
    // match several): "#2" for a background watch, "fg" for this one in the foreground.
    const show = (ev: KernelEvent, tag: string) => {
      const several = state.watches.size + (state.foreground ? 1 : 0) > 1;
      if (state.json) {
        return toJsonText({ ...eventJson(s.signature, ev), ...(several ? { watch: tag } : {}) });
      }
      const line = formatEvent(s.signature, ev, state.paint);
      return several ? `${state.paint.dim(`[${tag}]`)} ${line}` : line;
    };
    const what = names.length ? names.join(", ") : "all events";
    if (background) {
      let seen = 0;
      const name = s.signature.name;
      const id = state.addWatch(what, name, (session) => {
        const controller = new AbortController();
        const drops = dropWarner(session, (l) => state.printAbove(l), state.json, state.paint.yellow);
        const stop = () => (controller.abort(), drops.stop());
        void (async () => {
          try {
            for await (const ev of session.events(null, { signal: controller.signal })) {
              drops.check();
              if (!match(ev)) continue;
              state.printAbove(show(ev, `#${id}`));
              if (++seen >= count) return void state.stopWatch(id);
            }
          } catch (e) {
            if (controller.signal.aborted || !state.watches.has(id)) return;
            drops.stop();
            watchEnded(state, id, e);
          }
        })();
        return stop;
      });
      const watch = state.watches.get(id)!;
      watch.stop = watch.start(s);
      if (duration !== undefined) setTimeout(() => state.stopWatch(id), duration);
      if (!state.json) {
        console.log(
          state.paint.dim(`watch #${id} on ${what} runs in the background; stop it with: unwatch ${id}`),
        );
      }
      return;
    }
    const controller = new AbortController();
    state.foreground = controller;
    const timer = duration !== undefined ? setTimeout(() => controller.abort(), duration) : undefined;
    if (!state.json) {
      console.log(
        state.paint.dim(
          `watching ${what}${count < Infinity ? `, ${plural(count, "event")}` : ""}${
            duration !== undefined ? ` for ${formatDuration(duration, { ignoreZero: true })}` : ""
          } — Ctrl-C stops (times are when each event reached the REPL)`,
        ),
      );
    }
    let seen = 0;
    const drops = dropWarner(s, (l) => console.log(l), state.json, state.paint.yellow);
    try {
      for await (const ev of s.events(null, { signal: controller.signal })) {
        drops.check();
        if (!match(ev)) continue;
        console.log(show(ev, "fg"));
        if (++seen >= count) break;
      }
    } finally {
      clearTimeout(timer);
      drops.stop();
      state.foreground = undefined;
    }
    if (!state.json) console.log(state.paint.dim(plural(seen, "event")));
  },
};

export const unwatch: Command = {
  name: "unwatch",
  usage: "unwatch [ID|all]",
  summary: "stop background watches",
  run(state, args) {
    const which = args[0]?.text ?? "all";
    const ids = which === "all" ? [...state.watches.keys()] : [Number(which)];
    for (const id of ids) {
      if (!state.stopWatch(id)) {
        throw new CommandError(
          `no background watch ${which}; running: ${[...state.watches.keys()].join(", ") || "none"}`,
        );
      }
    }
    state.result(
      () => `stopped ${plural(ids.length, "watch", "watches")}`,
      () => ({ ok: true, stopped: ids }),
    );
  },
};

/**
 * Says that background watch `id` ended with `error`. When its session was lost (EIO) the session
 * is marked disconnected at once, and the watch is kept to resume when the session reconnects.
 */
function watchEnded(state: ReplState, id: number, error: unknown): void {
  const w = state.watches.get(id)!;
  const lost = error instanceof VmkMgmtError && error.errno === ERRNO.EIO;
  const json = errorJson(error);
  if (lost) {
    state.dead.add(w.session);
    w.stop = () => {};
  } else state.watches.delete(id);
  const then = lost ? "; it resumes when the session reconnects (on the next command)" : "";
  state.printAbove(
    state.json
      ? toJsonText({
        ok: false,
        watch: id,
        ended: true,
        resumes: lost,
        error: json,
      })
      : `${state.paint.red(`watch #${id}`)} (${w.what} on ${w.session}) ended: ${json.message}${then}`,
  );
}
