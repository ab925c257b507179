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
  type ConnectionLimits,
  DEFAULT_CONNECTION_LIMITS,
  DEMO_MODULES,
  type Simulator,
  type SimulatorOptions,
  startSimulator,
} from "./server.ts";
export {
  type ApiDefinition,
  type CallContext,
  defineModule,
  type EmitOptions,
  type Handler,
  KernelError,
  type KernelInstance,
  type KernelModule,
  type ModuleContext,
  type RawCall,
  type RawReply,
  type SessionRef,
} from "./module.ts";
export { runControl } from "./control.ts";
export {
  type CallError,
  CONTROL_OPS,
  type ControlRequest,
  controlRequest,
  defaultSocketPath,
  sendControl,
} from "./client.ts";
export {
  type ApiState,
  EVENT_QUEUE_MAX,
  EVENT_WINDOW,
  Kernel,
  type Session,
  type SessionInfo,
  type Transport,
} from "./kernel.ts";
export type {
  CopyReply,
  CopyRequest,
  EventMessage,
  HelloBuffer,
  HelloCallback,
  HelloReply,
  HelloRequest,
  InstanceList,
  InvokeReply,
  InvokeRequest,
  ParamDescriptor,
} from "./payloads.ts";
export { CopyOp, CopyTarget } from "./payloads.ts";
export { type FaultAction, Faults, type InstanceFaults } from "./faults.ts";
