/**
 * The TCP/TLS dialer the engine client runs over, as a type: the channel
 * layer is handed one (`src/adapters/engine_connect.ts` passes the runtime's)
 * and never imports a runtime itself.
 *
 * @module
 */
import type { ProxySetting } from "../handshake/proxy_setting.ts";
import type { ByteStreams } from "./stream_channel_options.ts";

/** What a {@linkcode Dialer} is asked for besides the URL. */
export interface DialOptions {
  /** Aborts the attempt; the dialer rejects with the signal's reason when it is a `WebSocketError`. */
  signal?: AbortSignal;
  /** Extra trusted CA certificates (PEM) for `wss:`. */
  caCerts?: string[];
  /** An `http://` CONNECT proxy to tunnel through, or `"env"` for the environment's. */
  proxy?: ProxySetting;
}

/**
 * A connected transport, as a {@linkcode Dialer} returns it: a Web Streams
 * pair, or a socket read and written directly ({@linkcode ByteStreams.direct}).
 */
export interface DialedStreams extends ByteStreams {
  /** Drops the connection immediately. */
  close(): void;
}

/**
 * Opens a TCP connection (TLS for `wss:`/`https:`) to the URL's host and
 * port. Rejects with a `ConnectError` (`WS_CONNECT_REFUSED`,
 * `WS_CONNECT_DNS`, `WS_CONNECT_TLS`, `WS_CONNECT_ABORTED`,
 * `WS_CONNECT_FAILED`, `WS_PROXY_REFUSED`, `WS_PROXY_FAILED`).
 *
 * @example A dialer over an in-memory pair
 * ```ts ignore
 * import type { Dialer } from "./dialer.ts";
 *
 * const dial: Dialer = async () => {
 *   const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
 *   return { readable, writable, close() {} };
 * };
 * ```
 */
export type Dialer = (url: URL, options: DialOptions) => Promise<DialedStreams>;
