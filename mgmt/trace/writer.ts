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
import { ByteBuilder, concatBytes } from "../../util/bytes.ts";
import { crc32 } from "../../util/crc32.ts";
import { TRACE_HEADER_SIZE, TRACE_KIND, TRACE_MARKER, TRACE_VERSION } from "./format.ts";

const utf8 = new TextEncoder();

/** One record's payload, built field by field (little-endian, as TRACE.md says). */
export class RecordBuilder extends ByteBuilder {
  constructor() {
    super(256);
  }

  /** The record: header (marker, kind, length, CRC of the payload) and payload. */
  frame(kind: number): Uint8Array {
    const payload = this.written();
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
      const bytes = concatBytes(batch);
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
