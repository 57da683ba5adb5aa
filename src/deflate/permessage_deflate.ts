/**
 * The negotiated permessage-deflate extension of one connection: what the
 * channel calls around the engine's `compressed` events and
 * `send*(…, { compressed: true })`.
 *
 * @module
 */

import type { Role } from "../engine/frame.ts";
import { ProtocolError, WebSocketError } from "../engine/errors.ts";
import {
  type Compression,
  type CompressionOptions,
  resolveCompression,
} from "./compression_options.ts";
import { type CompressedMessage, compressMessageForm } from "./compress_message.ts";
import { type ConcurrencyLimiter, sharedLimiter } from "./concurrency_limiter.ts";
import {
  type DeflateCodec,
  endsWithSyncTail,
  type RawDeflater,
  type RawInflater,
} from "./deflate_codec.ts";
import { decompressMessage, WINDOW_SIZE } from "./decompress_message.ts";
import { acceptOffer, acceptResponse, createOffer, type DeflateParams } from "./deflate_params.ts";

/** Options of the {@linkcode PerMessageDeflate} constructor. */
export interface PerMessageDeflateOptions extends CompressionOptions {
  /** Our side of the connection. */
  role: Role;
  /** The agreed parameters; defaults to no parameters (15-bit windows, context takeover allowed). */
  params?: DeflateParams;
  /** Limiter to use instead of the process-wide one for `maxConcurrency`. */
  limiter?: ConcurrencyLimiter;
}

/** RFC 7692 §7.2.1: what a sync flush ends with, removed from the payload and added back to inflate. */
const SYNC_TAIL = new Uint8Array([0x00, 0x00, 0xff, 0xff]);

const NO_PARAMS: DeflateParams = {
  serverNoContextTakeover: false,
  clientNoContextTakeover: false,
  serverMaxWindowBits: 15,
  clientMaxWindowBits: 15,
};

/**
 * permessage-deflate state of one connection. Calls of `compress` complete
 * in call order, as do calls of `decompress` (which must also be made in the
 * order messages arrive: a peer that keeps context refers to earlier
 * messages). Asynchronous work runs under a process-wide
 * {@linkcode ConcurrencyLimiter}. With a `codec` (see
 * `CompressionOptions.codec`) both directions run through its long-lived
 * streams, sync-flushed per message, on the calling thread when the codec
 * offers that for the message and nothing is queued before it (see
 * {@linkcode PerMessageDeflate.encodeSync}); without one, through a fresh
 * `CompressionStream` / `DecompressionStream` per message.
 *
 * @example Server side
 * ```ts
 * import { PerMessageDeflate } from "./permessage_deflate.ts";
 *
 * const accepted = PerMessageDeflate.acceptOffer("permessage-deflate; client_max_window_bits", true);
 * if (accepted) {
 *   // send accepted.response as Sec-WebSocket-Extensions, then per message:
 *   const { data, compressed } = await accepted.deflate.encode(new TextEncoder().encode("x".repeat(2000)));
 *   console.assert(compressed && data.length < 100);
 *   const back = await accepted.deflate.decompress(data, { maxSize: 1 << 20 });
 *   console.assert(back.length === 2000);
 *   accepted.deflate.close();
 * }
 * ```
 */
export class PerMessageDeflate {
  /** Our side of the connection. */
  readonly role: Role;
  /** The agreed parameters. */
  readonly params: DeflateParams;
  /** Messages shorter than this are sent uncompressed. */
  readonly threshold: number;
  /**
   * Longest message we may compress: 2^N for an agreed window of N < 15 bits
   * for our direction (a fresh stream cannot refer back further than the
   * message's own start), otherwise unlimited.
   */
  readonly maxCompressSize: number;
  /**
   * The raw-deflate codec our side runs on (see `CompressionOptions.codec`),
   * `null` for the platform `CompressionStream`.
   */
  readonly codec: DeflateCodec | null;
  /** Longest message a payload compressed in a fresh 15-bit stream may carry to the peer. */
  readonly #sharedMaxSize: number;
  readonly #limiter: ConcurrencyLimiter;
  readonly #codec: DeflateCodec | null;
  /** Window bits of our compressor and the peer's, for the codec (zlib takes 9-15). */
  readonly #ownBits: number;
  readonly #peerBits: number;
  /** The codec's compressor forgets its window after each message. */
  readonly #resetOwn: boolean;
  #deflater: RawDeflater | undefined;
  #inflater: RawInflater | undefined;
  readonly #peerKeepsContext: boolean;
  readonly #peerKeepsOurContext: boolean;
  #window: Uint8Array | undefined;
  #sendChain: Promise<unknown> = Promise.resolve();
  #receiveChain: Promise<unknown> = Promise.resolve();
  /** Codec compressions / inflations queued or running on the chains: none → the codec is idle. */
  #sendQueued = 0;
  #receiveQueued = 0;
  #closed = false;

