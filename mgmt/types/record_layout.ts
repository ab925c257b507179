/**
 * Where GCC puts each member of a struct or union on x86_64 (System V, non-MS bitfields): the one
 * place that knows the rules for natural alignment, `__attribute__((packed))` on the record or a
 * field, `__attribute__((aligned(n)))` on the record or a field, `#pragma pack(n)`, and bitfields
 * (storage units of the declared type, straddling when packed, `: 0`, unnamed fields). Pure
 * arithmetic in bits; the differential test (`test/types_diff_test.ts`) holds it to the compiler.
 * @module
 */

/** One member as the layout sees it: the declared type's size and alignment, and its attributes. */
export interface LayoutMember {
  /** `sizeof` of the declared type, in bytes. */
  readonly size: number;
  /** `_Alignof` of the declared type, in bytes. */
  readonly align: number;
  /** Bitfields: the width in bits (0 for `: 0`). Absent for an ordinary member. */
  readonly width?: number;
  /** False for an unnamed bitfield (padding). */
  readonly named: boolean;
  /** `__attribute__((packed))` on this member. */
  readonly packed?: boolean;
  /** `__attribute__((aligned(n)))` on this member, in bytes. */
  readonly aligned?: number;
}

/** What the record says about itself. */
export interface RecordAttributes {
  /** A union (every member at offset 0) rather than a struct. */
  readonly union?: boolean;
  /** `__attribute__((packed))` on the record. */
  readonly packed?: boolean;
  /** `#pragma pack(n)` in effect where the record is declared, in bytes. */
  readonly pack?: number;
  /** `__attribute__((aligned(n)))` on the record, in bytes. */
  readonly aligned?: number;
}

/** The computed layout: each member's first bit (in declaration order), the record's size and alignment. */
export interface RecordLayout {
  /** The bit offset of each member from the start of the record. */
  readonly bitOffsets: readonly number[];
  /** `sizeof` of the record, in bytes. */
  readonly size: number;
  /** `_Alignof` of the record, in bytes. */
  readonly align: number;
}

/** The alignments GCC accepts in `aligned(n)` and `pack(n)`. */
export function isAlignment(n: unknown): n is number {
  return typeof n === "number" && Number.isInteger(n) && n >= 1 && n <= 1 << 28 && (n & (n - 1)) === 0;
}

const alignTo = (bits: number, to: number) => Math.ceil(bits / to) * to;

/**
 * Lays out `members` as GCC does on x86_64.
 * @throws {RangeError} a bitfield wider than its declared type (callers check earlier, with names).
 */
export function layoutRecord(members: readonly LayoutMember[], attrs: RecordAttributes): RecordLayout {
  const maxFieldAlign = attrs.pack === undefined ? undefined : attrs.pack * 8;
  let used = 0; // the first free bit of a struct; the largest member of a union
  let recordAlign = 8;
  const bitOffsets: number[] = [];
  for (const m of members) {
    const typeSize = m.size * 8;
    const typeAlign = m.align * 8;
    const packed = attrs.packed === true || m.packed === true;
    const first = attrs.union ? 0 : used;
    let fieldAlign: number;
    let inherited: number;
    if (m.width === undefined) {
      // Packing drops the type's alignment; aligned(n) raises it again; #pragma pack caps both.
      fieldAlign = packed ? 8 : typeAlign;
      if (m.aligned !== undefined) fieldAlign = Math.max(fieldAlign, m.aligned * 8);
      if (maxFieldAlign !== undefined) fieldAlign = Math.min(fieldAlign, maxFieldAlign);
      inherited = fieldAlign;
      const offset = alignTo(first, fieldAlign);
      bitOffsets.push(offset);
      used = Math.max(used, offset + typeSize);
    } else {
      if (m.width > typeSize) {
        throw new RangeError(`a bitfield of ${m.width} bits exceeds its ${typeSize}-bit type`);
      }
      const annotation = m.aligned === undefined ? 1 : m.aligned * 8;
      if (m.width === 0) {
        // `: 0` moves to the next unit of its type, whatever the packing.
        fieldAlign = Math.max(typeAlign, annotation);
        inherited = fieldAlign;
      } else {
        fieldAlign = maxFieldAlign === undefined ? annotation : Math.min(annotation, maxFieldAlign);
        if (!packed && maxFieldAlign === undefined) {
          // Unpacked, a bitfield never straddles a storage unit of its declared type.
          const start = alignTo(first, fieldAlign);
          if (typeAlign > typeSize || (start % typeAlign) + m.width > typeSize) {
            fieldAlign = Math.max(fieldAlign, typeAlign);
          }
        }
        if (maxFieldAlign !== undefined) inherited = Math.min(Math.max(typeAlign, annotation), maxFieldAlign);
        else if (packed) inherited = annotation;
        else inherited = Math.max(typeAlign, annotation);
      }
      const offset = alignTo(first, fieldAlign);
      bitOffsets.push(offset);
      used = Math.max(used, offset + m.width);
    }
    // Unnamed bitfields do not make the record more aligned on x86_64.
    if (m.named) recordAlign = Math.max(recordAlign, inherited);
  }
  if (attrs.aligned !== undefined) recordAlign = Math.max(recordAlign, attrs.aligned * 8);
  return { bitOffsets, size: alignTo(used, recordAlign) / 8, align: recordAlign / 8 };
}
