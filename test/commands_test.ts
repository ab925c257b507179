/**
 * ioctl-style payloads (`t.byCommand`, mgmt/types/command.ts): one callback whose vector's layout
 * the command chooses. Every command through invoke, the simulator (typed payloads in its module)
 * and an event; an unknown command as bytes; the JSON form; the definition's errors; the REPL's
 * completion, describe, template and a call line.
 */
import { assertEquals, assertRejects, assertStringIncludes, assertThrows } from "@std/assert";
import { defineSignature, open, signatureFromJson, t, ValueError } from "../mod.ts";
import { SignatureError } from "../mgmt/errors.ts";
import { startSimProcess } from "../sim/process.ts";
import { useSocket } from "./support/env.ts";
import { within } from "./support/wait.ts";
import { PortCfg, SwitchCmd, switchSig } from "./fixtures/switch_sig.ts";
import { ReplState } from "../repl/state.ts";
import { complete } from "../repl/completer.ts";
import type { Session } from "../mod.ts";
import { Terminal } from "./support/tmux.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const MODULE = `${ROOT}test/fixtures/switch_module.ts`;
const opts = { sanitizeResources: false, sanitizeOps: false };

Deno.test({
  name:
    "every command through invoke and the simulator, an event typed by its command, an unknown one as bytes",
  ...opts,
  fn: async () => {
    await using sim = await startSimProcess(["--no-demo", "--module", MODULE]);
    using _socket = useSocket(sim.socketPath);
    await using s = await open(switchSig);
    // GET_INFO: left out, the payload is the layout zeroed; the kernel fills it.
    assertEquals(await s.invoke("ioctl", { instance: "sw0", cmd: "GET_INFO" }), {
      arg: { ports: 48, model: "ACME-48X", firmware: 0x01020304 },
      status: 0,
    });
    const events = s.events("portEvent");
    assertEquals(
      await s.invoke("ioctl", {
        instance: "sw0",
        cmd: "SET_PORT",
        arg: { port: 7, speedMbps: 25000, up: true },
      }),
      { arg: { port: 7, speedMbps: 12500, up: true }, status: 0 },
    );
    const ev = (await within(events.next(), 5000, "portEvent")).value!;
    assertEquals(ev.params, { cmd: "SET_PORT", arg: { port: 7, speedMbps: 25000, up: true } });
    await events.return!();
    // A command the map does not name: bytes both ways.
    assertEquals(await s.invoke("ioctl", { instance: "sw0", cmd: "RESET", arg: new Uint8Array([1, 2, 3]) }), {
      arg: new Uint8Array([3, 2, 1]),
      status: 3,
    });
    // Bytes for a command with a layout pass as they are (a driver's own encoding).
    const raw = new Uint8Array(12);
    raw[0] = 9;
    const asBytes = await s.invoke("ioctl", { instance: "sw0", cmd: "SET_PORT", arg: raw });
    assertEquals(asBytes.arg, { port: 9, speedMbps: 0, up: false });
    // A length that is not the layout's comes back as bytes, whole (nothing dropped).
    const longer = await s.invoke("ioctl", { instance: "sw0", cmd: "SET_PORT", arg: new Uint8Array(16) });
    assertEquals(longer.arg, new Uint8Array(16));
    const err = await assertRejects(
      () => s.invoke("ioctl", { instance: "sw0", cmd: "RESET", arg: { port: 1 } as never }),
      ValueError,
    );
    assertStringIncludes(err.message, "command RESET has no layout here (GET_INFO, SET_PORT have one)");
    const missing = await assertRejects(
      () => s.invoke("ioctl", { instance: "sw0", cmd: "RESET" }),
      ValueError,
    );
    assertStringIncludes(missing.message, "command RESET has no layout: its payload as bytes");
  },
});

Deno.test("the JSON form round-trips; a definition's mistakes are named", () => {
  const again = signatureFromJson(JSON.parse(JSON.stringify(switchSig.toJson())));
  assertEquals(again.toJson(), switchSig.toJson());
  assertEquals([...again.callbacks.ioctl.params[1].commands!.entries()].map(([k, v]) => [k, v.name]), [
    [0x10n, "GET_INFO"],
    [0x22n, "SET_PORT"],
  ]);
  const def = (params: Record<string, unknown>) => () =>
    defineSignature(
      { name: "x", vendor: "v", version: "1.0.0.0", callbacks: { c: { id: 16, params } } } as never,
    );
  assertThrows(
    def({ cmd: t.in(SwitchCmd), arg: t.in(t.byCommand("cmd", { GET_INFO: PortCfg })) }),
    SignatureError,
    "t.byCommand(…) is the element type of a byte vector",
  );
  assertThrows(
    def({ cmd: t.in(SwitchCmd), arg: t.vectorIn(t.byCommand("op", { GET_INFO: PortCfg })) }),
    SignatureError,
    't.byCommand("op", …) names no other parameter (parameters: cmd, arg)',
  );
  assertThrows(
    def({ cmd: t.in(SwitchCmd), arg: t.vectorIn(t.byCommand("cmd", { GET_INF: PortCfg })) }),
    SignatureError,
    "command GET_INF is neither a code nor a name of cmd's enum (GET_INFO, SET_PORT, RESET)",
  );
  assertThrows(
    def({ cmd: t.in(SwitchCmd), arg: t.vectorIn(t.byCommand("cmd", { GET_INFO: PortCfg, 16: PortCfg })) }),
    SignatureError,
    "commands GET_INFO and GET_INFO are both code 16",
  );
  assertThrows(
    def({ cmd: t.out(t.u32), arg: t.vectorOut(t.byCommand("cmd", { 1: PortCfg })) }),
    SignatureError,
    "the command parameter cmd must be an in or inout integer or enum, not out u32",
  );
  assertThrows(() => t.byCommand("cmd", { 1: 5 as never }), TypeError, "command 1 needs a type");
});

