/**
 * The options and result of `serve()`, identical in `./server/deno`,
 * `./server/bun` and `./server/node`, so a program swaps runtimes by changing
 * one import.
 *
 * @module
 */
import type { Compression } from "../deflate/compression_options.ts";
import type { OriginPolicy } from "../handshake/origin_policy.ts";
import type { SubprotocolSelector } from "../handshake/subprotocol.ts";
import type { WebSocketChannel } from "../channel/web_socket_channel.ts";
import type { ChannelSet } from "../channel/channel_set.ts";
import type { ServerSideOptions } from "../channel/server_over_streams.ts";
import { hookFailure, type UpgradeHook } from "../handshake/upgrade_hook.ts";
import type { AnswerPingMessages } from "../channel/ping_messages.ts";

export type { UpgradeAcceptance, UpgradeDecision, UpgradeHook } from "../handshake/upgrade_hook.ts";
export type { AnswerPingMessages, PingMessages } from "../channel/ping_messages.ts";

/**
 * Options shared by every server entry point (`serve`, `upgrade`, handlers,
 * `attach`). `Data` is the type of the per-connection value that
 * `onUpgrade` gives and `onChannel` receives.
 *
 * The options may be an instance of a class: the options it inherits count
 * (methods, getters), and each callback (`onChannel`, `onUpgrade`,
 * `onError`, and `protocols` or `origins` when they are functions) is
 * called with `this` set to the object passed in; the `compression`
 * settings may be an instance too. `serve()`, `attach()`,
 * `handleUpgrade()` and `createBunHandler()` read the options when called
 * (`upgrade()` on Deno at each call): assigning an option afterwards changes
 * nothing, while arrays such as `protocols` are used as they are.
 */
