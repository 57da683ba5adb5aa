/**
 * Deno servers (`./server/deno`):
 *
 * - `serve()`: the engine over `Deno.listen` / `Deno.listenTls`; full
 *   protocol control (pings with RTT, any close code, real backpressure in
 *   both directions, `idleTimeout` heartbeat by the engine, 1009 before a too
 *   large message is buffered).
 * - `upgrade()`: wraps `Deno.upgradeWebSocket` inside your own `Deno.serve`;
 *   Deno's native stack does the protocol, so `ping()` is unsupported,
 *   inbound messages are queued up to a byte bound (no pause), the
 *   heartbeat is Deno's own `idleTimeout`, and `maxMessageSize` is checked
 *   after Deno received the message.
 *
 * @example An echo server on a free port, and a client that talks to it
 * ```ts
 * import { serve } from "@wsc/websocket-channel/server/deno";
 * import { connect } from "@wsc/websocket-channel";
 *
 * const server = await serve({
 *   port: 0,
 *   hostname: "127.0.0.1",
 *   onChannel: (channel) => channel.stream.pipeTo(channel.sink).catch(() => {}),
 * });
 * const client = connect(`ws://127.0.0.1:${server.port}/`, { transport: "engine" });
 * await client.sink.add("hello");
 * const reader = client.stream.getReader();
 * console.assert((await reader.read()).value === "hello");
 * reader.releaseLock();
 * await client.sink.close(1000);
 * await server.close();
 * ```
 *
 * @module
 */
import {
  createRejection,
  rejectionResponse,
  verifyUpgradeRequest,
} from "../handshake/server_handshake.ts";
import { runUpgradeHook } from "../handshake/upgrade_hook.ts";
import { HandshakeError, HandshakeErrorCode } from "../handshake/errors.ts";
import { fromWebSocket, type WebSocketLike } from "../channel/native_channel.ts";
import { StreamChannel } from "../channel/stream_channel.ts";
import { acceptOverStreams, refuseOverStreams } from "../channel/server_over_streams.ts";
import { UnsupportedError } from "../channel/errors.ts";
import type { WebSocketChannel } from "../channel/web_socket_channel.ts";
import { denoConnTransport } from "./deno_conn_transport.ts";
import { ServerConnections } from "./server_connections.ts";
import { busyRejection, HandshakeSlots } from "./handshake_slots.ts";
import {
  DEFAULT_IDLE_TIMEOUT,
  DEFAULT_MAX_PENDING_HANDSHAKES,
  reportServerError,
  type ServeOptions,
  streamServerOptions,
  type UpgradeOptions,
  watchUpgradeHook,
  type WebSocketServer,
} from "./serve_options.ts";
import { checkServerOptions, type ListsEveryOption } from "./server_option_checks.ts";
import { boundOption } from "../_util/option_values.ts";

export type {
  AnswerPingMessages,
  PingMessages,
  ServeOptions,
  UpgradeAcceptance,
  UpgradeDecision,
  UpgradeHook,
  UpgradeOptions,
  WebSocketServer,
} from "./serve_options.ts";

/** Options of {@linkcode upgrade}; `Data` is the type of `onUpgrade`'s per-connection value. */
export interface DenoUpgradeOptions<Data = undefined> extends UpgradeOptions<Data> {
  /**
   * Bytes of unread messages kept before the connection is closed (1008):
   * `Deno.upgradeWebSocket` sockets cannot pause reading.
   * @default {16777216}
   */
  maxQueuedBytes?: number;
}

// An option added here must be added to the list that reads options (server_option_checks.ts).
const _everyOption: ListsEveryOption<DenoUpgradeOptions<unknown>> = true;

