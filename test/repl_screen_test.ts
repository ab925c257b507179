/**
 * The REPL's screen never lies (issue 14): hints never wrap, at any width and after a resize; the
 * scrollback keeps the whole command that ran; a failing Ctrl-R search says so; two Tabs in one read
 * complete, never insert a TAB. Each test drives the real REPL in a real terminal (tmux).
 */
import { assert, assertEquals, assertMatch, assertStringIncludes } from "@std/assert";
import { startSimProcess } from "../sim/process.ts";
import { Terminal } from "./support/tmux.ts";
import { waitUntil } from "./support/wait.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const opts = { sanitizeResources: false, sanitizeOps: false };

async function repl(env: Record<string, string>, cols: number, extra = ""): Promise<Terminal> {
  const home = await Deno.makeTempDir({ prefix: "vmkmgmt-home-" });
  const t = await Terminal.start(
    `cd ${ROOT} && ${Deno.execPath()} run --allow-all repl/main.ts ${extra}`,
    { ...env, NO_COLOR: "1", HOME: home },
    cols,
  );
  await t.waitFor(/vmk(:\w+)?> /);
  return t;
}

/** Rows that show a prompt (the line being edited must be on exactly one). */
async function promptRows(t: Terminal, prompt: string): Promise<string[]> {
  return (await t.rows()).filter((r) => r.includes(prompt));
}

Deno.test({
  name: "screen: a hint never wraps — cut to the room left at 200, 80 and 40 columns, and after a resize",
  ...opts,
  fn: async () => {
    await using sim = await startSimProcess();
    for (const cols of [200, 80, 40]) {
      await using t = await repl(sim.env, cols);
      await t.enter("open acmeStorMgmt", "opened acmeStorMgmt");
      await t.type("call setThresholds ");
      let rows = await t.waitForCursorRow(/^vmk:acmeStorMgmt> call setThresholds/).then(() => t.rows());
      assert(rows.every((r) => r.length <= cols), `a row is wider than ${cols}:\n${rows.join("\n")}`);
      // Typing on: the line stays on one row, with no copy left behind.
      await t.type("x");
      await t.waitForCursorRow(/^vmk:acmeStorMgmt> call setThresholds x/);
      const shown = await promptRows(t, "vmk:acmeStorMgmt> call");
      assertEquals(shown.length, 1, `the line is drawn once:\n${(await t.rows()).join("\n")}`);
      assertStringIncludes(shown[0], "call setThresholds x");
      rows = await t.rows();
      assert(!rows.some((r) => r.startsWith("x") || r.trim() === "x"), "typing did not move to a new row");
      await t.press("C-u");
      // Every callback's hint at this width: none wraps.
      for (const cb of ["getDeviceInfo", "setWriteCache", "readLog", "scan"]) {
        await t.type(`call ${cb} `);
        await t.waitForCursorRow(new RegExp(`^vmk:acmeStorMgmt> call ${cb}`));
        const r = await promptRows(t, "vmk:acmeStorMgmt> call");
        assertEquals(r.length, 1, `call ${cb}: the line is drawn once:\n${(await t.rows()).join("\n")}`);
        await t.press("C-u");
      }
    }
    // A resize while a hint shows: the line is drawn again for the new width.
    await using t = await repl(sim.env, 120);
    await t.enter("open acmeStorMgmt", "opened acmeStorMgmt");
    await t.type("call setThresholds ");
    await t.waitForCursorRow(/^vmk:acmeStorMgmt> call setThresholds/);
    await t.resize(50);
    await t.type("y");
    const rows = await t.waitForRows(
      (rows) => rows.filter((r) => r.includes("call setThresholds y")).length === 1,
      "the line drawn once at the new width",
    );
    assert(rows.every((r) => r.length <= 50), rows.join("\n"));
    const shown = rows.filter((r) => r.includes("call setThresholds y"));
    assertEquals(shown.length, 1, rows.join("\n"));
  },
});

