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
 * import { serve } from "@wsc/websocket-channel/server/node";
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
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { Server as HttpsServer } from "node:https";
import type { Duplex } from "node:stream";
import { createServer as createNetServer, type Server as NetServer, type Socket } from "node:net";
import { createServer as createTlsServer } from "node:tls";
import { createRejection } from "../handshake/server_handshake.ts";
import { HTTP1_HEAD_LIMITS } from "../handshake/http1_codec.ts";
import { lateUpgradeCheck } from "../handshake/upgrade_hook.ts";
import type { WebSocketChannel } from "../channel/web_socket_channel.ts";
import { ServerConnections } from "./server_connections.ts";
import { busyRejection, HandshakeSlots } from "./handshake_slots.ts";
import { PendingHandshakes } from "./pending_handshakes.ts";
import type { ChannelSet } from "../channel/channel_set.ts";
import {
  DEFAULT_HANDSHAKE_TIMEOUT,
  DEFAULT_MAX_PENDING_HANDSHAKES,
  type ServeOptions,
  type UpgradeOptions,
  type WebSocketServer,
} from "./serve_options.ts";
import { checkServerOptions, type ListsEveryOption } from "./server_option_checks.ts";
import {
  destroySocket,
  refused,
  refuseWith,
  upgradeWith,
  writeRejection,
  writeServerError,
} from "./node_upgrade.ts";

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

/**
 * Options of {@linkcode attach} and {@linkcode handleUpgrade}; `Data` is the
 * type of `onUpgrade`'s per-connection value.
 */
export interface AttachOptions<Data = undefined> extends UpgradeOptions<Data> {
  /**
   * Called with each open channel, its upgrade request and the `data` that
   * `onUpgrade` gave (see {@linkcode ServeOptions.onChannel}).
   */
  onChannel(channel: WebSocketChannel, request: Request, data: Data): void | Promise<void>;
  /** Only upgrades whose path matches are handled; others are left to other listeners (or get 404 when none). */
  path?: string;
}

// An option added here must be added to the list that reads options (server_option_checks.ts).
const _everyOption: ListsEveryOption<AttachOptions<unknown>> = true;

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

/**
 * Completes a WebSocket upgrade from a `node:http` `'upgrade'` event with the
 * engine, and calls `options.onChannel` with the open channel. A request that
 * fails the handshake (bad headers, refused origin, …) gets the HTTP error
 * (400, 403, 426, …) and no channel. Invalid options (`compression`) reject
 * with `TypeError` / `RangeError` and the client gets a 500. An options
 * object is read and checked at the first call with it; later calls with
 * the same object reuse that (pass another object to change an option), so
 * hoisting the options out of the `'upgrade'` listener saves that work per
 * connection.
 *
 * @example
 * ```ts ignore
 * import { createServer } from "node:http";
 * import { handleUpgrade } from "@wsc/websocket-channel/server/node";
 * import type { WebSocketChannel } from "@wsc/websocket-channel";
 *
 * const server = createServer();
 * // One options object for every upgrade: checked once, not per connection.
 * const options = { onChannel: (ch: WebSocketChannel) => ch.stream.pipeTo(ch.sink) };
 * server.on("upgrade", (req, socket, head) => handleUpgrade(req, socket, head, options));
 * server.listen(8080);
 * ```
 */
export function handleUpgrade<Data = undefined>(
  req: IncomingMessage,
  socket: Duplex,
  head: Uint8Array,
  options: AttachOptions<Data>,
): Promise<WebSocketChannel | undefined> {
  let handler = handlers.get(options);
  if (handler === undefined) {
    try {
      const checked = checkServerOptions(options);
      handler = { checked, connections: new ServerConnections(checked) };
    } catch (error) {
      writeServerError(socket);
      return Promise.reject(error);
    }
    handlers.set(options, handler);
  }
  return upgradeWith(handler.connections, req, socket, head, handler.checked);
}

/**
 * What {@linkcode handleUpgrade} made of an options object at its first call
 * with it, reused by the calls after: the checked copy (so each connection's
 * settings are resolved once) and one set of connections for all of them.
 */
const handlers = new WeakMap<
  object,
  // deno-lint-ignore no-explicit-any
  { checked: AttachOptions<any>; connections: ServerConnections }
>();

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
export function attach<Data = undefined>(
  server: Server | HttpsServer,
  options: AttachOptions<Data>,
): AttachedHandler {
  // Throws TypeError / RangeError now rather than at every handshake.
  return listenUpgrades(server, checkServerOptions(options));
}

/**
 * How `serve()` times an upgrade past its head: the deadline signal of a
 * socket (aborted at `handshakeTimeout`) and the call that frees its
 * handshake slot once the upgrade is decided.
 */
interface Admission {
  deadline(socket: Duplex): AbortSignal | undefined;
  decided(socket: Duplex, upgraded: boolean): void;
}

