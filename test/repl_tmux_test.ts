/**
 * The REPL in a real terminal (tmux): Tab completion, inline hints, history with Up and Ctrl-R,
 * Ctrl-C, events printed above the line being typed, watch, and Ctrl-D.
 */
import { assertEquals, assertMatch, assertStringIncludes } from "@std/assert";
import { startSimProcess } from "../sim/process.ts";
import { Terminal } from "./support/tmux.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const opts = { sanitizeResources: false, sanitizeOps: false };

async function repl(env: Record<string, string>, extra = ""): Promise<Terminal> {
  const t = await Terminal.start(
    `cd ${ROOT} && ${Deno.execPath()} run --allow-all repl/main.ts ${extra}`,
    { ...env, NO_COLOR: "1" },
  );
  await t.waitFor(/vmk(:\w+)?> /);
  return t;
}

async function tempHome(): Promise<string> {
  return await Deno.makeTempDir({ prefix: "vmkmgmt-home-" });
}

Deno.test({
  name: "completion: commands, signatures, callbacks, instances, parameters, fields, enums, files",
  ...opts,
  fn: async () => {
    await using sim = await startSimProcess();
    const home = await tempHome();
    await using t = await repl({ ...sim.env, HOME: home });
    await t.type("op");
    await t.press("Tab");
    await t.waitFor("vmk> open");
    await t.type("acmeNi"); // acmeN is acmeNicMgmt or acmeNvmeMgmt
    await t.press("Tab");
    await t.waitFor("vmk> open acmeNicMgmt");
    await t.press("Enter");
    await t.waitFor("opened acmeNicMgmt 1.0.0.0: 4 instances");

    await t.type("call set");
    await t.press("Tab");
    await t.waitFor((s) => s.includes("call setMtu [<instance> mtu=<u32>]"), 5000);
    await t.type("vmnic");
    await t.press("Tab");
    await t.press("Tab");
    const listed = await t.waitFor(/vmnic0\s+vmnic1\s+vmnic2\s+vmnic3/);
    assertStringIncludes(listed, "vmnic3");
    await t.type("1 ");
    await t.waitFor((s) => /call setMtu vmnic1 \[mtu=<u32>\]\s*$/m.test(s));
    await t.type("m");
    await t.press("Tab");
    await t.waitFor("call setMtu vmnic1 mtu=");
    await t.enter("9000", /status\s+0/);

    await t.type("call echo vmnic0 msg.");
    await t.press("Tab");
    await t.press("Tab");
    await t.waitFor(/msg\.seq=\s+msg\.payload=/);
    await t.type("s");
    await t.press("Tab");
    await t.waitFor("call echo vmnic0 msg.seq=");
    await t.press("C-u");
    await t.waitForCursorRow("vmk:acmeNicMgmt>");

    await t.type("watch li");
    await t.press("Tab");
    await t.waitFor("vmk:acmeNicMgmt> watch linkEvent");
    await t.press("C-u");

    // enum values and @file paths (the storage signature has an enum)
    await t.enter("open acmeStorMgmt", "opened acmeStorMgmt");
    await t.type("call setW");
    await t.press("Tab");
    await t.type("vmhba0 en");
    await t.press("Tab");
    await t.waitFor("call setWriteCache vmhba0 enable=");
    await t.press("Tab");
    await t.press("Tab");
    await t.waitFor(/enable=true\s+enable=false/);
    await t.type("f");
    await t.press("Tab");
    await t.press("Enter");
    await t.waitFor(/status\s+0/);
    await t.enter("use acmeNicMgmt", "current session: acmeNicMgmt");
    await t.type("call flashFirmware vmnic0 image=@nat");
    await t.press("Tab");
    await t.waitFor("image=@native/");
    await t.press("C-u");
    await t.type("call readLog vmnic0 ");
    await t.waitFor("buffer=<capacity>");
    await t.press("C-u");
    await Deno.remove(home, { recursive: true });
  },
});

