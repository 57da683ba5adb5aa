/**
 * The permessage-deflate codec on `node:zlib` (present on Node, Deno and
 * Bun): long-lived raw deflate and inflate streams per connection,
 * `Z_SYNC_FLUSH` after each message (RFC 7692 §7.2.1), so context takeover
 * and window sizes are honoured and no message ends in a final block.
 *
 * Input of up to {@linkcode SYNC_LIMIT} bytes is (de)compressed on the
 * calling thread, through the zlib binding under the stream (the call
 * `zlib.deflateRawSync` makes, without closing the stream afterwards): zlib
 * takes ~25 µs for a 1 KiB JSON message, and handing it to the thread pool
 * and back through the stream's events and callbacks cost the main thread
 * about as much again. Larger input goes to zlib's thread pool, one flush
 * per message, as in `ws`. Where a runtime's `node:zlib` lacks that binding
 * (checked once), everything takes the thread-pool path. `node:zlib` itself
 * is loaded with the first message.
 *
 * @module
 */
import type * as Zlib from "node:zlib";
import { concat } from "../_util/bytes.ts";
import { type Compression, withCodec } from "../deflate/compression_options.ts";
import type { DeflateCodec, RawDeflater, RawInflater } from "../deflate/deflate_codec.ts";

/** `zlib.constants.Z_SYNC_FLUSH` (zlib.h). */
const SYNC_FLUSH = 2;

/**
 * Most input bytes (a message to compress, a payload to inflate) handled on
 * the calling thread: compressing 16 KiB of JSON takes zlib ~0.4 ms, about
 * as long as one message should hold up the event loop.
 */
const SYNC_LIMIT = 16 * 1024;

// Loaded on the first message, so that a server or client without compression (and
// Deno's own server path) never loads the node:zlib compatibility module.
let zlib: typeof Zlib | undefined;
/** Whether this runtime's zlib streams expose a binding that passed {@linkcode probeSync}. */
let syncWorks = false;
let loading: Promise<unknown> | undefined;
function loadZlib(): Promise<unknown> {
  return loading ??= import("node:zlib").then((module) => {
    zlib = module;
    syncWorks = probeSync();
  });
}

/**
 * zlib's level 6 and 8-level hash memory on Node, as `ws` uses them. The
 * `node:zlib` of Deno and Bun runs on another deflate implementation, whose
 * level 6 compresses JSON traffic ~2 % worse than zlib's (1 KiB JSON
 * messages with context: 0.346 of the input against 0.338); its level 7
 * gives 0.337 for ~3 µs more per message.
 */
const LEVEL = "Deno" in globalThis || "Bun" in globalThis ? 7 : 6;
const MEM_LEVEL = 8;

/**
 * The zlib binding under a `node:zlib` stream, laid out alike by Node, Deno
 * and Bun: `writeSync` runs zlib once over the given input and output ranges
 * and leaves the space still free in each in the stream's `_writeState`
 * (output, input); on a zlib error it calls the binding's `onerror` before
 * it returns.
 */
interface ZlibBinding {
  writeSync(
    flush: number,
    input: Uint8Array,
    inputOffset: number,
    inputLength: number,
    output: Uint8Array,
    outputOffset: number,
    outputLength: number,
  ): void;
  onerror: (message: string, errno: number, code?: string) => void;
}

/** A stream's binding and the state array its `writeSync` fills. */
interface StreamInternals {
  binding: ZlibBinding;
  state: Uint32Array;
}

function internalsOf(stream: Zlib.DeflateRaw | Zlib.InflateRaw): StreamInternals | null {
  const inner = stream as unknown as { _handle?: ZlibBinding | null; _writeState?: unknown };
  const binding = inner._handle;
  const state = inner._writeState;
  return binding && typeof binding.writeSync === "function" && state instanceof Uint32Array
    ? { binding, state }
    : null;
}

/**
 * Output space of synchronous calls, shared by every stream in the process
 * (one call ends before the next starts); each call copies its output out.
 */
let scratch: Uint8Array | undefined;

/** A zlib error from a synchronous call (corrupt input). */
class ZlibError extends Error {
  /** zlib's code, e.g. `Z_DATA_ERROR`. */
  readonly code: string | undefined;

  constructor(message: string, code: string | undefined) {
    super(message);
    this.code = code;
  }
}

/** One zlib stream and the output of the call in progress. */
abstract class ZlibStream {
  #stream: Zlib.DeflateRaw | Zlib.InflateRaw | undefined;
  #internals: StreamInternals | null = null;
  #chunks: Uint8Array[] = [];
  #length = 0;
  #limit = Infinity;
  #ended = false;
  #syncError: ZlibError | undefined;
  #pending: { resolve: (out: Uint8Array | null) => void; reject: (e: unknown) => void } | undefined;

