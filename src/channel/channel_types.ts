/**
 * The types every channel implementation shares: messages, the sink, close
 * information and the deflate extension as the channel uses it. Imports
 * nothing, so every module of the layer can depend on it without a cycle;
 * `web_socket_channel.ts` re-exports them next to the `WebSocketChannel`
 * interface and value.
 *
 * @module
 */

/** A received message: text as `string`, binary as `Uint8Array`. */
export type Message = string | Uint8Array;

/** What the sink accepts: strings go out as text frames, everything else as binary. */
export type Sendable = string | Uint8Array | ArrayBuffer | ArrayBufferView | Blob;

/** How a connection ended, as reported by `WebSocketChannel.closed`. */
export interface CloseInfo {
  /**
   * The close code: the peer's for a remote close (1005 when its frame had no
   * code), ours for a local close, the failure's for a protocol error, 1006
   * when no close frame was exchanged.
   */
  code: number;
  /** The close reason, `""` when none. */
  reason: string;
  /** `true` when both close frames were exchanged before the transport closed. */
  wasClean: boolean;
}

/**
 * The writing half of a channel. A real `WritableStream`, so
 * `readable.pipeTo(channel.sink)` works, plus two conveniences.
 */
export interface WebSocketSink extends WritableStream<Sendable> {
  /**
   * Sends one message. Resolves once the transport accepted its bytes
   * (backpressure: awaiting each `add` never lets memory grow without bound);
   * rejects with a `ConnectionClosedError` once the connection is closing or
   * closed, and with an `InvalidStateError` while a writer or `pipeTo()` holds
   * the sink.
   *
   * A message that is not a string, `ArrayBuffer`, `ArrayBufferView` or
   * `Blob` (or is a view over a `SharedArrayBuffer`) is a programming error:
   * `add` **throws** a `TypeError` naming the value at the call, as the
   * WHATWG `WebSocket.send()` does, and sends nothing. Written through a
   * writer or `pipeTo()`, such a chunk errors the writable with that
   * `TypeError`; the connection stays open.
   */
  add(message: Sendable): Promise<void>;
  /**
   * Runs the close handshake and resolves when the connection is closed.
   * `code` must be 1000 or 3000–4999 and `reason` at most 123 UTF-8 bytes;
   * otherwise `close` **throws** a `RangeError` (a `TypeError` for a value of
   * the wrong type) at the call and the connection stays open. Without a
   * code the peer sees 1005. Closing an already closed channel resolves.
   */
  close(code?: number, reason?: string): Promise<void>;
}

/**
 * The negotiated permessage-deflate extension as the channel uses it
 * (RFC 7692). The deflate layer's `PerMessageDeflate` satisfies it.
 */
export interface MessageDeflate {
  /** Whether a message of `byteLength` bytes should be compressed (threshold, window rule). */
  shouldCompress(byteLength: number): boolean;
  /**
   * Compresses one whole message; `compressed: false` means send `data` as
   * is (compression did not help). Calls complete in call order.
   */
  encode(data: Uint8Array): Promise<{ data: Uint8Array; compressed: boolean }>;
  /**
   * Inflates one whole message payload, in arrival order; rejects with a
   * `ProtocolError` (1009 past `maxSize`, 1007 for corrupt data) that fails
   * the connection.
   */
  decompress(payload: Uint8Array, options: { maxSize: number }): Promise<Uint8Array>;
  /**
   * Optional: {@linkcode MessageDeflate.encode} on the calling thread, or
   * `undefined` when this message cannot be (too large, or earlier ones are
   * still being compressed): then `encode` it.
   */
  encodeSync?(data: Uint8Array): { data: Uint8Array; compressed: boolean } | undefined;
  /**
   * Optional: {@linkcode MessageDeflate.decompress} on the calling thread,
   * throwing where that rejects, or `undefined` when this payload cannot be
   * inflated synchronously: then `decompress` it.
   */
  decompressSync?(payload: Uint8Array, options: { maxSize: number }): Uint8Array | undefined;
  /** Releases the compression state when the connection ends. */
  close?(): void;
  /**
   * For fan-out: whether this connection may send a payload that was
   * compressed once for many connections (a fresh deflate stream per
   * message, ending in a BFINAL block when `final`) in place of the
   * `originalLength` bytes. Without this method the message goes
   * uncompressed.
   */
  usesShared?(originalLength: number, compressed: { length: number; final: boolean }): boolean;
}
