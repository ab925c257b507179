/**
 * Test support: the variables the C library reads (the simulator socket, the host, the bridge,
 * ssh options) are process-wide; set some for a block and put every one back after.
 * @module
 */
import { SIM_SOCKET_ENV } from "../../abi/facts.ts";

/** Sets `vars` until disposed (`using _ = useEnv({...})`), then restores each (or unsets it). */
export function useEnv(vars: Record<string, string>): Disposable {
  const before = Object.entries(vars).map(([k]) => [k, Deno.env.get(k)] as const);
  for (const [k, v] of Object.entries(vars)) Deno.env.set(k, v);
  return {
    [Symbol.dispose]: () => {
      for (const [k, v] of before) v === undefined ? Deno.env.delete(k) : Deno.env.set(k, v);
    },
  };
}

/** Points the library at `path` until disposed (`using _ = useSocket(path)`). */
export function useSocket(path: string): Disposable {
  return useEnv({ [SIM_SOCKET_ENV]: path });
}
