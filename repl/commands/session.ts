/**
 * Commands about sessions, signatures and the library: sigs, open, use, sessions, close, instances, lib.
 * @module
 */
import { runtimeApis } from "../runtime_apis.ts";
import { libraryInfo } from "../../ffi/library.ts";
import type { Instance } from "../../mgmt/instance_ref.ts";
import { open as openSession } from "../../mgmt/open.ts";
import { didYouMean } from "../../util/suggest.ts";
import { instancesJson, plural } from "../format.ts";
import { table } from "../tables.ts";
import { reconnect } from "../health.ts";
import { addSignatures } from "../signature_files.ts";
import { userPath } from "../../util/path.ts";
import { CommandError, type ReplState } from "../state.ts";
import { type Command, need } from "./command.ts";

/** Lists a session's instances and keeps them for completion. */
export async function refreshInstances(state: ReplState, name: string): Promise<Instance[]> {
  const s = state.sessions.get(name);
  if (!s) return [];
  const list = await s.instances();
  state.instanceCache.set(name, list);
  return list;
}

export const sigs: Command = {
  name: "sigs",
  usage: "sigs",
  summary: "list known signatures, and the APIs the kernel registered at run time that one opens",
  async run(state) {
    // The APIs a driver named at run time (an NVMe adapter's), opened by a family: not yet opened.
    const runtime = (await runtimeApis(state)).map((a) => ({
      signature: a.family.make(a.name),
      source: `run time: ${a.family.source}`,
    }));
    const list = [...state.signatures.values(), ...runtime];
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
      () => ({
        signatures: list.map((k) => ({
          ...k.signature.toJson(),
          source: k.source,
          open: state.sessions.has(k.signature.name),
        })),
      }),
    );
  },
};

export const load: Command = {
  name: "load",
  usage: "load FILE",
  summary:
    "load signatures from a file — .ts, .json, or a driver's .c/.h through import-c — or again after it changed",
  help: `FILE is where you started the REPL, as --sig takes it: a module's exported signatures (and
families of names a driver makes up at run time), the JSON form, or a driver's C interface file (imported
as deno task import-c does; --cflags given at start apply). A signature loaded again replaces the one of
that name; a session open on it keeps the one it had until closed and opened again.`,
  args: ["file"],
  async run(state, args) {
    const file = need(args, 0, "file", this.usage);
    const path = userPath(file);
    try {
      await Deno.stat(path);
    } catch {
      throw new CommandError(`load ${file}: no such file (${path})`);
    }
    const loaded = await addSignatures(state, path, {
      fresh: true,
      label: `load ${file}`,
      cflags: state.cflags,
    });
    const names = loaded.signatures.map((s) => s.name);
    const stale = names.filter((n) => state.sessions.has(n));
    const families = loaded.families.map((f) => (f.prefix ? `${f.prefix}…` : "names set at run time"));
    state.result(
      () =>
        `loaded ${path}: ${names.join(", ") || "no signature"}${
          families.length ? `; opens ${families.join(", ")}` : ""
        }${
          stale.length
            ? `; ${stale.join(", ")} ${
              stale.length === 1 ? "is" : "are"
            } open with the signature it had — close and open it to use the new one`
            : names.length
            ? `; open it with: open ${names[0]}`
            : ""
        }`,
      () => ({ loaded: path, signatures: names, families, stillOpenWithTheOld: stale }),
    );
  },
};

export const open: Command = {
  name: "open",
  usage: "open SIGNATURE",
  summary: "open a session on a signature (it becomes the current one)",
  args: ["signature"],
  async run(state, args) {
    const name = need(args, 0, "signature name", this.usage);
    let known = state.signatures.get(name);
    const family = known ? undefined : state.families.find((f) => name.startsWith(f.prefix));
    if (family) {
      known = { signature: family.make(name), source: family.source };
      state.signatures.set(name, known);
    }
    if (!known) {
      const names = [...state.signatures.keys()];
      throw new CommandError(
        `unknown signature ${name}${didYouMean(name, names)} (known: ${
          names.join(", ")
        }; load more with --sig FILE)`,
      );
    }
    if (state.dead.has(name) && !(await reconnect(state, name))) {
      throw new CommandError(
        `${name} is disconnected and the simulator does not take it back yet: is it running?`,
      );
    }
    if (!state.sessions.has(name)) {
      const s = await openSession(known.signature, {
        onError: (e, ctx) => state.printAbove(`${state.paint.red("error:")} ${ctx}: ${(e as Error).message}`),
      });
      state.sessions.set(name, s);
    }
    state.current = name;
    const list = await refreshInstances(state, name);
    state.result(
      () =>
        `opened ${name} ${known.signature.version}: ${plural(list.length, "instance")}${
          list.length ? ` (${list.map((i) => i.name).join(", ")})` : " (calls take - for no instance)"
        }${
          state.sessions.get(name)?.peer?.startsWith("vmkmgmt-bridge")
            ? ` via ${state.sessions.get(name)!.peer}`
            : ""
        }`,
      () => ({
        ok: true,
        session: name,
        instances: instancesJson(list),
        ...(state.sessions.get(name)?.peer ? { peer: state.sessions.get(name)!.peer } : {}),
      }),
    );
  },
};

export const use: Command = {
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

export const sessions: Command = {
  name: "sessions",
  usage: "sessions",
  summary: "list open sessions",
  run(state) {
    const rows = [...state.sessions.entries()].map(([n, s]) => [
      n === state.current ? "*" : "",
      n,
      s.signature.version,
      state.dead.has(n) ? "disconnected (reconnects on the next command)" : "open",
      String(s.stats.eventsDelivered),
    ]);
    state.result(
      () =>
        rows.length
          ? table(["", "SESSION", "VERSION", "STATE", "EVENTS"], rows, state.paint)
          : "no open sessions",
      () => ({
        sessions: [...state.sessions.keys()].map((n) => ({
          session: n,
          current: n === state.current,
          connected: !state.dead.has(n),
        })),
      }),
    );
  },
};

export const close: Command = {
  name: "close",
  usage: "close [SESSION]",
  summary: "close a session (the current one by default)",
  args: ["session"],
  async run(state, args) {
    const name = args[0]?.text ?? state.current;
    const s = name ? state.sessions.get(name) : undefined;
    if (!name || !s) throw new CommandError(`no open session ${name ?? ""}`.trim());
    for (const [id, w] of [...state.watches]) if (w.session === name) state.stopWatch(id);
    await s.close().catch(() => {}); // a disconnected session closes all the same
    state.sessions.delete(name);
    state.dead.delete(name);
    if (state.current === name) state.current = state.sessions.keys().next().value;
    state.result(() => `closed ${name}`, () => ({ ok: true, closed: name }));
  },
};

export const instances: Command = {
  name: "instances",
  usage: "instances",
  summary: "list the kernel instances of the current session",
  needsSession: true,
  async run(state) {
    const s = state.session();
    const list = await refreshInstances(state, s.signature.name);
    state.result(
      () =>
        list.length
          ? table(["ID", "NAME"], list.map((i) => [String(i.id), i.name]), state.paint)
          : "no instances",
      () => ({ session: s.signature.name, instances: instancesJson(list) }),
    );
  },
};

export const lib: Command = {
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