/** Result of {@linkcode upgrade}. */
export interface DenoUpgrade<Data = undefined> {
  /** Return it from the `Deno.serve` handler (the 101, or the HTTP error of a refused upgrade). */
  response: Response;
  /** The channel; on a refused upgrade its `ready` rejects with a `HandshakeError` carrying `status`. */
  channel: WebSocketChannel;
  /** A copy of the request's url and headers, usable after the upgrade (Deno invalidates the original). */
  request: Request;
  /** The `data` that `onUpgrade` gave (`undefined` without it, or when refused). */
  data: Data;
}

function denoGlobal(): typeof Deno {
  const deno = (globalThis as { Deno?: typeof Deno }).Deno;
  if (!deno?.upgradeWebSocket) {
    throw new Error("websocket-channel/server/deno needs the Deno runtime");
  }
  return deno;
}

/**
 * Upgrades a `Deno.serve` request: checks the handshake (origin → 403,
 * subprotocol selection) and `onUpgrade` (its `Response` is returned as
 * `response`; a throw gives a 500), then hands it to `Deno.upgradeWebSocket`,
 * with `onUpgrade`'s extra headers on the 101. `onUpgrade` sees the original
 * request (its `signal` aborts when the client goes away); `Deno.serve`'s
 * own limits apply to it.
 *
 * @example
 * ```ts ignore
 * import { upgrade } from "@wsc/websocket-channel/server/deno";
 *
 * Deno.serve(async (request) => {
 *   const { response, channel } = await upgrade(request, { protocols: ["chat"] });
 *   channel.stream.pipeTo(channel.sink).catch(() => {});
 *   return response;
 * });
 * ```
 */
export async function upgrade<Data = undefined>(
  request: Request,
  options: DenoUpgradeOptions<Data> = {},
): Promise<DenoUpgrade<Data>> {
  const deno = denoGlobal();
  if (options.compression) {
    throw new UnsupportedError(
      "WS_OPTION_UNSUPPORTED",
      "compression: Deno.upgradeWebSocket cannot negotiate permessage-deflate; use serve() for compression",
    );
  }
  // Deno invalidates url and headers once upgraded: copy them first.
  const copy = new Request(request.url, { headers: new Headers(request.headers) });
  // The callbacks run with the caller's object as `this`, as serve()'s.
  const verdict = await verifyUpgradeRequest(request, {
    protocols: boundOption(options, options.protocols),
    origins: boundOption(options, options.origins),
    requireOrigin: options.requireOrigin,
  });
  const refused = (response: Response, message: string): DenoUpgrade<Data> => {
    const channel = new StreamChannel({ role: "server" });
    channel.abortOpening(
      new HandshakeError(
        HandshakeErrorCode.badStatus,
        `Upgrade refused (${response.status}): ${message}`,
        {
          status: response.status,
        },
      ),
    );
    return { response, channel, request: copy, data: undefined as Data };
  };
  if (!verdict.ok) {
    return refused(rejectionResponse(verdict.response), verdict.response.body);
  }
  let outcome;
  try {
    outcome = await runUpgradeHook(boundOption(options, options.onUpgrade), request);
  } catch (error) {
    reportServerError(boundOption(options, options.onError), (error as Error).cause, copy);
    return refused(
      rejectionResponse(createRejection(500, "Internal Server Error")),
      "onUpgrade failed",
    );
  }
  if (!outcome.accepted) return refused(outcome.response, "by onUpgrade");
  const { socket, response } = deno.upgradeWebSocket(request, {
    protocol: verdict.protocol || undefined,
    idleTimeout: options.idleTimeout ?? DEFAULT_IDLE_TIMEOUT,
  });
  // Deno's server-side socket reports "" for the protocol it agreed to.
  if (socket.protocol !== verdict.protocol) {
    Object.defineProperty(socket, "protocol", { value: verdict.protocol, configurable: true });
  }
  // Deno lets the 101's headers be added to (Deno 2.x).
  for (const [name, value] of outcome.headers) response.headers.append(name, value);
  const channel = fromWebSocket(socket as unknown as WebSocketLike, {
    maxMessageSize: options.maxMessageSize,
    answerPingMessages: options.answerPingMessages,
    maxQueuedBytes: options.maxQueuedBytes,
  });
  options.channels?.add(channel);
  return { response, channel, request: copy, data: outcome.data };
}

