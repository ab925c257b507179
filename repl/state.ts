/**
 * The REPL's state: known signatures, open sessions (one current), output mode, background
 * watches, and where output goes. Commands and the completer read it.
 * @module
 */
import { ValueError, VmkMgmtError } from "../mgmt/errors.ts";
import type { Instance } from "../mgmt/instance_ref.ts";
import type { Session } from "../mgmt/session.ts";
import type { CallbackInfo, Signature } from "../mgmt/signature.ts";
import { type Paint, paint, toJsonText } from "./format.ts";
import type { Family } from "./signature_files.ts";
import type { OwnSimulator } from "./own_simulator.ts";

/** Where a signature came from. */
export interface KnownSignature {
  signature: Signature;
  /** `built-in`, or the file it was loaded from. */
  source: string;
}

/** A failure a command reports to the user (already phrased; no stack needed). */
export class CommandError extends Error {
  /** Builds the error. */
  constructor(message: string) {
    super(message);
    this.name = "CommandError";
  }
}

/**
 * The terminal of an interactive session, as commands see it (the line editor is one): what they
 * may ask of the person at it.
 */
export interface ReplTerminal {
  /** The next command line; null after Ctrl-D. */
  read(): Promise<string | null>;
  /** Asks for one value on the edit line: the answer, or null when the user gave up (Ctrl-C, Ctrl-D). */
  ask(question: string): Promise<string | null>;
  /** Puts text on the next edit line, ready to edit. */
  prefill(text: string): void;
  /** Prints a line above the prompt, keeping what the user is typing. */
  printAbove(text: string): void;
  /** Gives the terminal back as it was. */
  close(): void;
}

/**
 * A background watch: `start` runs it on a session and returns what stops it (kept in `stop`). A
 * watch whose session was lost stays, stopped, and `start` runs it again on the reconnected one.
 */
export interface BackgroundWatch {
  /** The events it shows: `linkEvent`, `all events`. */
  readonly what: string;
  /** The session's name (its API). */
  readonly session: string;
  /** Runs the watch on `session`; returns what stops that run. */
  readonly start: (session: Session) => () => void;
  /** Stops the current run (nothing once it ended). */
  stop: () => void;
}

/** Results kept for `js`: `_` and `_1` … `_9`. */
export const RESULTS_KEPT = 10;

/** REPL state shared by commands, completer and the line editor. */
export class ReplState {
  readonly signatures = new Map<string, KnownSignature>();
  /**
   * Signatures whose names the kernel makes up at run time (a driver's per-controller APIs): a
   * name with one of these prefixes opens the signature `make` builds for it.
   */
  readonly families: Family[] = [];
  /** Open sessions by signature name. */
  readonly sessions = new Map<string, Session>();
  /** Name of the current session. */
  current?: string;
  /** Sessions found gone (the simulator restarted or dropped them): reopened on the next command. */
  readonly dead = new Set<string>();
  json: boolean;
  /** Readable-output styling. */
  paint: Paint;
  /** Background watches by id. */
  readonly watches = new Map<number, BackgroundWatch>();
  #nextWatch = 1;
  /** Aborts the command running in the foreground (Ctrl-C). */
  foreground?: AbortController;
  /** The last command line run (for `edit`). */
  lastLine?: string;
  /** The terminal the user types at (the line editor); absent when commands come from -c, a file or a pipe. */
  readonly terminal?: ReplTerminal;
  /** Cached instances per session, for completion. */
  readonly instanceCache = new Map<string, Instance[]>();
  /** Socket of the simulator, when the library is ours. */
  simSocket?: string;
  /** `--cflags` for C signature files (`load FILE.c` too). */
  cflags?: string;
  /** The simulator this REPL started (`sim restart`), when it did. */
  ownSim?: OwnSimulator;
  /** The last call's callback, result and input (`show -a`). */
  last?: { callback: CallbackInfo; result: Record<string, unknown>; input?: Record<string, unknown> };
  /**
   * The last results, newest first (at most {@link RESULTS_KEPT}): `_`, `_1`, `_2` … in `js` — a
   * call's result, `call X *`'s results by instance name, a `js` value.
   */
  readonly results: unknown[] = [];
  /** Calls whose driver answered a non-zero `status` (`setMtu vmnic1: status 22`): a batch run's exit status 3. */
  readonly driverStatuses: string[] = [];
  /** The simulator's control ops with their descriptions (asked once). */
  simOps?: Record<string, string>;

  /**
   * Creates the state; colours only when `color`. `terminal` makes the interactive session's
   * terminal for this state (its completion and prompt read the state); none for batch runs.
   */
  constructor(options: { json: boolean; color: boolean; terminal?: (state: ReplState) => ReplTerminal }) {
    this.json = options.json;
    this.paint = paint(options.color);
    this.terminal = options.terminal?.(this);
  }

  /** Keeps a result for `js` (`_`), newest first. */
  remember(value: unknown): void {
    this.results.unshift(value);
    if (this.results.length > RESULTS_KEPT) this.results.length = RESULTS_KEPT;
  }

  /** Prints a line above the prompt while the user types (a plain line when there is no terminal). */
  printAbove(text: string): void {
    if (this.terminal) this.terminal.printAbove(text);
    else console.log(text);
  }

  /** The current session, or a clear error saying how to open one. */
  session(): Session {
    const s = this.current ? this.sessions.get(this.current) : undefined;
    if (!s) {
      const names = [...this.signatures.keys()];
      throw new CommandError(
        `no session is open; open one with: open ${names[0] ?? "NAME"}  (signatures: ${names.join(", ")})`,
      );
    }
    return s;
  }

  /** Registers a background watch on a session (not started yet: see {@link BackgroundWatch}); returns its id. */
  addWatch(what: string, session: string, start: (session: Session) => () => void): number {
    const id = this.#nextWatch++;
    this.watches.set(id, { what, session, start, stop: () => {} });
    return id;
  }

  /** Stops one background watch; false when there is none with that id. */
  stopWatch(id: number): boolean {
    const w = this.watches.get(id);
    if (!w) return false;
    this.watches.delete(id);
    w.stop();
    return true;
  }

  /**
   * Prints a result: readable text, or one JSON document — always an object whose `ok` is true
   * (errors are `{"ok": false, "error": …}`), so that every line a script reads has one shape.
   */
  result(readable: () => string, json: () => Record<string, unknown>): void {
    if (this.json) console.log(toJsonText({ ok: true, ...json() }));
    else {
      const text = readable();
      if (text) console.log(text);
    }
  }

  /**
   * Prints an error: readable on stderr, or a JSON document on stdout in --json mode; `why` is
   * what the REPL found out about it (a line of its own, or the `why` field).
   */
  error(e: unknown, why?: string): void {
    const err = e as Error;
    if (this.json) {
      console.log(toJsonText({ ok: false, error: { ...errorJson(e), ...(why ? { why } : {}) } }));
      return;
    }
    const message = err instanceof Error ? err.message : String(e);
    console.error(`${this.paint.red("error:")} ${message}`);
    if (why) console.error(`  ${this.paint.bold("why:")} ${why}`);
  }
}

/**
 * The `error` object of a JSON line: `message`, `type`, and `code`/`errno` for a vmk_Mgmt error,
 * `path` for a bad value — the one shape every failing line has (README, "--json").
 */
export function errorJson(e: unknown): Record<string, unknown> {
  const err = e as Error;
  return {
    message: err?.message ?? String(e),
    type: err?.name,
    ...(e instanceof VmkMgmtError ? { code: e.code, errno: e.errno } : {}),
    ...(e instanceof ValueError ? { path: e.path } : {}),
  };
}
