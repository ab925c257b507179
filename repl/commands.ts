/**
 * The REPL's commands: each with its usage, help text and what its arguments complete to.
 * @module
 */
import { open } from "../mgmt/session.ts";
import type { CallbackInfo, Signature } from "../mgmt/signature.ts";
import type { KernelEvent } from "../mgmt/events.ts";
import { libraryInfo } from "../ffi/library.ts";
import { type ControlRequest, controlRequest, sendControl } from "../sim/control.ts";
import { didYouMean } from "../util/suggest.ts";
import { parseDuration } from "../util/duration.ts";
import {
  describeCallback,
  describeSignature,
  eventJson,
  formatEvent,
  formatResult,
  instancesJson,
  resultJson,
  table,
  template,
  toJsonText,
} from "./format.ts";
import { CommandError, type ReplState } from "./state.ts";
import type { Token } from "./tokenize.ts";
import { parseCallArgs } from "./values.ts";
import { evaluate } from "./js_eval.ts";

/** What a command's arguments complete to, position by position. */
export type ArgKind =
  | "command"
  | "signature"
  | "session"
  | "kernelCallback"
  | "event"
  | "callback"
  | "instance"
  | "params"
  | "on-off"
  | "simop";

/** A REPL command. */
export interface Command {
  /** Name typed. */
  name: string;
  /** Other names. */
  aliases?: string[];
  /** One-line usage. */
  usage: string;
  /** One-line summary. */
  summary: string;
  /** Longer help. */
  help?: string;
  /** Completion of positional arguments (the last repeats). */
  args?: ArgKind[];
  /** Flags it takes (for completion). */
  flags?: string[];
  /** Runs it; resolves when done. */
  run(state: ReplState, args: Token[], line: string): Promise<void> | void;
}

function need(args: Token[], i: number, what: string, usage: string): string {
  const t = args[i]?.text;
  if (!t) throw new CommandError(`missing ${what}; usage: ${usage}`);
  return t;
}

function callbackOf(sig: Signature, name: string, want?: "kernel" | "user"): CallbackInfo {
  const cb = sig.list.find((c) => c.name === name);
  const pool = sig.list.filter((c) => !want || c.location === want).map((c) => c.name);
  if (!cb) {
    throw new CommandError(
      `${sig.name} has no callback ${name}${didYouMean(name, pool)} (callbacks: ${pool.join(", ")})`,
    );
  }
  if (want === "kernel" && cb.location !== "kernel") {
    throw new CommandError(
      `${name} is a kernel event (user-location callback): watch it with: watch ${name}`,
    );
  }
  if (want === "user" && cb.location !== "user") {
    throw new CommandError(`${name} is a kernel callback, not an event: call it with: call ${name} …`);
  }
  return cb;
}

/** Parses a duration, as a command error. */
function durationArg(text: string): number {
  try {
    return parseDuration(text);
  } catch (e) {
    throw new CommandError((e as Error).message);
  }
}

async function refreshInstances(state: ReplState, name: string) {
  const s = state.sessions.get(name);
  if (!s) return [];
  const list = await s.instances();
  state.instanceCache.set(name, list);
  return list;
}