export interface UpgradeOptions<Data = undefined> {
  /**
   * Subprotocols we speak, in order of preference, or a function choosing one
   * of those the client offered. None offered in common: no subprotocol.
   */
  protocols?: SubprotocolSelector;
  /**
   * Allowed `Origin` values (strings or RegExps) or a predicate; a refused
   * origin gets HTTP 403 (RFC 6455 §4.2.2).
   *
   * **Default: every origin is accepted** (as with `ws`, `Deno.upgradeWebSocket`
   * and `Bun.serve`), so any web page a user visits can open a connection
   * to this server with the user's cookies (cross-site WebSocket hijacking).
   * A server that browsers reach, and that relies on cookies or on being
   * reachable only from the user's machine (localhost), should list its
   * origins, e.g. `origins: ["https://app.example.com"]`.
   *
   * With a list, a request **without** `Origin` is accepted: hijacking needs
   * a victim's browser, and browsers always send `Origin` on a WebSocket
   * handshake, while non-browser clients (servers, CLIs, apps) usually send
   * none and could forge any value anyway. `requireOrigin` refuses them.
   */
  origins?: OriginPolicy;
  /**
   * Refuse (HTTP 403) an upgrade request without an `Origin` header, for
   * servers whose clients are all browsers. Works with or without `origins`.
   * @default {false}
   */
  requireOrigin?: boolean;
  /**
   * The application's own check of an upgrade request, e.g. authentication
   * (browsers cannot send `Authorization` on a WebSocket: read a cookie or a
   * token in the URL there). Called once the request is a valid WebSocket
   * handshake (and its origin allowed), before the 101 is sent, with a
   * fetch `Request` (method, URL with host, headers; no body).
   *
   * - Return (or resolve to) a `Response` to refuse: its status, headers and
   *   body are sent as they are (raw-socket servers add `Content-Length` and
   *   `Connection: close`), e.g. 401 with `WWW-Authenticate`.
   * - Return `{ headers, data }` to accept: `headers` are added to the 101
   *   (e.g. `Set-Cookie`), `data` is the connection's value, passed to
   *   `onChannel` as its third argument (Bun's `ws.data`).
   * - Return nothing to accept without either.
   * - A throw or a rejection answers 500 and is reported to `onError`.
   *
   * In `serve()` the check counts as part of the opening handshake: it holds
   * one of `maxPendingHandshakes` while it runs (its client leaving aborts
   * `request.signal` but frees no slot before the check settles or the
   * deadline passes), and one not settled within
   * `handshakeTimeout` (counted from the connection) is answered 503 with
   * `request.signal` aborted. Elsewhere the hosting server's own limits apply.
   */
  onUpgrade?: UpgradeHook<Data>;
  /**
   * Told of the application's errors that the server handled: `onUpgrade`
   * threw or rejected (the client got 500, `error` is what was thrown) or did
   * not settle in time (503, a `HandshakeError` with `WS_HANDSHAKE_TIMEOUT`),
   * and `onChannel` threw or rejected (the connection was closed with 1011).
   * Without it they are written to `console.error`. Errors thrown by
   * `onError` itself are ignored. An `onError` whose `length` is 1,
   * `(error) => …`, gets no `request` (none is built for it), as
   * `onChannel` (see there).
   */
  onError?(error: unknown, request: Request): void;
  /**
   * Largest accepted message in bytes; larger ones close the connection with 1009.
   * @default {67108864}
   */
  maxMessageSize?: number;
  /**
   * Most frames one received message may arrive in, empty ones included;
   * one more closes the connection with 1008 (`WS_TOO_MANY_FRAGMENTS`).
   * Engine paths; native sockets have their platform's own limits.
   * @default {131072}
   */
  maxFragments?: number;
  /**
   * Seconds after which a connection that does not answer pings is closed
   * with 1001. On the engine paths a ping goes out `idleTimeout / 2` after
   * the connection opened or the last pong, and one unanswered for another
   * `idleTimeout / 2` closes it, so exactly `idleTimeout` after the last pong
   * (see each adapter for how it is implemented). `0` disables.
   * @default {30}
   */
  idleTimeout?: number;
  /**
   * Milliseconds to wait for the peer's close frame before dropping the
   * connection (engine paths; a heartbeat close of a dead peer takes this long).
   * @default {5000}
   */
  closeTimeout?: number;
  /**
   * permessage-deflate (RFC 7692): off by default; `true` for the defaults or
   * settings. The engine paths compress with `node:zlib` (context takeover
   * both ways, as `ws`) unless `codec` says otherwise. Where the platform
   * cannot compress (`Deno.upgradeWebSocket`) setting it is an
   * `UnsupportedError`, never silently ignored.
   */
  compression?: Compression;
  /**
   * The set that open channels join (and leave when they close). Give one
   * set to several entry points to see and close all their channels
   * together; without it each server keeps its own (`server.channels`).
   */
  channels?: ChannelSet;
  /**
   * Answer application-level ping messages, for clients that cannot send
   * protocol pings (browsers): a received message equal to `ping` is
   * answered with `pong` at once and never reaches the application. `true`
   * means `{ ping: "ping", pong: "pong" }`, which matches a client
   * `heartbeat: { pingMessage: "ping" }` (its `pongMessage` defaults to
   * `"pong"`). Text matches text and bytes match bytes, exactly.
   * @default {false}
   */
  answerPingMessages?: AnswerPingMessages;
}

