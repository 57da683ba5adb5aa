/**
 * Bun servers (`./server/bun`):
 *
 * - `serve()`: the engine over Bun's own TCP sockets (`Bun.listen`, with its
 *   `tls` option for TLS); full protocol control: pings with RTT, any close
 *   code, real backpressure both ways (the socket is paused while the
 *   application has enough unread; writes the kernel did not take wait for
 *   `drain`), the `idleTimeout` heartbeat, 1009 before a too large message is
 *   buffered. One small object per connection with the listener's handlers
 *   shared: an idle upgraded connection costs about 8 KiB of server RSS
 *   against 11 KiB over Bun's `node:net` (5,000 connections, `bench/echo.ts`).
 * - `createBunHandler()`: a `fetch`-side `upgrade()` plus `websocket`
 *   handlers for your own `Bun.serve`; Bun's native stack (uWebSockets) does
 *   the protocol. `send()`'s -1 (backpressure) and `drain` become sink
 *   backpressure, 0 (dropped) rejects `add()`; Bun cannot pause inbound
 *   reads, so unread messages queue up to `maxQueuedBytes` and beyond that the
 *   connection is closed (1008); the heartbeat is Bun's `idleTimeout` with
 *   `sendPings`; `ping()` is unsupported.
 *
 * @example An echo server on a free port, and a client that talks to it (on Bun)
 * ```ts ignore
 * import { serve } from "@wsc/websocket-channel/server/bun";
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
import { appendHeaders, runUpgradeHook } from "../handshake/upgrade_hook.ts";
import { fromWebSocket } from "../channel/native_channel.ts";
import { acceptOverStreams, refuseOverStreams } from "../channel/server_over_streams.ts";
import type { WebSocketChannel } from "../channel/web_socket_channel.ts";
import {
  type BunSocketHandlers,
  bunSocketHandlers,
  type BunSocketIo,
} from "./bun_socket_transport.ts";
import { ServerConnections } from "./server_connections.ts";
import { installNodePayloadAllocator } from "./node_payload_allocator.ts";
import { maxCompressedSize } from "../engine/message_assembler.ts";

const DEFAULT_MAX_MESSAGE = 64 * 1024 * 1024;
import { busyRejection, HandshakeSlots } from "./handshake_slots.ts";
import { ChannelSet } from "../channel/channel_set.ts";
import { type BunPublisher, type BunServerWebSocket, BunSocketShim } from "./bun_socket_shim.ts";
import {
  DEFAULT_HANDSHAKE_TIMEOUT,
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

/** Options of {@linkcode createBunHandler}; `Data` is the type of `onUpgrade`'s per-connection value. */
export interface BunHandlerOptions<Data = undefined> extends UpgradeOptions<Data> {
  /**
   * Called with each open channel, a copy of its upgrade request and the
   * `data` that `onUpgrade` gave; a throw or rejection closes it with 1011
   * (and is reported to `onError`).
   */
  onChannel(channel: WebSocketChannel, request: Request, data: Data): void | Promise<void>;
  /**
   * Bytes of unread messages kept per connection before it is closed (1008):
   * Bun cannot pause a server socket's reads.
   * @default {16777216}
   */
  maxQueuedBytes?: number;
  /**
   * Bun's `backpressureLimit`: bytes Bun buffers for a socket before `send()`
   * reports -1 and `sink.add()` waits for `drain`.
   * @default {1048576}
   */
  backpressureLimit?: number;
}

// An option added here must be added to the list that reads options (server_option_checks.ts).
const _everyOption: ListsEveryOption<BunHandlerOptions<unknown>> = true;

/** What `upgrade()` stores in Bun's per-socket `data`. */
interface SocketData {
  request: Request;
  protocol: string;
  /** What `onUpgrade` gave. */
  data: unknown;
  server: BunServerLike;
  shim?: BunSocketShim;
}

/** The `Bun.serve` side of an upgrade: `server.upgrade(request, { headers, data })`. */
export interface BunServerLike {
  /** Hands the connection over to Bun's WebSocket handling; `false` when it could not. */
  // `data` is `any`: `Bun.serve` types it with the `T` it inferred for its
  // `Server<T>` (`undefined` when the app stores no data of its own), and
  // its server must fit here whatever that is.
  // deno-lint-ignore no-explicit-any
  upgrade(request: Request, options?: { headers?: HeadersInit; data?: any }): boolean;
  /**
   * Bun's native publish to a topic's subscribers; when present, a topic hub
   * publishes through it (see `TopicHub`).
   */
  publish?(topic: string, data: string | Uint8Array): number;
}