const call: Command = {
  name: "call",
  usage: "call CALLBACK [INSTANCE] [name=value …] [{json}] [--timeout MS]",
  summary: "invoke a kernel callback and show what it returns",
  help: `Values are typed by the signature:
  numbers      mtu=9000  id=0x10  seq=18446744073709551615 (64-bit ints are exact)
  bool, enum   enable=true  state=online
  strings      name="two words"
  structs      msg.seq=1 msg.payload=0a0b   or   msg={"seq": 1, "payload": "0a0b"}
  byte vectors image=0x01020304  image="text"  image=@path/to/file
  other vectors lbas=[1, 2, 3]
  vector-out   buffer=4096   (capacity in elements)
A JSON object may give all parameters at once (see: template CALLBACK). INSTANCE is a name or
an id; omit it for callbacks that take no instance (VMK_MGMT_NO_INSTANCE_ID).`,
  args: ["kernelCallback", "instance", "params"],
  flags: ["--timeout"],
  async run(state, args) {
    const s = state.session();
    const name = need(args, 0, "callback name", this.usage);
    const cb = callbackOf(s.signature, name, "kernel");
    const parsed = await parseCallArgs(cb, args.slice(1), (p) => Deno.readFile(p));
    const input = { ...parsed.params, instance: parsed.instance };
    const controller = new AbortController();
    state.foreground = controller;
    try {
      const result = await s.invoke(name as never, input as never, {
        signal: controller.signal,
        timeout: parsed.timeout,
      }) as Record<string, unknown>;
      state.result(
        () => formatResult(cb, result, state.paint),
        () => ({
          ok: true,
          callback: name,
          instance: parsed.instance ?? null,
          result: resultJson(cb, result),
        }),
      );
    } finally {
      state.foreground = undefined;
    }
  },
};

const watch: Command = {
  name: "watch",
  usage: "watch [EVENT …] [--count N] [--for DURATION] [--instance I] [--filter JS] [--background]",
  summary: "stream kernel events until Ctrl-C, N events or a duration",
  help: `With no EVENT, every event of the current session. --filter takes a JavaScript expression
over ev (ev.name, ev.instance.name, ev.params…), e.g. --filter 'ev.params.state.up === 0'.
--background keeps watching while you type (events print above the prompt); stop with unwatch.
In --json mode each event is one NDJSON line.`,
  args: ["event"],
  flags: ["--count", "--for", "--instance", "--filter", "--background"],
  async run(state, args) {
    const s = state.session();
    const names: string[] = [];
    let count = Infinity;
    let duration: number | undefined;
    let instance: string | undefined;
    let filter: ((ev: KernelEvent) => boolean) | undefined;
    let background = false;
    for (let i = 0; i < args.length; i++) {
      const [flag, inline] = args[i].text.split(/=(.*)/s, 2);
      const value = () =>
        inline ?? args[++i]?.text ?? (() => {
          throw new CommandError(`${flag} needs a value; usage: ${this.usage}`);
        })();
      switch (flag) {
        case "--count": {
          count = Number(value());
          if (!Number.isInteger(count) || count < 1) {
            throw new CommandError("--count: expected a whole number ≥ 1");
          }
          break;
        }
        case "--for":
          duration = durationArg(value());
          break;
        case "--instance":
          instance = value();
          break;
        case "--filter": {
          const expr = value();
          try {
            filter = new Function("ev", `return (${expr});`) as (ev: KernelEvent) => boolean;
          } catch (e) {
            throw new CommandError(`--filter: ${(e as Error).message}`);
          }
          break;
        }
        case "--background":
        case "--bg":
          background = true;
          break;
        default:
          if (flag.startsWith("--")) throw new CommandError(`unknown option ${flag}; usage: ${this.usage}`);
          callbackOf(s.signature, args[i].text, "user");
          names.push(args[i].text);
      }
    }
    const wanted = new Set(names);
    const match = (ev: KernelEvent) =>
      (wanted.size === 0 || wanted.has(ev.name)) &&
      (!instance || ev.instance?.name === instance || String(ev.instance?.id) === instance) &&
      (!filter || Boolean(filter(ev)));
    const show = (ev: KernelEvent) =>
      state.json ? toJsonText(eventJson(s.signature, ev)) : formatEvent(s.signature, ev, state.paint);
    const what = names.length ? names.join(", ") : "all events";
    if (background) {
      let seen = 0;
      const id = state.addWatch(what, s.signature.name, () => off());
      const off = s.on("*", (ev: KernelEvent) => {
        if (!match(ev)) return;
        state.printAbove(show(ev));
        if (++seen >= count) state.stopWatch(id);
      });
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
          `watching ${what}${count < Infinity ? `, ${count} events` : ""}${
            duration !== undefined ? ` for ${duration} ms` : ""
          } — Ctrl-C stops`,
        ),
      );
    }
    let seen = 0;
    try {
      for await (const ev of s.events(null, { signal: controller.signal })) {
        if (!match(ev)) continue;
        console.log(show(ev));
        if (++seen >= count) break;
      }
    } finally {
      clearTimeout(timer);
      state.foreground = undefined;
    }
    if (!state.json) console.log(state.paint.dim(`${seen} event${seen === 1 ? "" : "s"}`));
  },
};

