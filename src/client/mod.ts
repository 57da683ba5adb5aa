/**
 * The reconnecting client: `WebSocketClient` with states, full-jitter
 * backoff, a reconnect policy, connect timeout, heartbeat, offline queue,
 * `afterConnect`, interceptors, metrics and JSON helpers. Transports are
 * injected (`connector`), defaulting to `WebSocketChannel.connect`.
 *
 * @example
 * ```ts
 * import { WebSocketClient } from "@wsc/websocket-channel/client";
 *
 * const client = new WebSocketClient("wss://example.com/ws", {
 *   heartbeat: { interval: 20_000, timeout: 10_000 },
 *   queue: { maxBytes: 256 * 1024, ttl: 30_000, overflow: "drop-oldest" },
 * });
 * client.on("state", (state) => console.log(state));
 * await client.close();
 * ```
 *
 * @module
 */
// The default connector's engine transport over the runtime's TCP/TLS dialer; browser builds
// map it to nothing (the `browser` field of package.json).
import "../adapters/engine_connect.ts";

export { type ClientEvents, WebSocketClient } from "./web_socket_client.ts";
export type {
  AfterConnectContext,
  ReconnectOptions,
  UrlSource,
  WebSocketClientOptions,
} from "./options.ts";
export type {
  ClientState,
  ClosedState,
  ConnectingState,
  DisconnectingState,
  OpenState,
} from "./state.ts";
export { backoffDelay, type BackoffOptions, DEFAULT_BACKOFF, seededRandom } from "./backoff.ts";
export {
  defaultReconnectPolicy,
  type DisconnectInfo,
  type ReconnectDecision,
  type ReconnectPolicy,
  TRY_AGAIN_LATER_DELAY,
} from "./retry_policy.ts";
export { type Clock, systemClock } from "../_util/clock.ts";
export { ClientError, type ClientErrorCode, InvalidJsonError } from "./errors.ts";
export type { HeartbeatOptions } from "../channel/heartbeat.ts";
export {
  DROP,
  type Interceptor,
  type InterceptorContext,
  type InterceptorResult,
} from "./interceptors.ts";
export type { ClientMetrics } from "./metrics.ts";
export type { OfflineQueueOptions, OverflowPolicy } from "./offline_queue.ts";
export type { DeliveryOptions, UnconfirmedMessages } from "./delivery.ts";
export type { JsonStream, ReaderOptions, ReaderOverflow } from "./message_streams.ts";
export type { ChannelCloseInfo, ClientChannel, Connector, Message, SendData } from "./types.ts";
export { createDefaultConnector, type DefaultConnectOptions } from "./default_connector.ts";
