/**
 * The options and result of `serve()`, identical in `./server/deno`,
 * `./server/bun` and `./server/node`, so a program swaps runtimes by changing
 * one import.
 *
 * @module
 */
import { type Compression, resolveCompression } from "../deflate/compression_options.ts";
import type { OriginPolicy } from "../handshake/origin_policy.ts";
import type { SubprotocolSelector } from "../handshake/subprotocol.ts";
import type { WebSocketChannel } from "../channel/web_socket_channel.ts";
import type { ChannelSet } from "../channel/channel_set.ts";

/** Options shared by every server entry point (`serve`, `upgrade`, handlers, `attach`). */
export interface UpgradeOptions {
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
   * Seconds of silence after which the server pings and, without a pong,
   * closes with 1001 (see each adapter for how it is implemented). `0` disables.
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
   * settings. Where the platform cannot compress (`Deno.upgradeWebSocket`)
   * setting it is an `UnsupportedError`, never silently ignored.
   */
  compression?: Compression;
  /**
   * The set that open channels join (and leave when they close). Give one
   * set to several entry points to see and close all their channels
   * together; without it each server keeps its own (`server.channels`).
   */
  channels?: ChannelSet;
}

/** Options of `serve()`. */
export interface ServeOptions extends UpgradeOptions {
  /** TCP port; `0` picks a free one (read it from the result). @default {0} */
  port?: number;
  /** Interface to listen on. @default {"0.0.0.0"} */
  hostname?: string;
  /** PEM certificate chain and private key: listen with TLS (`wss:`). */
  tls?: { cert: string; key: string };
  /**
   * Called once per accepted connection, with the channel (already open) and
   * the upgrade request (a fetch `Request`: url, headers). A throw or a
   * rejected promise closes that connection with 1011.
   */
  onChannel(channel: WebSocketChannel, request: Request): void | Promise<void>;
  /** Aborting it is the same as calling `close()` on the result. */
  signal?: AbortSignal;
  /**
   * Milliseconds from accepting a connection (after the TLS handshake on
   * Bun and Node, whose TLS handshakes are bounded by the same time) until
   * its upgrade request head is complete. A slower request gets HTTP 408
   * and is closed, so a client trickling its head (slowloris) cannot hold a
   * connection for long. Applied the same way on Deno, Bun and Node.
   * @default {10000}
   */
  handshakeTimeout?: number;
  /**
   * Most connections whose opening handshake is in progress (accepted, head
   * not yet complete or being answered). A connection beyond it is answered
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

/** Longest timer delay that every runtime honours (larger ones fire at once in Node). */
const MAX_TIMEOUT = 2 ** 31 - 1;

/** The options that {@linkcode checkServerOptions} validates. */
export interface CheckedServerOptions {
  /** See {@linkcode UpgradeOptions.compression}. */
  compression?: Compression;
  /** See {@linkcode ServeOptions.handshakeTimeout}. */
  handshakeTimeout?: number;
  /** See {@linkcode ServeOptions.maxPendingHandshakes}. */
  maxPendingHandshakes?: number;
  /** See {@linkcode UpgradeOptions.requireOrigin}. */
  requireOrigin?: boolean;
}

/**
 * Validates the options once, when a server entry point is configured, so a
 * mistake throws there (`TypeError` / `RangeError`) instead of failing
 * every handshake later: `compression`, `handshakeTimeout` (a number of
 * milliseconds, more than 0, at most 2^31 − 1), `maxPendingHandshakes` (an
 * integer, at least 1, or `Infinity`) and `requireOrigin` (a boolean).
 * Returns the options with a validated copy of the compression settings
 * (`false` when off), so that changing the caller's object afterwards
 * cannot break handshakes either.
 *
 * @example
 * ```ts
 * import { checkServerOptions } from "./serve_options.ts";
 *
 * const checked = checkServerOptions({ compression: true as boolean });
 * console.assert(checked.compression !== false);
 * try {
 *   checkServerOptions({ compression: { threshold: -1 } });
 * } catch (error) {
 *   console.assert(error instanceof RangeError);
 * }
 * try {
 *   checkServerOptions({ handshakeTimeout: 0 });
 * } catch (error) {
 *   console.assert(error instanceof RangeError);
 * }
 * ```
 */
export function checkServerOptions<T extends CheckedServerOptions>(options: T): T {
  const { handshakeTimeout, maxPendingHandshakes, requireOrigin } = options;
  if (handshakeTimeout !== undefined) {
    if (typeof handshakeTimeout !== "number") {
      throw new TypeError("handshakeTimeout must be a number of milliseconds");
    }
    if (!(handshakeTimeout > 0 && handshakeTimeout <= MAX_TIMEOUT)) {
      throw new RangeError(
        `handshakeTimeout must be more than 0 and at most ${MAX_TIMEOUT} ms, got ${handshakeTimeout}`,
      );
    }
  }
  if (maxPendingHandshakes !== undefined) {
    if (typeof maxPendingHandshakes !== "number") {
      throw new TypeError("maxPendingHandshakes must be a number");
    }
    if (
      !(maxPendingHandshakes >= 1 &&
        (Number.isInteger(maxPendingHandshakes) || maxPendingHandshakes === Infinity))
    ) {
      throw new RangeError(
        `maxPendingHandshakes must be an integer of at least 1 or Infinity, got ${maxPendingHandshakes}`,
      );
    }
  }
  if (requireOrigin !== undefined && typeof requireOrigin !== "boolean") {
    throw new TypeError("requireOrigin must be a boolean");
  }
  return { ...options, compression: resolveCompression(options.compression) ?? false };
}
