/**
 * Payload parameters: a direction of the ABI (`vmk_MgmtParmType`) combined with a value type.
 *
 * @example
 * ```ts
 * import { param } from "./params.ts";
 * import { u32 } from "./types/int.ts";
 * const mtu = param("in")(u32); // IN u32
 * ```
 * @module
 */
import type { Direction } from "../abi/facts.ts";
import type { Type } from "./types/type.ts";

/** A typed payload parameter. For vectors `type` is the element type. */
export interface Param<D extends Direction = Direction, T extends Type<unknown> = Type<unknown>> {
  /** Which way the bytes go: `in`, `out`, `inout`, or a `vector*` form sized per call. */
  readonly dir: D;
  /** Value type, or element type for vectors. */
  readonly type: T;
  /**
   * For `vectorOut`/`vectorInOut`: the name of an `out`/`inout` integer parameter of the same
   * callback holding how many elements the kernel wrote; the returned vector is cut to it.
   */
  readonly lengthFrom?: string;
  /** A line of documentation shown by `describe`. */
  readonly doc?: string;
}

/** Options of a parameter (`lengthFrom` only for vector-out directions). */
export interface ParamOptions {
  /** See {@link Param.lengthFrom}. */
  lengthFrom?: string;
  /** A line of documentation. */
  doc?: string;
}

/** Makes parameters of one direction: `t.in(t.u32)`, `t.vectorOut(t.u8, { lengthFrom: "n" })`. */
export type ParamMaker<D extends Direction> = <T extends Type<unknown>>(
  type: T,
  options?: ParamOptions,
) => Param<D, T>;

/**
 * The constructor of parameters of direction `dir`, e.g. `param("in")(t.u32)`; it throws a
 * `TypeError` when given something that is not a type.
 */
export function param<D extends Direction>(dir: D): ParamMaker<D> {
  return <T extends Type<unknown>>(type: T, options: ParamOptions = {}) => {
    if (!type || typeof type.encode !== "function") {
      throw new TypeError(`t.${dir}(…) needs a type such as t.u32, got ${String(type)}`);
    }
    return Object.freeze({ dir, type, ...options }) as Param<D, T>;
  };
}
