/**
 * Commands about the shell itself and the simulator: json, js, sim, edit, exit.
 * @module
 */
import { hint, RESTART_OP, restOfName, simOps } from "../completer.ts";
import { table } from "../tables.ts";
import { formatControl } from "../sim_output.ts";
import { didYouMean } from "../../util/suggest.ts";
import { CONTROL_OPS, type ControlRequest, controlRequest, opKeys, sendControl } from "../../sim/client.ts";
import { completeJs, evaluate } from "../js_eval.ts";
import { CommandError, type ReplState } from "../state.ts";
import { type Command, ExitRequest, type FollowUp, type LineContext, need } from "./command.ts";

export const json: Command = {
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

export const js: Command = {
  name: "js",
  usage: "js EXPRESSION",
  summary: "evaluate TypeScript/JavaScript with session, sessions and the module's API in scope",
  help: `Top-level await works: js (await session.invoke("getStats", { instance: "vmnic0" })).stats.mtu
The scope lasts: js const x = 5 then js x * 2. In scope: session (current), sessions (by name), every
export of mod.ts and demo.ts (open, t, acmeNic, …), $, an empty object to keep your own values on
($.runs = ($.runs ?? 0) + 1), and the last results: _ is the newest (a call's result; call X *'s
results by instance, as _.vmnic0.stats; a js value), _1 the one before, up to _9 — as in
js _.stats.mtu * 2. Tab completes names and properties
(js session.inv). Ctrl-C stops a runaway evaluation (the scope then starts afresh). js takes the rest of
its line, semicolons included; after statements the value of the last expression is shown.`,
  // Names and properties from the lasting js scope, for the expression under the cursor; nothing
  // typed yet: no list of every global.
  async complete({ line }) {
    const expr = line.match(/[A-Za-z_$][\w$.]*$/)?.[0] ?? "";
    return [expr ? await completeJs(expr) : [], expr];
  },
  async run(state, _args, line) {
    const expr = line.replace(/^\s*js\s?/, "");
    if (!expr.trim()) throw new CommandError(`usage: ${this.usage}`);
    const controller = new AbortController();
    state.foreground = controller;
    try {
      const { inspected, json, value } = await evaluate(expr, {
        current: state.current,
        sessions: state.sessions,
        colors: state.paint.bold("x") !== "x",
        results: state.results,
      }, controller.signal);
      if (value !== undefined) state.remember(value);
      state.result(() => inspected, () => ({ ok: true, value: JSON.parse(json) }));
    } finally {
      state.foreground = undefined;
    }
  },
};

export const sim: Command = {
  name: "sim",
  usage: "sim OP [key=value …]",
  summary: "send a control command to the simulator (faults, events on demand, status)",
  help: `sim help lists the ops this simulator takes (its modules' too) and their keys; sim help OP one.
Tab completes ops and their keys. Examples:
          sim fail instance=vmnic1 errno=EIO count=2
          sim emit event=linkEvent instance=vmnic0 params={"state":{"up":0,"speedMbps":0}}
          sim errors          (why recent calls failed)`,
  args: ["simop"],
  hint: simHint,
  async run(state, args) {
    if (!state.simSocket) throw new CommandError("sim: the loaded library is not the simulator's");
    if (!args.length || args[0].text === "help") {
      const ops = await simOps(state);
      const wanted = args[1]?.text;
      if (wanted !== undefined && !(wanted in ops)) {
        throw new CommandError(`sim help: no op ${wanted}${didYouMean(wanted, Object.keys(ops))}`);
      }
      const list = Object.entries(ops).filter(([op]) => wanted === undefined || op === wanted);
      state.result(
        () => table(["OP", "KEYS: WHAT IT DOES"], list.map(([op, doc]) => [op, doc]), state.paint),
        () => ops,
      );
      return;
    }
    const op = need(args, 0, "op", this.usage);
    if (op === RESTART_OP) return await restartSimulator(state);
    let req: ControlRequest;
    try {
      req = controlRequest(op, args.slice(1).map((a) => a.text));
    } catch (e) {
      throw new CommandError(`sim: ${(e as Error).message}`);
    }
    // An op about one API is about the current session's unless api= says otherwise (the
    // simulator's own default is the first API it registered, which is rarely the one in use).
    const doc = (await simOps(state))[op];
    if (req.api === undefined && state.current && doc !== undefined && opKeys(doc).optional.includes("api")) {
      req.api = state.current;
    }
    let result: unknown;
    try {
      result = await sendControl(state.simSocket, req);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.ConnectionRefused) {
        throw new CommandError(
          `sim ${op}: no simulator is running on ${state.simSocket} (start one with deno task sim)`,
        );
      }
      const msg = (e as Error).message;
      throw new CommandError(msg.startsWith(`${op}:`) ? `sim ${msg}` : `sim ${op}: ${msg}`);
    }
    state.result(() => formatControl(req, result, state.paint), () => ({ ok: true, result }));
  },
};

