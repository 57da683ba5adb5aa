/**
 * The public channel abstraction: the {@linkcode WebSocketChannel} interface
 * and its types, and the `WebSocketChannel` value with the ways to get one.
 * Implementation files import only types from here, so there is no cycle.
 *
 * @module
 */
import { connect, type ConnectOptions } from "./connect.ts";
import { fromWebSocket, type FromWebSocketOptions, type WebSocketLike } from "./native_channel.ts";
import { type ByteStreams, fromStreams, type StreamChannelOptions } from "./stream_channel.ts";

/** A received message: text as `string`, binary as `Uint8Array`. */
export type Message = string | Uint8Array;

/** What the sink accepts: strings go out as text frames, everything else as binary. */
export type Sendable = string | Uint8Array | ArrayBuffer | ArrayBufferView | Blob;

/** How a connection ended, as reported by {@linkcode WebSocketChannel.closed}. */
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
 * A WebSocket connection as a pair of streams, the same object on every
 * runtime and for every transport.
 */
export interface WebSocketChannel {
  /**
   * The received messages, one per chunk (never split, never merged). Closes
   * after a close handshake; errors after an unclean end with a typed error
   * carrying the close code (`ConnectionClosedError` with 1006 for a lost
   * connection, the `ProtocolError` for a peer that broke the protocol).
   * Reading slowly makes the channel stop reading its transport. Cancelling
   * it discards further messages but keeps the connection: close the sink to
   * close the connection.
   */
  readonly stream: ReadableStream<Message>;
  /** The writing half; see {@linkcode WebSocketSink}. */
  readonly sink: WebSocketSink;
  /**
   * Resolves once the connection is open; rejects with a typed error when it
   * could not be opened. An unobserved rejection never becomes an unhandled
   * rejection.
   */
  readonly ready: Promise<void>;
  /** Resolves once the connection is closed, however it ended. Never rejects. */
  readonly closed: Promise<CloseInfo>;
  /** The negotiated subprotocol, `""` when none (or not open yet). */
  readonly protocol: string;
  /** The negotiated extensions header value, `""` when none. */
  readonly extensions: string;
  /** The close code once a close started (local or remote), else `undefined`. */
  readonly closeCode: number | undefined;
  /** The close reason once a close started, else `undefined`. */
  readonly closeReason: string | undefined;
  /**
   * Sends a ping and resolves with the round-trip time in milliseconds when
   * the matching pong arrives. Rejects with `UnsupportedError`
   * (`WS_PING_UNSUPPORTED`) where the platform cannot ping (a WHATWG
   * `WebSocket`), and with `ConnectionClosedError` if the connection ends first.
   */
  ping(data?: string | Uint8Array): Promise<number>;
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

/**
 * The ways to get a {@linkcode WebSocketChannel}, all returning the same
 * interface.
 *
 * @example Connect, talk, close
 * ```ts ignore
 * import { WebSocketChannel } from "@wsc/websocket-channel";
 *
 * const channel = WebSocketChannel.connect("ws://localhost:8080", { protocols: ["chat"] });
 * await channel.ready;
 * await channel.sink.add("hello");
 * for await (const message of channel.stream) {
 *   console.log(message);
 *   await channel.sink.close(1000, "bye");
 * }
 * console.log(await channel.closed);
 * ```
 */
export const WebSocketChannel: {
  /**
   * Opens a connection: the native `WebSocket` or the engine over TCP/TLS
   * (see `ConnectOptions.transport`). Returns at once; await `ready`.
   */
  connect(url: string | URL, options?: ConnectOptions): WebSocketChannel;
  /**
   * Runs the protocol over an already upgraded byte-stream pair (a socket
   * after the opening handshake, an in-memory pair).
   */
  fromStreams(streams: ByteStreams, options: StreamChannelOptions): WebSocketChannel;
  /** Wraps a WHATWG `WebSocket` (connecting or open). */
  fromWebSocket(ws: WebSocketLike, options?: FromWebSocketOptions): WebSocketChannel;
} = { connect, fromStreams, fromWebSocket };
