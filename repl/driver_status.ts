/**
 * A driver's own verdict in a call's result: the call succeeded, but the driver answered a
 * non-zero `status` — what batch runs turn into their exit status (3).
 * @module
 */

/**
 * A non-zero `status` the driver answered in an out parameter (`status`, or a record's `status`
 * member, as `request.status`), as `status 22`; undefined when there is none. The call itself
 * succeeded — this is the driver's own verdict, which batch runs turn into their exit status.
 */
export function driverStatus(result: Record<string, unknown>): string | undefined {
  const nonZero = (v: unknown) => (typeof v === "number" || typeof v === "bigint") && Number(v) !== 0;
  if (nonZero(result.status)) return `status ${result.status}`;
  for (const [name, value] of Object.entries(result)) {
    if (value !== null && typeof value === "object" && !(value instanceof Uint8Array)) {
      const inner = (value as Record<string, unknown>).status;
      if (nonZero(inner)) return `${name}.status ${inner}`;
    }
  }
  return undefined;
}