Deno.test({
  name: "screen: Enter with the cursor mid-line keeps the whole command in the scrollback",
  ...opts,
  fn: async () => {
    await using sim = await startSimProcess();
    await using t = await repl(sim.env, 100);
    await t.enter("open acmeNicMgmt", "opened acmeNicMgmt");
    await t.type("call setMtu vmnic0 mtu=1500");
    for (let i = 0; i < 15; i++) await t.press("Left");
    await t.press("Enter");
    const screen = await t.waitFor(/status\s+0/);
    assertStringIncludes(screen, "vmk:acmeNicMgmt> call setMtu vmnic0 mtu=1500");
  },
});

Deno.test({
  name: "screen: a Ctrl-R search that matches nothing says 'failed', and Ctrl-G leaves the line as it was",
  ...opts,
  fn: async () => {
    await using sim = await startSimProcess();
    await using t = await repl(sim.env, 100);
    await t.enter("open acmeNicMgmt", "opened acmeNicMgmt");
    await t.enter("call setMtu vmnic0 mtu=1500", /status\s+0/);
    await t.press("C-r");
    await t.type("setM");
    await t.waitFor("(reverse-i-search)'setM': call setMtu vmnic0 mtu=1500");
    await t.type("qqq");
    await t.waitFor("(failed reverse-i-search)'setMqqq': call setMtu vmnic0 mtu=1500");
    await t.press("BSpace", "BSpace", "BSpace");
    await t.waitFor("(reverse-i-search)'setM': call setMtu");
    await t.press("C-g");
    // Ctrl-G restores the empty line.
    await t.waitForCursorRow("vmk:acmeNicMgmt>");
  },
});

Deno.test({
  name: "screen: two Tabs in one read complete (list the choices), never insert a TAB",
  ...opts,
  fn: async () => {
    await using sim = await startSimProcess();
    await using t = await repl(sim.env, 120);
    await t.enter("open acmeNicMgmt", "opened acmeNicMgmt");
    // Text and Tabs in one read, as a fast typist or a paste sends them.
    await t.type("call\t\t");
    await t.waitFor(/getStats\s+.*setMtu/);
    // The line is drawn again below the list.
    const line = await t.waitForCursorRow(/^vmk:acmeNicMgmt> call/);
    assert(!/call\s{2,}|CACALLBACK/.test(line), `no TAB went into the line: ${JSON.stringify(line)}`);
    const screen = await t.enter("getStats vmnic0", /rxPackets|error/);
    assert(!screen.includes("error"), screen);
    await t.type("call s\t");
    await t.waitFor("call setMtu");
  },
});

Deno.test({
  name: "session: an omitted instance is an error listing them; - calls no instance on purpose",
  ...opts,
  fn: async () => {
    await using sim = await startSimProcess();
    await using t = await repl(sim.env, 160);
    await t.enter("open acmeNicMgmt", "opened acmeNicMgmt");
    await t.type("call getStats");
    await t.press("Enter");
    await t.waitFor("which instance? acmeNicMgmt has vmnic0, vmnic1, vmnic2, vmnic3");
    await t.enter("call setMtu - mtu=1500", /status\s+22/);
  },
});

Deno.test({
  name: "session: EIO says what is known — an injected fault, a handler that failed, the simulator gone",
  ...opts,
  fn: async () => {
    await using sim = await startSimProcess(["--module", "test/fixtures/thermo_module.ts"]);
    await using t = await repl(sim.env, 200, "--sig test/fixtures/thermo_sig.ts");
    await t.enter("open acmeNicMgmt", "opened acmeNicMgmt");
    await t.enter("sim fail instance=vmnic1 errno=EIO", "ok: fail instance=vmnic1 errno=EIO");
    await t.type("call getStats vmnic1");
    await t.press("Enter");
    await t.waitFor(
      "why: the session is fine: the simulator failed this call — a fault injected with `sim fail`",
    );
    // The demo's echo wraps seq as C's u64 arithmetic does (it used to fail the call).
    await t.enter("call echo vmnic0 msg.seq=18446744073709551615 msg.payload=00", /seq\s+0\b/);
    await t.enter("open acmeThermo", "opened acmeThermo");
    const screen = await t.enter(
      'call read probe0 sensor="boom"',
      "the read handler failed: sensor boom is on fire",
    );
    assertStringIncludes(screen, "why: the session is fine");
    assert(!screen.includes("still running"), screen);
    await t.enter("sim errors", /acmeThermo\.read\s+probe0\s+5\s+the read handler failed/);
  },
});

