/**
 * The demo signatures served by the simulator's demo modules: `acmeNicMgmt` (a NIC-like
 * driver), `acmeStorMgmt` (a storage adapter) and `acmeNvmeMgmt` (an NVMe-like driver with a
 * global API and one API per adapter, named at run time), with their payload types. Import them to try
 * the library, the REPL and the scripts without a real driver.
 *
 * @example
 * ```ts ignore
 * import { open } from "./mod.ts";
 * import { acmeNic } from "./demo.ts";
 * await using nic = await open(acmeNic);
 * console.log((await nic.invoke("getStats", { instance: "vmnic0" })).stats.mtu);
 * ```
 * @module
 */
export * from "./mgmt/demo/acme_nic.ts";
export * from "./mgmt/demo/acme_storage.ts";
export * from "./mgmt/demo/acme_nvme.ts";
