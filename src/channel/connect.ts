/**
 * `WebSocketChannel.connect()`: the native `WebSocket` where it can honour
 * the options, otherwise the engine over a TCP/TLS byte stream.
 *
 * @module
 */
import { type Compression, resolveCompression } from "../deflate/compression_options.ts";
import { HandshakeError, HandshakeErrorCode } from "../handshake/errors.ts";
import { validateSubprotocols } from "../handshake/subprotocol.ts";
import { parseWebSocketUrl } from "../handshake/web_socket_url.ts";
import {
  checkChoiceOption,
  checkNumberOption,
  checkTypeOption,
  MAX_TIMEOUT,
} from "../_util/option_checks.ts";
import { describeValue } from "../_util/sendable.ts";
import { ConnectError, UnsupportedError } from "./errors.ts";
import type { ProxySetting } from "../handshake/proxy_setting.ts";
import { NativeChannel } from "./native_channel.ts";
// Browser builds map this module to a stub (scripts/build_browser.ts, the npm
// package's `browser` field): the engine client path is dead code there, since
// chooseTransport() refuses "engine" without Deno, Node or Bun.
import { connectEngine } from "./connect_engine.ts";
import type { WebSocketChannel } from "./web_socket_channel.ts";

/** Options of {@linkcode connect}. */
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

const DEFAULT_CONNECT_TIMEOUT = 30_000;

/**
 * Opens a WebSocket connection. Returns the channel at once; `ready` tells
 * when it is open or why it failed (`ConnectError` with `WS_CONNECT_REFUSED`,
 * `WS_CONNECT_DNS`, `WS_CONNECT_TLS`, `WS_CONNECT_TIMEOUT`,
 * `WS_CONNECT_ABORTED`, `WS_CONNECT_FAILED`, or a `HandshakeError` whose
 * `status` is the HTTP answer, where the platform tells): everything about
 * the network or the server rejects `ready`.
 *
 * Programming errors throw at the call instead, on every transport, as the
 * WHATWG `WebSocket` constructor does: `SyntaxError` for a URL that does not
 * parse, a scheme other than `ws:`/`wss:`/`http:`/`https:` or a subprotocol
 * that is not a token (or repeats); `TypeError` / `RangeError` for an option
 * of the wrong type or out of range (`connectTimeout`, `closeTimeout`,
 * `maxMessageSize`, `maxFragments`, `transport`, `signal`, `caCerts`,
 * `compression`, a bad header name or value); `UnsupportedError`
 * (`WS_OPTION_UNSUPPORTED`) for an option this runtime cannot honour
 * (`headers` or `caCerts` in a browser).
 *
 * @example
 * ```ts ignore
 * import { connect } from "@wsc/websocket-channel";
 *
 * const channel = connect("ws://localhost:8080", { protocols: ["chat"], connectTimeout: 5000 });
 * await channel.ready;
 * await channel.sink.add("hello");
 * ```
 */
export function connect(url: string | URL, options: ConnectOptions = {}): WebSocketChannel {
  // Programming errors throw here, at the call, whatever the transport (an invalid
  // `proxy` too, in connectEngine: browser builds never load that check).
  checkConnectArguments(url, options);
  const transport = chooseTransport(options);
  const timeout = options.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT;
  return transport === "native"
    ? connectNative(url, options, timeout)
    : connectEngine(url, options, timeout);
}

/** The checks of `connect()` common to both transports. */
function checkConnectArguments(url: string | URL, options: ConnectOptions): void {
  checkTypeOption("options", options, "object");
  parseWebSocketUrl(url);
  checkConnectOptions(options);
}

/**
 * Checks `connect()` options as the WHATWG `WebSocket` constructor checks
 * its arguments (subprotocol tokens), and our own options' types and ranges,
 * so that a mistake throws at the call; headers are checked by the engine
 * transport, which sends them.
 *
 * @throws {SyntaxError} A subprotocol that is not a token, or repeats.
 * @throws {TypeError} An option of the wrong type.
 * @throws {RangeError} A number out of range.
 *
 * @example
 * ```ts
 * import { checkConnectOptions } from "./connect.ts";
 *
 * checkConnectOptions({ protocols: ["chat"], connectTimeout: 5000 });
 * try {
 *   checkConnectOptions({ connectTimeout: -1 });
 * } catch (error) {
 *   console.assert(error instanceof RangeError);
 * }
 * ```
 */
export function checkConnectOptions(options: ConnectOptions): void {
  if (options.protocols !== undefined) validateSubprotocols(options.protocols);
  resolveCompression(options.compression);
  checkNumberOption("connectTimeout", options.connectTimeout, { above: 0, max: MAX_TIMEOUT });
  checkNumberOption("closeTimeout", options.closeTimeout, { above: 0, max: MAX_TIMEOUT });
  checkNumberOption("maxMessageSize", options.maxMessageSize, { min: 0 });
  checkNumberOption("maxFragments", options.maxFragments, { min: 1, integer: true });
  checkChoiceOption("transport", options.transport, ["auto", "native", "engine"]);
  const signal = options.signal as { aborted?: unknown; addEventListener?: unknown } | undefined;
  if (
    signal !== undefined &&
    (typeof signal !== "object" || signal === null || typeof signal.aborted !== "boolean" ||
      typeof signal.addEventListener !== "function")
  ) {
    throw new TypeError(`signal must be an AbortSignal, got ${describeValue(signal)}`);
  }
  const caCerts = options.caCerts;
  if (
    caCerts !== undefined &&
    (!Array.isArray(caCerts) || caCerts.some((pem) => typeof pem !== "string"))
  ) {
    throw new TypeError("caCerts must be an array of PEM strings");
  }
}

