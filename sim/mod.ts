/**
 * The simulated vmkernel, for tests and for script authors: start one from code, write
 * kernel-side modules, inject faults.
 *
 * @example
 * ```ts ignore
 * import { startSimulator } from "./mod.ts";
 * await using sim = await startSimulator({ socketPath: "/tmp/demo.sock" });
 * sim.control({ op: "fail", instance: "vmnic1", errno: "EIO" });
 * ```
 * @module
 */
export {
  defaultSocketPath,
  DEMO_MODULES,
  type Simulator,
  type SimulatorOptions,
  startSimulator,
} from "./server.ts";
export {
  type CallContext,
  defineModule,
  type EmitOptions,
  type Handler,
  KernelError,
  type KernelInstance,
  type KernelModule,
  type ModuleContext,
} from "./module.ts";
export { CONTROL_OPS, type ControlRequest, runControl, sendControl } from "./control.ts";
export { EVENT_QUEUE_MAX, EVENT_WINDOW, Kernel, type SessionInfo } from "./kernel.ts";
