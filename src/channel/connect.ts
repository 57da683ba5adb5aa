/**
 * How `connect()` opens a connection: the native `WebSocket` where it can
 * honour the options, otherwise the engine transport that the runtime's
 * entry point installed (the engine over a TCP/TLS byte stream).
 *
 * @module
 */
import { checkCompression } from "../deflate/compression_options.ts";
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
import { NativeChannel } from "./native_channel.ts";
import { watchConnectAttempt } from "./connect_attempt.ts";
import { type ConnectOptions, DEFAULT_CONNECT_TIMEOUT } from "./connect_options.ts";
import { engineConnector } from "./engine_connector.ts";
import type { StreamChannel } from "./stream_channel.ts";
/**
 * Opens a connection with the native `WebSocket` or the installed engine
 * transport: the implementation of `connect()` (see `web_socket_channel.ts`,
 * which states the contract).
 *
 * @param url The `ws:` / `wss:` URL.
 * @param options The `connect()` options.
 * @returns The channel, not open yet.
 *
 * @example
 * ```ts ignore
 * import { openConnection } from "./connect.ts";
 *
 * const channel = openConnection("ws://localhost:8080", { protocols: ["chat"] });
 * await channel.ready;
 * ```
 */
export function openConnection(
  url: string | URL,
  options: ConnectOptions = {},
): NativeChannel | StreamChannel {
  // Programming errors throw here, at the call, whatever the transport (an invalid
  // `proxy` too, in connectEngine: browser builds never load that check).
  checkConnectArguments(url, options);
  if (chooseTransport(options) === "native") return connectNative(url, options);
  const engine = engineConnector();
  if (engine === undefined) {
    throw new UnsupportedError(
      "WS_OPTION_UNSUPPORTED",
      "The engine transport is not installed: import connect from the package's entry point",
    );
  }
  return engine(url, options);
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
  checkCompression(options.compression);
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

function connectNative(url: string | URL, options: ConnectOptions): NativeChannel {
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
  const release = watchConnectAttempt(url, {
    signal: options.signal,
    timeout: options.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT,
    abort: (error) => channel.abortOpening(error),
  });
  channel.ready.then(release, release);
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
