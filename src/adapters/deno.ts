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
 * @module
 */
import { rejectionResponse, verifyUpgradeRequest } from "../handshake/server_handshake.ts";
import { HandshakeError, HandshakeErrorCode } from "../handshake/errors.ts";
import { fromWebSocket, type WebSocketLike } from "../channel/native_channel.ts";
import { StreamChannel } from "../channel/stream_channel.ts";
import type { WebSocketChannel } from "../channel/web_socket_channel.ts";
import { acceptRawUpgrade } from "./accept_raw_upgrade.ts";
import { ServerConnections } from "./server_connections.ts";
import { DEFAULT_IDLE_TIMEOUT, type ServeOptions, type UpgradeOptions, type WebSocketServer } from "./serve_options.ts";

export type { ServeOptions, UpgradeOptions, WebSocketServer } from "./serve_options.ts";

/** Options of the Deno {@linkcode serve}: the common ones plus TLS. */
export interface DenoServeOptions extends ServeOptions {
  /** PEM certificate chain and key: listen with TLS (`wss:`). */
  tls?: { cert: string; key: string };
}

/** Options of {@linkcode upgrade}. */
export interface DenoUpgradeOptions extends UpgradeOptions {
  /**
   * Bytes of unread messages kept before the connection is closed (1008):
   * `Deno.upgradeWebSocket` sockets cannot pause reading.
   * @default {16777216}
   */
  maxQueuedBytes?: number;
}

/** Result of {@linkcode upgrade}. */
export interface DenoUpgrade {
  /** Return it from the `Deno.serve` handler (the 101, or the HTTP error of a refused upgrade). */
  response: Response;
  /** The channel; on a refused upgrade its `ready` rejects with a `HandshakeError` carrying `status`. */
  channel: WebSocketChannel;
  /** A copy of the request's url and headers, usable after the upgrade (Deno invalidates the original). */
  request: Request;
}

function denoGlobal(): typeof Deno {
  const deno = (globalThis as { Deno?: typeof Deno }).Deno;
  if (!deno?.upgradeWebSocket) throw new Error("websocket-channel/server/deno needs the Deno runtime");
  return deno;
}

/**
 * Upgrades a `Deno.serve` request: checks the handshake (origin → 403,
 * subprotocol selection), then hands it to `Deno.upgradeWebSocket`.
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
export async function upgrade(request: Request, options: DenoUpgradeOptions = {}): Promise<DenoUpgrade> {
  const deno = denoGlobal();
  // Deno invalidates url and headers once upgraded: copy them first.
  const copy = new Request(request.url, { headers: new Headers(request.headers) });
  const verdict = await verifyUpgradeRequest(request, { protocols: options.protocols, origins: options.origins });
  if (!verdict.ok) {
    const { status, body } = verdict.response;
    const channel = new StreamChannel({ role: "server" });
    channel.abortOpening(new HandshakeError(HandshakeErrorCode.badStatus, `Upgrade refused (${status}): ${body}`, { status }));
    return { response: rejectionResponse(verdict.response), channel, request: copy };
  }
  const { socket, response } = deno.upgradeWebSocket(request, {
    protocol: verdict.protocol || undefined,
    idleTimeout: options.idleTimeout ?? DEFAULT_IDLE_TIMEOUT,
  });
  const channel = fromWebSocket(socket as unknown as WebSocketLike, {
    maxMessageSize: options.maxMessageSize,
    maxQueuedBytes: options.maxQueuedBytes,
  });
  return { response, channel, request: copy };
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
export function serve(options: DenoServeOptions): Promise<WebSocketServer> {
  const deno = denoGlobal();
  const hostname = options.hostname ?? "0.0.0.0";
  const port = options.port ?? 0;
  const listener = options.tls
    ? deno.listenTls({ hostname, port, cert: options.tls.cert, key: options.tls.key, alpnProtocols: ["http/1.1"] })
    : deno.listen({ hostname, port, transport: "tcp" });
  const connections = new ServerConnections(options);
  const pending = new Set<Deno.Conn>();
  const secure = Boolean(options.tls);

  const handle = async (conn: Deno.Conn) => {
    pending.add(conn);
    try {
      if (!secure) (conn as Deno.TcpConn).setNoDelay(true);
      const accepted = await acceptRawUpgrade(conn, { ...options, secure });
      pending.delete(conn);
      if (!accepted) return close(conn);
      const channel = connections.open(conn, accepted);
      // Release the resource even if a stream was left half open.
      channel.closed.then(() => setTimeout(() => close(conn), 0));
    } catch {
      pending.delete(conn);
      close(conn);
    }
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
  const shutdown = () =>
    closing ??= (async () => {
      try {
        listener.close();
      } catch { /* closed */ }
      await accepting;
      for (const conn of pending) close(conn);
      await connections.closeAll();
    })();
  options.signal?.addEventListener("abort", () => void shutdown(), { once: true });
  if (options.signal?.aborted) void shutdown();
  const address = listener.addr as Deno.NetAddr;
  return Promise.resolve({ port: address.port, hostname, close: shutdown });
}

function close(conn: Deno.Conn) {
  try {
    conn.close();
  } catch { /* already closed */ }
}