/**
 * `sim restart`: a fresh simulator on the same socket, when this REPL started the one running.
 * Every session is marked disconnected at once (the prompt says so) and reopens on the next
 * command, its background watches resumed.
 * @throws {CommandError} when the REPL did not start the simulator, or the new one did not start.
 */
async function restartSimulator(state: ReplState): Promise<void> {
  const own = state.ownSim;
  if (!own) {
    throw new CommandError(
      `sim restart: this REPL did not start the simulator on ${state.simSocket} (it was running already); ` +
        "restart it where it runs, and sessions here reconnect on the next command",
    );
  }
  for (const name of state.sessions.keys()) state.dead.add(name);
  state.simOps = undefined; // (a new simulator may load other modules)
  try {
    await own.restart();
  } catch (e) {
    throw new CommandError(`sim restart: the new simulator did not start: ${(e as Error).message}`);
  }
  const n = state.sessions.size;
  state.result(
    () =>
      `restarted the simulator on ${own.socketPath} (pid ${own.pid}): a fresh kernel${
        n ? `; ${n === 1 ? "the session reconnects" : `the ${n} sessions reconnect`} on the next command` : ""
      }`,
    () => ({ restarted: true, socket: own.socketPath, pid: own.pid }),
  );
}

export const edit: Command = {
  name: "edit",
  usage: "edit",
  summary: "write commands in $VISUAL/$EDITOR (else vi), starting from the last one; they run when it exits",
  async run(state): Promise<FollowUp> {
    // The terminal is the editor's while it runs: the line editor reads only while it reads a line.
    if (!state.terminal) throw new CommandError("edit: needs a terminal");
    const program = Deno.env.get("VISUAL") || Deno.env.get("EDITOR") || "vi";
    const file = await Deno.makeTempFile({ prefix: "vmkmgmt-edit-", suffix: ".vmk" });
    try {
      await Deno.writeTextFile(
        file,
        `# Commands to run, one per line (lines starting with # are skipped); save and quit to run them.\n${
          state.lastLine ?? ""
        }\n`,
      );
      // Through the shell, as git runs $EDITOR: it may carry arguments ("code --wait").
      const r = await new Deno.Command("sh", {
        args: ["-c", `${program} "$1"`, "sh", file],
        stdin: "inherit",
        stdout: "inherit",
        stderr: "inherit",
      }).output().catch((e) => {
        throw new CommandError(`edit: cannot run ${program}: ${(e as Error).message}`);
      });
      if (!r.success) throw new CommandError(`edit: ${program} failed; nothing was run`);
      return { lines: await Deno.readTextFile(file) };
    } finally {
      await Deno.remove(file).catch(() => {});
    }
  },
};

export const exit: Command = {
  name: "exit",
  aliases: ["quit"],
  usage: "exit",
  summary: "leave (Ctrl-D too)",
  run() {
    throw new ExitRequest();
  },
};

/** What a sim line still takes: the rest of an op only one starts with, then its required keys and [optional] ones. */
function simHint({ state, line, done, current }: LineContext): string | undefined {
  const all = current ? [...done, current] : [...done];
  if (all.length < 2) return undefined;
  const ops = state.simOps ?? CONTROL_OPS;
  if (all.length === 2 && current) {
    return restOfName(current, Object.keys(ops), (op) => hint(state, `sim ${op} `));
  }
  const doc = ops[all[1]];
  if (doc === undefined || current.includes("=")) return "";
  const given = new Set(all.slice(2).map((w) => w.slice(0, w.indexOf("="))));
  const { required, optional } = opKeys(doc);
  const parts = [
    ...required.filter((k) => !given.has(k)).map((k) => `${k}=…`),
    ...optional.filter((k) => !given.has(k)).map((k) => `[${k}=…]`),
  ];
  return parts.length ? (/\s$/.test(line) ? "" : " ") + parts.join(" ") : "";
}