const unwatch: Command = {
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
      () => `stopped ${ids.length} watch${ids.length === 1 ? "" : "es"}`,
      () => ({ ok: true, stopped: ids }),
    );
  },
};

const openCmd: Command = {
  name: "open",
  usage: "open SIGNATURE",
  summary: "open a session on a signature (it becomes the current one)",
  args: ["signature"],
  async run(state, args) {
    const name = need(args, 0, "signature name", this.usage);
    const known = state.signatures.get(name);
    if (!known) {
      const names = [...state.signatures.keys()];
      throw new CommandError(
        `unknown signature ${name}${didYouMean(name, names)} (known: ${
          names.join(", ")
        }; load more with --sig FILE)`,
      );
    }
    if (!state.sessions.has(name)) {
      const s = await open(known.signature, {
        onError: (e, ctx) => state.printAbove(`${state.paint.red("error:")} ${ctx}: ${(e as Error).message}`),
      });
      state.sessions.set(name, s);
    }
    state.current = name;
    const list = await refreshInstances(state, name);
    state.result(
      () =>
        `opened ${name} ${known.signature.version}: ${list.length} instance${list.length === 1 ? "" : "s"} (${
          list.map((i) => i.name).join(", ")
        })`,
      () => ({ ok: true, session: name, instances: instancesJson(list) }),
    );
  },
};

const use: Command = {
  name: "use",
  usage: "use SESSION",
  summary: "switch the current session",
  args: ["session"],
  run(state, args) {
    const name = need(args, 0, "session name", this.usage);
    if (!state.sessions.has(name)) {
      throw new CommandError(
        `no open session ${name}${didYouMean(name, state.sessions.keys())}; open it with: open ${name}`,
      );
    }
    state.current = name;
    state.result(() => `current session: ${name}`, () => ({ ok: true, session: name }));
  },
};

const close: Command = {
  name: "close",
  usage: "close [SESSION]",
  summary: "close a session (the current one by default)",
  args: ["session"],
  async run(state, args) {
    const name = args[0]?.text ?? state.current;
    const s = name ? state.sessions.get(name) : undefined;
    if (!name || !s) throw new CommandError(`no open session ${name ?? ""}`.trim());
    for (const [id, w] of [...state.watches]) if (w.session === name) state.stopWatch(id);
    await s.close();
    state.sessions.delete(name);
    if (state.current === name) state.current = state.sessions.keys().next().value;
    state.result(() => `closed ${name}`, () => ({ ok: true, closed: name }));
  },
};

const sessions: Command = {
  name: "sessions",
  usage: "sessions",
  summary: "list open sessions",
  run(state) {
    const rows = [...state.sessions.entries()].map((
      [n, s],
    ) => [n === state.current ? "*" : "", n, s.signature.version, String(s.stats.eventsDelivered)]);
    state.result(
      () => rows.length ? table(["", "SESSION", "VERSION", "EVENTS"], rows, state.paint) : "no open sessions",
      () => [...state.sessions.keys()].map((n) => ({ session: n, current: n === state.current })),
    );
  },
};

