/**
 * The public channel abstraction: the {@linkcode WebSocketChannel} interface
 * and the `WebSocketChannel` value with the ways to get one. The
 * implementations never import this module (they satisfy the interface
 * structurally, checked here where the value returns them), so every edge
 * of the layer points one way.
 *
 * @module
 */
import type { CloseInfo, Message, Sendable, WebSocketSink } from "./channel_types.ts";
import type { ListenOptions, MessageSubscription } from "./inbox.ts";
import { openConnection } from "./connect.ts";
import type { ConnectOptions } from "./connect_options.ts";
import { fromWebSocket, type FromWebSocketOptions, type WebSocketLike } from "./native_channel.ts";
import { type ByteStreams, fromStreams, type StreamChannelOptions } from "./stream_channel.ts";

export type {
  CloseInfo,
  Message,
  MessageDeflate,
  Sendable,
  WebSocketSink,
} from "./channel_types.ts";
export type { ConnectOptions } from "./connect_options.ts";
export type { ListenOptions, MessageSubscription } from "./inbox.ts";

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
  /**
   * Hands each received message to `listener`, synchronously, in order: the
   * per-message path without a promise or a stream read per message (what
   * `stream` costs). Messages that arrived before are delivered in a
   * microtask, once the subscription is returned. The subscription pauses
   * (held messages count towards `readableHighWaterMark`, past which the
   * transport is not read), resumes and cancels (later messages are dropped;
   * the connection stays open). The end comes after the last message:
   * `onDone` after a clean close, `onError` with the error `stream` would
   * give. The messages have one reader: `listen()` throws
   * `InvalidStateError` once `stream` was used, and `stream` is locked once
   * `listen()` was. An exception thrown by `listener` is rethrown
   * asynchronously (an uncaught error, as from an event listener); delivery
   * goes on.
   *
   * @example An echo
   * ```ts
   * import { createChannelPair } from "@wsc/websocket-channel/testing";
   *
   * const [client, server] = createChannelPair();
   * server.listen((message) => void server.sink.add(message).catch(() => {}));
   * await client.sink.add("hi");
   * const reader = client.stream.getReader();
   * console.assert((await reader.read()).value === "hi");
   * await client.sink.close();
   * ```
   */
  listen(listener: (message: Message) => void, options?: ListenOptions): MessageSubscription;
  /** The writing half; see {@linkcode WebSocketSink}. */
  readonly sink: WebSocketSink;
  /**
   * Sends one message, as `sink.add(message)` does (it resolves once the
   * transport accepted the message, rejects once the connection is closing
   * or closed, and throws at the call for a value that is not a message),
   * without making the sink: a `WritableStream`, which a channel creates
   * only when `sink` is asked for. The way to send from {@linkcode listen}.
   * While a writer or `pipeTo()` holds the sink, it rejects as `sink.add()`
   * does.
   *
   * @example An echo without the sink
   * ```ts
   * import { createChannelPair } from "@wsc/websocket-channel/testing";
   *
   * const [client, server] = createChannelPair();
   * server.listen((message) => void server.send(message).catch(() => {}));
   * await client.send("hi");
   * const reader = client.stream.getReader();
   * console.assert((await reader.read()).value === "hi");
   * await client.sink.close();
   * ```
   */
  send(message: Sendable): Promise<void>;
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
 * Opens a WebSocket connection. Returns the channel at once; `ready` tells
 * when it is open or why it failed (`ConnectError` with `WS_CONNECT_REFUSED`,
 * `WS_CONNECT_DNS`, `WS_CONNECT_TLS`, `WS_CONNECT_TIMEOUT`,
 * `WS_CONNECT_ABORTED`, `WS_CONNECT_FAILED`, or a `HandshakeError` whose
 * `status` is the HTTP answer, where the platform tells): everything about
 * the network or the server rejects `ready`.
 *
 * Programming errors throw at the call instead, on every transport, as the
 * WHATWG `WebSocket` constructor does: `SyntaxError` for a URL that does not
 * parse, a scheme other than `ws:`/`wss:`/`http:`/`https:` or a subprotocol
 * that is not a token (or repeats); `TypeError` / `RangeError` for an option
 * of the wrong type or out of range (`connectTimeout`, `closeTimeout`,
 * `maxMessageSize`, `maxFragments`, `transport`, `signal`, `caCerts`,
 * `compression`, a bad header name or value); `UnsupportedError`
 * (`WS_OPTION_UNSUPPORTED`) for an option this runtime cannot honour
 * (`headers` or `caCerts` in a browser).
 *
 * @example
 * ```ts ignore
 * import { connect } from "@wsc/websocket-channel";
 *
 * const channel = connect("ws://localhost:8080", { protocols: ["chat"], connectTimeout: 5000 });
 * await channel.ready;
 * await channel.sink.add("hello");
 * ```
 */
export function connect(url: string | URL, options: ConnectOptions = {}): WebSocketChannel {
  return openConnection(url, options);
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