Deno.test({
  name: "history: Up, persisted per user, Ctrl-R reverse search; Ctrl-C clears; Ctrl-D exits",
  ...opts,
  fn: async () => {
    await using sim = await startSimProcess();
    const home = await tempHome();
    {
      await using t = await repl({ ...sim.env, HOME: home });
      await t.enter("open acmeNicMgmt", "opened acmeNicMgmt");
      await t.enter("call setMtu vmnic2 mtu=1234", /status\s+0/);
      await t.enter("instances", /4\s+vmnic3/);
      await t.press("Up");
      await t.waitFor((s) => /vmk:acmeNicMgmt> instances\s*$/m.test(s));
      await t.press("C-c");
      await t.waitFor("^C");
      assertMatch(await t.cursorLine(), /^vmk:acmeNicMgmt> \s*$/, "Ctrl-C cleared the line");
      await t.press("C-d");
      assertEquals(await t.waitForExit(), 0);
    }
    const saved = await Deno.readTextFile(`${home}/.vmkmgmt_history`);
    assertEquals(saved.trim().split("\n"), ["open acmeNicMgmt", "call setMtu vmnic2 mtu=1234", "instances"]);
    {
      await using t = await repl({ ...sim.env, HOME: home });
      await t.press("C-r");
      await t.type("setM");
      await t.waitFor("(reverse-i-search)'setM': call setMtu vmnic2 mtu=1234");
      await t.press("Enter");
      await t.waitFor("no session is open; open one with: open acmeNicMgmt");
      await t.press("Up", "Up", "Up"); // the accepted search result is now the newest entry
      await t.waitFor((s) => /vmk> open acmeNicMgmt\s*$/m.test(s));
      await t.press("Enter");
      await t.waitFor("opened acmeNicMgmt");
      await t.press("C-d");
    }
    await Deno.remove(home, { recursive: true });
  },
});

Deno.test({
  name: "events print above the prompt without destroying the line being typed; watch and Ctrl-C",
  ...opts,
  fn: async () => {
    await using sim = await startSimProcess();
    const home = await tempHome();
    await using t = await repl({ ...sim.env, HOME: home });
    await t.enter("open acmeNicMgmt", "opened");
    await t.enter("watch linkEvent --background", "runs in the background");
    await t.type("call getStats vmn");
    await t.waitForCursorRow(/^vmk:acmeNicMgmt> call getStats vmn/);
    await sim.control({ op: "link", instance: "vmnic2", up: false });
    await t.waitFor("linkEvent vmnic2 state={up:0 speedMbps:0}");
    // The line is drawn again below the event a moment after the event itself.
    await t.waitFor(/linkEvent vmnic2[\s\S]*call getStats vmn/);
    assertMatch(
      await t.cursorLine(),
      /^vmk:acmeNicMgmt> call getStats vmn/,
      "the typed line is intact below the event",
    );
    await t.enter("ic2", /linkUp\s+0/);
    await t.enter("unwatch", "stopped 1 watch");

    // Foreground watch until Ctrl-C
    await t.enter("watch", "Ctrl-C stops");
    await sim.control({ op: "link", instance: "vmnic2", up: true });
    await t.waitFor("linkEvent vmnic2 state={up:1 speedMbps:10000}");
    await t.press("C-c");
    await t.waitFor(/\d+ events?\s*\n.*vmk:acmeNicMgmt>/s);
    await t.type("watch logEvent --count 1");
    await t.press("Enter");
    await sim.control({ op: "log", instance: "vmnic1", message: "hello from the kernel" });
    await t.waitFor('message="vmnic1: hello from the kernel"');
    await t.waitFor("1 event");
    await t.press("C-d");
    assertEquals(await t.waitForExit(), 0);
    await Deno.remove(home, { recursive: true });
  },
});

Deno.test({
  name: "help, describe, template, multi-line JSON values, errors with suggestions",
  ...opts,
  fn: async () => {
    await using sim = await startSimProcess();
    const home = await tempHome();
    await using t = await repl({ ...sim.env, HOME: home });
    await t.enter("help", "call CALLBACK [INSTANCE | *]");
    await t.enter("open acmeNicMgmt", "opened");
    await t.press("C-l");
    await t.type("describe getStats");
    await t.press("Enter");
    await t.waitFor(/rxPackets\s+u64\s+@0, 8 bytes/);
    await t.enter("call echo vmnic0 {", "... ");
    await t.enter('"msg": {"seq": 41, "payload": "0102"}}', /seq\s+42/);
    await t.enter("call setMtu vmnic0 mtuu=5", "unknown parameter; did you mean mtu?");
    await t.enter("cal getStats", "unknown command cal; did you mean call?");
    await t.press("C-d");
    await Deno.remove(home, { recursive: true });
  },
});

