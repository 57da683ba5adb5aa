/**
 * websocket-channel: one WebSocket API for Deno, Bun, Node and browsers.
 * A {@linkcode WebSocketChannel} is a `stream` of messages and a `sink`,
 * with `ready`/`closed` promises, the same for every runtime and transport.
 * Server adapters live in the `./server/deno`, `./server/bun` and
 * `./server/node` subpaths, so importing this module never touches a
 * runtime global (the engine transport of `connect()` loads the runtime's
 * TCP/TLS dialer on its first connection).
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

// Engine: close codes and the errors every layer throws.
export {
  CloseCode,
  isValidApplicationCloseCode,
  isValidWireCloseCode,
} from "./src/engine/close_code.ts";
export { ProtocolError, WebSocketError, type WebSocketErrorOptions } from "./src/engine/errors.ts";
export type { Role } from "./src/engine/frame.ts";

// Handshake.
export { generateKey, signKey } from "./src/handshake/accept_key.ts";
export { HandshakeError, HandshakeErrorCode } from "./src/handshake/errors.ts";
export type { OriginPolicy } from "./src/handshake/origin_policy.ts";
export type { SubprotocolSelector } from "./src/handshake/subprotocol.ts";
export type { ProxySetting } from "./src/handshake/proxy_setting.ts";

// permessage-deflate settings (the `compression` option).
export type { Compression, CompressionOptions } from "./src/deflate/compression_options.ts";
export type { DeflateCodec, RawDeflater, RawInflater } from "./src/deflate/deflate_codec.ts";

// Channel.
export {
  type CloseInfo,
  type Message,
  type MessageDeflate,
  type Sendable,
  WebSocketChannel,
  type WebSocketSink,
} from "./src/channel/web_socket_channel.ts";
// `connect` is `WebSocketChannel.connect` on its own: importing it alone keeps
// `fromStreams`/`fromWebSocket` out of a bundle.
export { connect, type ConnectOptions } from "./src/channel/web_socket_channel.ts";
export type { FromWebSocketOptions, WebSocketLike } from "./src/channel/native_channel.ts";
export type { AnswerPingMessages, PingMessages } from "./src/channel/ping_messages.ts";
export type { ByteReader, ByteWriter } from "./src/channel/stream_channel_options.ts";
export {
  type ByteStreams,
  StreamChannel,
  type StreamChannelOpening,
  type StreamChannelOptions,
  type StreamChannelSettings,
} from "./src/channel/stream_channel.ts";
export {
  clientOverStreams,
  type ClientOverStreamsOptions,
  type HandshakeLimits,
  serverOverStreams,
  type ServerOverStreamsOptions,
  type ServerUpgrade,
  type UpgradeRequestInfo,
} from "./src/channel/stream_handshake.ts";
// The WHATWG WebSocketStream interface over the same transports.
export {
  type WebSocketCloseInfo,
  type WebSocketOpenInfo,
  WebSocketStream,
  type WebSocketStreamOptions,
} from "./src/channel/web_socket_stream.ts";
export {
  ConnectError,
  ConnectionClosedError,
  InvalidStateError,
  UnsupportedError,
} from "./src/channel/errors.ts";

// Reconnecting client (also the `./client` subpath).
export {
  type AfterConnectContext,
  backoffDelay,
  type BackoffOptions,
  ClientError,
  type ClientErrorCode,
  type ClientEvents,
  type ClientMetrics,
  type ClientState,
  type Connector,
  defaultReconnectPolicy,
  type DeliveryOptions,
  DROP,
  type HeartbeatOptions,
  type Interceptor,
  InvalidJsonError,
  type JsonStream,
  type OfflineQueueOptions,
  type ReaderOptions,
  type ReaderOverflow,
  type ReconnectOptions,
  type ReconnectPolicy,
  type UnconfirmedMessages,
  WebSocketClient,
  type WebSocketClientOptions,
} from "./src/client/mod.ts";

// Fan-out: live channels, topics, and the contract of a cross-process backplane
// (implementations: the `./backplane/redis` and `./backplane/nats` subpaths).
export { ChannelSet } from "./src/channel/channel_set.ts";
export {
  type PublishOptions,
  type SlowSubscriberPolicy,
  TopicHub,
  type TopicHubOptions,
  type TopicHubStats,
} from "./src/fanout/topic_hub.ts";
export {
  type Backplane,
  BackplaneError,
  type BackplaneErrorCode,
  type BackplaneMessage,
  type BackplaneReceiver,
  type BackplaneStatus,
} from "./src/fanout/backplane.ts";