/** The handler pair returned by {@linkcode createBunHandler}. */
export interface BunHandler {
  /**
   * Call from `fetch`: resolves `undefined` once Bun took over the connection
   * (return that from `fetch`), or the HTTP error response for a refused
   * upgrade (`onUpgrade`'s own `Response` as it is; 500 when it threw).
   * `onUpgrade` sees the original request; `Bun.serve`'s own limits apply.
   */
  upgrade(request: Request, server: BunServerLike): Promise<Response | undefined>;
  /** Pass as `Bun.serve({ websocket })`. */
  websocket: Record<string, unknown>;
  /** The open connections (or the `channels` option's set). */
  readonly channels: ChannelSet;
  /**
   * Closes every open connection with `code` and `reason` and resolves when
   * they have ended (stopping `Bun.serve` stays the caller's part).
   *
   * @param code Any code valid on the wire. @default {1001}
   * @param reason At most 123 UTF-8 bytes. @default {"Server shutting down"}
   */
  close(code?: number, reason?: string): Promise<void>;
}

/**
 * Creates handlers for `Bun.serve` that give every upgraded connection as a
 * channel.
 *
 * @example
 * ```ts ignore
 * import { createBunHandler } from "@wsc/websocket-channel/server/bun";
 *
 * const ws = createBunHandler({ onChannel: (ch) => ch.stream.pipeTo(ch.sink) });
 * Bun.serve({ port: 8080, fetch: (req, server) => ws.upgrade(req, server), websocket: ws.websocket });
 * ```
 */
export function createBunHandler<Data = undefined>(options: BunHandlerOptions<Data>): BunHandler {
  // Throws TypeError / RangeError now rather than at every handshake.
  options = checkServerOptions(options);
  const { onChannel, onError } = options;
  const channels = options.channels ?? new ChannelSet();
  return {
    channels,
    close: (code, reason) => channels.closeAll(code, reason),
    async upgrade(request, server) {
      const verdict = await verifyUpgradeRequest(request, {
        protocols: options.protocols,
        origins: options.origins,
        requireOrigin: options.requireOrigin,
      });
      if (!verdict.ok) return rejectionResponse(verdict.response);
      const copy = new Request(request.url, { headers: new Headers(request.headers) });
      let outcome;
      try {
        outcome = await runUpgradeHook(options.onUpgrade, request);
      } catch (error) {
        reportServerError(onError, (error as Error).cause, copy);
        return rejectionResponse(createRejection(500, "Internal Server Error"));
      }
      if (!outcome.accepted) return outcome.response;
      const data: SocketData = {
        request: copy,
        protocol: verdict.protocol,
        data: outcome.data,
        server,
      };
      const headers = appendHeaders(new Headers(), outcome.headers);
      if (verdict.protocol) headers.set("sec-websocket-protocol", verdict.protocol);
      if (server.upgrade(request, { headers, data })) return undefined;
      return new Response("WebSocket upgrade failed", { status: 400 });
    },
    websocket: {
      // Bun checks the frame on the wire: a compressed message may exceed the limit there by
      // deflate's worst case; the channel checks the inflated message exactly.
      maxPayloadLength: options.compression
        ? maxCompressedSize(options.maxMessageSize ?? DEFAULT_MAX_MESSAGE)
        : options.maxMessageSize ?? DEFAULT_MAX_MESSAGE,
      idleTimeout: options.idleTimeout ?? DEFAULT_IDLE_TIMEOUT,
      sendPings: true,
      backpressureLimit: options.backpressureLimit ?? 1024 * 1024,
      closeOnBackpressureLimit: false,
      perMessageDeflate: Boolean(options.compression),
      open(ws: BunServerWebSocket<SocketData>) {
        const { server } = ws.data;
        // The server itself, so every socket of one server shares one key (one publish each).
        const publisher = typeof server.publish === "function" ? server as BunPublisher : undefined;
        const shim = new BunSocketShim(ws, ws.data.protocol, publisher);
        ws.data.shim = shim;
        const channel = fromWebSocket(shim, {
          maxMessageSize: options.maxMessageSize,
          answerPingMessages: options.answerPingMessages,
          maxQueuedBytes: options.maxQueuedBytes,
          pollInterval: 1,
        });
        channels.add(channel);
        const fail = (error: unknown) => {
          reportServerError(onError, error, ws.data.request);
          ws.close(1011);
        };
        try {
          const result = onChannel(channel, ws.data.request, ws.data.data as Data);
          if (result && typeof result.then === "function") result.then(undefined, fail);
        } catch (error) {
          fail(error);
        }
      },
      message(ws: BunServerWebSocket<SocketData>, message: string | Uint8Array) {
        ws.data.shim?.dispatch("message", { data: message });
      },
      drain(ws: BunServerWebSocket<SocketData>) {
        ws.data.shim?.drained();
      },
      close(ws: BunServerWebSocket<SocketData>, code: number, reason: string) {
        ws.data.shim?.dispatch("close", { code, reason, wasClean: code !== 1006 });
      },
    },
  };
}

