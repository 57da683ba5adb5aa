/**
 * The engine transport of `connect()`: our protocol engine over a TCP/TLS
 * connection (Deno, Node, Bun). A module of its own so that browser builds,
 * which can never take this path, replace it with a stub and carry neither
 * the engine nor the HTTP handshake code: the npm package's `browser` field
 * maps it to `connect_engine.browser.js`, and scripts/build_browser.ts does
 * the same for the size budget.
 *
 * @module
 */
import { ConnectError } from "./errors.ts";
import type { ConnectOptions } from "./connect.ts";
import { withCodec } from "../deflate/compression_options.ts";
import { lazyCodec } from "../deflate/deflate_codec.ts";
import { clientOverStreams } from "./stream_handshake.ts";
import { checkProxySetting } from "../handshake/proxy_setting.ts";
import { parseWebSocketUrl } from "../handshake/web_socket_url.ts";
import type { ByteStreams } from "./stream_channel_options.ts";
import type { WebSocketChannel } from "./web_socket_channel.ts";

/**
 * Opens the connection with the engine over TCP/TLS; `connect()` calls it
 * once the options were checked. Throws before anything starts for a bad
 * URL, subprotocol or header (`SyntaxError` / `TypeError`) and for a `proxy`
 * that is not `"env"` or an `http://` URL (`TypeError`). Otherwise returns
 * the channel at once: `ready` rejects with the typed failure (refused, DNS,
 * TLS, timeout, aborted, a refused upgrade, a refusing proxy).
 *
 * @param url The `ws:` / `wss:` URL.
 * @param options The `connect()` options.
 * @param timeout Milliseconds for TCP, TLS and the opening handshake together.
 * @returns The channel, not open yet.
 *
 * @example
 * ```ts ignore
 * import { connectEngine } from "./connect_engine.ts";
 *
 * const channel = connectEngine("ws://127.0.0.1:8080", {}, 30_000);
 * await channel.ready;
 * ```
 */
export function connectEngine(
  url: string | URL,
  options: ConnectOptions,
  timeout: number,
): WebSocketChannel {
  // A programming error: thrown at the call, before anything is opened.
  if (options.proxy !== undefined) checkProxySetting(options.proxy);
  const attempt = new AbortController();
  let openTransport!: (streams: Promise<ByteStreams>) => void;
  const transport = new Promise<ByteStreams>((resolve) => openTransport = resolve);
  let loadAdapter!: (adapter: Promise<typeof import("../adapters/tcp_transport.ts")>) => void;
  const adapter = new Promise<typeof import("../adapters/tcp_transport.ts")>((resolve) =>
    loadAdapter = resolve
  );
  // First, so that a bad URL, subprotocol or header throws here, before any timer or socket.
  const channel = clientOverStreams(url, transport, {
    protocols: options.protocols,
    headers: options.headers,
    // node:zlib from the lazily loaded adapter: sync flush and context takeover.
    compression: withCodec(options.compression, lazyCodec(adapter.then((m) => m.zlibCodec))),
    maxMessageSize: options.maxMessageSize,
    maxFragments: options.maxFragments,
    closeTimeout: options.closeTimeout,
    signal: attempt.signal,
    handshakeTimeout: timeout,
  });
  const signal = options.signal;
  const onAbort = () =>
    attempt.abort(
      new ConnectError("WS_CONNECT_ABORTED", "The connection attempt was aborted", {
        cause: signal?.reason,
      }),
    );
  const timer = setTimeout(() => {
    attempt.abort(
      new ConnectError("WS_CONNECT_TIMEOUT", `No connection to ${url} within ${timeout} ms`),
    );
  }, timeout);
  if (signal?.aborted) onAbort();
  else signal?.addEventListener("abort", onAbort, { once: true });
  const target = parseWebSocketUrl(url);
  // The one lazy edge from the channel layer into the adapters: browsers and
  // bundles that never take this path never load runtime code.
  loadAdapter(import("../adapters/tcp_transport.ts"));
  const streams = adapter.then(({ openTcp }) =>
    openTcp(target, { signal: attempt.signal, caCerts: options.caCerts, proxy: options.proxy })
  );
  streams.catch(() => {}); // reported through `ready`
  openTransport(streams);
  const cleanup = () => {
    clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
  };
  channel.ready.then(cleanup, cleanup);
  return channel;
}