Deno.test("the REPL completes a payload's fields by the command given on the line", async () => {
  const state = new ReplState({ json: false, color: false });
  state.signatures.set(switchSig.name, { signature: switchSig, source: "test" });
  state.sessions.set(switchSig.name, { signature: switchSig, closed: true } as unknown as Session);
  state.current = switchSig.name;
  state.instanceCache.set(switchSig.name, [{ id: 3n, name: "sw0" }]);
  assertEquals(await complete(state, "call ioctl sw0 "), [["cmd=", "arg="], ""]);
  assertEquals(await complete(state, "call ioctl sw0 cmd="), [
    ["cmd=GET_INFO", "cmd=SET_PORT", "cmd=RESET"],
    "cmd=",
  ]);
  assertEquals(await complete(state, "call ioctl sw0 cmd=SET_PORT "), [["arg."], ""]);
  assertEquals(await complete(state, "call ioctl sw0 cmd=SET_PORT arg."), [
    ["arg.port=", "arg.speedMbps=", "arg.up="],
    "arg.",
  ]);
  assertEquals(await complete(state, "call ioctl sw0 cmd=SET_PORT arg.up="), [
    ["arg.up=true", "arg.up=false"],
    "arg.up=",
  ]);
  assertEquals(await complete(state, "call ioctl sw0 cmd=16 arg."), [
    ["arg.ports=", "arg.model=", "arg.firmware="],
    "arg.",
  ]);
  assertEquals(await complete(state, "call ioctl sw0 cmd=RESET "), [["arg="], ""]);
});

Deno.test({
  name: "the REPL: describe shows each command's layout; template and a call by fields; JSON output",
  ...opts,
  fn: async () => {
    await using sim = await startSimProcess(["--no-demo", "--module", MODULE]);
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-all",
        `${ROOT}repl/main.ts`,
        "--no-sim",
        "--sig",
        `${ROOT}test/fixtures/switch_sig.ts`,
        "-c",
        "open acmeSwitch; describe ioctl; template ioctl; call ioctl sw0 cmd=SET_PORT arg.port=3 arg.speedMbps=1000 arg.up=true",
      ],
      env: { NO_COLOR: "1", VMKMGMT_SIM_SOCKET: sim.socketPath },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
    assertStringIncludes(text, "when cmd=GET_INFO (0x10): switchInfo_t (20 bytes)");
    assertStringIncludes(text, "when cmd=SET_PORT (0x22): portCfg_t (12 bytes)");
    assertStringIncludes(text, "any other command: bytes");
    assertStringIncludes(text, 'call ioctl sw0 cmd=GET_INFO arg={"ports":0,"model":"","firmware":0}');
    assertStringIncludes(text, "speedMbps  500");
  },
});

Deno.test({
  name: "in a real terminal: Tab completes the command, then the payload's fields by it, and the call runs",
  ...opts,
  fn: async () => {
    await using sim = await startSimProcess(["--no-demo", "--module", MODULE]);
    await using t = await Terminal.start(
      `cd ${ROOT} && ${Deno.execPath()} run --allow-all repl/main.ts --no-sim --sig test/fixtures/switch_sig.ts`,
      { NO_COLOR: "1", VMKMGMT_SIM_SOCKET: sim.socketPath },
    );
    await t.waitFor(/vmk(:\w+)?> /);
    await t.enter("open acmeSwitch", "opened acmeSwitch");
    await t.type("call ioctl sw0 cmd=SE");
    await t.press("Tab");
    await t.waitFor("call ioctl sw0 cmd=SET_PORT ");
    // (Several candidates: a first Tab completes what they share, a second lists them.)
    await t.type("arg.");
    await t.press("Tab");
    await t.press("Tab");
    await t.waitFor(/arg\.port=\s+arg\.speedMbps=\s+arg\.up=/);
    await t.type("sp");
    await t.press("Tab");
    await t.waitFor("cmd=SET_PORT arg.speedMbps=");
    await t.type("10000 arg.port=5 arg.up=t");
    await t.press("Tab");
    await t.waitFor("arg.up=true");
    await t.press("Enter");
    await t.waitFor(/speedMbps\s+5000/);
  },
});
