/**
 * Node servers (`./server/node`): `serve()` on `node:http`, and `attach()` /
 * `handleUpgrade()` for an existing `node:http` or `node:https` server. The
 * engine does the protocol over the upgraded socket: no `ws` dependency,
 * real backpressure both ways, pings and the `idleTimeout` heartbeat.
 *
 * Also works on Bun and Deno through their `node:http` compatibility, but
 * those runtimes have their own entry points (`./server/bun`, `./server/deno`).
 *
 * @example An echo server on a free port, and a client that talks to it
 * ```ts
 * import { serve } from "./node.ts";
 * import { connect } from "../channel/connect.ts";
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
import { createServer, type IncomingMessage, type Server } from "node:http";
import { createServer as createHttpsServer, type Server as HttpsServer } from "node:https";
import type { Duplex } from "node:stream";
import type { Socket } from "node:net";
import {
  createRejection,
  createUpgradeResponseHeaders,
  verifyUpgradeRequest,
} from "../handshake/server_handshake.ts";
import { encodeResponseHead } from "../handshake/http1_codec.ts";
import type { WebSocketChannel } from "../channel/web_socket_channel.ts";
import { StreamChannel } from "../channel/stream_channel.ts";
import { PerMessageDeflate } from "../deflate/permessage_deflate.ts";
import { socketTransport } from "./node_socket_transport.ts";
import { ServerConnections } from "./server_connections.ts";
import type { ChannelSet } from "../channel/channel_set.ts";
import {
  checkServerOptions,
  type ServeOptions,
  type UpgradeOptions,
  type WebSocketServer,
} from "./serve_options.ts";

export type { ServeOptions, UpgradeOptions, WebSocketServer } from "./serve_options.ts";

/** Options of {@linkcode attach} and {@linkcode handleUpgrade}. */
export interface AttachOptions extends UpgradeOptions {
  /** Called with each open channel and its upgrade request (see {@linkcode ServeOptions.onChannel}). */
  onChannel(channel: WebSocketChannel, request: Request): void | Promise<void>;
  /** Only upgrades whose path matches are handled; others are left to other listeners (or get 404 when none). */
  path?: string;
}

/** An attached upgrade handler: its live channels, and `close()` to detach it. */
export interface AttachedHandler {
  /** The open connections this handler accepted (or the `channels` option's set). */
  readonly channels: ChannelSet;
  /**
   * Detaches from the server, closes the connections it opened with `code`
   * and `reason`, and resolves when they have ended.
   *
   * @param code Any code valid on the wire. @default {1001}
   * @param reason At most 123 UTF-8 bytes. @default {"Server shutting down"}
   */
  close(code?: number, reason?: string): Promise<void>;
}

function toRequest(req: IncomingMessage, secure: boolean): Request {
  const headers = new Headers();
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) headers.append(raw[i], raw[i + 1]);
  const host = headers.get("host") ?? "localhost";
  return new Request(`${secure ? "https" : "http"}://${host}${req.url ?? "/"}`, { headers });
}

function writeRejection(socket: Duplex, status: number, headers: Headers, body: string) {
  if (!socket.writable) return void socket.destroy();
  socket.write(encodeResponseHead(status, headers));
  socket.end(body);
}

/** Answers 500: our own settings failed during a handshake, not the client's request. */
function writeServerError(socket: Duplex): void {
  const { status, headers, body } = createRejection(500, "Internal Server Error");
  writeRejection(socket, status, headers, body);
}

/**
 * Completes a WebSocket upgrade from a `node:http` `'upgrade'` event with the
 * engine, and calls `options.onChannel` with the open channel. A request that
 * fails the handshake (bad headers, refused origin, …) gets the HTTP error
 * (400, 403, 426, …) and no channel. Invalid options (`compression`) reject
 * with `TypeError` / `RangeError` and the client gets a 500.
 *
 * @example
 * ```ts ignore
 * import { createServer } from "node:http";
 * import { handleUpgrade } from "@wsc/websocket-channel/server/node";
 *
 * const server = createServer();
 * server.on("upgrade", (req, socket, head) =>
 *   handleUpgrade(req, socket, head, { onChannel: (ch) => ch.stream.pipeTo(ch.sink) }));
 * server.listen(8080);
 * ```
 */
export function handleUpgrade(
  req: IncomingMessage,
  socket: Duplex,
  head: Uint8Array,
  options: AttachOptions,
): Promise<WebSocketChannel | undefined> {
  let checked: AttachOptions;
  try {
    checked = checkServerOptions(options);
  } catch (error) {
    writeServerError(socket);
    return Promise.reject(error);
  }
  return upgradeWith(new ServerConnections(checked), req, socket, head, checked);
}

