/**
 * The permessage-deflate codec on `node:zlib` (present on Node, Deno and
 * Bun): long-lived raw deflate and inflate streams per connection,
 * `Z_SYNC_FLUSH` after each message (RFC 7692 §7.2.1), so context takeover
 * and window sizes are honoured and no message ends in a final block. The
 * work runs on zlib's thread pool, one flush per message, as in `ws`.
 * `node:zlib` itself is loaded with the first message.
 *
 * @module
 */
import type * as Zlib from "node:zlib";
import { concat } from "../_util/bytes.ts";
import { type Compression, withCodec } from "../deflate/compression_options.ts";
import type { DeflateCodec, RawDeflater, RawInflater } from "../deflate/deflate_codec.ts";

/** `zlib.constants.Z_SYNC_FLUSH` (zlib.h). */
const SYNC_FLUSH = 2;

// Loaded on the first message, so that a server or client without compression (and
// Deno's own server path) never loads the node:zlib compatibility module.
let zlib: typeof Zlib | undefined;
let loading: Promise<unknown> | undefined;
function loadZlib(): Promise<unknown> {
  return loading ??= import("node:zlib").then((module) => zlib = module);
}

/** zlib's defaults, as `ws` uses them: level 6, 8-level hash memory. */
const LEVEL = 6;
const MEM_LEVEL = 8;

/** One zlib stream and the output of the call in progress. */
abstract class ZlibStream {
  #stream: Zlib.DeflateRaw | Zlib.InflateRaw | undefined;
  #chunks: Uint8Array[] = [];
  #length = 0;
  #limit = Infinity;
  #ended = false;
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

  #open(): Zlib.DeflateRaw | Zlib.InflateRaw {
    const stream = this.create();
    this.#ended = false;
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
