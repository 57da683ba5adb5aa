/**
 * What a runtime adapter supplies to compress with context: a raw-deflate
 * codec that can sync-flush (RFC 7692 §7.2.1) and keep its LZ77 window from
 * one message to the next. The deflate layer stays free of runtime globals;
 * the Node, Deno and Bun adapters pass one built on `node:zlib`
 * (src/adapters/zlib_codec.ts). Without one, messages are compressed with
 * the platform `CompressionStream`, a fresh stream per message.
 *
 * @module
 */

/**
 * Compresses one direction of a connection, keeping context between calls
 * until {@linkcode RawDeflater.reset}.
 *
 * @example
 * ```ts ignore
 * import type { RawDeflater } from "@wsc/websocket-channel/engine";
 *
 * async function send(deflater: RawDeflater, message: Uint8Array): Promise<Uint8Array> {
 *   const out = await deflater.deflate(message);
 *   return out.subarray(0, out.length - 4); // RFC 7692 §7.2.1: drop 00 00 ff ff
 * }
 * ```
 */
export interface RawDeflater {
  /**
   * Compresses `data` and sync-flushes: the output ends with the empty
   * stored block `00 00 ff ff` and never with a final block. Calls are made
   * one at a time, in order.
   */
  deflate(data: Uint8Array): Promise<Uint8Array>;
  /**
   * Optional: {@linkcode RawDeflater.deflate} on the calling thread, for
   * codecs whose work on small messages costs less than a promise and a
   * thread hop. Returns `undefined` when this call cannot run synchronously
   * (the codec is not ready yet, an asynchronous call is in progress, the
   * message is too big to block the caller); the caller then uses
   * `deflate`.
   */
  deflateSync?(data: Uint8Array): Uint8Array | undefined;
  /** Forgets the window: the next message refers to nothing before it. */
  reset(): void;
  /** Releases the compressor; no call follows. */
  close(): void;
}

/**
 * Inflates one direction of a connection, keeping the window between calls
 * until {@linkcode RawInflater.reset}.
 *
 * @example
 * ```ts ignore
 * import type { RawInflater } from "@wsc/websocket-channel/engine";
 *
 * async function receive(inflater: RawInflater, payload: Uint8Array): Promise<Uint8Array> {
 *   const out = await inflater.inflate([payload, new Uint8Array([0, 0, 0xff, 0xff])], 1 << 20);
 *   if (out === null) throw new RangeError("message too big"); // close with 1009
 *   return out;
 * }
 * ```
 */
export interface RawInflater {
  /**
   * Inflates `parts` in order (a message's payload, then `00 00 ff ff`).
   * Resolves with the output, or with `null` as soon as the output passed
   * `maxSize` bytes (the inflater is unusable then). Rejects on corrupt
   * data. Calls are made one at a time, in order.
   */
  inflate(parts: Uint8Array[], maxSize: number): Promise<Uint8Array | null>;
  /**
   * Optional: {@linkcode RawInflater.inflate} on the calling thread, with
   * the same results (`null` past `maxSize`, throws on corrupt data), or
   * `undefined` when this call cannot run synchronously; the caller then
   * uses `inflate`.
   */
  inflateSync?(parts: Uint8Array[], maxSize: number): Uint8Array | null | undefined;
  /** Forgets the window. */
  reset(): void;
  /** Releases the inflater; no call follows. */
  close(): void;
}

/**
 * A raw-deflate implementation with sync flush and context takeover.
 *
 * @example A codec that stores every message uncompressed (valid deflate, no savings)
 * ```ts
 * import type { DeflateCodec } from "@wsc/websocket-channel/engine";
 *
 * const stored: DeflateCodec = {
 *   deflater: () => ({
 *     deflate: async (data) => {
 *       // One non-final stored block per message (RFC 1951 §3.2.4), then the sync-flush marker.
 *       const out = new Uint8Array(data.length + 10);
 *       out.set([0x00, data.length & 0xff, data.length >> 8, ~data.length & 0xff, (~data.length >> 8) & 0xff]);
 *       out.set(data, 5);
 *       out.set([0x00, 0x00, 0x00, 0xff, 0xff], data.length + 5);
 *       return out;
 *     },
 *     reset: () => {},
 *     close: () => {},
 *   }),
 *   inflater: () => {
 *     throw new Error("not part of this example");
 *   },
 * };
 * const out = await stored.deflater(15).deflate(new Uint8Array([1, 2, 3]));
 * console.assert(out.length === 13);
 * ```
 */
