/**
 * Where a parameter's caller buffers are: every pointer member declared with `t.buffer`, found
 * through nested structs, anonymous members and arrays, with its direction and where its length
 * comes from. The library sends this list in HELLO, so a bridge can copy each buffer into its
 * own memory and re-point the member for a real kernel's `vmk_CopyFromUser`/`vmk_CopyToUser`.
 * @module
 */
import type { CBufferField } from "../ffi/layout.ts";
import type { Signature } from "./signature.ts";
import type { ArrayType } from "./types/array.ts";
import type { PointerType } from "./types/pointer.ts";
import { isRecord, type RecordType } from "./types/record.ts";
import type { Type } from "./types/type.ts";

/** One pointer member to a caller buffer, placed in its parameter (or in each vector element). */
export interface BufferField {
  /** Offset of the 8-byte pointer. */
  readonly offset: number;
  /** Which way the buffer's bytes go. */
  readonly dir: "in" | "out" | "inout";
  /** A fixed length in bytes, or the unsigned member holding it (offset and size in bytes). */
  readonly length: number | { readonly offset: number; readonly size: 1 | 2 | 4 | 8 };
}

/**
 * The buffer fields of `type` placed at `base`. Pointers inside a union are left out: which arm
 * is live is known only to the driver, and re-pointing bytes of another arm would corrupt them.
 */
export function bufferFieldsOf(type: Type<unknown>, base = 0): BufferField[] {
  const inner = (type as { inner?: Type<unknown> }).inner;
  if (inner) return bufferFieldsOf(inner, base);
  if (type.kind === "array") {
    const a = type as ArrayType<unknown>;
    const one = bufferFieldsOf(a.element, 0);
    if (one.length === 0) return [];
    return Array.from({ length: a.length }, (_, i) => shift(one, base + i * a.element.size)).flat();
  }
  if (type.kind !== "struct" || !isRecord(type)) return [];
  return recordFields(type, base);
}

function recordFields(record: RecordType<unknown>, base: number): BufferField[] {
  const out: BufferField[] = [];
  for (const m of record.members) {
    if (m.unnamed || m.bitWidth !== undefined) continue;
    if (m.anonymous) {
      if (m.type.kind === "struct") out.push(...recordFields(m.type as RecordType<unknown>, base + m.offset));
      continue;
    }
    const spec = (m.type as PointerType).buffer;
    if (m.type.kind === "pointer" && spec) {
      out.push({
        offset: base + m.offset,
        dir: spec.dir,
        length: spec.length ?? lengthMember(record, spec, base),
      });
      continue;
    }
    out.push(...bufferFieldsOf(m.type, base + m.offset));
  }
  return out;
}

function lengthMember(
  record: RecordType<unknown>,
  spec: NonNullable<PointerType["buffer"]>,
  base: number,
): { offset: number; size: 1 | 2 | 4 | 8 } {
  const f = record.fields.find((x) => x.name === spec.lengthFrom);
  // defineSignature has checked that lengthFrom names a whole integer member of this struct.
  if (!f || f.bitWidth !== undefined || ![1, 2, 4, 8].includes(f.type.size)) {
    throw new RangeError(`lengthFrom ${spec.lengthFrom}: not a whole integer member of ${record.name}`);
  }
  return { offset: base + f.offset, size: f.type.size as 1 | 2 | 4 | 8 };
}

function shift(fields: BufferField[], by: number): BufferField[] {
  return fields.map((f) => ({
    ...f,
    offset: f.offset + by,
    length: typeof f.length === "number" ? f.length : { ...f.length, offset: f.length.offset + by },
  }));
}

const DIRECTION = { in: 1, out: 2, inout: 3 } as const;

/** Every buffer field of a signature's kernel callbacks, in the C form HELLO carries. */
export function signatureBufferFields(sig: Signature): CBufferField[] {
  const out: CBufferField[] = [];
  for (const c of sig.list) {
    if (c.location !== "kernel") continue;
    c.params.forEach((p, parm) => {
      for (const f of bufferFieldsOf(p.type)) {
        out.push({
          callbackId: BigInt(c.id),
          parm,
          offset: f.offset,
          direction: DIRECTION[f.dir],
          length: f.length,
        });
      }
    });
  }
  return out;
}