const sigs: Command = {
  name: "sigs",
  usage: "sigs",
  summary: "list known signatures",
  run(state) {
    const list = [...state.signatures.values()];
    state.result(
      () =>
        table(
          ["", "SIGNATURE", "VENDOR", "VERSION", "CALLBACKS", "SOURCE"],
          list.map((k) => [
            state.sessions.has(k.signature.name) ? "*" : "",
            k.signature.name,
            k.signature.vendor,
            k.signature.version,
            String(k.signature.list.length),
            k.source,
          ]),
          state.paint,
        ),
      () =>
        list.map((k) => ({
          ...k.signature.toJson(),
          source: k.source,
          open: state.sessions.has(k.signature.name),
        })),
    );
  },
};

const instances: Command = {
  name: "instances",
  usage: "instances",
  summary: "list the kernel instances of the current session",
  async run(state) {
    const s = state.session();
    const list = await refreshInstances(state, s.signature.name);
    state.result(
      () =>
        list.length
          ? table(["ID", "NAME"], list.map((i) => [String(i.id), i.name]), state.paint)
          : "no instances",
      () => instancesJson(list),
    );
  },
};

function signatureForDescribe(state: ReplState): Signature {
  if (state.current) return state.session().signature;
  const first = state.signatures.values().next().value;
  if (!first) throw new CommandError("no signature is known");
  return first.signature;
}

const describe: Command = {
  name: "describe",
  aliases: ["desc"],
  usage: "describe [CALLBACK | SIGNATURE]",
  summary: "show callbacks, or one callback's parameters, types, sizes, fields and enum values",
  args: ["callback"],
  run(state, args) {
    const what = args[0]?.text;
    const other = what ? state.signatures.get(what) : undefined;
    const sig = other?.signature ?? signatureForDescribe(state);
    if (!what || other) {
      state.result(() => describeSignature(sig, state.paint), () => sig.toJson());
      return;
    }
    const cb = callbackOf(sig, what);
    state.result(
      () => describeCallback(cb, state.paint),
      () => ({ name: cb.name, ...sig.toJson().callbacks[cb.name] }),
    );
  },
};

const templateCmd: Command = {
  name: "template",
  usage: "template CALLBACK [INSTANCE]",
  summary: "print a call line and a JSON skeleton to edit",
  args: ["kernelCallback", "instance"],
  run(state, args) {
    const sig = signatureForDescribe(state);
    const cb = callbackOf(sig, need(args, 0, "callback name", this.usage), "kernel");
    const inst = args[1]?.text ?? state.instanceCache.get(sig.name)?.[0]?.name ?? "INSTANCE";
    const t = template(cb, inst);
    state.result(
      () => `${t.line}\n${state.paint.dim("or")}\ncall ${cb.name} ${toJsonText(t.json)}`,
      () => ({ line: t.line, json: t.json }),
    );
  },
};

const json: Command = {
  name: "json",
  usage: "json [on|off]",
  summary: "switch JSON output on or off",
  args: ["on-off"],
  run(state, args) {
    const v = args[0]?.text ?? (state.json ? "off" : "on");
    if (v !== "on" && v !== "off") throw new CommandError("json: expected on or off");
    state.json = v === "on";
    state.result(() => "JSON output off", () => ({ ok: true, json: true }));
  },
};

const js: Command = {
  name: "js",
  usage: "js EXPRESSION",
  summary: "evaluate TypeScript/JavaScript with session, sessions and the module's API in scope",
  help: `Top-level await works: js (await session.invoke("getStats", { instance: "vmnic0" })).stats.mtu
In scope: session (current), sessions (by name), every export of mod.ts (open, t, acmeNic, …),
and $ (an object kept between evaluations). js takes the rest of its line, semicolons included;
after statements the value of the last expression is shown (js const a = 1; a + 1).`,
  async run(state, _args, line) {
    const expr = line.replace(/^\s*js\s?/, "");
    if (!expr.trim()) throw new CommandError(`usage: ${this.usage}`);
    const value = await evaluate(expr, {
      session: state.current ? state.sessions.get(state.current) : undefined,
      sessions: Object.fromEntries(state.sessions),
    });
    state.result(
      () =>
        value === undefined ? "" : Deno.inspect(value, { colors: state.paint.bold("x") !== "x", depth: 6 }),
      () => ({ ok: true, value: JSON.parse(toJsonText(value ?? null)) }),
    );
  },
};