/** Options of `serve()`; `Data` is the type of `onUpgrade`'s per-connection value. */
export interface ServeOptions<Data = undefined> extends UpgradeOptions<Data> {
  /** TCP port; `0` picks a free one (read it from the result). @default {0} */
  port?: number;
  /** Interface to listen on. @default {"0.0.0.0"} */
  hostname?: string;
  /** PEM certificate chain and private key: listen with TLS (`wss:`). */
  tls?: { cert: string; key: string };
  /**
   * Called once per accepted connection, with the channel (already open),
   * the upgrade request (a fetch `Request`: url, headers) and the `data` that
   * `onUpgrade` gave (`undefined` without it). A throw or a rejected promise
   * closes that connection with 1011 (and is reported to `onError`).
   *
   * A handler whose `length` is 1, such as `(channel) => …`, is called with
   * the channel alone, and the server builds no `Request` for it (unless
   * `onUpgrade` runs, or an `onError` that takes the request is told of a
   * failure). On Node that keeps the fetch implementation from loading at
   * all: about 2 MB of heap, which every full garbage collection would
   * mark. `length` counts the parameters before the first default value or
   * rest parameter, so `(channel, ...rest) => …` and
   * `(channel, request = fallback) => …` get the channel alone too: name the
   * request as a plain second parameter to get it (`(...args) => …`, of
   * `length` 0, gets all three).
   */
  onChannel(channel: WebSocketChannel, request: Request, data: Data): void | Promise<void>;
  /** Aborting it is the same as calling `close()` on the result. */
  signal?: AbortSignal;
  /**
   * Milliseconds from accepting a connection (after the TLS handshake on
   * Bun and Node, whose TLS handshakes are bounded by the same time) until
   * its upgrade is decided: the request head complete and `onUpgrade`
   * settled. A head still incomplete then gets HTTP 408 and is closed, so a
   * client trickling its head (slowloris) cannot hold a connection for long;
   * an `onUpgrade` still running gets 503 (its `request.signal` aborts and
   * `onError` hears of it). Applied the same way on Deno, Bun and Node.
   * @default {10000}
   */
  handshakeTimeout?: number;
  /**
   * Most connections whose opening handshake is in progress (accepted, head
   * not yet complete, `onUpgrade` running, or being answered), so a slow
   * `onUpgrade` (an authentication service that hangs) holds at most this
   * many connections and checks at once. A connection beyond it is answered
   * at once with HTTP 503 without reading its request and closed, so a
   * flood of slow handshakes cannot hold an unbounded number of sockets
   * while the handshakes already in progress still complete. A 503, rather
   * than a bare close, tells a client the server is busy (it may retry
   * later) instead of looking like a network failure; it costs one small
   * write, and the refused connection is closed within 2 s. Past twice this
   * number (refusals still closing), new connections are closed at once.
   * Open WebSocket connections do not count; on Bun and Node neither do
   * connections still in their TLS handshake (bounded by `handshakeTimeout`).
   * @default {1024}
   */
  maxPendingHandshakes?: number;
}

/** A listening server returned by `serve()`. */
export interface WebSocketServer {
  /** The port actually listened on (useful with `port: 0`). */
  readonly port: number;
  /** The interface listened on. */
  readonly hostname: string;
  /** The open connections: `size`, iteration, `closeAll(code, reason)`. */
  readonly channels: ChannelSet;
  /**
   * Stops accepting connections, closes open ones with `code` and `reason`
   * and resolves when all of them have ended. Idempotent (the first call's
   * code wins).
   *
   * @param code Any code valid on the wire. @default {1001}
   * @param reason At most 123 UTF-8 bytes. @default {"Server shutting down"}
   */
  close(code?: number, reason?: string): Promise<void>;
}

/**
 * Default `idleTimeout` in seconds (Deno's default; proxies commonly drop idle
 * connections at 60 s, so a ping every 15 s keeps them open).
 *
 * @example
 * ```ts
 * import { DEFAULT_IDLE_TIMEOUT } from "./serve_options.ts";
 *
 * console.assert(DEFAULT_IDLE_TIMEOUT === 30);
 * ```
 */
export const DEFAULT_IDLE_TIMEOUT = 30;

/**
 * Default `handshakeTimeout` of `serve()` in milliseconds (as
 * python-websockets' `open_timeout`): ample for a real client, which sends
 * its whole request at once, and short enough that slow heads are dropped.
 *
 * @example
 * ```ts
 * import { DEFAULT_HANDSHAKE_TIMEOUT } from "./serve_options.ts";
 *
 * console.assert(DEFAULT_HANDSHAKE_TIMEOUT === 10_000);
 * ```
 */
export const DEFAULT_HANDSHAKE_TIMEOUT = 10_000;

/**
 * Default `maxPendingHandshakes` of `serve()`.
 *
 * @example
 * ```ts
 * import { DEFAULT_MAX_PENDING_HANDSHAKES } from "./serve_options.ts";
 *
 * console.assert(DEFAULT_MAX_PENDING_HANDSHAKES === 1024);
 * ```
 */
export const DEFAULT_MAX_PENDING_HANDSHAKES = 1024;

