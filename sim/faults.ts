/**
 * Fault injection of the simulated kernel: per-instance failures, stalls and delays, applied to
 * the next calls of an API instance (or of every instance with `"*"`).
 * @module
 */

/** Faults waiting for the calls of one instance. */
export interface InstanceFaults {
  /** The errno failing calls return. */
  failErrno: number;
  /** Calls still to fail (Infinity: until cleared). */
  failCount: number;
  /** Good calls still to pass before failing starts. */
  failAfter: number;
  /** Calls still to stall. */
  stallCount: number;
  /** Delay of every reply, in ms. */
  delayMs: number;
}

/** What to do with one call. */
export type FaultAction =
  | { kind: "none"; delayMs: number }
  | { kind: "fail"; errno: number; delayMs: number }
  | { kind: "stall" };

/** A call held by a stall fault, released by {@link Faults.clear}. */
interface Stalled {
  session: number;
  release: () => void;
}

/** The fault table of one kernel. */
export class Faults {
  #table = new Map<string, InstanceFaults>();
  #stalled: Stalled[] = [];

  #key(api: string, instance: bigint | "*"): string {
    return `${api}/${instance}`;
  }

  #get(api: string, instance: bigint | "*"): InstanceFaults {
    const k = this.#key(api, instance);
    let f = this.#table.get(k);
    if (!f) {
      f = { failErrno: 0, failCount: 0, failAfter: 0, stallCount: 0, delayMs: 0 };
      this.#table.set(k, f);
    }
    return f;
  }

  /**
   * After `after` more calls succeed, the next `count` calls (Infinity: until cleared) to the
   * instance fail with `errno`.
   */
  fail(api: string, instance: bigint | "*", errno: number, count = 1, after = 0): void {
    if (!Number.isInteger(errno) || errno < 1 || errno > 4095) {
      throw new RangeError(`errno ${errno} is not 1..4095`);
    }
    checkCount(count);
    if (!Number.isInteger(after) || after < 0) {
      throw new RangeError(`after ${after} must be a whole number ≥ 0`);
    }
    const f = this.#get(api, instance);
    f.failErrno = errno;
    f.failCount = count;
    f.failAfter = after;
  }

  /** The next `count` calls to the instance are never answered until {@link clear}. */
  stall(api: string, instance: bigint | "*", count = 1): void {
    checkCount(count);
    this.#get(api, instance).stallCount = count;
  }

  /** Every reply from the instance is delayed by `ms` (0 removes the delay). */
  delay(api: string, instance: bigint | "*", ms: number): void {
    if (!Number.isFinite(ms) || ms < 0 || ms > 600_000) {
      throw new RangeError(`delay ${ms} ms is not 0..600000`);
    }
    this.#get(api, instance).delayMs = ms;
  }

  /** Decides the fate of one call, consuming one unit of a count fault. */
  take(api: string, instance: bigint): FaultAction {
    const specific = this.#table.get(this.#key(api, instance));
    const any = this.#table.get(this.#key(api, "*"));
    const delayMs = Math.max(specific?.delayMs ?? 0, any?.delayMs ?? 0);
    for (const f of [specific, any]) {
      if (f && f.stallCount > 0) {
        f.stallCount--;
        return { kind: "stall" };
      }
    }
    for (const f of [specific, any]) {
      if (f && f.failCount > 0) {
        if (f.failAfter > 0) {
          f.failAfter--;
          continue;
        }
        f.failCount--;
        return { kind: "fail", errno: f.failErrno, delayMs };
      }
    }
    return { kind: "none", delayMs };
  }

  /** Holds a stalled call; `release` runs it when the faults are cleared. */
  hold(session: number, release: () => void): void {
    this.#stalled.push({ session, release });
  }

  /** Forgets the stalled calls of a session that went away. */
  forgetSession(session: number): void {
    this.#stalled = this.#stalled.filter((s) => s.session !== session);
  }

  /** Removes every fault (of one API, or all) and lets stalled calls run. Returns how many ran. */
  clear(api?: string): number {
    for (const k of [...this.#table.keys()]) if (!api || k.startsWith(`${api}/`)) this.#table.delete(k);
    const stalled = this.#stalled;
    this.#stalled = [];
    for (const s of stalled) s.release();
    return stalled.length;
  }

  /** The faults in force, for `status`. */
  describe(): Record<string, InstanceFaults & { stalledCalls?: number }> {
    const out: Record<string, InstanceFaults> = {};
    for (const [k, f] of this.#table) {
      if (f.failCount || f.stallCount || f.delayMs) out[k] = { ...f };
    }
    return out;
  }

  /** Calls currently held by stall faults. */
  get stalledCalls(): number {
    return this.#stalled.length;
  }
}

function checkCount(count: number): void {
  if (!(count === Infinity || (Number.isInteger(count) && count >= 1))) {
    throw new RangeError(`count ${count} must be a whole number ≥ 1 (or Infinity)`);
  }
}
