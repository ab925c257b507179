/**
 * What a REPL command is, and the helpers every command group uses: required arguments,
 * durations, and looking callbacks up with advice for the shell.
 * @module
 */
import { type CallbackInfo, CallbackLookupError, type Signature } from "../../mgmt/signature.ts";
import { parseDuration } from "../../util/duration.ts";
import { CommandError, type ReplState } from "../state.ts";
import type { Token } from "../tokenize.ts";

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

/** Thrown by `exit`. */
export class ExitRequest extends Error {}

/** The text of argument `i`, or a usage error naming `what`. */
export function need(args: Token[], i: number, what: string, usage: string): string {
  const t = args[i]?.text;
  if (!t) throw new CommandError(`missing ${what}; usage: ${usage}`);
  return t;
}

/**
 * The callback `name` of `sig` (a kernel callback or an event when `want` says so), or an error
 * that says what to type instead.
 */
export function callbackOf(sig: Signature, name: string, want?: "kernel" | "user"): CallbackInfo {
  try {
    return want === "kernel"
      ? sig.kernelCallback(name)
      : want === "user"
      ? sig.event(name)
      : sig.callback(name);
  } catch (e) {
    if (!(e instanceof CallbackLookupError)) throw e;
    const advice = !e.found
      ? ""
      : e.found.location === "user"
      ? `; watch it with: watch ${name}`
      : `; call it with: call ${name} …`;
    throw new CommandError(`${e.message}${advice}`);
  }
}

/** Parses a duration, as a command error. */
export function durationArg(text: string): number {
  try {
    return parseDuration(text);
  } catch (e) {
    throw new CommandError((e as Error).message);
  }
}
