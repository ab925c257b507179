/**
 * Commands that explain a signature: describe and template.
 * @module
 */
import type { Signature } from "../../mgmt/signature.ts";
import { describeCallback, describeSignature, template as callTemplate, toJsonText } from "../format.ts";
import { CommandError, type ReplState } from "../state.ts";
import { callbackOf, type Command, need } from "./command.ts";
import { refreshInstances } from "./session.ts";

function signatureForDescribe(state: ReplState): Signature {
  if (state.current) return state.session().signature;
  const first = state.signatures.values().next().value;
  if (!first) throw new CommandError("no signature is known");
  return first.signature;
}

export const describe: Command = {
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
      state.result(() => describeSignature(sig, state.paint), () => ({ signature: sig.toJson() }));
      return;
    }
    const cb = callbackOf(sig, what);
    state.result(
      () => describeCallback(cb, state.paint, sig.typeDocs),
      () => ({ callback: { name: cb.name, ...sig.toJson().callbacks[cb.name] } }),
    );
  },
};

export const template: Command = {
  name: "template",
  usage: "template CALLBACK [INSTANCE]",
  summary: "print a call line and a JSON skeleton to edit",
  args: ["kernelCallback", "instance"],
  needsSession: true,
  async run(state, args) {
    const sig = signatureForDescribe(state);
    const cb = callbackOf(sig, need(args, 0, "callback name", this.usage), "kernel");
    // The first instance the kernel has, or `-` (no instance) for an API that has none.
    const known = state.instanceCache.get(sig.name) ?? await refreshInstances(state, sig.name);
    const inst = args[1]?.text ?? known[0]?.name ?? "-";
    const t = callTemplate(cb, inst);
    // On a terminal the call line is also put on the next edit line, ready to edit and run.
    const terminal = state.json ? undefined : state.terminal;
    state.result(
      () =>
        `${t.line}\n${state.paint.dim("or")}\ncall ${cb.name} ${toJsonText(t.json)}${
          terminal
            ? `\n${state.paint.dim("(the call line is on the edit line: change the values, then Enter)")}`
            : ""
        }`,
      () => ({ line: t.line, json: t.json }),
    );
    terminal?.prefill(t.line);
  },
};
