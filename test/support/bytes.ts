/**
 * Byte helpers for tests that build wire traffic by hand.
 * @module
 */
import { concatBytes } from "../../util/bytes.ts";

/** The parts one after another in one array (frames meant to go out in one write). */
export function concat(...parts: Uint8Array[]): Uint8Array {
  return concatBytes(parts);
}
