/**
 * What a REPL command is, and the helpers every command group uses: required arguments,
 * durations, and looking callbacks up with advice for the shell.
 * @module
 */
import { type CallbackInfo, CallbackLookupError, type Signature } from "../../mgmt/signature.ts";
import { parseTimeout } from "../../util/duration.ts";
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
  | "instanceOrParams"
  | "params"
  | "on-off"
  | "simop"
  | "file";

/** What completion and hints know of the line: its words before the cursor and the one under it. */
export interface LineContext {
  readonly state: ReplState;
  /** The line up to the cursor. */
  readonly line: string;
  /** The words before the one under the cursor (the command first). */
  readonly done: readonly string[];
  /** The word under the cursor ("" after a space). */
  readonly current: string;
}

/** A REPL command. */
export interface Command {
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
  /** It works on the current session: a disconnected one is reopened before it runs. */
  needsSession?: boolean;
  /**
   * Completion where its positional kinds (`args`) do not say it: the candidates and the text they
   * replace, or undefined for the default.
   */
  complete?(ctx: LineContext): Promise<[string[], string] | undefined> | [string[], string] | undefined;
  /** The inline hint after the cursor where its usage does not say it; undefined for the default. */
  hint?(ctx: LineContext): string | undefined;
  /** Runs it; resolves when done, with command lines to run next if it has some. */
  run(state: ReplState, args: Token[], line: string): Promise<void | FollowUp> | void | FollowUp;
}

/** Command lines a command leaves to run after it, as if typed (what `edit` had written). */
export interface FollowUp {
  /** The lines (`;` and newlines separate commands, `#` starts a comment line). */
  lines: string;
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
    return parseTimeout(text);
  } catch (e) {
    throw new CommandError((e as Error).message);
  }
}