/** A simulator on a socket of its own that a test stops and starts again at the same path. */
async function restartableSim(prefix: string) {
  const dir = await Deno.makeTempDir({ prefix });
  const socketPath = `${dir}/sim.sock`;
  let sim = await startSimProcess([], { socketPath });
  return {
    /** The environment that points at the socket (the same after a restart). */
    env: sim.env,
    stop: () => sim.stop(),
    start: async () => void (sim = await startSimProcess([], { socketPath })),
    async [Symbol.asyncDispose]() {
      await sim.stop();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

Deno.test({
  name: "session: a restarted simulator — the dead session is marked, and reconnected on the next command",
  ...opts,
  fn: async () => {
    await using sim = await restartableSim("vmkmgmt-restart-");
    await using t = await repl(sim.env, 160);
    await t.enter("open acmeNicMgmt", "opened acmeNicMgmt");
    await sim.stop();
    await t.enter("call getStats vmnic0", "why: the simulator is gone");
    await t.waitFor("vmk:acmeNicMgmt (disconnected)> ");
    await t.enter("sessions", /acmeNicMgmt\s+1\.0\.0\.0\s+disconnected/);
    const down = await t.enter("sim status", "no simulator is running on");
    assert(!down.includes("os error 2"), down);
    // Still down: the command says so and the session stays marked.
    await t.enter(
      "call getStats vmnic0",
      "acmeNicMgmt is disconnected and the simulator does not take it back yet",
    );
    await sim.start();
    const back = await t.enter("call getStats vmnic0", /rxPackets/);
    assertStringIncludes(back, "reconnected acmeNicMgmt");
    await t.waitFor((s) => s.trimEnd().endsWith("vmk:acmeNicMgmt>"));
  },
});

Deno.test({
  name:
    "session: a background watch says its session was lost, the session is marked at once; both come back",
  ...opts,
  fn: async () => {
    await using sim = await restartableSim("vmkmgmt-restart-watch-");
    await using t = await repl(sim.env, 160);
    await t.enter("open acmeNicMgmt", "opened acmeNicMgmt");
    await t.enter("watch linkEvent --background", "watch #1 on linkEvent runs in the background");
    await sim.stop();
    // No command typed: the watch says which watch ended, and the prompt marks the session.
    await t.waitFor("watch #1 (linkEvent on acmeNicMgmt) ended:");
    await t.waitFor("it resumes when the session reconnects");
    await t.waitFor("vmk:acmeNicMgmt (disconnected)> ");
    await t.enter("sessions", /acmeNicMgmt\s+1\.0\.0\.0\s+disconnected/);
    await sim.start();
    // The first command after the restart reconnects and runs; the watch resumes.
    const back = await t.enter("call triggerEvents vmnic1 count=1", /linkEvent\s+vmnic1/);
    assertStringIncludes(back, "reconnected acmeNicMgmt");
    assertStringIncludes(back, "resumed watch #1 (linkEvent)");
    const after = back.slice(back.lastIndexOf("call triggerEvents"));
    assert(!after.includes("error"), after);
    await t.enter("unwatch", "stopped 1 watch");
  },
});

Deno.test({
  name: "sim restart: the simulator this REPL started starts afresh; sessions and watches come back",
  ...opts,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "vmkmgmt-own-sim-" });
    try {
      // No simulator on the socket: the REPL starts its own.
      await using t = await repl({ VMKMGMT_SIM_SOCKET: `${dir}/sim.sock` }, 160);
      await t.enter("open acmeNicMgmt", "opened acmeNicMgmt");
      await t.enter("call setMtu vmnic1 mtu=9000", /status\s+0/);
      await t.enter("watch linkEvent --background", "runs in the background");
      await t.enter("sim restart", /restarted the simulator on \S+sim\.sock \(pid \d+\): a fresh kernel/);
      await t.waitFor("vmk:acmeNicMgmt (disconnected)> ");
      const back = await t.enter("call getStats vmnic1", /mtu\s+1500/);
      assertStringIncludes(back, "resumed watch #1 (linkEvent)");
      await t.enter("sim link instance=vmnic0 up=false", /linkEvent vmnic0 state=\{up:0/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "sim restart with a simulator this REPL did not start: says so, restarts nothing",
  ...opts,
  fn: async () => {
    await using sim = await startSimProcess();
    await using t = await repl(sim.env, 160);
    await t.enter("sim restart", "sim restart: this REPL did not start the simulator on");
    await t.enter("sim status", /acmeNicMgmt/);
  },
});

Deno.test({
  name:
    "sim: ops and keys complete from the simulator's own description; unknown keys are refused naming the valid ones",
  ...opts,
  fn: async () => {
    await using sim = await startSimProcess();
    await using t = await repl(sim.env, 160);
    await t.type("sim fa");
    await t.press("Tab");
    await t.waitFor("vmk> sim fail ");
    await t.waitFor("[instance=… errno=… [count=…] [after=…] [api=…]]");
    await t.type("ins");
    await t.press("Tab");
    await t.waitFor("vmk> sim fail instance=");
    await t.enter(
      "vmnic1 errno=EIO foo=1",
      "error: sim fail: unknown key foo (keys: instance=ID|NAME|* errno=EIO|5",
    );
    // A module's op (the NVMe demo's hotplug) completes and checks its keys too.
    await t.type("sim hot");
    await t.press("Tab");
    await t.waitFor("vmk> sim hotplug ");
    await t.enter("pcie=1", "unknown key pcie; missing pci");
    await t.enter("sim help emit", /emit\s+event=NAME/);
  },
});

Deno.test({
  name: "js: the scope lasts between lines, Tab completes properties, Ctrl-C stops a runaway loop",
  ...opts,
  fn: async () => {
    await using sim = await startSimProcess();
    await using t = await repl(sim.env, 160);
    await t.enter("open acmeNicMgmt", "opened acmeNicMgmt");
    await t.type("js const x = 20");
    await t.press("Enter");
    await t.enter("js x + 22", /^42$/m);
    await t.type("js session.inv");
    await t.press("Tab");
    await t.waitFor("js session.invoke");
    await t.enter('("getStats", { instance: "vmnic0" })', /rxPackets/);
    await t.type("js while (true) {}");
    await t.press("Enter");
    // Ctrl-C until the loop is stopped: one that comes before the evaluation starts stops nothing.
    const stopped = "js: interrupted — the evaluation was stopped, and the js scope starts afresh";
    await waitUntil(
      async () => {
        await t.press("C-c");
        return (await t.waitFor(stopped, 1000).catch(() => "")).includes(stopped);
      },
      "Ctrl-C to stop the loop",
      15_000,
      0,
    );
    await t.enter("js typeof x", '"undefined"');
    await t.enter("call getStats vmnic0", /rxPackets[\s\S]*rxPackets/);
  },
});

Deno.test({
  name: "the simulator a REPL started outlives a Ctrl-C, and stops when the REPL is killed",
  ...opts,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "vmkmgmt-orphan-" });
    const marker = `${dir}/history`;
    const socket = `${dir}/sim.sock`;
    try {
      await using t = await repl({ VMKMGMT_SIM_SOCKET: socket }, 120, `--history ${marker}`);
      await t.waitFor("simulator (started for this session)");
      const answers = async () =>
        (await new Deno.Command(Deno.execPath(), {
          args: ["run", "--allow-all", "sim/main.ts", "--socket", socket, "ctl", "status"],
          cwd: ROOT,
          stdout: "null",
          stderr: "null",
        }).output()).success;
      assert(await answers(), "the REPL's simulator answers");
      // Ctrl-C stopping a foreground watch (the terminal is cooked then: it is a SIGINT to the
      // whole process group) stops the watch, not the simulator.
      await t.enter("open acmeNicMgmt", "opened acmeNicMgmt");
      await t.enter("watch", "Ctrl-C stops");
      await t.press("C-c");
      await t.waitFor(/\d+ events?\s*\n.*vmk:acmeNicMgmt>/s);
      assert(await answers(), "the simulator outlived the Ctrl-C");
      await t.enter("call getStats vmnic0", /rxPackets/);
      await new Deno.Command("pkill", { args: ["-KILL", "-f", marker] }).output();
      await waitUntil(async () => !(await answers()), "the simulator to stop with the REPL that started it");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "small things: rc errors name file and line; given fields are not offered again; Ctrl-D leaves a new line",
  ...opts,
  fn: async () => {
    await using sim = await startSimProcess();
    const home = await Deno.makeTempDir({ prefix: "vmkmgmt-home-" });
    await Deno.writeTextFile(`${home}/.vmkmgmtrc`, "open acmeNicMgmt\nbogus\n");
    const t = await Terminal.start(
      `cd ${ROOT} && ${Deno.execPath()} run --allow-all repl/main.ts`,
      { ...sim.env, NO_COLOR: "1", HOME: home },
      160,
    );
    try {
      await t.waitFor(`${home}/.vmkmgmtrc:2: unknown command bogus`);
      await t.waitFor("vmk:acmeNicMgmt> ");
      await t.type("call echo vmnic0 msg.seq=1 msg.");
      await t.press("Tab");
      await t.waitFor("call echo vmnic0 msg.seq=1 msg.payload=");
      await t.press("C-u");
      await t.press("C-d");
      assertEquals(await t.waitForExit(), 0);
      // What the REPL left: the prompt row as it was, then a new line (where the shell went on).
      const rows = (await t.rows()).map((r) => r.trimEnd()).filter((r) => r);
      assertEquals(rows.slice(-2), ["vmk:acmeNicMgmt>", "[exited 0]"]);
    } finally {
      await t[Symbol.asyncDispose]();
    }
  },
});

Deno.test({
  name: "watch: with a background and a foreground watch, each event line says which watch it belongs to",
  ...opts,
  fn: async () => {
    await using sim = await startSimProcess();
    await using t = await repl(sim.env, 160);
    await t.enter("open acmeNicMgmt", "opened acmeNicMgmt");
    await t.enter("watch linkEvent --background", "watch #1 on linkEvent runs in the background");
    await t.enter("watch linkEvent --count 1", "times are when each event reached the REPL");
    await sim.control({
      op: "emit",
      event: "linkEvent",
      instance: "vmnic0",
      params: { state: { up: 0, speedMbps: 0 } },
    });
    const screen = await t.waitFor(/\[fg\] .*linkEvent/);
    assertMatch(screen, /\[#1\] .*linkEvent/);
  },
});

Deno.test({
  name:
    "guided entry: a call with values left out asks for each with its type; template puts the call on the edit line",
  ...opts,
  fn: async () => {
    await using sim = await startSimProcess();
    await using t = await repl(sim.env, 160);
    await t.enter("open acmeNicMgmt", "opened acmeNicMgmt");
    await t.enter("call setMtu vmnic1", "mtu (u32, Enter for 0): ");
    await t.enter("9000", /status\s+0/);
    await t.enter("call echo vmnic0 msg.seq=5", "msg.payload (u8[56], Enter for zeros): ");
    await t.press("C-c");
    await t.waitFor("call echo: cancelled (msg.payload not given)");
    // The answers are not history: Up brings back the command.
    await t.press("Up");
    await t.waitFor("vmk:acmeNicMgmt> call echo vmnic0 msg.seq=5");
    await t.press("C-u");
    await t.enter("template setMtu vmnic2", "the call line is on the edit line");
    await t.waitFor(/vmk:acmeNicMgmt> call setMtu vmnic2 mtu=\S+/);
    await t.press("C-w");
    await t.enter("1500", /status\s+0[\s\S]*status\s+0/);
    // Enter takes the zero value where there is one; where there is none it says so and calls nothing.
    await t.enter("call echo vmnic0 msg.seq=5", "msg.payload (u8[56], Enter for zeros): ");
    await t.enter("", /seq\s+6\n\s+payload\s+\(56 bytes\)\n\s+0000 {2}00 00/);
    await t.enter("call flashFirmware vmnic0", "image (u8[]): ");
    await t.enter("", "call flashFirmware: image needs a value (u8[]); nothing was called");
  },
});

Deno.test({
  name: "history: a value typed over several lines is one item; edit runs what $EDITOR wrote",
  ...opts,
  fn: async () => {
    await using sim = await startSimProcess();
    const dir = await Deno.makeTempDir({ prefix: "vmkmgmt-editor-" });
    // A stand-in for a person at an editor: reads a line typed at the terminal and appends it to
    // the file it is given — every key must reach it, none the REPL (which must not be reading).
    await Deno.writeTextFile(
      `${dir}/ed.sh`,
      `#!/bin/sh\nprintf 'editor> '\nIFS= read -r line\necho "$line" >> "$1"\n`,
    );
    await Deno.chmod(`${dir}/ed.sh`, 0o755);
    try {
      await using t = await repl({ ...sim.env, EDITOR: `${dir}/ed.sh` }, 160);
      await t.enter("open acmeNicMgmt", "opened acmeNicMgmt");
      await t.enter("call echo vmnic0 {", "... ");
      await t.enter('"msg": {"seq": 1, "payload": "01"}}', /seq\s+2/);
      await t.press("Up");
      await t.waitFor('vmk:acmeNicMgmt> call echo vmnic0 { "msg": {"seq": 1, "payload": "01"}}');
      await t.press("C-u");
      await t.type("edit");
      await t.press("Enter");
      await t.waitFor("editor> ");
      await t.type("call setMtu vmnic3 mtu=4321");
      await t.press("Enter");
      // The file starts with the last command (echo), and the editor added setMtu: both run.
      const ran = await t.waitFor(/seq\s+2[\s\S]*seq\s+2[\s\S]*status\s+0/);
      // The file's comment line is skipped whole (it holds a ';').
      assert(!ran.includes("unknown command"), ran);
      await t.enter("call getStats vmnic3", /mtu\s+4321/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "colour as you type: command, callback, instance and keys coloured, unknown names red; none under NO_COLOR",
  ...opts,
  fn: async () => {
    await using sim = await startSimProcess();
    const home = await Deno.makeTempDir({ prefix: "vmkmgmt-home-" });
    await using t = await Terminal.start(
      `cd ${ROOT} && ${Deno.execPath()} run --allow-all repl/main.ts`,
      { ...sim.env, HOME: home, TERM: "xterm-256color", NO_COLOR: "" }, // colours on, even under CI's NO_COLOR
      160,
    );
    await t.waitFor(/vmk(:\w+)?> /);
    await t.enter("open acmeNicMgmt", "opened acmeNicMgmt");
    await t.type("call setMtu vmnic1 mtu=9000");
    const esc = "\x1b[";
    const line = (await t.waitForColoured((s) =>
      s.includes(`${esc}36mmtu`) && s.includes("9000"), "the line coloured"))
      .split("\n").find((r) => r.includes("setMtu"))!;
    assertStringIncludes(line, `${esc}36mcall`, "the command in cyan");
    assertStringIncludes(line, `${esc}32msetMtu`, "a known callback in green");
    assertStringIncludes(line, `${esc}33mvmnic1`, "a known instance in yellow");
    assertStringIncludes(line, `${esc}36mmtu`, "a key in cyan");
    assertStringIncludes(
      await t.screen(),
      "vmk:acmeNicMgmt> call setMtu vmnic1 mtu=9000",
      "the same visible text",
    );
    await t.press("C-u");
    await t.type("call nosuch ");
    const bad = (await t.waitForColoured((s) => s.includes("nosuch"), "the unknown callback on the line"))
      .split("\n").find((r) => r.includes("nosuch"))!;
    assertStringIncludes(bad, `${esc}31mnosuch`, "an unknown callback in red");
  },
});

Deno.test({
  name: "screen: after Ctrl-L, typing and editing leave the scrollback as it was",
  ...opts,
  fn: async () => {
    await using sim = await startSimProcess();
    await using t = await repl(sim.env, 100);
    await t.enter("open acmeNicMgmt", "opened acmeNicMgmt");
    await t.press("C-l");
    await t.waitForRows((rows) => rows[0].startsWith("vmk:acmeNicMgmt>"), "the prompt at the top");
    const before = await t.historySize();
    await t.type("call setMtu vmnic0 mtu=1500");
    await t.press("BSpace", "Left", "C-a", "C-e");
    await t.type("0");
    await t.waitForCursorRow(/^vmk:acmeNicMgmt> call setMtu vmnic0 mtu=1500/);
    assertEquals(await t.historySize(), before, "no copy of the line went into the scrollback");
  },
});

Deno.test({
  name: "screen: wide characters on the line — the hint is cut by display width, the line drawn once",
  ...opts,
  fn: async () => {
    await using sim = await startSimProcess();
    await using t = await repl(sim.env, 40);
    await t.enter("open acmeNicMgmt", "opened acmeNicMgmt");
    // Each of these characters takes two columns: 6 of them are 12 columns, not 6.
    await t.type("call setMtu 日本語日本語 ");
    await t.waitFor("call setMtu 日本語日本語"); // (wrapped: the screen's rows joined)
    const rows = await t.rows();
    assertEquals(rows.filter((r) => r.includes("call setMtu")).length, 1, rows.join("\n"));
    await t.type("m");
    await t.waitFor("call setMtu 日本語日本語 m");
    const again = await t.rows();
    assertEquals(again.filter((r) => r.includes("call setMtu")).length, 1, again.join("\n"));
  },
});

Deno.test({
  name: "a newcomer enters an NVMe admin command (bitfields, a union, a caller buffer) by prompts alone",
  ...opts,
  fn: async () => {
    await using sim = await startSimProcess();
    await using t = await repl(sim.env, 160);
    const step = async (text: string, wait: string | RegExp) => {
      await t.type(text);
      await t.press("Enter");
      return await t.waitFor(wait);
    };
    await step("open acmeNvmeMgmt", "opened acmeNvmeMgmt");
    await step("call listAdapters", "adapters (capacity in elements): ");
    await step("4", /count\s+2/);
    await step("open acmeNvme-0000:3b:00.0", "opened acmeNvme-0000:3b:00.0");
    await step("call adminPassthru", "cmd.opcode (getLogPage|identify|getFeatures|firmwareCommit): ");
    await step("identify", "cmd.cid (16 bits, Enter for 0): ");
    await step("7", "cmd.nsid (u32, Enter for 0): ");
    await step("1", "cmd.cdw10 (union of raw | getLogPage | getFeatures; give member=value): ");
    await step("raw=1", 'cmd.data (a caller buffer: {"length": N} to receive, {"bytes": "hex"} to send): ');
    await step('{"length": 4096}', "cmd.dataLength (u32, Enter for 0): ");
    // What the driver fills in (result, sc, dnr: declared out) is not asked for.
    const screen = await step("4096", /dataLength\s+4096/);
    assert(!screen.includes("cmd.result ("), screen);
    assertMatch(screen, /opcode\s+identify/);
    assertMatch(screen, /data\s+\(4096 bytes\)\n\s+0000 {2}86 19 /);
  },
});

Deno.test({
  name:
    "screen: Ctrl-R with a match wider than the terminal, then a shorter one or none, leaves no stale rows",
  ...opts,
  fn: async () => {
    await using sim = await startSimProcess();
    await using t = await repl(sim.env, 40);
    const wide = `call echo vmnic0 msg.seq=1 msg.payload=${"0a".repeat(40)}`;
    await t.enter("open acmeNicMgmt", "opened acmeNicMgmt");
    await t.enter(wide, /msg/);
    await t.enter("instances", "vmnic3");
    await t.press("C-r");
    await t.type("payload");
    // The match takes three rows at 40 columns.
    await t.waitForRows(
      (rows) => rows.some((r) => r.startsWith("(reverse-i-search)'payload': call echo")),
      "the wide match",
    );
    await t.press("BSpace", "BSpace", "BSpace", "BSpace", "BSpace", "BSpace", "BSpace");
    await t.type("inst");
    await t.waitForRows(
      (rows) => rows.some((r) => r.startsWith("(reverse-i-search)'inst': instances")),
      "the shorter match",
    );
    await t.press("C-g");
    await t.waitForCursorRow(/^vmk:acmeNicMgmt>\s*$/);
    const rows = await t.rows();
    const at = rows.findLastIndex((r) => r.startsWith("vmk:acmeNicMgmt>"));
    assertEquals(rows.slice(at + 1).filter((r) => r.trim()), [], "nothing of the wide match is left below");
  },
});

Deno.test({
  name: "screen: help's command list wraps its summaries in their column at 120 and 80 columns",
  ...opts,
  fn: async () => {
    await using sim = await startSimProcess();
    for (const cols of [120, 80]) {
      await using t = await repl(sim.env, cols);
      await t.enter("help", "Ctrl-D exits");
      const rows = await t.rows();
      const list = rows.slice(
        rows.findIndex((r) => r.startsWith("vmk> help")) + 1,
        rows.findIndex((r) => r.startsWith("Tab completes")) - 1,
      );
      assert(list.length > 20, rows.join("\n"));
      // A row the terminal wrapped would start at column 0; every row of the list is indented.
      assertEquals(list.filter((r) => !r.startsWith("  ")), [], `${cols} columns:\n${list.join("\n")}`);
      assert(list.some((r) => r.startsWith(" ".repeat(47))), "a long summary goes on in its column");
    }
  },
});

Deno.test({
  name:
    "a call that waits says so after a second, what Ctrl-C does, and Ctrl-C says the same; a quick one says nothing",
  ...opts,
  fn: async () => {
    await using sim = await startSimProcess();
    await using t = await repl(sim.env, 140);
    await t.enter("open acmeNicMgmt", "opened acmeNicMgmt");
    await sim.control({ op: "stall", instance: "vmnic1" });
    await t.type("call getStats vmnic1");
    await t.press("Enter");
    await t.waitFor(
      "waiting for getStats on vmnic1 (acmeNicMgmt): 1s (Ctrl-C stops waiting; the kernel may still complete it)",
    );
    await t.waitFor("acmeNicMgmt): 2s");
    await t.press("C-c");
    await t.waitFor(
      "error: stopped waiting for getStats on vmnic1 (acmeNicMgmt) (Ctrl-C); the kernel may still complete it",
    );
    await sim.control({ op: "clear" });
    const screen = await t.enter("call getStats vmnic0", /driver\s+"acme-nic"/);
    const after = screen.slice(screen.lastIndexOf("call getStats vmnic0"));
    assert(!after.includes("waiting for"), after);
  },
});

Deno.test({
  name:
    "load FILE: a signature without restarting, again after it changed; run-time APIs complete and are listed",
  ...opts,
  fn: async (t) => {
    await using sim = await startSimProcess();
    const dir = await Deno.makeTempDir({ prefix: "vmkmgmt-load-" });
    const module = (version: string) =>
      `import { defineSignature, t } from "${new URL("../mod.ts", import.meta.url).href}";\n` +
      `export const mine = defineSignature({ name: "mineMgmt", vendor: "me", version: "${version}", ` +
      `callbacks: { ping: { id: 16, location: "kernel", params: { n: t.inout(t.u32) } } } });\n`;
    try {
      await Deno.writeTextFile(`${dir}/mine.ts`, module("1.0.0.0"));
      await Deno.copyFile(new URL("./fixtures/thermo.json", import.meta.url), `${dir}/thermo.json`);
      await using term = await repl(sim.env, 160, "");
      await t.step("a module, a JSON file; a missing file named", async () => {
        await term.enter(
          `load ${dir}/mine.ts`,
          `loaded ${dir}/mine.ts: mineMgmt; open it with: open mineMgmt`,
        );
        await term.enter(`load ${dir}/thermo.json`, "acmeThermo; open it with: open acmeThermo");
        await term.enter(`load ${dir}/nope.ts`, `load ${dir}/nope.ts: no such file`);
        await term.enter("sigs", /mineMgmt\s+me\s+1\.0\.0\.0\s+1\s/);
      });
      await t.step("loaded again after it changed: the new one", async () => {
        await Deno.writeTextFile(`${dir}/mine.ts`, module("2.0.0.0"));
        await term.enter(`load ${dir}/mine.ts`, "loaded");
        await term.enter("sigs", /mineMgmt\s+me\s+2\.0\.0\.0\s/);
      });
      await t.step("the NVMe adapters' APIs: listed by sigs, completed by open", async () => {
        await term.enter("sigs", /acmeNvme-0000:5e:00\.0\s+acme\s+1\.0\.0\.239\s+3\s+run time: built-in/);
        await term.type("open acmeNvme-0000:5");
        await term.press("Tab");
        await term.waitFor("vmk> open acmeNvme-0000:5e:00.0");
        await term.press("Enter");
        await term.waitFor("opened acmeNvme-0000:5e:00.0");
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