const sim: Command = {
  name: "sim",
  usage: "sim OP [key=value …]",
  summary: "send a control command to the simulator (faults, events on demand, status)",
  help:
    `Ops: status, sessions, fail, stall, delay, clear, drop, remove, add, emit, link, holdDown, log, periodic.
Examples: sim fail instance=vmnic1 errno=EIO count=2
          sim emit event=linkEvent instance=vmnic0 params={"state":{"up":0,"speedMbps":0}}
          sim link instance=vmnic2 up=false`,
  args: ["simop"],
  async run(state, args) {
    if (!state.simSocket) throw new CommandError("sim: the loaded library is not the simulator's");
    const op = need(args, 0, "op", this.usage);
    let req: ControlRequest;
    try {
      req = controlRequest(op, args.slice(1).map((a) => a.text));
    } catch (e) {
      throw new CommandError(`sim: ${(e as Error).message}`);
    }
    const result = await sendControl(state.simSocket, req);
    state.result(() => toJsonText(result, true), () => ({ ok: true, result }));
  },
};

const lib: Command = {
  name: "lib",
  usage: "lib",
  summary: "show which libvmkmgmt is loaded",
  run(state) {
    const info = libraryInfo();
    state.result(
      () =>
        info
          ? `${info.path} (${info.source}${info.simulated ? `, simulator at ${state.simSocket}` : ""})`
          : "not loaded yet",
      () => ({ ...info, simSocket: state.simSocket }),
    );
  },
};

const exit: Command = {
  name: "exit",
  aliases: ["quit"],
  usage: "exit",
  summary: "leave (Ctrl-D too)",
  run() {
    throw new ExitRequest();
  },
};

/** Thrown by `exit`. */
export class ExitRequest extends Error {}

const help: Command = {
  name: "help",
  aliases: ["?"],
  usage: "help [COMMAND]",
  summary: "list commands, or explain one",
  args: ["command"],
  run(state, args) {
    const which = args[0]?.text;
    if (which) {
      const c = findCommand(which);
      if (!c) throw new CommandError(`no command ${which}${didYouMean(which, COMMANDS.map((c) => c.name))}`);
      state.result(
        () =>
          [`${state.paint.bold(c.usage)}`, `  ${c.summary}`, c.help ? `\n${c.help}` : ""].join("\n")
            .trimEnd(),
        () => ({ command: c.name, usage: c.usage, summary: c.summary, help: c.help ?? null }),
      );
      return;
    }
    state.result(
      () =>
        [
          ...COMMANDS.map((c) => `  ${c.usage.padEnd(44)} ${state.paint.dim(c.summary)}`),
          "",
          state.paint.dim(
            "Tab completes commands, signatures, callbacks, instances, parameters, enum names and @files.",
          ),
          state.paint.dim(
            "Commands separate with ';'. Ctrl-R searches history, Ctrl-C clears the line or stops a watch, Ctrl-D exits.",
          ),
        ].join("\n"),
      () => COMMANDS.map((c) => ({ command: c.name, usage: c.usage, summary: c.summary })),
    );
  },
};

/** Every command, in the order `help` lists them. */
export const COMMANDS: readonly Command[] = [
  help,
  sigs,
  openCmd,
  use,
  sessions,
  close,
  describe,
  templateCmd,
  instances,
  call,
  watch,
  unwatch,
  json,
  js,
  sim,
  lib,
  exit,
];

/** Finds a command by name or alias. */
export function findCommand(name: string): Command | undefined {
  return COMMANDS.find((c) => c.name === name || c.aliases?.includes(name));
}
