/**
 * Type-level views of a signature definition: what `invoke` takes and returns for a callback,
 * what an event carries, and which names are kernel callbacks or events. They make a wrong
 * callback name, parameter name or value type a compile error. Each is written out in full (no
 * helper aliases) so the public documentation shows what it means.
 * @module
 */
import type { Param } from "./params.ts";
import type { SignatureDef } from "./signature.ts";
import type { ValueOf } from "./types/type.ts";

/**
 * The named parameters `invoke` takes for callback definition `C` (vectorOut: capacity in
 * elements). An ioctl-style payload the kernel fills (`t.byCommand` in a vectorInOut or vectorOut)
 * may be left out: its command's layout, zeroed.
 */
export type InvokeParams<C> = C extends { readonly params: infer P } ?
    & {
      -readonly [
        K in keyof P as P[K] extends { readonly dir: "out" } ? never
          : P[K] extends
            { readonly dir: "vectorInOut" | "vectorOut"; readonly type: { readonly kind: "command" } } ? never
          : K
      ]: P[K] extends Param<infer D, infer T> ? D extends "in" | "inout" ? ValueOf<T>
        : D extends "vectorOut" ? number
        : T extends { readonly kind: "command" } ? ValueOf<T>
        : T extends { readonly name: "u8" } ? Uint8Array | number[]
        : ValueOf<T>[]
        : never;
    }
    & {
      -readonly [
        K in keyof P as P[K] extends
          { readonly dir: "vectorInOut" | "vectorOut"; readonly type: { readonly kind: "command" } } ? K
          : never
      ]?: P[K] extends Param<infer D, infer T> ? D extends "vectorOut" ? number : ValueOf<T> : never;
    }
  : Record<never, never>;

/** What `invoke` resolves to for callback definition `C`: out, inout and vector-out values. */
export type InvokeResult<C> = C extends { readonly params: infer P } ? {
    -readonly [K in keyof P as P[K] extends { readonly dir: "in" | "vectorIn" } ? never : K]: P[K] extends
      Param<infer D, infer T> ? D extends "out" | "inout" ? ValueOf<T>
      : T extends { readonly kind: "command" } ? ValueOf<T>
      : T extends { readonly name: "u8" } ? Uint8Array
      : ValueOf<T>[]
      : never;
  }
  : Record<never, never>;

/** The payload of user-location callback definition `C`, as an event carries it. */
export type EventParams<C> = C extends { readonly params: infer P } ? {
    -readonly [K in keyof P]: P[K] extends Param<infer D, infer T> ? D extends "in" ? ValueOf<T>
      : T extends { readonly kind: "command" } ? ValueOf<T>
      : T extends { readonly name: "u8" } ? Uint8Array
      : ValueOf<T>[]
      : never;
  }
  : Record<never, never>;

/** Names of the kernel-location callbacks of signature definition `D`. */
export type KernelCallbackName<D extends SignatureDef> = {
  [K in keyof D["callbacks"] & string]: D["callbacks"][K] extends { location: "user" } ? never : K;
}[keyof D["callbacks"] & string];

/** Names of the user-location callbacks (kernel events) of signature definition `D`. */
export type EventName<D extends SignatureDef> = {
  [K in keyof D["callbacks"] & string]: D["callbacks"][K] extends { location: "user" } ? K : never;
}[keyof D["callbacks"] & string];