function listenUpgrades(
  server: Server | HttpsServer,
  // deno-lint-ignore no-explicit-any
  options: AttachOptions<any>,
  admission?: Admission,
): AttachedHandler {
  const connections = new ServerConnections(options);
  const listener = (req: IncomingMessage, socket: Duplex, head: Uint8Array) => {
    if (options.path !== undefined && requestPath(req.url) !== options.path) {
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
    upgradeWith(connections, req, socket, head, options, admission?.deadline(socket))
      .then((channel) => admission?.decided(socket, channel !== undefined), () => {
        // A 500 already written still goes out before the socket closes.
        if (!socket.writableEnded) socket.destroy();
        admission?.decided(socket, false);
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

/** The path of a request target: what precedes its query. */
function requestPath(target = "/"): string {
  const query = target.indexOf("?");
  return query < 0 ? target : target.slice(0, query);
}

function destroyTlsSocket(_error: Error, socket: Duplex): void {
  socket.destroy();
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
export function serve<Data = undefined>(options: ServeOptions<Data>): Promise<WebSocketServer> {
  // Programming errors (TypeError / RangeError) throw at the call, before listening;
  // a port in use rejects.
  return listen(checkServerOptions(options));
}

async function listen<Data>(options: ServeOptions<Data>): Promise<WebSocketServer> {
  const hostname = options.hostname ?? "0.0.0.0";
  const handshakeTimeout = options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT;
  const slots = new HandshakeSlots(options.maxPendingHandshakes ?? DEFAULT_MAX_PENDING_HANDSHAKES);
  /**
   * Admitted sockets whose upgrade is not decided yet, with their slots; once
   * the head is complete (`deciding`) the deadline of its `onUpgrade` (`true`
   * without one: nothing follows a signal then, and an AbortController and
   * its signal are about 1.4 KB for every upgrade). At `handshakeTimeout`:
   * 408 for a head not complete, 503 for an `onUpgrade` not settled.
   */
  const pending = new PendingHandshakes<Duplex>(handshakeTimeout, (socket, { deciding }) => {
    if (deciding) {
      // The head came in time; onUpgrade did not settle.
      const late = lateUpgradeCheck(handshakeTimeout);
      refuseWith(socket, late.rejection);
      if (deciding !== true) deciding.abort(late.error);
      return;
    }
    refuseWith(
      socket,
      createRejection(408, `Opening handshake not done within ${handshakeTimeout} ms`),
    );
  });
  const sockets = new Set<Socket>();
  /**
   * With TLS, the TCP connections under the TLS sockets, upgraded or not:
   * close() ends them last, once the channels over them closed.
   */
  const tcp = new Set<Socket>();
  const onRequest = (req: IncomingMessage, res: import("node:http").ServerResponse) => {
    pending.settle(req.socket);
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
    pending.settle(socket);
    const status = clientErrorStatus(error);
    const message = status === 431
      ? `HTTP head exceeds ${HTTP1_HEAD_LIMITS.maxHeadSize} bytes`
      : status === 408
      ? `Opening handshake not done within ${handshakeTimeout} ms`
      : "Bad Request";
    refuseWith(socket, createRejection(status, message));
  });
  // Runs before the upgrade listener: the head is complete, the deadline now
  // bounds onUpgrade, and the slot is held until the upgrade is decided.
  server.prependListener("upgrade", (_req: IncomingMessage, socket: Duplex) => {
    const entry = pending.get(socket);
    if (entry) entry.deciding = options.onUpgrade ? new AbortController() : true;
    // Not pending: the connection was answered already (a plain request's 426 with
    // `Connection: close`, a 408, a 400): nothing more is said on it, least of all a 101.
    else refused.add(socket);
  });
  const handler = listenUpgrades(server, options, {
    deadline: (socket) => {
      const deciding = pending.get(socket)?.deciding;
      return deciding === true ? undefined : deciding?.signal;
    },
    decided: (socket, upgraded) => {
      // A client that left while onUpgrade ran abandoned the answer, not the check, which
      // may run on: its slot is held until the deadline (as on Deno and Bun), so
      // connections that come and go cannot start more checks than maxPendingHandshakes.
      if (
        !upgraded && socket.destroyed && pending.get(socket)?.deciding instanceof AbortController
      ) {
        return;
      }
      pending.settle(socket);
      if (!upgraded) return;
      // Its channel owns it now (the server's close() ends it through the channel, and the
      // transport listens for its errors): two listeners and a set entry less for its life.
      sockets.delete(socket as Socket);
      socket.off("close", forget);
      socket.off("error", destroySocket);
    },
  });
  // Listeners shared by every socket (`this` is the socket): a closure per
  // socket would keep this function's scope alive for the connection's life.
  // One 'close' listener does all (a `once` costs a wrapper, and a third listener an array that
  // keeps its grown capacity for the connection's life).
  function forget(this: Socket) {
    sockets.delete(this);
    // A decision under way keeps its slot until it is made (`decided`) or its deadline passes:
    // the checks run on after their client left.
    if (pending.get(this)?.deciding === undefined) pending.settle(this);
  }
  function forgetTcp(this: Socket) {
    tcp.delete(this);
  }
  /** One function for every pending socket: PendingHandshakes calls it once per socket it settles. */
  const giveSlot = () => slots.give();
  const onSocket = (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", forget);
    socket.on("error", destroySocket);
    if (!slots.take()) {
      // Past maxPendingHandshakes: 503 without reading the request (see ServeOptions).
      const refusal = slots.acquireRefusal();
      if (!refusal) return void socket.destroy();
      socket.once("close", refusal);
      return refuseWith(socket, busyRejection());
    }
    pending.admit(socket, giveSlot);
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
  if (options.tls) {
    outer.on("connection", (socket: Socket) => {
      tcp.add(socket);
      socket.on("close", forgetTcp);
    });
    // A handshake that failed or passed `handshakeTimeout` (no ClientHello, or one cut
    // short): node:tls reports it and leaves the socket open, so a client that never
    // speaks would keep its connection for good.
    outer.on("tlsClientError", destroyTlsSocket);
  }
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
      // Connections not upgraded end first: a check that accepts while the channels below
      // close would otherwise open a channel nothing closes (and outer.close() waits for).
      for (const socket of sockets) socket.destroy();
      // Checks still running whose clients left: their slots and the deadline timer end here.
      pending.clear();
      await handler.close(code, reason);
      // With TLS, the connections still in their TLS handshake (and any left under a channel).
      for (const socket of tcp) socket.destroy();
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
