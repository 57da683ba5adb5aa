/**
 * The engine transport of `connect()`: our protocol engine over a TCP/TLS
 * connection from an injected {@linkcode Dialer}, with the runtime's
 * permessage-deflate codec when one is given. Nothing here names a runtime:
 * `src/adapters/engine_connect.ts` passes the runtime's dialer and codec and
 * installs the result as `connect()`'s engine transport, and browser builds,
 * which can never take this path, leave both out.
 *
 * @module
 */
import { withCodec } from "../deflate/compression_options.ts";
import type { DeflateCodec } from "../deflate/deflate_codec.ts";
import { checkProxySetting } from "../handshake/proxy_setting.ts";
import { parseWebSocketUrl } from "../handshake/web_socket_url.ts";
import { watchConnectAttempt } from "./connect_attempt.ts";
import { type ConnectOptions, DEFAULT_CONNECT_TIMEOUT } from "./connect_options.ts";
import type { Dialer } from "./dialer.ts";
import type { StreamChannel } from "./stream_channel.ts";
import type { ByteStreams } from "./stream_channel_options.ts";
import { clientOverStreams } from "./client_over_streams.ts";

/** Options of {@linkcode connectEngine}: `connect()`'s, plus the dialer and codec. */
export interface EngineConnectOptions extends ConnectOptions {
  /** Opens the TCP/TLS connection. */
  dial: Dialer;
  /**
   * The permessage-deflate codec to use unless `compression` names one
   * (node:zlib on Deno, Node and Bun: sync flush and context takeover);
   * without it, `CompressionStream`.
   */
  codec?: DeflateCodec;
}

/**
 * Opens the connection with the engine over TCP/TLS. Throws before anything
 * starts for a bad URL, subprotocol or header (`SyntaxError` / `TypeError`)
 * and for a `proxy` that is not `"env"` or an `http://` URL (`TypeError`).
 * Otherwise returns the channel at once: `ready` rejects with the typed
 * failure (refused, DNS, TLS, timeout, aborted, a refused upgrade, a refusing
 * proxy).
 *
 * @param url The `ws:` / `wss:` URL.
 * @param options The `connect()` options, the dialer and the codec;
 * `connectTimeout` covers TCP, TLS and the opening handshake together.
 * @returns The channel, not open yet.
 *
 * @example
 * ```ts ignore
 * import { connectEngine } from "./connect_engine.ts";
 * import { openTcp } from "../adapters/tcp_transport.ts";
 *
 * const channel = connectEngine("ws://127.0.0.1:8080", { dial: openTcp });
 * await channel.ready;
 * ```
 */
export function connectEngine(url: string | URL, options: EngineConnectOptions): StreamChannel {
  // A programming error: thrown at the call, before anything is opened.
  if (options.proxy !== undefined) checkProxySetting(options.proxy);
  const timeout = options.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT;
  const attempt = new AbortController();
  let openTransport!: (streams: Promise<ByteStreams>) => void;
  const transport = new Promise<ByteStreams>((resolve) => openTransport = resolve);
  // First, so that a bad URL, subprotocol or header throws here, before any timer or socket.
  const channel = clientOverStreams(url, transport, {
    protocols: options.protocols,
    headers: options.headers,
    compression: options.codec === undefined
      ? options.compression
      : withCodec(options.compression, options.codec),
    maxMessageSize: options.maxMessageSize,
    maxFragments: options.maxFragments,
    closeTimeout: options.closeTimeout,
    signal: attempt.signal,
    handshakeTimeout: timeout,
  });
  const release = watchConnectAttempt(url, {
    signal: options.signal,
    timeout,
    abort: (error) => attempt.abort(error),
  });
  const target = parseWebSocketUrl(url);
  // Dialled a turn later, as a failure of the dialer belongs to `ready`, never to the call.
  const streams = Promise.resolve().then(() =>
    options.dial(target, { signal: attempt.signal, caCerts: options.caCerts, proxy: options.proxy })
  );
  streams.catch(() => {}); // reported through `ready`
  openTransport(streams);
  channel.ready.then(release, release);
  return channel;
}
