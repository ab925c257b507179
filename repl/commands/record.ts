/**
 * `record`: this REPL's own sessions, recorded to a trace (mgmt/recording.ts) that `deno task
 * trace` reads and `deno task sim --replay` plays back.
 * @module
 */
import { recordingFailure, recordingPath, startRecording, stopRecording } from "../../mgmt/recording.ts";
import { userPath } from "../../util/path.ts";
import { CommandError } from "../state.ts";
import type { Command } from "./command.ts";

export const record: Command = {
  name: "record",
  usage: "record FILE | record stop | record",
  summary: "record this REPL's calls and events to a trace file (trace show, sim --replay)",
  help: `record FILE starts: from now on every session's calls — the bytes going in and coming out, the
caller buffers behind pointer members, the status and time — its events, GetInstances, Begin, End and
Destroy go to FILE, as libvmkmgmt-record.so writes them; sessions open now are in it too (their Init
was before the recording). FILE is appended to, made readable by you only; a relative path is from
where you started the REPL (./stop for a file named stop). record stop ends it and says how many
records it holds (leaving the REPL stops it too). record alone says where one runs.
Then: deno task trace show FILE --sig …   and   deno task sim --replay FILE (the same calls, typed
again here or by a script, get the recorded answers).`,
  async run(state, args) {
    const what = args[0]?.text;
    if (args.length > 1) throw new CommandError(`record takes one word (FILE or stop); usage: ${this.usage}`);
    if (what === undefined) {
      const path = recordingPath();
      const failed = recordingFailure();
      state.result(
        () =>
          !path
            ? "not recording (record FILE starts)"
            : failed
            ? `the recording to ${path} stopped: ${failed.message} (record stop ends it)`
            : `recording to ${path} (record stop ends it)`,
        () => ({ ok: true, recording: path, ...(failed ? { failed: failed.message } : {}) }),
      );
      return;
    }
    if (what === "stop") {
      if (!recordingPath()) throw new CommandError("not recording: nothing to stop (record FILE starts)");
      let done;
      try {
        done = await stopRecording();
      } catch (e) {
        throw new CommandError(`the recording stopped early: ${(e as Error).message}`);
      }
      state.result(
        () => `recorded ${done.records} records to ${done.path}`,
        () => ({ ok: true, path: done.path, records: done.records }),
      );
      return;
    }
    const running = recordingPath();
    if (running) throw new CommandError(`already recording to ${running}; record stop first`);
    const path = userPath(what);
    try {
      await startRecording(path);
    } catch (e) {
      throw new CommandError(`record ${what}: ${(e as Error).message}`);
    }
    const open = state.sessions.size;
    state.result(
      () => `recording to ${path}${open ? ` (with the ${open} session${open > 1 ? "s" : ""} open now)` : ""}`,
      () => ({ ok: true, path, sessions: open }),
    );
  },
};

/** Ends a recording the user left running (on leaving the REPL): its last records reach the file. */
export async function stopRecordingOnExit(): Promise<string | undefined> {
  if (!recordingPath()) return undefined;
  try {
    const { path, records } = await stopRecording();
    return `recorded ${records} records to ${path}`;
  } catch (e) {
    return `the recording stopped early: ${(e as Error).message}`;
  }
}
