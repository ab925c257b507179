/**
 * Byte helpers for tests that build wire traffic by hand.
 * @module
 */
import { concatBytes } from "../../util/bytes.ts";
import { buildFrame, FrameType } from "../../sim/frames.ts";
import { encodeHello, encodeInvoke } from "../../sim/payloads.ts";

/** The parts one after another in one array (frames meant to go out in one write). */
export function concat(...parts: Uint8Array[]): Uint8Array {
  return concatBytes(parts);
}

/** A HELLO for API `name` of vendor acme, with no callback table (the simulator's own decides). */
export function helloFrame(name = "acmeNicMgmt"): Uint8Array {
  return buildFrame(
    FrameType.HELLO,
    1,
    encodeHello({ revnum: 0x01000000, name, vendor: "acme", pid: 1, callbacks: [], buffers: [] }),
  );
}

/** An INVOKE of the demo's `echo` (callback 21, sync) on instance 1: its 64-byte in-out message, sent. */
export function echoFrame(id: number): Uint8Array {
  return buildFrame(
    FrameType.INVOKE,
    id,
    encodeInvoke({
      instanceId: 1n,
      callbackId: 21n,
      sync: true,
      params: [{ dir: "inout", size: 64, length: 64, data: new Uint8Array(64) }],
    }),
  );
}
