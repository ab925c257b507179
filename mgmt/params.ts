/**
 * Parameter directions of the vmk_Mgmt ABI (`vmk_MgmtParmType`) and the `t` namespace that
 * combines them with the value types.
 *
 * @example
 * ```ts
 * import { t } from "./params.ts";
 * const mtu = t.in(t.u32);              // IN u32
 * const log = t.vectorOut(t.u8, { lengthFrom: "length" });
 * ```
 * @module
 */
import { t as types, type Type } from "./types.ts";

/** The six parameter directions; names follow `VMK_MGMT_PARMTYPE_*`. */
export type Direction = "in" | "out" | "inout" | "vectorIn" | "vectorOut" | "vectorInOut";

/** `vmk_MgmtParmType` numbers by direction. */
export const DIRECTION_CODE: Readonly<Record<Direction, number>> = {
  in: 0,
  out: 1,
  inout: 2,
  vectorIn: 3,
  vectorOut: 4,
  vectorInOut: 5,
};

/** Directions by `vmk_MgmtParmType` number. */
export const DIRECTION_BY_CODE: readonly Direction[] = [
  "in",
  "out",
  "inout",
  "vectorIn",
  "vectorOut",
  "vectorInOut",
];

/** A typed payload parameter. For vectors `type` is the element type. */
export interface Param<D extends Direction = Direction, T extends Type<unknown> = Type<unknown>> {
  /** Direction of the data. */
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

/** Options of vector parameters. */
export interface VectorOptions {
  /** See {@link Param.lengthFrom}. */
  lengthFrom?: string;
  /** A line of documentation. */
  doc?: string;
}

/** True for the directions whose data travel from user to kernel. */
export function sendsData(dir: Direction): boolean {
  return dir === "in" || dir === "inout" || dir === "vectorIn" || dir === "vectorInOut";
}

/** True for the directions whose data come back from the kernel. */
export function returnsData(dir: Direction): boolean {
  return dir === "out" || dir === "inout" || dir === "vectorOut" || dir === "vectorInOut";
}

/** True for vector directions (passed as a `vmk_MgmtVectorParm`). */
export function isVector(dir: Direction): boolean {
  return dir.startsWith("vector");
}

const param =
  <D extends Direction>(dir: D) => <T extends Type<unknown>>(type: T, options: VectorOptions = {}) => {
    if (!type || typeof type.encode !== "function") {
      throw new TypeError(`t.${dir}(…) needs a type such as t.u32, got ${String(type)}`);
    }
    return Object.freeze({ dir, type, ...options }) as Param<D, T>;
  };

/**
 * Value types plus parameter directions: `t.in`, `t.out`, `t.inout`, `t.vectorIn`,
 * `t.vectorOut`, `t.vectorInOut`.
 *
 * @example
 * ```ts
 * import { t } from "./params.ts";
 * const params = { mtu: t.in(t.u32), status: t.out(t.i32) };
 * ```
 */
export const t = {
  ...types,
  /** IN: copied to the kernel. */
  in: param("in"),
  /** OUT: filled by the kernel (sync kernel callbacks only). */
  out: param("out"),
  /** INOUT: copied to the kernel and back (sync kernel callbacks only). */
  inout: param("inout"),
  /** VECTOR_IN: a variable-length vector of `type` elements, copied to the kernel. */
  vectorIn: param("vectorIn"),
  /** VECTOR_OUT: a caller-sized vector the kernel fills (sync kernel callbacks only). */
  vectorOut: param("vectorOut"),
  /** VECTOR_INOUT: a vector copied to the kernel and back (sync kernel callbacks only). */
  vectorInOut: param("vectorInOut"),
};
