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
import type { Server as HttpsServer } from "node:https";
import type { Duplex } from "node:stream";
import { createServer as createNetServer, type Server as NetServer, type Socket } from "node:net";
import { createServer as createTlsServer } from "node:tls";
import {
  createRejection,
  createUpgradeResponseHeaders,
  type HandshakeRejection,
  verifyUpgradeRequest,
} from "../handshake/server_handshake.ts";
import {
  checkHeadLimits,
  encodeResponseHead,
  HTTP1_HEAD_LIMITS,
} from "../handshake/http1_codec.ts";
import type { WebSocketChannel } from "../channel/web_socket_channel.ts";
import { StreamChannel } from "../channel/stream_channel.ts";
import { PerMessageDeflate } from "../deflate/permessage_deflate.ts";
import { socketTransport } from "./node_socket_transport.ts";
import { ServerConnections } from "./server_connections.ts";
import { busyRejection, HandshakeSlots } from "./handshake_slots.ts";
import type { ChannelSet } from "../channel/channel_set.ts";
import {
  checkServerOptions,
  DEFAULT_HANDSHAKE_TIMEOUT,
  DEFAULT_MAX_PENDING_HANDSHAKES,
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

/** Milliseconds a refused socket is kept after its answer (as serverOverStreams). */
const LINGER_MS = 2000;
/** Sockets already answered: node:http may report one error several times. */
const refused = new WeakSet<Duplex>();

/**
 * Answers and closes in stages (RFC 7230 §6.6): shut our side, read and drop
 * what the client still sends until it closes or `LINGER_MS` pass, then
 * destroy. Destroying with unread input would send a TCP reset, which can
 * destroy the answer before the client reads it.
 */
function writeRejection(socket: Duplex, status: number, headers: Headers, body: string) {
  if (refused.has(socket)) return;
  refused.add(socket);
  if (!socket.writable || socket.writableEnded) return void socket.destroy();
  socket.write(encodeResponseHead(status, headers));
  socket.end(body);
  const timer = setTimeout(() => socket.destroy(), LINGER_MS);
  (timer as { unref?: () => void }).unref?.();
  socket.once("close", () => clearTimeout(timer));
  socket.on("data", () => {});
  socket.resume();
}

function refuseWith(socket: Duplex, rejection: HandshakeRejection): void {
  writeRejection(socket, rejection.status, rejection.headers, rejection.body);
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
  // Answered already (408 while node:http still parsed the head): nothing more to say.
  if (refused.has(socket)) return undefined;
  socket.on("error", () => socket.destroy());
  // node:http takes up to 2,000 fields: the same 431 limits as our own head reader.
  const tooLarge = checkHeadLimits(
    `${req.method} ${req.url} HTTP/${req.httpVersion}`,
    req.rawHeaders,
  );
  if (tooLarge) {
    refuseWith(socket, createRejection(431, tooLarge.message));
    return undefined;
  }
  const secure = Boolean((socket as { encrypted?: boolean }).encrypted);
  const request = toRequest(req, secure);
  const verdict = await verifyUpgradeRequest(
    {
      method: req.method ?? "",
      headers: request.headers,
      url: request.url,
      httpVersion: `HTTP/${req.httpVersion}`,
    },
    {
      protocols: options.protocols,
      origins: options.origins,
      requireOrigin: options.requireOrigin,
    },
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
    maxFragments: options.maxFragments,
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

/** The status for an error that node:http reports on a connection before any request. */
function clientErrorStatus(error: Error & { code?: string }): number {
  if (error.code === "HPE_HEADER_OVERFLOW") return 431;
  if (error.code === "ERR_HTTP_REQUEST_TIMEOUT") return 408;
  return 400;
}

/**
 * Serves WebSockets on `node:http` with the engine: every upgrade becomes a
 * channel passed to `onChannel`; plain HTTP requests get 426. The same
 * limits as on Deno and Bun: heads over 16 KiB, lines over 8 KiB or more
 * than 128 fields get 431, a head not complete within `handshakeTimeout`
 * gets 408, a connection beyond `maxPendingHandshakes` gets 503.
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
  const handshakeTimeout = options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT;
  const slots = new HandshakeSlots(options.maxPendingHandshakes ?? DEFAULT_MAX_PENDING_HANDSHAKES);
  /** Admitted sockets whose request head is not complete yet, and how to settle each. */
  const pending = new Map<Duplex, () => void>();
  const sockets = new Set<Socket>();
  const onRequest = (req: IncomingMessage, res: import("node:http").ServerResponse) => {
    pending.get(req.socket)?.();
    if (refused.has(req.socket)) return void req.socket.destroy();
    res.writeHead(426, { upgrade: "websocket", connection: "close", "content-type": "text/plain" });
    res.end("WebSocket upgrade required");
  };
  // node:http parses the heads; it never listens itself: the outer server below
  // admits each connection first (maxPendingHandshakes) and times its head.
  // Its own limits match ours, though our checks and timer act first.
  const server = createServer({
    maxHeaderSize: HTTP1_HEAD_LIMITS.maxHeadSize,
    // node:http wants whole milliseconds.
    headersTimeout: Math.ceil(handshakeTimeout),
    requestTimeout: Math.ceil(handshakeTimeout),
  }, onRequest);
  server.on("clientError", (error: Error, socket: Duplex) => {
    pending.get(socket)?.();
    const status = clientErrorStatus(error);
    const message = status === 431
      ? `HTTP head exceeds ${HTTP1_HEAD_LIMITS.maxHeadSize} bytes`
      : status === 408
      ? `Opening handshake not done within ${handshakeTimeout} ms`
      : "Bad Request";
    refuseWith(socket, createRejection(status, message));
  });
  // Runs before attach()'s listener: the head is complete, the deadline no longer applies.
  server.prependListener("upgrade", (_req: IncomingMessage, socket: Duplex) => {
    pending.get(socket)?.();
  });
  const handler = attach(server, options);
  const onSocket = (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    const release = slots.acquire();
    if (!release) {
      // Past maxPendingHandshakes: 503 without reading the request (see ServeOptions).
      const refusal = slots.acquireRefusal();
      if (!refusal) return void socket.destroy();
      socket.once("close", refusal);
      return refuseWith(socket, busyRejection());
    }
    const timer = setTimeout(() => {
      settle();
      refuseWith(
        socket,
        createRejection(408, `Opening handshake not done within ${handshakeTimeout} ms`),
      );
    }, handshakeTimeout);
    const settle = () => {
      clearTimeout(timer);
      pending.delete(socket);
      release();
    };
    pending.set(socket, settle);
    socket.once("close", settle);
    server.emit("connection", socket);
  };
  const outer: NetServer = options.tls
    ? createTlsServer({
      cert: options.tls.cert,
      key: options.tls.key,
      ALPNProtocols: ["http/1.1"],
      handshakeTimeout: Math.ceil(handshakeTimeout),
    }, onSocket)
    : createNetServer(onSocket);
  // With TLS, the raw sockets too: close() must not wait for handshakes in progress.
  outer.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    outer.once("error", reject);
    outer.listen(options.port ?? 0, hostname, () => {
      outer.off("error", reject);
      resolve();
    });
  });
  let closing: Promise<void> | undefined;
  const close = (code?: number, reason?: string) =>
    closing ??= (async () => {
      const stopped = new Promise<void>((resolve) => outer.close(() => resolve()));
      await handler.close(code, reason);
      for (const socket of sockets) socket.destroy();
      await stopped;
    })();
  options.signal?.addEventListener("abort", () => void close(), { once: true });
  if (options.signal?.aborted) void close();
  return {
    port: (outer.address() as { port: number }).port,
    hostname,
    channels: handler.channels,
    close,
  };
}
