/**
 * The simulator this REPL started for its session (none when one was running already, or the
 * library is a real one): what `sim restart` restarts, on the same socket, and what the REPL stops
 * when it exits. A restart is what a driver developer does to start over — fresh instances, no
 * faults, the kernel's state as a module loads it — without leaving the shell.
 * @module
 */
import { type SimProcess, startSimProcess } from "../sim/process.ts";

/** A simulator the REPL started and owns. */
export class OwnSimulator {
  #sim: SimProcess;

  /** Owns `sim` (started by the REPL). */
  constructor(sim: SimProcess) {
    this.#sim = sim;
  }

  /** Its socket. */
  get socketPath(): string {
    return this.#sim.socketPath;
  }

  /** Its process id (a new one after each restart). */
  get pid(): number {
    return this.#sim.pid;
  }

  /**
   * Stops it and starts a fresh one on the same socket.
   * @throws {Error} when the new one does not start (what it printed is in the message).
   */
  async restart(): Promise<void> {
    await this.#sim.stop();
    this.#sim = await startSimProcess([], { socketPath: this.#sim.socketPath });
  }

  /** Stops it (the REPL is leaving). */
  stop(): Promise<void> {
    return this.#sim.stop();
  }
}
