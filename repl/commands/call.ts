/**
 * `call`: invoke a kernel callback with typed `name=value` words, JSON or @files.
 * @module
 */
import { formatResult, resultJson } from "../format.ts";
import { parseCallArgs } from "../values.ts";
import { callbackOf, type Command, need } from "./command.ts";

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
an id; omit it for callbacks that take no instance (VMK_MGMT_NO_INSTANCE_ID).`,
  args: ["kernelCallback", "instance", "params"],
  flags: ["--timeout"],
  async run(state, args) {
    const s = state.session();
    const name = need(args, 0, "callback name", this.usage);
    const cb = callbackOf(s.signature, name, "kernel");
    const parsed = await parseCallArgs(cb, args.slice(1), (p) => Deno.readFile(p));
    const input = { ...parsed.params, instance: parsed.instance };
    const controller = new AbortController();
    state.foreground = controller;
    try {
      const result = await s.invoke(name as never, input as never, {
        signal: controller.signal,
        timeout: parsed.timeout,
      }) as Record<string, unknown>;
      state.result(
        () => formatResult(cb, result, state.paint),
        () => ({
          ok: true,
          callback: name,
          instance: parsed.instance ?? null,
          result: resultJson(cb, result),
        }),
      );
    } finally {
      state.foreground = undefined;
    }
  },
};
