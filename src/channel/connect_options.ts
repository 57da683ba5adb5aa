/**
 * The options of `connect()`, in a module of their own so that `connect.ts`
 * and the transports it chooses between share them without importing each
 * other.
 *
 * @module
 */
import type { Compression } from "../deflate/compression_options.ts";
import type { ProxySetting } from "../handshake/proxy_setting.ts";

/** Options of `connect()` (`WebSocketChannel.connect`). */
export interface ConnectOptions {
  /** Subprotocols to offer, most preferred first. */
  protocols?: string | string[];
  /**
   * Extra request headers (e.g. `Authorization`). Engine transport only: a
   * browser cannot send them, so there `connect` fails with
   * `WS_OPTION_UNSUPPORTED` instead of dropping them.
   */
  headers?: HeadersInit;
  /** Cancels the connection attempt (not an open connection): `ready` rejects with `WS_CONNECT_ABORTED`. */
  signal?: AbortSignal;
  /**
   * Milliseconds for TCP, TLS and the opening handshake together; the attempt
   * is really cancelled and `ready` rejects with `WS_CONNECT_TIMEOUT`.
   * @default {30000}
   */
  connectTimeout?: number;
  /** Largest accepted message in bytes. @default {67108864} */
  maxMessageSize?: number;
  /**
   * Most frames one received message may arrive in (engine transport); one
   * more closes with 1008 (`WS_TOO_MANY_FRAGMENTS`).
   * @default {131072}
   */
  maxFragments?: number;
  /** Milliseconds to wait for the close handshake (engine transport). @default {5000} */
  closeTimeout?: number;
  /**
   * `"native"`: the global `WebSocket`. `"engine"`: our protocol engine over
   * TCP/TLS (Deno, Node, Bun). `"auto"`: native when it exists and the
   * options need nothing it lacks (`headers`, `caCerts`, `proxy`,
   * `compression` settings), else engine.
   * @default {"auto"}
   */
  transport?: "auto" | "native" | "engine";
  /** permessage-deflate for the engine transport (native sockets negotiate their own). */
  compression?: Compression;
  /** Extra trusted CA certificates (PEM) for `wss:` with the engine transport. */
  caCerts?: string[];
  /**
   * An HTTP proxy to tunnel through with CONNECT (engine transport): an
   * `http://` URL, with credentials as `http://user:pass@host:port`
   * (sent as `Proxy-Authorization: Basic`), or `"env"` to follow
   * `HTTPS_PROXY` (for `wss:`, else `HTTP_PROXY`), `HTTP_PROXY` (for `ws:`)
   * and `NO_PROXY`, lowercase names first. The environment is read only with
   * `"env"`. `wss:` runs TLS inside the tunnel (SNI and certificate checks
   * for the target host); `connectTimeout` and `signal` cover the CONNECT
   * step. A proxy answering CONNECT with a non-2xx status rejects `ready`
   * with a `ConnectError` `WS_PROXY_REFUSED` carrying that `status` (407:
   * credentials missing or wrong). Anything else than `"env"` or an `http:`
   * URL throws a `TypeError` at the call.
   */
  proxy?: ProxySetting;
}

/** Milliseconds `connect()` gives TCP, TLS and the opening handshake together by default. */
export const DEFAULT_CONNECT_TIMEOUT = 30_000;
