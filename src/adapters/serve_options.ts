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
   * origin gets HTTP 403 (RFC 6455 §4.2.2). Default: every origin.
   */
  origins?: OriginPolicy;
  /**
   * Largest accepted message in bytes; larger ones close the connection with 1009.
   * @default {67108864}
   */
  maxMessageSize?: number;
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
 * Validates the `compression` option once, when a server entry point is
 * configured, so a mistake throws there (`TypeError` / `RangeError`) instead
 * of failing every handshake later. Returns the options with a validated
 * copy of the settings (`false` when off), so that changing the caller's
 * object afterwards cannot break handshakes either.
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
 * ```
 */
export function checkServerOptions<T extends { compression?: Compression }>(options: T): T {
  return { ...options, compression: resolveCompression(options.compression) ?? false };
}
