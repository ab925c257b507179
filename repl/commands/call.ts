/**
 * `call`: invoke a kernel callback with typed `name=value` words, JSON or @files.
 * @module
 */
import { completeAs, currentSignature, givenParams, hint, instanceGiven, restOfName } from "../completer.ts";
import { formatResult, instancesJson, paramHint, resultJson } from "../format.ts";
import { isRecord } from "../../mgmt/types/record.ts";
import { missingFields, missingValues, parseCallArgs } from "../values.ts";
import { ValueError } from "../../mgmt/errors.ts";
import { MAX_VECTOR_BYTES } from "../../abi/facts.ts";
import { userPath } from "../../util/path.ts";
import { type Token, tokenize } from "../tokenize.ts";
import type { CallbackInfo } from "../../mgmt/signature.ts";
import type { Session } from "../../mgmt/session.ts";
import { CommandError, type ReplState } from "../state.ts";
import { callbackOf, type Command, type LineContext, need } from "./command.ts";
import { callEveryInstance, meansEveryInstance } from "./call_each.ts";
import { inForeground } from "../waiting.ts";
import { driverStatus } from "../driver_status.ts";

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
    // An empty answer is the zero value where there is one (a field the driver fills in, most
    // often), said in the question; Ctrl-C cancels the call.
    const zero = m.zero === undefined ? "" : `, Enter for ${m.zero === "00" ? "zeros" : m.zero}`;
    const answer = await ask(
      m.union ? `${m.path} (${m.typeName}; give member=value): ` : `${m.path} (${m.typeName}${zero}): `,
    );
    if (answer === null) throw new CommandError(`call ${cb.name}: cancelled (${m.path} not given)`);
    if (!answer.trim() && m.zero === undefined) {
      throw new CommandError(`call ${cb.name}: ${m.path} needs a value (${m.typeName}); nothing was called`);
    }
    const value = answer.trim() || m.zero!;
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
  usage: "call CALLBACK [INSTANCE | *] [name=value …] [{json}] [--timeout DURATION]",
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
(VMK_MGMT_NO_INSTANCE_ID) on purpose; * (or all) calls every instance at once and shows a row
(a JSON line) per instance.`,
  args: ["kernelCallback", "instance", "params"],
  flags: ["--timeout"],
  needsSession: true,
  // call CALLBACK [INSTANCE] params…: the word after the callback may be either.
  complete(ctx) {
    if (ctx.current.startsWith("-") || ctx.done.length < 2) return undefined;
    return completeAs(
      ctx,
      ctx.done.length === 2 && !/[=.]/.test(ctx.current) ? "instanceOrParams" : "params",
    );
  },
  hint: callHint,
  async run(state, args) {
    const s = state.session();
    const name = need(args, 0, "callback name", this.usage);
    const cb = callbackOf(s.signature, name, "kernel");
    const readFile = async (p: string) => {
      // Where the user is, not the project; the size before the bytes (a wrong file can be huge).
      const path = userPath(p);
      const { size } = await Deno.stat(path);
      if (size > MAX_VECTOR_BYTES) {
        throw new Error(
          `${path} is ${size} bytes; one vector holds at most ${MAX_VECTOR_BYTES} (${
            MAX_VECTOR_BYTES / 2 ** 20
          } MiB)`,
        );
      }
      return await Deno.readFile(path);
    };
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
    const terminal = state.terminal;
    if (terminal && allKnown) {
      await parseCallArgs(cb, words, readFile).catch((e) => {
        if (!(e instanceof ValueError && e.message.includes("missing"))) throw e;
      });
      words = [...words, ...await askMissing((q) => terminal.ask(q), cb, texts)];
    }
    const parsed = await parseCallArgs(cb, words, readFile);
    if (meansEveryInstance(parsed.instance, state.instanceCache.get(s.signature.name)?.map((i) => i.name))) {
      return await callEveryInstance(state, s, cb, parsed.params, parsed.timeout);
    }
    const instance = await chooseInstance(state, s, name, parsed.instance);
    const input = { ...parsed.params, instance };
    const what = `${name}${instance === undefined ? "" : ` on ${instance}`} (${s.signature.name})`;
    const result = await inForeground(
      state,
      what,
      (signal) => s.invoke(name as never, input as never, { signal, timeout: parsed.timeout }),
    ) as Record<string, unknown>;
    state.last = { callback: cb, result, input: input as Record<string, unknown> };
    state.remember(result);
    const status = driverStatus(result);
    if (status) state.driverStatuses.push(`${name}${instance ? ` ${instance}` : ""}: ${status}`);
    // In JSON an instance has one form everywhere (results, events, lists): {"id", "name"}.
    const where = state.json && instance !== undefined
      ? await s.instance(instance).then((i) => instancesJson([i])[0], () => ({ id: null, name: instance }))
      : null;
    state.result(
      () => formatResult(cb, result, state.paint),
      () => ({
        callback: name,
        instance: where,
        result: resultJson(cb, result, input as Record<string, unknown>),
      }),
    );
  },
};

export const show: Command = {
  name: "show",
  usage: "show [-a | --hex]",
  summary: "show the last call's result again: -a in full, --hex with every byte value as a hexdump",
  help: `Long lists and byte values are cut to fit the terminal, and bytes over 32 are a hexdump