/**
 * Serves WebSockets with the engine over `Bun.listen` (TLS with `tls`): the
 * same options and channel semantics as `serve()` on Deno and Node. A TLS
 * handshake must end within `handshakeTimeout` too.
 *
 * @example
 * ```ts ignore
 * import { serve } from "@wsc/websocket-channel/server/bun";
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

/** The part of `Bun.listen`'s listener used here. */
interface BunListener {
  readonly port: number;
  stop(closeActiveConnections?: boolean): void;
}

/** `Bun.listen` with the options used here. */
type BunListen = (options: {
  hostname: string;
  port: number;
  allowHalfOpen: boolean;
  tls?: { cert: string; key: string; ALPNProtocols: string };
  socket: BunSocketHandlers;
}) => BunListener;

/** TLS's ALPN list in its wire form (length-prefixed), as Bun takes it: HTTP/1.1 only. */
const ALPN_HTTP1 = "\x08http/1.1";

function listen<Data>(options: ServeOptions<Data>): Promise<WebSocketServer> {
  const bunListen = (globalThis as { Bun?: { listen: BunListen } }).Bun?.listen;
  if (bunListen === undefined) {
    return Promise.reject(new TypeError("server/bun's serve() needs Bun (Bun.listen)"));
  }
  // Large payload buffers the engine overwrites are not zero-filled (Bun has node:buffer).
  installNodePayloadAllocator();
  const hostname = options.hostname ?? "0.0.0.0";
  const secure = Boolean(options.tls);
  const connections = new ServerConnections(options);
  const handshakeTimeout = options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT;
  // Aborted by close(): handshakes still deciding end then, not at handshakeTimeout.
  const stopping = new AbortController();
  const streamOptions = streamServerOptions(options, secure, stopping.signal);
  const slots = new HandshakeSlots(options.maxPendingHandshakes ?? DEFAULT_MAX_PENDING_HANDSHAKES);
  const accept = async (io: BunSocketIo) => {
    if (!secure) io.socket.setNoDelay(true);
    const streams = io.transport();
    const release = slots.acquire();
    if (!release) {
      // Past maxPendingHandshakes: 503 without reading the request (see ServeOptions).
      const refusal = slots.acquireRefusal();
      if (!refusal) return io.drop();
      await refuseOverStreams(streams, busyRejection());
      refusal();
      return io.drop();
    }
    const hook = watchUpgradeHook(options);
    try {
      const upgrade = await acceptOverStreams(
        streams,
        streamOptions,
        hook.onUpgrade,
      );
      release();
      // No cleanup hook of our own per connection: the channel drops its transport
      // (the socket) before `closed` settles, on every path.
      connections.track(upgrade.channel, upgrade);
    } catch (error) {
      // Refused upgrades were answered (400/403/408/431/500/503/…) by the handshake.
      hook.report(error);
      release();
      io.drop();
    }
  };
  let listener: BunListener;
  try {
    listener = bunListen({
      hostname,
      port: options.port ?? 0,
      // Our FIN goes out when the channel has written its last bytes, not at the peer's.
      allowHalfOpen: true,
      tls: options.tls
        ? { cert: options.tls.cert, key: options.tls.key, ALPNProtocols: ALPN_HTTP1 }
        : undefined,
      socket: bunSocketHandlers(
        (io) => void accept(io),
        secure ? { timeout: handshakeTimeout } : undefined,
      ),
    });
  } catch (error) {
    // A port in use and the like: a rejection.
    return Promise.reject(error);
  }
  let closing: Promise<void> | undefined;
  const close = (code?: number, reason?: string) =>
    closing ??= (async () => {
      listener.stop();
      stopping.abort();
      await connections.closeAll(code, reason);
      // Connections still in their handshake (or being refused) end now.
      listener.stop(true);
    })();
  options.signal?.addEventListener("abort", () => void close(), { once: true });
  if (options.signal?.aborted) void close();
  return Promise.resolve({
    port: listener.port,
    hostname,
    channels: connections.channels,
    close,
  });
}