Deno.test({
  name: "the rc file runs at the start of an interactive session",
  ...opts,
  fn: async () => {
    await using sim = await startSimProcess();
    const home = await tempHome();
    await Deno.writeTextFile(`${home}/.vmkmgmtrc`, "open acmeStorMgmt\njson on\n");
    await using t = await repl({ ...sim.env, HOME: home });
    await t.waitFor("vmk:acmeStorMgmt>");
    await t.enter("instances", '[{"id":"1","name":"vmhba0"},{"id":"2","name":"vmhba1"}]');
    await t.press("C-d");
    await Deno.remove(home, { recursive: true });
  },
});

Deno.test({
  name: "completion of union members, bitfield names and enum bitfield values; a call by path",
  ...opts,
  fn: async () => {
    await using sim = await startSimProcess();
    const home = await tempHome();
    await using t = await repl({ ...sim.env, HOME: home });
    await t.enter("open acmeStorMgmt", "opened acmeStorMgmt");
    await t.type("call adminCommand vmhba0 cmd.cdw10.");
    await t.press("Tab");
    await t.press("Tab");
    await t.waitFor(/cmd\.cdw10\.raw=\s+cmd\.cdw10\.identify\.\s+cmd\.cdw10\.getFeatures\./);
    await t.type("g");
    await t.press("Tab");
    await t.waitFor("call adminCommand vmhba0 cmd.cdw10.getFeatures.");
    await t.press("Tab");
    await t.press("Tab");
    await t.waitFor(/cmd\.cdw10\.getFeatures\.featureID=\s+cmd\.cdw10\.getFeatures\.sel=/);
    await t.type("f");
    await t.press("Tab");
    await t.waitFor("cmd.cdw10.getFeatures.featureID=");
    await t.type("7 cmd.cdw10.getFeatures.sel=0 cmd.op");
    await t.press("Tab");
    await t.waitFor("cmd.opcode=");
    await t.press("Tab");
    await t.press("Tab");
    await t.waitFor(
      /cmd\.opcode=getLogPage\s+cmd\.opcode=identify\s+cmd\.opcode=setFeatures\s+cmd\.opcode=getFeatures/,
    );
    await t.type("getF");
    await t.press("Tab");
    await t.type(
      ` cmd.fuse=0 cmd.cid=3 cmd.nsid=0 cmd.result=0 cmd.model="" cmd.status={"phase":0,"sc":0,"sct":0,"more":0,"dnr":0}`,
    );
    await t.press("Enter");
    const screen = await t.waitFor(/result\s+2031647/);
    assertMatch(screen, /featureID\s+7/);
    await Deno.remove(home, { recursive: true });
  },
});

Deno.test({
  name: "the NVMe demo in the REPL: a per-adapter API named at run time, identify into a user buffer",
  ...opts,
  fn: async () => {
    await using sim = await startSimProcess();
    const home = await tempHome();
    await using t = await repl({ ...sim.env, HOME: home });
    await t.enter("open acmeNvmeMgmt", "opened acmeNvmeMgmt 1.0.0.239");
    await t.enter("call listAdapters adapters=8", /^\s+1\s+acmeNvme-0000:5e:00\.0\s+0000:5e:00\.0\s/m);
    await t.enter("open acmeNvme-0000:5e:00.0", "opened acmeNvme-0000:5e:00.0");
    await t.type("call identify request.");
    await t.press("Tab");
    await t.press("Tab");
    await t.waitFor(/request\.cns=\s+request\.nsid=\s+request\.page=\s+request\.status=/);
    await t.press("C-u");
    const screen = await t.enter(
      'call identify request.cns=1 request.nsid=0 request.page={"length":4096}',
      /page\s+\(4096 bytes\)\n\s+0000 {2}86 19 /,
    );
    assertMatch(screen, /status\s+0/);
    await t.enter(
      "call identify request.cns=1 request.nsid=0 request.status=0 request.page=16",
      /status\s+-14/,
    );
    await Deno.remove(home, { recursive: true });
  },
});