  protected abstract create(): Zlib.DeflateRaw | Zlib.InflateRaw;
  /** Flush twice before trusting the output (see run). */
  protected confirm = false;

  /** Writes `parts`, sync-flushes, and resolves with the output (`null` past `limit` bytes). */
  protected run(parts: Uint8Array[], limit: number): Promise<Uint8Array | null> {
    if (zlib === undefined) return loadZlib().then(() => this.run(parts, limit));
    // A peer's final block ends a zlib stream; its next message starts a new one.
    if (this.#ended) this.#drop();
    const stream = this.#stream ??= this.#open();
    this.#chunks = [];
    this.#length = 0;
    this.#limit = limit;
    return new Promise((resolve, reject) => {
      this.#pending = { resolve, reject };
      for (const part of parts) stream.write(part);
      const done = () => {
        const pending = this.#pending;
        if (pending === undefined || this.#stream !== stream) return;
        this.#pending = undefined;
        const chunks = this.#chunks;
        pending.resolve(chunks.length === 1 ? chunks[0] : concat(chunks, this.#length));
        this.#chunks = [];
      };
      // Deno 2.9's node:zlib calls back before it reports corrupt input, which surfaces only
      // with the next operation: a second, empty flush brings the error out first.
      stream.flush(SYNC_FLUSH, this.confirm ? () => stream.flush(SYNC_FLUSH, done) : done);
    });
  }

  /**
   * {@linkcode run} on the calling thread: the output (`null` past `limit`
   * bytes), or `undefined` when it cannot run here (zlib not loaded yet or
   * without the binding, a thread-pool call in progress, input over
   * {@linkcode SYNC_LIMIT}). Throws a `ZlibError` on corrupt input.
   */
  protected runSync(parts: Uint8Array[], limit: number): Uint8Array | null | undefined {
    if (!syncWorks || this.#pending !== undefined) return undefined;
    let size = 0;
    for (const part of parts) size += part.length;
    if (size > SYNC_LIMIT) return undefined;
    if (this.#ended) this.#drop();
    if (this.#stream === undefined) this.#stream = this.#open();
    const internals = this.#internals;
    if (internals === null) return undefined;
    const { binding, state } = internals;
    const out = scratch ??= new Uint8Array(64 * 1024);
    const chunks: Uint8Array[] = [];
    let total = 0;
    this.#syncError = undefined;
    for (const part of parts) {
      let offset = 0;
      let left = part.length;
      for (;;) {
        binding.writeSync(SYNC_FLUSH, part, offset, left, out, 0, out.length);
        const error = this.#syncError;
        if (error !== undefined) {
          this.#drop();
          throw error;
        }
        const produced = out.length - state[0];
        offset += left - state[1];
        left = state[1];
        if (produced > 0) {
          total += produced;
          if (total > limit) {
            // Stop inflating at once: the rest of a decompression bomb is never produced.
            this.#drop();
            return null;
          }
          chunks.push(out.slice(0, produced));
        }
        // A full output buffer: zlib has more to give for this input.
        if (state[0] === 0) continue;
        // Output space to spare while input remains: the stream ended at a final block.
        if (left > 0) this.#ended = true;
        break;
      }
      if (this.#ended) break;
    }
    return chunks.length === 1 ? chunks[0] : concat(chunks, total);
  }

  #open(): Zlib.DeflateRaw | Zlib.InflateRaw {
    const stream = this.create();
    this.#ended = false;
    this.#internals = syncWorks ? internalsOf(stream) : null;
    if (this.#internals !== null) {
      // The binding reports a zlib error through onerror: for writeSync before it returns, for
      // a thread-pool write instead of its callback. The stream's own handler (it destroys the
      // stream) runs afterwards when it is a plain function; under `bun test` it is an opaque
      // async-context wrapper, so this handler settles a thread-pool call itself.
      const binding = this.#internals.binding;
      const report: unknown = binding.onerror;
      binding.onerror = (message, errno, code) => {
        if (this.#stream === stream) {
          const error = new ZlibError(message, code);
          const pending = this.#pending;
          if (pending === undefined) this.#syncError = error;
          else {
            this.#pending = undefined;
            this.#drop();
            pending.reject(error);
          }
        }
        if (typeof report === "function") report.call(binding, message, errno, code);
      };
    }
    stream.on("data", (chunk: Uint8Array) => {
      if (this.#stream !== stream) return;
      this.#length += chunk.length;
      if (this.#length > this.#limit) {
        // Stop inflating at once: the rest of a decompression bomb is never produced.
        const pending = this.#pending;
        this.#pending = undefined;
        this.#drop();
        pending?.resolve(null);
        return;
      }
      // A plain Uint8Array view of zlib's Buffer (no copy): messages are never Buffers.
      this.#chunks.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    });
    stream.on("end", () => {
      if (this.#stream === stream) this.#ended = true;
    });
    stream.on("error", (error: Error) => {
      if (this.#stream !== stream) return;
      const pending = this.#pending;
      this.#pending = undefined;
      this.#drop();
      pending?.reject(error);
    });
    return stream;
  }

  #drop(): void {
    const stream = this.#stream;
    this.#stream = undefined;
    this.#internals = null;
    this.#chunks = [];
    if (stream !== undefined) {
      stream.removeAllListeners("data");
      stream.on("error", () => {});
      stream.close();
    }
  }

  reset(): void {
    if (this.#ended) this.#drop();
    else this.#stream?.reset();
  }

  close(): void {
    const pending = this.#pending;
    this.#pending = undefined;
    this.#drop();
    pending?.reject(new Error("The compression state was closed"));
  }
}

class ZlibDeflater extends ZlibStream implements RawDeflater {
  readonly #windowBits: number;

  constructor(windowBits: number) {
    super();
    this.#windowBits = windowBits;
  }

  protected create(): Zlib.DeflateRaw {
    return zlib!.createDeflateRaw({
      windowBits: this.#windowBits,
      memLevel: MEM_LEVEL,
      level: LEVEL,
    });
  }

  async deflate(data: Uint8Array): Promise<Uint8Array> {
    return (await this.run([data], Infinity))!;
  }

  deflateSync(data: Uint8Array): Uint8Array | undefined {
    return this.runSync([data], Infinity) ?? undefined;
  }
}

class ZlibInflater extends ZlibStream implements RawInflater {
  readonly #windowBits: number;

  constructor(windowBits: number) {
    super();
    this.#windowBits = windowBits;
    this.confirm = "Deno" in globalThis;
  }

  protected create(): Zlib.InflateRaw {
    return zlib!.createInflateRaw({ windowBits: this.#windowBits });
  }

  inflate(parts: Uint8Array[], maxSize: number): Promise<Uint8Array | null> {
    return this.run(parts, maxSize);
  }

  inflateSync(parts: Uint8Array[], maxSize: number): Uint8Array | null | undefined {
    return this.runSync(parts, maxSize);
  }
}

/**
 * Whether the synchronous path works on this runtime: a message survives a
 * round trip, ends with the sync-flush marker, and corrupt input throws.
 * Runs once, when `node:zlib` has loaded.
 */
function probeSync(): boolean {
  syncWorks = true;
  const deflater = new ZlibDeflater(15);
  const inflater = new ZlibInflater(15);
  const corrupt = new ZlibInflater(15);
  try {
    const sample = new TextEncoder().encode("permessage-deflate, permessage-deflate");
    const packed = deflater.deflateSync(sample);
    if (packed === undefined || packed.length < 4 || packed.at(-1) !== 0xff) return false;
    const back = inflater.inflateSync([packed], 1024);
    if (!back || back.length !== sample.length || back.some((b, i) => b !== sample[i])) {
      return false;
    }
    try {
      corrupt.inflateSync([new Uint8Array([0xff, 0xff, 0xff, 0xff])], 1024);
      return false;
    } catch (error) {
      return error instanceof ZlibError;
    }
  } catch {
    return false;
  } finally {
    deflater.close();
    inflater.close();
    corrupt.close();
  }
}

/**
 * The `node:zlib` codec.
 *
 * @example
 * ```ts
 * import { zlibCodec } from "./zlib_codec.ts";
 *
 * const deflater = zlibCodec.deflater(15);
 * const out = await deflater.deflate(new TextEncoder().encode("Hello"));
 * console.assert(out.at(-1) === 0xff); // ends with the sync-flush marker 00 00 ff ff
 * deflater.close();
 * ```
 */
export const zlibCodec: DeflateCodec = {
  deflater: (windowBits) => new ZlibDeflater(windowBits),
  inflater: (windowBits) => new ZlibInflater(windowBits),
};

/**
 * A `compression` option with the `node:zlib` codec filled in when the
 * caller chose none (an explicit `codec: null` keeps `CompressionStream`).
 *
 * @example
 * ```ts
 * import { withZlibCodec, zlibCodec } from "./zlib_codec.ts";
 *
 * const options = withZlibCodec(true);
 * console.assert(typeof options === "object" && options.codec === zlibCodec);
 * console.assert(withZlibCodec(false) === false);
 * ```
 */
export function withZlibCodec(compression: Compression | undefined): Compression | undefined {
  return withCodec(compression, zlibCodec);
}
