/**
 * Options of {@linkcode WebSocketClient} and their defaults.
 *
 * @module
 */
import type { BackoffOptions } from "./backoff.ts";
import type { Clock } from "../_util/clock.ts";
import type { DeliveryOptions } from "./delivery.ts";
import type { HeartbeatOptions } from "../channel/heartbeat.ts";
import type { Interceptor } from "./interceptors.ts";
import type { ReaderOptions } from "./message_streams.ts";
import type { OfflineQueueOptions } from "./offline_queue.ts";
import type { ReconnectPolicy, ResolvedReconnect } from "./retry_policy.ts";
import type { ClientChannel, Connector, Message } from "./types.ts";
import type { DefaultConnectOptions } from "./default_connector.ts";

/** Where to connect: a URL, or a function giving the URL for each attempt (e.g. rotating hosts). */
export type UrlSource = string | URL | (() => string | URL | Promise<string | URL>);

/** Reconnect settings: the backoff window plus limits and the policy. */
export interface ReconnectOptions extends BackoffOptions {
  /** Attempts per streak (the first connect included) before giving up. Default unlimited. */
  maxAttempts?: number;
  /**
   * Milliseconds a connection must stay open before the attempt counter
   * resets. A server that accepts and drops at once keeps the backoff growing.
   * Default 5000.
   */
  stableAfter?: number;
  /** Decides per close code / HTTP status / error. Default `defaultReconnectPolicy`. */
  policy?: ReconnectPolicy;
}

/** What `afterConnect` receives: the fresh connection, before anything else is sent on it. */
export interface AfterConnectContext {
  /** The URL of this connection. */
  readonly url: string;
  /** The negotiated subprotocol. */
  readonly protocol: string;
  /** Sends on this connection now (through the interceptors, counted in the metrics, not queued). */
  send(message: Message): Promise<void>;
  /** `send(JSON.stringify(value))`. */
  sendJson(value: unknown): Promise<void>;
  /** Aborts when the attempt is abandoned (timeout, disconnect, close). */
  readonly signal: AbortSignal;
  /** The raw channel, e.g. to read its `protocol`. */
  readonly channel: ClientChannel;
}

/** Options of {@linkcode WebSocketClient}. All times in milliseconds. */
export interface WebSocketClientOptions {
  /**
   * Opens one connection. Default: `WebSocketChannel.connect` with the engine
   * transport where the runtime has one (protocol pings, HTTP status of
   * refusals), else the native `WebSocket`.
   */
  connector?: Connector;
  /** Options for the default connector: headers, transport, compression, TLS. */
  connectOptions?: DefaultConnectOptions;
  /** Subprotocols to offer. */
  protocols?: string[];
  /** `false` disables reconnecting; an object tunes it. Default on. */
  reconnect?: boolean | ReconnectOptions;
  /** Limit for one attempt: connect, handshake and `afterConnect`. Default 15 000. */
  connectTimeout?: number;
  /**
   * How long `disconnect()`/`close()` wait for the close handshake. Also the
   * channels' own `closeTimeout` unless `connectOptions` sets one, so the
   * connection ends then too. Default 5000.
   */
  closeTimeout?: number;
  /**
   * Liveness checks; `false` disables. Default: protocol ping every 30 s,
   * 10 s deadline; off where the transport cannot send protocol pings (a
   * browser `WebSocket`). There, a heartbeat asked for needs `pingMessage`
   * (answered by the server, e.g. `serve({ answerPingMessages: true })`):
   * without it the constructor throws `UnsupportedError` (`WS_OPTION_UNSUPPORTED`).
   */
  heartbeat?: HeartbeatOptions | false;
  /** The offline queue; `false` makes `send()` reject while not open. Default 1 MiB, 60 s TTL, `reject`. */
  queue?: OfflineQueueOptions | false;
  /**
   * Tracking of messages written but not yet confirmed by the peer: what a
   * dead connection reports in the `unconfirmed` event, and whether it is
   * resent. Default: reported, not resent, no confirmation pings.
   */
  delivery?: DeliveryOptions;
  /** Runs on every connection before queued and user messages; a throw fails the attempt. */
  afterConnect?: (connection: AfterConnectContext) => void | Promise<void>;
  /** Middlewares: send in order, receive in reverse order. */
  interceptors?: Interceptor[];
  /** Time source. Default the system clock. */
  clock?: Clock;
  /** Uniform random in [0, 1) for the jitter. Default `Math.random`. */
  random?: () => number;
  /** Aborting closes the client for good (like `close(1001)`), rejecting what is pending with `WS_ABORTED`. */
  signal?: AbortSignal;
  /**
   * The buffer of each message reader (`stream`, `messages()`, `json()`)
   * unless it passes its own: at most 1024 unread messages and 16 MiB, then
   * `overflow: "error"` ends that reader with `WS_READER_OVERFLOW`.
   */
  readers?: ReaderOptions;
}

/**
 * Resolves the `reconnect` option to explicit values.
 *
 * @example
 * ```ts
 * import { resolveReconnect } from "./options.ts";
 *
 * console.assert(resolveReconnect(false).enabled === false);
 * console.assert(resolveReconnect(undefined).stableAfter === 5000);
 * ```
 */
export function resolveReconnect(
  option: boolean | ReconnectOptions | undefined,
): ResolvedReconnect {
  const object = typeof option === "object" ? option : {};
  return {
    enabled: option !== false,
    base: object.base,
    max: object.max,
    floor: object.floor,
    maxAttempts: object.maxAttempts ?? Infinity,
    stableAfter: object.stableAfter ?? 5000,
    policy: object.policy,
  };
}