/**
 * Whether the engine transport can run here (Deno, Node, Bun; not a browser).
 *
 * @example
 * ```ts
 * import { hasEngine } from "./connect.ts";
 *
 * console.assert(typeof hasEngine() === "boolean");
 * ```
 */
export function hasEngine(): boolean {
  const g = globalThis as { Deno?: unknown; process?: { versions?: { node?: string } } };
  return g.Deno !== undefined || typeof g.process?.versions?.node === "string";
}

/**
 * The transport `connect()` uses with `options` here: `"native"` (the global
 * `WebSocket`, no protocol pings) or `"engine"`.
 *
 * @throws {UnsupportedError} `WS_OPTION_UNSUPPORTED` when the options cannot
 * be honoured here (`headers` without the engine, no `WebSocket` for `"native"`).
 *
 * @example
 * ```ts
 * import { chooseTransport } from "./connect.ts";
 *
 * console.assert(chooseTransport({ transport: "engine" }) === "engine");
 * ```
 */
export function chooseTransport(options: ConnectOptions): "native" | "engine" {
  const wanted = options.transport ?? "auto";
  const nativeExists = typeof (globalThis as { WebSocket?: unknown }).WebSocket === "function";
  const needsEngine = options.headers !== undefined || options.caCerts !== undefined ||
    options.proxy !== undefined || (typeof options.compression === "object");
  if (
    wanted === "native" || (wanted === "auto" && nativeExists && (!needsEngine || !hasEngine()))
  ) {
    if (!nativeExists) {
      throw new UnsupportedError(
        "WS_OPTION_UNSUPPORTED",
        'transport: "native" needs a global WebSocket',
      );
    }
    for (const name of ["headers", "caCerts", "proxy"] as const) {
      if (options[name] !== undefined) {
        throw new UnsupportedError(
          "WS_OPTION_UNSUPPORTED",
          `The ${name} option needs the engine transport; the WHATWG WebSocket cannot send it`,
        );
      }
    }
    return "native";
  }
  if (!hasEngine()) {
    throw new UnsupportedError(
      "WS_OPTION_UNSUPPORTED",
      "The engine transport needs Deno, Node or Bun",
    );
  }
  return "engine";
}

function connectNative(
  url: string | URL,
  options: ConnectOptions,
  timeout: number,
): WebSocketChannel {
  const protocols = options.protocols === undefined ? [] : options.protocols;
  let ws: WebSocket;
  try {
    ws = new WebSocket(url, protocols);
  } catch (error) {
    // The platform's own refusal (a DOMException "SyntaxError"): the same error type as the
    // engine transport's.
    if ((error as { name?: unknown }).name === "SyntaxError" && !(error instanceof SyntaxError)) {
      throw new SyntaxError((error as Error).message, { cause: error });
    }
    throw error;
  }
  // Registered before the wrapper's own listener, so the typed error wins.
  ws.addEventListener("error", (event) => channel.abortOpening(nativeConnectError(event, url)));
  const channel = new NativeChannel(ws, { maxMessageSize: options.maxMessageSize });
  const signal = options.signal;
  const onAbort = () =>
    channel.abortOpening(
      new ConnectError("WS_CONNECT_ABORTED", "The connection attempt was aborted", {
        cause: signal?.reason,
      }),
    );
  const timer = setTimeout(() => {
    channel.abortOpening(
      new ConnectError("WS_CONNECT_TIMEOUT", `No connection to ${url} within ${timeout} ms`),
    );
  }, timeout);
  if (signal?.aborted) onAbort();
  else signal?.addEventListener("abort", onAbort, { once: true });
  const cleanup = () => {
    clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
  };
  channel.ready.then(cleanup, cleanup);
  return channel;
}

/**
 * Types a native connect failure from the platform's message where it says
 * what happened (Deno and Bun do; Node's undici and browsers give nothing):
 * the HTTP status of a refused upgrade, a bad accept key, DNS, refusal, TLS.
 */
function nativeConnectError(event: Event, url: string | URL): ConnectError | HandshakeError {
  const detail = String((event as { message?: unknown }).message ?? "");
  const status = /status code:? (\d{3})/i.exec(detail);
  if (status) {
    return new HandshakeError(
      HandshakeErrorCode.badStatus,
      `Upgrade to ${url} refused with status ${status[1]}`,
      {
        status: Number(status[1]),
      },
    );
  }
  if (/accept/i.test(detail)) {
    return new HandshakeError(HandshakeErrorCode.badAccept, `Bad Sec-WebSocket-Accept from ${url}`);
  }
  const cause = detail || undefined;
  if (/dns|lookup|resolve/i.test(detail)) {
    return new ConnectError("WS_CONNECT_DNS", `Cannot resolve the host of ${url}`, { cause });
  }
  if (/tcp connect|refused/i.test(detail)) {
    return new ConnectError("WS_CONNECT_REFUSED", `Cannot connect to ${url} (refused)`, { cause });
  }
  if (/certificate|tls|ssl/i.test(detail)) {
    return new ConnectError("WS_CONNECT_TLS", `TLS handshake with ${url} failed`, { cause });
  }
  return new ConnectError(
    "WS_CONNECT_FAILED",
    `WebSocket connection to ${url} failed${detail ? `: ${detail}` : ""}`,
    {
      cause,
    },
  );
}
