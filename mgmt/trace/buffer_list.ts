/**
 * The recorder's buffer list (`$VMKMGMT_RECORD_SIG`, native/record/TRACE.md "Buffer lists"): for a
 * client that does not tell the library its pointer members (a vendor's C tool), which members of
 * which callbacks' parameters point at caller buffers, where, and how long they are — laid out
 * here, by the signature's own types, so the recorder in C never lays out a C type itself.
 *
 * @example
 * ```ts
 * import { bufferList } from "./buffer_list.ts";
 * import { acmeNvmeAdapter } from "../demo/acme_nvme.ts";
 * // Every adapter's API: names the driver makes up, all starting with "acmeNvme-".
 * const text = bufferList([{ signature: acmeNvmeAdapter("acmeNvme-x"), name: "acmeNvme-*" }]);
 * text.includes("acmeNvme-* acme 17 0 5 out 4096"); // identify's page, behind request.page (packed: at 5)
 * ```
 * @module
 */
import { signatureBufferFields } from "../buffer_fields.ts";
import type { Signature } from "../signature.ts";
import { TRACE_BUFFER_DIRECTIONS } from "./format.ts";

/** One signature in a list, and the API name (or `prefix*`) its lines match. */
export interface BufferListEntry {
  /** Whose callbacks' pointer members (`t.buffer`) become the list's lines. */
  readonly signature: Signature;
  /** The API name the recorder matches (default the signature's); a trailing `*` matches any name that starts with the rest. */
  readonly name?: string;
}

/**
 * The list's text: a line per pointer member (`API VENDOR CALLBACK PARAMETER OFFSET DIRECTION
 * LENGTH`, LENGTH a number of bytes or `@OFFSET:SIZE` of the member holding it).
 * @throws {RangeError} for a name of more than 31 characters or with a space.
 */
export function bufferList(entries: readonly BufferListEntry[]): string {
  const lines = [
    "# vmkmgmt-record buffer list (native/record/TRACE.md): pointer members the recorder follows",
    "# API VENDOR CALLBACK PARAMETER OFFSET in|out|inout LENGTH|@OFFSET:SIZE",
  ];
  for (const { signature, name = signature.name } of entries) {
    if (!/^[^\s]{1,32}$/.test(name) || name.replace(/\*$/, "").length > 31) {
      throw new RangeError(
        `API name ${JSON.stringify(name)}: 1 to 31 characters (then * for a prefix), no spaces`,
      );
    }
    for (const f of signatureBufferFields(signature)) {
      const length = typeof f.length === "number" ? `${f.length}` : `@${f.length.offset}:${f.length.size}`;
      lines.push(
        `${name} ${signature.vendor} ${f.callbackId} ${f.parm} ${f.offset} ${
          TRACE_BUFFER_DIRECTIONS[f.direction]
        } ${length}`,
      );
    }
  }
  return lines.join("\n") + "\n";
}
