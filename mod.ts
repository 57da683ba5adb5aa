/**
 * websocket-channel: one WebSocket API for Deno, Bun, Node and browsers.
 * A {@linkcode WebSocketChannel} is a `stream` of messages and a `sink`,
 * with `ready`/`closed` promises, the same for every runtime and transport.
 * The rest lives in subpaths: the reconnecting client in `./client`,
 * topics and fan-out in `./fanout`, server adapters in `./server/deno`,
 * `./server/bun` and `./server/node` (so importing this module never touches
 * a runtime global: the engine transport of `connect()` loads the runtime's
 * TCP/TLS dialer on its first connection), the sans-I/O engine and the
 * channel over your own byte streams in `./engine`, test doubles in
 * `./testing`.
 *
 * @example
 * ```ts ignore
 * import { CloseCode, WebSocketChannel } from "@wsc/websocket-channel";
 *
 * const channel = WebSocketChannel.connect("ws://localhost:1234", { protocols: ["chat"] });
 * await channel.ready;
 * for await (const message of channel.stream) {
 *   await channel.sink.add(`received ${message}`);
 *   await channel.sink.close(CloseCode.normalClosure, "bye");
 * }
 * const { code, reason, wasClean } = await channel.closed;
 * ```
 *
 * @module
 */

// `connect()`'s engine transport over the runtime's TCP/TLS dialer; browser builds map it
// to nothing (the `browser` field of package.json).
import "./src/adapters/engine_connect.ts";

// Channel.
export {
  type CloseInfo,
  type ConnectOptions,
  type ListenOptions,
  type Message,
  type MessageSubscription,
  type Sendable,
  WebSocketChannel,
  type WebSocketSink,
} from "./src/channel/web_socket_channel.ts";
// `connect` is `WebSocketChannel.connect` on its own: importing it alone keeps
// `fromStreams`/`fromWebSocket` out of a bundle.
export { connect } from "./src/channel/web_socket_channel.ts";
export type { ByteStreams, StreamChannelOptions } from "./src/channel/stream_channel.ts";
export type { FromWebSocketOptions, WebSocketLike } from "./src/channel/native_channel.ts";
export { ChannelSet } from "./src/channel/channel_set.ts";
// The WHATWG WebSocketStream interface over the same transports.
export {
  type WebSocketCloseInfo,
  type WebSocketOpenInfo,
  WebSocketStream,
  type WebSocketStreamOptions,
} from "./src/channel/web_socket_stream.ts";

// Close codes and errors.
export { CloseCode, isValidApplicationCloseCode } from "./src/engine/close_code.ts";
export { ProtocolError, WebSocketError, type WebSocketErrorOptions } from "./src/engine/errors.ts";
export { HandshakeError, HandshakeErrorCode } from "./src/handshake/errors.ts";
export {
  ConnectError,
  ConnectionClosedError,
  InvalidStateError,
  UnsupportedError,
} from "./src/channel/errors.ts";

// Handshake and server policies.
export { signKey } from "./src/handshake/accept_key.ts";
export type { OriginPolicy } from "./src/handshake/origin_policy.ts";
export type { SubprotocolSelector } from "./src/handshake/subprotocol.ts";
export type { ProxySetting } from "./src/handshake/proxy_setting.ts";

// permessage-deflate settings (the `compression` option).
export type { Compression, CompressionOptions } from "./src/deflate/compression_options.ts";
