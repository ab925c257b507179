/**
 * Test support: the simulator socket the C library aims at is one process-wide variable; point
 * it somewhere for a block and put it back after.
 * @module
 */
import { SIM_SOCKET_ENV } from "../../abi/facts.ts";

/** Points the library at `path` until disposed (`using _ = useSocket(path)`). */
export function useSocket(path: string): Disposable {
  const before = Deno.env.get(SIM_SOCKET_ENV);
  Deno.env.set(SIM_SOCKET_ENV, path);
  return {
    [Symbol.dispose]: () =>
      before === undefined ? Deno.env.delete(SIM_SOCKET_ENV) : Deno.env.set(SIM_SOCKET_ENV, before),
  };
}