async function upgradeWith(
  connections: ServerConnections,
  req: IncomingMessage,
  socket: Duplex,
  head: Uint8Array,
  options: UpgradeOptions,
): Promise<WebSocketChannel | undefined> {
  socket.on("error", () => socket.destroy());
  const secure = Boolean((socket as { encrypted?: boolean }).encrypted);
  const request = toRequest(req, secure);
  const verdict = await verifyUpgradeRequest(
    {
      method: req.method ?? "",
      headers: request.headers,
      url: request.url,
      httpVersion: `HTTP/${req.httpVersion}`,
    },
    { protocols: options.protocols, origins: options.origins },
  );
  if (!verdict.ok) {
    const { status, headers, body } = verdict.response;
    writeRejection(socket, status, headers, body);
    return undefined;
  }
  let accepted: ReturnType<typeof PerMessageDeflate.acceptOffer>;
  try {
    accepted = PerMessageDeflate.acceptOffer(
      verdict.offeredExtensions || null,
      options.compression,
    );
  } catch (error) {
    // Our settings, not the request, are at fault: say so rather than drop the socket.
    writeServerError(socket);
    throw error;
  }
  const headers = await createUpgradeResponseHeaders(verdict.key, {
    protocol: verdict.protocol,
    extensions: accepted?.response,
  });
  if (socket.destroyed) return undefined;
  (socket as Socket).setNoDelay?.(true);
  (socket as Socket).setTimeout?.(0);
  socket.write(encodeResponseHead(101, headers));
  const channel = new StreamChannel({
    role: "server",
    maxMessageSize: options.maxMessageSize,
    closeTimeout: options.closeTimeout,
  });
  channel.open(socketTransport(socket as Socket), {
    protocol: verdict.protocol,
    extensions: accepted?.response ?? "",
    deflate: accepted?.deflate,
    head: head.byteLength > 0 ? head : undefined,
  });
  return connections.track(channel, request);
}

/**
 * Handles WebSocket upgrades on an existing `node:http` / `node:https` server.
 *
 * @example
 * ```ts ignore
 * import { createServer } from "node:http";
 * import { attach } from "@wsc/websocket-channel/server/node";
 *
 * const server = createServer((_, res) => res.end("hello")).listen(8080);
 * const ws = attach(server, { path: "/ws", onChannel: (ch) => ch.stream.pipeTo(ch.sink) });
 * ```
 */
export function attach(server: Server | HttpsServer, options: AttachOptions): AttachedHandler {
  // Throws TypeError / RangeError now rather than at every handshake.
  options = checkServerOptions(options);
  const connections = new ServerConnections(options);
  const listener = (req: IncomingMessage, socket: Duplex, head: Uint8Array) => {
    const path = (req.url ?? "/").split("?")[0];
    if (options.path !== undefined && path !== options.path) {
      // Another listener may handle it; without one, nobody would answer.
      if (server.listenerCount("upgrade") === 1) {
        const headers = new Headers({
          "content-type": "text/plain",
          "content-length": "9",
          connection: "close",
        });
        writeRejection(socket, 404, headers, "Not found");
      }
      return;
    }
    upgradeWith(connections, req, socket, head, options).catch(() => {
      // A 500 already written still goes out before the socket closes.
      if (!socket.writableEnded) socket.destroy();
    });
  };
  server.on("upgrade", listener);
  return {
    channels: connections.channels,
    close(code, reason) {
      server.off("upgrade", listener);
      return connections.closeAll(code, reason);
    },
  };
}

/**
 * Serves WebSockets on `node:http` with the engine: every upgrade becomes a
 * channel passed to `onChannel`; plain HTTP requests get 426.
 *
 * @example
 * ```ts ignore
 * import { serve } from "@wsc/websocket-channel/server/node";
 *
 * const server = await serve({ port: 8080, onChannel: (ch) => ch.stream.pipeTo(ch.sink) });
 * await server.close();
 * ```
 */
export async function serve(options: ServeOptions): Promise<WebSocketServer> {
  // Rejects with TypeError / RangeError before listening.
  options = checkServerOptions(options);
  const hostname = options.hostname ?? "0.0.0.0";
  const onRequest = (_req: IncomingMessage, res: import("node:http").ServerResponse) => {
    res.writeHead(426, { upgrade: "websocket", connection: "close", "content-type": "text/plain" });
    res.end("WebSocket upgrade required");
  };
  const server: Server | HttpsServer = options.tls
    ? createHttpsServer({ cert: options.tls.cert, key: options.tls.key }, onRequest)
    : createServer(onRequest);
  const handler = attach(server, options);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, hostname, () => {
      server.off("error", reject);
      resolve();
    });
  });
  let closing: Promise<void> | undefined;
  const close = (code?: number, reason?: string) =>
    closing ??= (async () => {
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      await handler.close(code, reason);
      server.closeAllConnections?.();
      await stopped;
    })();
  options.signal?.addEventListener("abort", () => void close(), { once: true });
  if (options.signal?.aborted) void close();
  return {
    port: (server.address() as { port: number }).port,
    hostname,
    channels: handler.channels,
    close,
  };
}
