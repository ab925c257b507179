/**
 * Writes a vmk_Mgmt trace (native/record/TRACE.md) from TypeScript: the same records the recorder
 * (`libvmkmgmt-record.so`) writes, for a program that records its own sessions without being
 * started under `LD_PRELOAD` (the REPL's `record FILE`, `startRecording()`).
 *
 * What it gives up against the recorder: records are gathered in memory and written by one write
 * per turn of the event loop, so a process killed outright loses the records of its last turn (a
 * stop or a normal exit writes them all); a write that fails ends the recording, and says why.
 * @module
 */
import { NAME_SIZE } from "../../abi/facts.ts";
import { crc32 } from "../../util/crc32.ts";
import { TRACE_HEADER_SIZE, TRACE_KIND, TRACE_MARKER, TRACE_VERSION } from "./format.ts";

const utf8 = new TextEncoder();

/** One record's payload, built field by field (little-endian, as TRACE.md says). */
export class RecordBuilder {
  #bytes = new Uint8Array(256);
  #view = new DataView(this.#bytes.buffer);
  #length = 0;

  /** Room for n more bytes; where they go. (Call it before reading #view or #bytes: it may replace them.) */
  #room(n: number): number {
    if (this.#length + n > this.#bytes.length) {
      const grown = new Uint8Array(Math.max(this.#bytes.length * 2, this.#length + n));
      grown.set(this.#bytes.subarray(0, this.#length));
      this.#bytes = grown;
      this.#view = new DataView(grown.buffer);
    }
    const at = this.#length;
    this.#length += n;
    return at;
  }
  /** Appends a byte. */
  u8(v: number): this {
    const at = this.#room(1);
    this.#view.setUint8(at, v);
    return this;
  }
  /** Appends a 16-bit unsigned integer. */
  u16(v: number): this {
    const at = this.#room(2);
    this.#view.setUint16(at, v, true);
    return this;
  }
  /** Appends a 32-bit unsigned integer (a negative one as its two's complement: a status). */
  u32(v: number): this {
    const at = this.#room(4);
    this.#view.setUint32(at, v >>> 0, true);
    return this;
  }
  /** Appends a 64-bit unsigned integer. */
  u64(v: bigint | number): this {
    const at = this.#room(8);
    this.#view.setBigUint64(at, BigInt(v), true);
    return this;
  }
  /** Appends bytes. */
  bytes(b: Uint8Array): this {
    const at = this.#room(b.length);
    this.#bytes.set(b, at);
    return this;
  }
  /** Appends a `name[32]`: the text, NUL-padded (cut at 31 bytes). */
  name(text: string): this {
    const b = new Uint8Array(NAME_SIZE);
    b.set(utf8.encode(text).subarray(0, NAME_SIZE - 1));
    return this.bytes(b);
  }
  /** The record: header (marker, kind, length, CRC of the payload) and payload. */
  frame(kind: number): Uint8Array {
    const payload = this.#bytes.subarray(0, this.#length);
    const out = new Uint8Array(TRACE_HEADER_SIZE + payload.length);
    const v = new DataView(out.buffer);
    v.setUint32(0, TRACE_MARKER, true);
    v.setUint16(4, kind, true);
    v.setUint32(8, payload.length, true);
    v.setUint32(12, crc32(payload), true);
    out.set(payload, TRACE_HEADER_SIZE);
    return out;
  }
}

/** A trace file being written: records go out in order, once per turn of the event loop. */
export class TraceWriter {
  readonly #file: Deno.FsFile;
  readonly #start = performance.now();
  #pending: Uint8Array[] = [];
  #flushing: Promise<void> | null = null;
  #written = 0;
  #closed = false;
  /** Why writing stopped, once a write failed. */
  error?: Error;

  private constructor(file: Deno.FsFile, readonly path: string) {
    this.#file = file;
  }

  /**
   * Opens `path` for appending (made with mode 0600 when new: a trace holds what the program sent)
   * and writes START.
   * @throws {Deno.errors.NotFound}, {Deno.errors.PermissionDenied} and the other errors of `Deno.open`.
   */
  static async create(path: string): Promise<TraceWriter> {
    const file = await Deno.open(path, { append: true, create: true, mode: 0o600 });
    const w = new TraceWriter(file, path);
    const program = utf8.encode([Deno.execPath(), ...Deno.args].join("\0"));
    w.add(
      new RecordBuilder().u32(TRACE_VERSION).u32(Deno.pid).u64(BigInt(Date.now()) * 1_000_000n).u64(0)
        .u32(program.length).bytes(program).frame(TRACE_KIND.start),
    );
    return w;
  }

  /** Nanoseconds since the recording started. */
  now(): number {
    return Math.round((performance.now() - this.#start) * 1e6);
  }

  /** Records written so far (START included). */
  get records(): number {
    return this.#written + this.#pending.length;
  }

  /** Queues a whole record (from {@link RecordBuilder.frame}); dropped once writing has failed. */
  add(record: Uint8Array): void {
    if (this.#closed || this.error) return;
    this.#pending.push(record);
    this.#flushing ??= new Promise<void>((resolve) => setTimeout(resolve, 0)).then(() => this.#flush());
  }

  async #flush(): Promise<void> {
    while (this.#pending.length && !this.error) {
      const batch = this.#pending;
      this.#pending = [];
      const size = batch.reduce((n, r) => n + r.length, 0);
      const bytes = new Uint8Array(size);
      let at = 0;
      for (const r of batch) bytes.set(r, at), at += r.length;
      try {
        for (let done = 0; done < bytes.length;) done += await this.#file.write(bytes.subarray(done));
        this.#written += batch.length;
      } catch (e) {
        this.error = e as Error;
      }
    }
    this.#flushing = null;
  }

  /**
   * Writes END and what is pending, and closes the file.
   * @throws {Error} the write that failed, when one did (the trace holds the records before it).
   */
  async close(): Promise<{ records: number }> {
    if (this.#closed) return { records: this.#written };
    this.add(
      new RecordBuilder().u64(this.now()).u64(this.records).u64(0).u64(0).frame(TRACE_KIND.end),
    );
    this.#closed = true;
    await this.#flushing;
    if (this.#pending.length) await this.#flush();
    this.#file.close();
    if (this.error) throw this.error;
    return { records: this.#written };
  }
}