/**
 * Reports an application error the server handled (see
 * {@linkcode UpgradeOptions.onError}): to `onError`, or to `console.error`
 * without one. Never throws.
 *
 * @param onError The server's `onError` option.
 * @param error What `onUpgrade` / `onChannel` threw, or the timeout.
 * @param request The upgrade request of the connection, or what gives it.
 *
 * @example
 * ```ts
 * import { reportServerError } from "./serve_options.ts";
 *
 * const seen: unknown[] = [];
 * reportServerError((error) => seen.push(error), new Error("bug"), new Request("http://a/"));
 * console.assert(seen.length === 1);
 * ```
 */
export function reportServerError(
  onError: ((error: unknown, request: Request) => void) | undefined,
  error: unknown,
  request: Request | LazyRequest,
): void {
  // An accepted upgrade's request is built here only for an onError that takes it (the
  // same length rule as onChannel's).
  let built: Request | undefined;
  if (onError && onError.length !== 1) {
    try {
      built = "request" in request ? request.request : request;
    } catch (failure) {
      onError = undefined;
      error = new AggregateError([error, failure], "and the request could not be built");
    }
  }
  try {
    if (onError) onError(error, built as Request);
    else console.error(`websocket-channel: server callback failed for ${request.url}:`, error);
  } catch { /* a failing reporter must not break the server */ }
}

/** What gives a connection's upgrade request when read (built on first read). */
export interface LazyRequest {
  /** The request. */
  readonly request: Request;
  /** Its URL as received, without building it. */
  readonly url: string;
}

/**
 * The `onUpgrade` of one connection of an engine server, and the reporting
 * of its failure: `serverOverStreams` runs `onUpgrade` and rejects; `report`
 * then tells `onError` (with the request the hook saw) when the hook threw
 * or was too slow, and nothing for the client's own failures.
 *
 * @param options The server's `onUpgrade` and `onError`.
 * @returns The hook to run (`undefined` without one) and the reporter.
 *
 * @example
 * ```ts
 * import { watchUpgradeHook } from "./serve_options.ts";
 *
 * const seen: unknown[] = [];
 * const hook = watchUpgradeHook({
 *   onUpgrade: () => { throw new Error("bug"); },
 *   onError: (error) => seen.push(error),
 * });
 * console.assert(typeof hook.onUpgrade === "function");
 * ```
 */
export function watchUpgradeHook(
  // deno-lint-ignore no-explicit-any
  options: Pick<UpgradeOptions<any>, "onUpgrade" | "onError">,
): { onUpgrade: UpgradeHook<unknown> | undefined; report(error: unknown): void } {
  const { onUpgrade } = options;
  let seen: Request | undefined;
  return {
    onUpgrade: onUpgrade && ((request: Request) => {
      seen = request;
      return onUpgrade(request);
    }),
    report(error: unknown) {
      const failure = hookFailure(error);
      if (failure && seen) reportServerError(options.onError, failure.error, seen);
    },
  };
}

/**
 * What `serve()` on Deno and Bun hands the engine's handshake: one object
 * per server, passed for each of its connections (whose settings are then
 * resolved once and shared; see `acceptOverStreams`).
 *
 * @param options The server's options, checked.
 * @param secure The server speaks TLS.
 * @param closing Aborted by the server's `close()`: handshakes still
 *   deciding end then, not at `handshakeTimeout`.
 * @returns The handshake's options, without `onUpgrade` (given per connection).
 *
 * @example
 * ```ts
 * import { streamServerOptions } from "./serve_options.ts";
 *
 * const options = streamServerOptions({ maxMessageSize: 1024, onChannel() {} }, false, new AbortController().signal);
 * console.assert(options.maxMessageSize === 1024 && options.handshakeTimeout === 10_000);
 * ```
 */
export function streamServerOptions(
  // deno-lint-ignore no-explicit-any
  options: ServeOptions<any>,
  secure: boolean,
  closing: AbortSignal,
): ServerSideOptions {
  return {
    secure,
    closing,
    protocols: options.protocols,
    origins: options.origins,
    requireOrigin: options.requireOrigin,
    maxMessageSize: options.maxMessageSize,
    maxFragments: options.maxFragments,
    closeTimeout: options.closeTimeout,
    answerPingMessages: options.answerPingMessages,
    compression: options.compression,
    handshakeTimeout: options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT,
  };
}
