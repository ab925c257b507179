/**
 * Byte helpers for tests that build wire traffic by hand.
 * @module
 */

/** The parts one after another in one array (frames meant to go out in one write). */
export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
