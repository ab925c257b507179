/**
 * Every REPL command, in the order `help` lists them, and `help` itself.
 * @module
 */
import { didYouMean } from "../../util/suggest.ts";
import { columns, usageList } from "../format.ts";
import { CommandError } from "../state.ts";
import { call, show } from "./call.ts";
import type { Command } from "./command.ts";
import { describe, template } from "./describe.ts";
import { edit, exit, js, json, sim } from "./misc.ts";
import { close, instances, lib, load, open, sessions, sigs, use } from "./session.ts";
import { unwatch, watch } from "./watch.ts";
import { record } from "./record.ts";

export { type ArgKind, type Command, ExitRequest, type LineContext } from "./command.ts";

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
          usageList(COMMANDS, columns(), state.paint.dim),
          "",
          state.paint.dim(
            "Tab completes commands, signatures, callbacks, instances, parameters, enum names and @files.",
          ),
          state.paint.dim(
            "Commands separate with ';'. Ctrl-R searches history, Ctrl-C clears the line or stops a watch, Ctrl-D exits.",
          ),
        ].join("\n"),
      () => ({ commands: COMMANDS.map((c) => ({ command: c.name, usage: c.usage, summary: c.summary })) }),
    );
  },
};

/** Every command, in the order `help` lists them. */
export const COMMANDS: readonly Command[] = [
  help,
  sigs,
  load,
  open,
  use,
  sessions,
  close,
  describe,
  template,
  instances,
  call,
  show,
  watch,
  unwatch,
  record,
  json,
  js,
  sim,
  edit,
  lib,
  exit,
];

/** Finds a command by name or alias. */
export function findCommand(name: string): Command | undefined {
  return COMMANDS.find((c) => c.name === name || c.aliases?.includes(name));
}