export interface DeflateCodec {
  /**
   * A compressor whose LZ77 window is at most 2^`windowBits` bytes (9-15).
   */
  deflater(windowBits: number): RawDeflater;
  /** An inflater for a peer whose window is at most 2^`windowBits` bytes (9-15). */
  inflater(windowBits: number): RawInflater;
}

/**
 * A codec that becomes `codec` once that promise settles: for a codec that
 * is loaded lazily (`connect()` imports its TCP adapter, and node:zlib with
 * it, only when used), so the offer and the connection's state can be set up
 * at once. Until then nothing was compressed, so `reset()` has nothing to
 * forget, and the synchronous methods answer `undefined`; a failed load
 * fails the first (de)compression.
 *
 * @example
 * ```ts ignore
 * import { lazyCodec } from "./deflate_codec.ts";
 *
 * // A codec whose module is imported only when first needed.
 * const codec = lazyCodec(import("./my_codec.ts").then((m) => m.codec));
 * const deflater = codec.deflater(15);
 * const out = await deflater.deflate(new TextEncoder().encode("Hello"));
 * ```
 */
export function lazyCodec(codec: Promise<DeflateCodec>): DeflateCodec {
  const later = <T extends { reset(): void; close(): void }>(make: (c: DeflateCodec) => T) => {
    let real: T | undefined;
    const ready = codec.then((c) => real = make(c));
    ready.catch(() => {}); // reported by the first (de)compression
    return {
      get: async () => real ?? await ready,
      now: () => real,
      reset: () => real?.reset(),
      close: () => {
        if (real !== undefined) real.close();
        else ready.then((r) => r.close(), () => {});
      },
    };
  };
  return {
    deflater(windowBits) {
      const d = later((c) => c.deflater(windowBits));
      return {
        deflate: async (data) => (await d.get()).deflate(data),
        deflateSync: (data) => d.now()?.deflateSync?.(data),
        reset: d.reset,
        close: d.close,
      };
    },
    inflater(windowBits) {
      const i = later((c) => c.inflater(windowBits));
      return {
        inflate: async (parts, maxSize) => (await i.get()).inflate(parts, maxSize),
        inflateSync: (parts, maxSize) => i.now()?.inflateSync?.(parts, maxSize),
        reset: i.reset,
        close: i.close,
      };
    },
  };
}

/**
 * Whether `out` ends with the empty stored block `00 00 ff ff` that a sync
 * flush emits (RFC 7692 §7.2.1), which the sender removes from the payload.
 *
 * @example
 * ```ts
 * import { endsWithSyncTail } from "./deflate_codec.ts";
 *
 * console.assert(endsWithSyncTail(new Uint8Array([0x4a, 0x04, 0x00, 0x00, 0x00, 0xff, 0xff])));
 * console.assert(!endsWithSyncTail(new Uint8Array([0x4b, 0x04, 0x00])));
 * ```
 */
export function endsWithSyncTail(out: Uint8Array): boolean {
  const n = out.length;
  return n >= 4 && out[n - 4] === 0x00 && out[n - 3] === 0x00 && out[n - 2] === 0xff &&
    out[n - 1] === 0xff;
}

/**
 * Compresses one whole message with `codec` in a stream of its own (a
 * 15-bit window, closed afterwards) and returns the RFC 7692 §7.2.1 payload:
 * sync-flushed, the `00 00 ff ff` removed, no final block. For a payload
 * shared by many connections, each of which may take it only when it keeps
 * no context of its own (see `PerMessageDeflate.usesShared`).
 *
 * @example
 * ```ts ignore
 * import { compressOnce } from "./deflate_codec.ts";
 * import { zlibCodec } from "../adapters/zlib_codec.ts";
 *
 * const payload = await compressOnce(zlibCodec, new TextEncoder().encode("Hello"));
 * console.assert((payload[0] & 1) === 0); // the first block is not final
 * ```
 */
export async function compressOnce(codec: DeflateCodec, data: Uint8Array): Promise<Uint8Array> {
  const deflater = codec.deflater(15);
  try {
    const out = deflater.deflateSync?.(data) ?? await deflater.deflate(data);
    // RFC 7692 §7.2.1: "Remove 4 octets (that are 0x00 0x00 0xff 0xff) from the tail end."
    return endsWithSyncTail(out) ? out.subarray(0, out.length - 4) : out;
  } finally {
    deflater.close();
  }
}