(offsets, hex, ASCII) of a few rows. show -a prints the last result in full; show --hex too, with
every byte value — text too — as a hexdump. In js the last result is _ (see help js).`,
  flags: ["-a", "--hex"],
  run(state, args) {
    if (!state.last) throw new CommandError("show: no call has returned yet");
    const flag = args[0]?.text;
    if (args.length > 1 || (flag !== undefined && flag !== "-a" && flag !== "--hex")) {
      throw new CommandError(`usage: ${this.usage}`);
    }
    const { callback, result, input } = state.last;
    state.result(
      () => formatResult(callback, result, state.paint, flag === "--hex" ? "hex" : "all"),
      () => ({ callback: callback.name, result: resultJson(callback, result, input) }),
    );
  },
};

/**
 * What a call line still takes: the rest of a callback name only one starts with, then the
 * instance and each parameter not given with its type (a struct given field by field: its missing
 * fields), so that Enter does not fail on them.
 */
function callHint({ state, line, done, current }: LineContext): string {
  const all = current ? [...done, current] : [...done];
  if (all.length < 2) return "";
  const kernel = currentSignature(state)?.list.filter((c) => c.location === "kernel") ?? [];
  if (all.length === 2 && current) {
    return restOfName(current, kernel.map((c) => c.name), (name) => hint(state, `call ${name} `));
  }
  const cb = kernel.find((c) => c.name === all[1]);
  if (!cb) return "";
  const given = givenParams(all);
  const parts: string[] = [];
  if (!(all.length >= 3 && (instanceGiven(all) || all.length > 3)) && !given.has("instance")) {
    parts.push("<instance>");
  }
  const paths = new Set(all.filter((w) => w.includes("=")).map((w) => w.slice(0, w.indexOf("="))));
  for (const p of cb.params) {
    if (p.dir === "out") continue;
    if (!given.has(p.name)) {
      parts.push(paramHint(p));
      continue;
    }
    if (isRecord(p.type) && !p.dir.startsWith("vector") && !paths.has(p.name)) {
      const missing = missingFields(p.type, p.name, paths).map((m) => m.hint);
      parts.push(...missing.slice(0, 4), ...(missing.length > 4 ? [`(${missing.length - 4} more)`] : []));
    }
  }
  if (current.includes("=") || (current && !current.includes("=") && all.length > 3)) return "";
  return parts.length ? (/\s$/.test(line) ? "" : " ") + parts.join(" ") : "";
}