/**
 * Serves WebSockets with the engine over `Deno.listen` (or `Deno.listenTls`
 * with `tls`). Every accepted upgrade becomes a channel passed to `onChannel`.
 *
 * @example
 * ```ts ignore
 * import { serve } from "@wsc/websocket-channel/server/deno";
 *
 * const server = await serve({ port: 8080, onChannel: (ch) => ch.stream.pipeTo(ch.sink) });
 * await server.close();
 * ```
 */
export function serve<Data = undefined>(options: ServeOptions<Data>): Promise<WebSocketServer> {
  // Programming errors (TypeError / RangeError) throw at the call, before listening.
  options = checkServerOptions(options);
  const deno = denoGlobal();
  const hostname = options.hostname ?? "0.0.0.0";
  const port = options.port ?? 0;
  let listener: Deno.Listener;
  try {
    listener = options.tls
      ? deno.listenTls({
        hostname,
        port,
        cert: options.tls.cert,
        key: options.tls.key,
        alpnProtocols: ["http/1.1"],
      })
      : deno.listen({ hostname, port, transport: "tcp" });
  } catch (error) {
    // Port in use and the like: a rejection, as on Bun and Node.
    return Promise.reject(error);
  }
  const connections = new ServerConnections(options);
  const pending = new Set<Deno.Conn>();
  const secure = Boolean(options.tls);
  // Aborted by close(): handshakes still deciding end then, not at handshakeTimeout.
  const stopping = new AbortController();
  const streamOptions = streamServerOptions(options, secure, stopping.signal);
  const slots = new HandshakeSlots(options.maxPendingHandshakes ?? DEFAULT_MAX_PENDING_HANDSHAKES);

  const handle = async (conn: Deno.Conn) => {
    const release = slots.acquire();
    if (!release) return refuseBusy(conn);
    pending.add(conn);
    const hook = watchUpgradeHook(options);
    try {
      if (!secure) (conn as Deno.TcpConn).setNoDelay(true);
      const upgrade = await acceptOverStreams(
        denoConnTransport(conn),
        streamOptions,
        hook.onUpgrade,
      );
      pending.delete(conn);
      release();
      // The channel closes the connection itself when it ends (its transport's close()).
      connections.track(upgrade.channel, upgrade);
    } catch (error) {
      // A refused upgrade was answered (400/403/408/431/500/503/…) by the handshake.
      hook.report(error);
      pending.delete(conn);
      release();
      close(conn);
    }
  };

  // Past maxPendingHandshakes: 503 without reading the request (see ServeOptions).
  const refuseBusy = async (conn: Deno.Conn) => {
    const release = slots.acquireRefusal();
    if (!release) return close(conn);
    pending.add(conn);
    await refuseOverStreams(denoConnTransport(conn), busyRejection());
    pending.delete(conn);
    release();
    close(conn);
  };

  const accepting = (async () => {
    for (;;) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch {
        return; // listener closed
      }
      handle(conn);
    }
  })();

  let closing: Promise<void> | undefined;
  const shutdown = (code?: number, reason?: string) =>
    closing ??= (async () => {
      try {
        listener.close();
      } catch { /* closed */ }
      stopping.abort();
      await accepting;
      for (const conn of pending) close(conn);
      await connections.closeAll(code, reason);
    })();
  options.signal?.addEventListener("abort", () => void shutdown(), { once: true });
  if (options.signal?.aborted) void shutdown();
  const address = listener.addr as Deno.NetAddr;
  return Promise.resolve({
    port: address.port,
    hostname,
    channels: connections.channels,
    close: shutdown,
  });
}

function close(conn: Deno.Conn) {
  try {
    conn.close();
  } catch { /* already closed */ }
}
