/**
 * `call`: invoke a kernel callback with typed `name=value` words, JSON or @files.
 * @module
 */
import { formatResult, resultJson } from "../format.ts";
import { missingValues, parseCallArgs } from "../values.ts";
import { ValueError } from "../../mgmt/errors.ts";
import { type Token, tokenize } from "../tokenize.ts";
import type { CallbackInfo } from "../../mgmt/signature.ts";
import type { Session } from "../../mgmt/session.ts";
import { CommandError, type ReplState } from "../state.ts";
import { callbackOf, type Command, need } from "./command.ts";

/**
 * Asks for each value the call still lacks (again after each answer: a union member given as a
 * struct may need more); the answers as `path=value` words.
 */
async function askMissing(
  ask: (q: string) => Promise<string | null>,
  cb: CallbackInfo,
  words: string[],
): Promise<Token[]> {
  const out: Token[] = [];
  const asked = new Set<string>();
  for (;;) {
    const m = missingValues(cb, [...words, ...out.map((t) => t.text)])[0];
    if (!m) return out;
    if (asked.has(m.path)) throw new CommandError(`call ${cb.name}: ${m.path} is still missing`);
    asked.add(m.path);
    const answer = await ask(
      m.union ? `${m.path} (${m.typeName}; give member=value): ` : `${m.path} (${m.typeName}): `,
    );
    if (answer === null || !answer.trim()) {
      throw new CommandError(`call ${cb.name}: cancelled (${m.path} not given)`);
    }
    const value = answer.trim();
    const quoted = /\s/.test(value) && !/^["'[{]/.test(value) ? JSON.stringify(value) : value;
    out.push(...tokenize(m.union ? `${m.path}.${quoted}` : `${m.path}=${quoted}`));
  }
}

/**
 * The instance a call goes to. Leaving it out is an error where the API has instances (the call
 * would go to no instance and answer something believable); `-` or `none` says "no instance" on
 * purpose (`none` only when no instance has that name).
 */
async function chooseInstance(
  state: ReplState,
  s: Session,
  callback: string,
  given: string | undefined,
): Promise<string | undefined> {
  if (given === "-") return undefined;
  if (given !== undefined && given !== "none") return given;
  const list = await s.instances().catch(() => undefined);
  if (list) state.instanceCache.set(s.signature.name, list);
  if (given === "none") return list?.some((i) => i.name === "none") ? given : undefined;
  if (!list?.length) return undefined;
  const names = list.map((i) => i.name);
  throw new CommandError(
    `which instance? ${s.signature.name} has ${names.join(", ")}: call ${callback} ${names[0]} …` +
      ` (or call ${callback} - … for no instance)`,
  );
}

export const call: Command = {
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
an id. Where the API has instances one must be given; - (or none) calls with no instance
(VMK_MGMT_NO_INSTANCE_ID) on purpose.`,
  args: ["kernelCallback", "instance", "params"],
  flags: ["--timeout"],
  async run(state, args) {
    const s = state.session();
    const name = need(args, 0, "callback name", this.usage);
    const cb = callbackOf(s.signature, name, "kernel");
    const home = Deno.env.get("HOME");
    const readFile = (p: string) => Deno.readFile(p.startsWith("~/") && home ? `${home}/${p.slice(2)}` : p);
    let words = args.slice(1);
    // On a terminal, a value left out is asked for, one at a time, with its type (as evans does) —
    // after the words given were read (a bad value is an error first) and only when each names a
    // parameter (a misspelt one gets its did-you-mean, not questions).
    const names = new Set(cb.params.map((p) => p.name));
    const texts = words.map((w) => w.text);
    const allKnown = texts.every((w) =>
      !/^[A-Za-z_]\w*[.=]/.test(w) || names.has(w.split(/[.=]/)[0]) ||
      w.startsWith("instance=")
    );
    if (state.ask && allKnown) {
      await parseCallArgs(cb, words, readFile).catch((e) => {
        if (!(e instanceof ValueError && e.message.includes("missing"))) throw e;
      });
      words = [...words, ...await askMissing(state.ask, cb, texts)];
    }
    const parsed = await parseCallArgs(cb, words, readFile);
    const instance = await chooseInstance(state, s, name, parsed.instance);
    const input = { ...parsed.params, instance };
    const controller = new AbortController();
    state.foreground = controller;
    try {
      const result = await s.invoke(name as never, input as never, {
        signal: controller.signal,
        timeout: parsed.timeout,
      }) as Record<string, unknown>;
      state.last = { callback: cb, result, input: input as Record<string, unknown> };
      state.result(
        () => formatResult(cb, result, state.paint),
        () => ({
          ok: true,
          callback: name,
          instance: instance ?? null,
          result: resultJson(cb, result, input as Record<string, unknown>),
        }),
      );
    } finally {
      state.foreground = undefined;
    }
  },
};

export const show: Command = {
  name: "show",
  usage: "show -a",
  summary: "show the last call's result in full (long lists and byte values are cut to fit otherwise)",
  flags: ["-a"],
  run(state, args) {
    if (!state.last) throw new CommandError("show: no call has returned yet");
    if (args[0]?.text !== "-a" && args.length) throw new CommandError(`usage: ${this.usage}`);
    const { callback, result, input } = state.last;
    state.result(
      () => formatResult(callback, result, state.paint, true),
      () => ({ ok: true, callback: callback.name, result: resultJson(callback, result, input) }),
    );
  },
};