  /** @param options Role, agreed parameters and settings. */
  constructor(options: PerMessageDeflateOptions) {
    const resolved = resolveCompression({
      ...options,
      clientMaxWindowBits: undefined,
      serverMaxWindowBits: undefined,
    })!;
    this.role = options.role;
    this.params = { ...(options.params ?? NO_PARAMS) };
    this.threshold = resolved.threshold;
    this.#limiter = options.limiter ?? sharedLimiter(resolved.maxConcurrency);
    this.#codec = this.codec = options.codec ?? null;
    const ownBits = this.role === "server"
      ? this.params.serverMaxWindowBits
      : this.params.clientMaxWindowBits;
    const peerBits = this.role === "server"
      ? this.params.clientMaxWindowBits
      : this.params.serverMaxWindowBits;
    this.#ownBits = Math.max(9, ownBits);
    // A fresh stream refers back at most to the start of its message: within 2^N bytes for
    // a message of at most 2^N bytes, whatever window it was compressed with.
    this.#sharedMaxSize = ownBits >= 15 ? Infinity : 2 ** ownBits;
    this.#peerBits = Math.max(9, peerBits);
    // A fresh stream (no codec), or zlib asked for a window of 8, which it cannot make:
    // only a message of at most 2^N bytes is sure not to refer further back.
    this.maxCompressSize = ownBits >= 15 || (this.#codec !== null && ownBits >= 9)
      ? Infinity
      : 2 ** ownBits;
    const ownNoContext = this.role === "server"
      ? this.params.serverNoContextTakeover
      : this.params.clientNoContextTakeover;
    this.#resetOwn = ownNoContext || ownBits < 9;
    // RFC 7692 §7.2.2: without "*_no_context_takeover" for the peer's direction
    // we "MUST decompress each new message using the LZ77 sliding window used
    // to process the last compressed message".
    this.#peerKeepsContext = this.role === "server"
      ? !this.params.clientNoContextTakeover
      : !this.params.serverNoContextTakeover;
    // Without "*_no_context_takeover" for OUR direction the peer may inflate
    // all our messages in one long-lived stream, which ends at a BFINAL block
    // (zlib and Python's decompressobj do): such payloads go uncompressed.
    this.#peerKeepsOurContext = this.role === "server"
      ? !this.params.serverNoContextTakeover
      : !this.params.clientNoContextTakeover;
  }

  /** Whether a message of `byteLength` bytes should be compressed. */
  shouldCompress(byteLength: number): boolean {
    return byteLength >= this.threshold && byteLength <= this.maxCompressSize;
  }

  /** Compresses one whole message into an RFC 7692 payload (send it with RSV1). */
  async compress(data: Uint8Array): Promise<Uint8Array> {
    return (await this.#compressForm(data)).payload;
  }

  #compressForm(data: Uint8Array, mayFallBack = false): Promise<CompressedMessage> {
    if (this.#closed) return Promise.reject(closedError());
    if (this.#codec !== null) this.#sendQueued++;
    const result = this.#sendChain.then(() =>
      this.#limiter.run(() =>
        this.#codec === null ? compressMessageForm(data) : this.#codecCompress(data, mayFallBack)
      )
    );
    this.#sendChain = result.catch(() => {});
    return result;
  }

  async #codecCompress(data: Uint8Array, mayFallBack: boolean): Promise<CompressedMessage> {
    try {
      if (this.#closed) throw closedError();
      const deflater = this.#deflater ??= this.#codec!.deflater(this.#ownBits);
      const out = await deflater.deflate(data);
      return { payload: this.#deflated(deflater, data, out, mayFallBack), final: false };
    } finally {
      this.#sendQueued--;
    }
  }

  /** The payload in the codec's output `out` for `data`; resets the window when it must forget. */
  #deflated(deflater: RawDeflater, data: Uint8Array, out: Uint8Array, mayFallBack: boolean) {
    // RFC 7692 §7.2.1: "Remove 4 octets (that are 0x00 0x00 0xff 0xff) from the tail end."
    const payload = endsWithSyncTail(out) ? out.subarray(0, out.length - 4) : out;
    // A message that goes out uncompressed never reaches the peer's window: ours must
    // forget it too, before the next message is compressed.
    if (this.#resetOwn || (mayFallBack && payload.length >= data.length)) deflater.reset();
    return payload;
  }

  /**
   * {@linkcode PerMessageDeflate.encode} without a promise, when the codec
   * can compress on the calling thread and nothing is queued before this
   * message; `undefined` otherwise (then call `encode`, which keeps the
   * order). Below the threshold it answers `{ data, compressed: false }`.
   * Throws `WS_INVALID_STATE` after `close()`.
   */
  encodeSync(data: Uint8Array): { data: Uint8Array; compressed: boolean } | undefined {
    if (!this.shouldCompress(data.length)) return { data, compressed: false };
    if (this.#closed) throw closedError();
    if (this.#codec === null || this.#sendQueued > 0) return undefined;
    const deflater = this.#deflater ??= this.#codec.deflater(this.#ownBits);
    const out = deflater.deflateSync?.(data);
    if (out === undefined) return undefined;
    const payload = this.#deflated(deflater, data, out, true);
    return payload.length < data.length
      ? { data: payload, compressed: true }
      : { data, compressed: false };
  }

  /**
   * Applies the threshold and the window rule, compresses, and falls back to
   * the original bytes when compression does not make them smaller, or when
   * the payload ends in a BFINAL block and the peer may keep our context.
   */
  encode(data: Uint8Array): Promise<{ data: Uint8Array; compressed: boolean }> {
    let done: { data: Uint8Array; compressed: boolean } | undefined;
    try {
      done = this.encodeSync(data);
    } catch (error) {
      return Promise.reject(error);
    }
    return done !== undefined ? Promise.resolve(done) : this.#encodeLater(data);
  }

  async #encodeLater(data: Uint8Array): Promise<{ data: Uint8Array; compressed: boolean }> {
    const { payload, final } = await this.#compressForm(data, true);
    if (final && this.#peerKeepsOurContext) return { data, compressed: false };
    return payload.length < data.length
      ? { data: payload, compressed: true }
      : { data, compressed: false };
  }

  /**
   * Whether a payload compressed once for many connections (see
   * `compressMessageForm`) may replace `originalLength` bytes on this one:
   * the same rules as {@linkcode PerMessageDeflate.encode}, without compressing.
   */
  usesShared(originalLength: number, compressed: { length: number; final: boolean }): boolean {
    if (!this.shouldCompress(originalLength)) return false;
    // It was compressed with a 15-bit window; the peer may hold only the 2^N it asked for.
    if (originalLength > this.#sharedMaxSize) return false;
    // The shared payload would have to enter our compressor's window, which it never saw.
    if (this.#codec !== null && !this.#resetOwn) return false;
    if (compressed.final && this.#peerKeepsOurContext) return false;
    return compressed.length < originalLength;
  }

  /**
   * Inflates one compressed (RSV1) message. Rejects with `ProtocolError`
   * 1009 past `maxSize` inflated bytes, 1007 on invalid data.
   */
  decompress(payload: Uint8Array, options: { maxSize?: number } = {}): Promise<Uint8Array> {
    try {
      const out = this.decompressSync(payload, options);
      if (out !== undefined) return Promise.resolve(out);
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.#codec !== null) this.#receiveQueued++;
    const result = this.#receiveChain.then(() =>
      this.#limiter.run(async () => {
        if (this.#codec !== null) return await this.#codecDecompress(payload, options.maxSize);
        const out = await decompressMessage(payload, {
          maxSize: options.maxSize,
          dictionary: this.#window,
        });
        if (this.#peerKeepsContext && !this.#closed) this.#remember(out);
        return out;
      })
    );
    this.#receiveChain = result.catch(() => {});
    return result;
  }

  /**
   * {@linkcode PerMessageDeflate.decompress} without a promise, when the
   * codec can inflate on the calling thread and no message is queued before
   * this one; `undefined` otherwise (then call `decompress`). Throws the
   * same `ProtocolError`s (1009 past `maxSize`, 1007 on invalid data).
   */
  decompressSync(payload: Uint8Array, options: { maxSize?: number } = {}): Uint8Array | undefined {
    if (this.#closed) throw closedError();
    if (this.#codec === null || this.#receiveQueued > 0) return undefined;
    const inflater = this.#inflater ??= this.#codec.inflater(this.#peerBits);
    const maxSize = options.maxSize ?? Infinity;
    let out: Uint8Array | null | undefined;
    try {
      // RFC 7692 §7.2.2: "Append 4 octets of 0x00 0x00 0xff 0xff to the tail end of the payload".
      out = inflater.inflateSync?.([payload, SYNC_TAIL], maxSize);
    } catch (error) {
      throw invalidData(error);
    }
    return out === undefined ? undefined : this.#inflated(inflater, out, maxSize);
  }

  async #codecDecompress(payload: Uint8Array, maxSize = Infinity): Promise<Uint8Array> {
    try {
      if (this.#closed) throw closedError();
      const inflater = this.#inflater ??= this.#codec!.inflater(this.#peerBits);
      let out: Uint8Array | null;
      try {
        out = await inflater.inflate([payload, SYNC_TAIL], maxSize);
      } catch (error) {
        throw invalidData(error);
      }
      return this.#inflated(inflater, out, maxSize);
    } finally {
      this.#receiveQueued--;
    }
  }

  /** The message in the codec's output `out`: 1009 for `null`; resets a window the peer resets. */
  #inflated(inflater: RawInflater, out: Uint8Array | null, maxSize: number): Uint8Array {
    if (out === null) {
      throw new ProtocolError(
        "WS_MESSAGE_TOO_BIG",
        `Inflated message exceeds the limit of ${maxSize} bytes`,
        1009,
      );
    }
    if (!this.#peerKeepsContext) inflater.reset();
    return out;
  }

  /** Drops the kept window and the codec's streams; later calls reject with `WS_INVALID_STATE`. */
  close(): void {
    this.#closed = true;
    this.#window = undefined;
    this.#deflater?.close();
    this.#inflater?.close();
    this.#deflater = this.#inflater = undefined;
  }

  #remember(out: Uint8Array): void {
    if (out.length >= WINDOW_SIZE) {
      this.#window = out.slice(out.length - WINDOW_SIZE);
      return;
    }
    const old = this.#window;
    const keep = old === undefined ? 0 : Math.min(old.length, WINDOW_SIZE - out.length);
    const window = new Uint8Array(keep + out.length);
    if (keep > 0) window.set(old!.subarray(old!.length - keep));
    window.set(out, keep);
    this.#window = window;
  }

  /** The client's request header value, or `""` when `compression` is off. */
  static createOffer(compression: Compression | undefined): string {
    const options = resolveCompression(compression);
    return options === null ? "" : createOffer(options);
  }

  /**
   * Server side: the response header value and the connection's deflate
   * object, or `null` to go on without compression. Never throws on peer input.
   */
  static acceptOffer(
    header: string | null | undefined,
    compression: Compression | undefined,
  ): { response: string; params: DeflateParams; deflate: PerMessageDeflate } | null {
    const options = resolveCompression(compression);
    if (options === null || typeof header !== "string") return null;
    const accepted = acceptOffer(header, options);
    if (accepted === null) return null;
    return {
      ...accepted,
      deflate: new PerMessageDeflate({ ...options, role: "server", params: accepted.params }),
    };
  }

  /**
   * Client side: the connection's deflate object, or `null` when the server
   * declined. Throws `ProtocolError` 1010 (`WS_DEFLATE_NEGOTIATION`) on a
   * response that does not accept one of our offers.
   */
  static acceptResponse(
    header: string | null | undefined,
    compression: Compression | undefined,
  ): PerMessageDeflate | null {
    const options = resolveCompression(compression);
    if (options === null) {
      if (header === null || header === undefined || header.trim() === "") return null;
      // We offered nothing, so any extension in the response was not offered.
      throw new ProtocolError(
        "WS_DEFLATE_NEGOTIATION",
        "Server accepted an extension that was not offered",
        1010,
      );
    }
    const params = acceptResponse(header, options);
    return params === null ? null : new PerMessageDeflate({ ...options, role: "client", params });
  }
}

/** The error for a codec's failure to inflate: 1007, unless it already is a `WebSocketError`. */
function invalidData(error: unknown): WebSocketError {
  if (error instanceof WebSocketError) return error;
  // RFC 6455 §7.4.1: 1007 = "data within a message that was not consistent with the type
  // of the message"; ws uses it for corrupt deflate data too.
  return new ProtocolError(
    "WS_INVALID_COMPRESSED_DATA",
    `Invalid compressed message: ${error instanceof Error ? error.message : String(error)}`,
    1007,
  );
}

function closedError(): WebSocketError {
  return new WebSocketError("WS_INVALID_STATE", "permessage-deflate state is closed");
}
