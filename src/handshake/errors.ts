/**
 * The typed error of the opening handshake.
 *
 * @module
 */

import { WebSocketError } from "../engine/errors.ts";

/**
 * Stable `code` strings carried by {@linkcode HandshakeError}. They are never
 * reworded, so callers can switch on them.
 *
 * @example
 * ```ts
 * import { HandshakeErrorCode } from "@wsc/websocket-channel";
 *
 * console.assert(HandshakeErrorCode.badStatus === "WS_HANDSHAKE_BAD_STATUS");
 * ```
 */
export const HandshakeErrorCode = {
  /** The server answered with a status other than 101. */
  badStatus: "WS_HANDSHAKE_BAD_STATUS",
  /** `Sec-WebSocket-Accept` missing or not derived from our key. */
  badAccept: "WS_HANDSHAKE_BAD_ACCEPT",
  /** `Upgrade` missing or without the `websocket` token. */
  badUpgrade: "WS_HANDSHAKE_BAD_UPGRADE",
  /** `Connection` missing or without the `Upgrade` token. */
  badConnection: "WS_HANDSHAKE_BAD_CONNECTION",
  /** The server selected a subprotocol we did not offer, or sent several. */
  unexpectedProtocol: "WS_HANDSHAKE_UNEXPECTED_PROTOCOL",
  /** The server accepted an extension we did not offer, or named one twice. */
  unexpectedExtension: "WS_HANDSHAKE_UNEXPECTED_EXTENSION",
  /** `Sec-WebSocket-Extensions` does not follow the RFC 6455 §9.1 grammar. */
  badExtensions: "WS_HANDSHAKE_BAD_EXTENSIONS",
  /** The HTTP head is larger than the configured limit (HTTP 431). */
  headTooLarge: "WS_HANDSHAKE_HEAD_TOO_LARGE",
  /** The HTTP head has more header fields than the configured limit (HTTP 431). */
  tooManyHeaders: "WS_HANDSHAKE_TOO_MANY_HEADERS",
  /** The HTTP head is not valid HTTP/1.1 syntax (HTTP 400). */
  malformedHead: "WS_HANDSHAKE_MALFORMED_HEAD",
  /** The HTTP version is not 1.1 (HTTP 505). */
  badHttpVersion: "WS_HANDSHAKE_BAD_HTTP_VERSION",
  /** The handshake did not finish before its deadline (raised by the channel layer). */
  timeout: "WS_HANDSHAKE_TIMEOUT",
  /**
   * The server's `onUpgrade` check threw, rejected or returned something
   * unusable (HTTP 500); `cause` is the original error.
   */
  upgradeHookFailed: "WS_HANDSHAKE_HOOK_FAILED",
} as const;

/** One of the {@linkcode HandshakeErrorCode} values. */
export type HandshakeErrorCode = typeof HandshakeErrorCode[keyof typeof HandshakeErrorCode];

/** Options accepted by {@linkcode HandshakeError}. */
export interface HandshakeErrorOptions {
  /**
   * The HTTP status, when knowable: the status the server answered (client
   * side), or the status to answer with (head reader, server side).
   */
  status?: number;
  /** The underlying error. */
  cause?: unknown;
}

/**
 * The opening handshake failed. No WebSocket connection exists, so there is
 * no close code; {@linkcode HandshakeError.status} carries the HTTP status
 * instead when one is known.
 *
 * @example Report a refused upgrade
 * ```ts
 * import { HandshakeError, HandshakeErrorCode } from "@wsc/websocket-channel";
 *
 * const error = new HandshakeError(HandshakeErrorCode.badStatus, "Expected status 101, got 401", {
 *   status: 401,
 * });
 * console.assert(error.status === 401 && error.code === "WS_HANDSHAKE_BAD_STATUS");
 * ```
 */
export class HandshakeError extends WebSocketError {
  /** The HTTP status involved, if any (see {@linkcode HandshakeErrorOptions.status}). */
  /** The HTTP status of the answer, when the failure has one (a refused upgrade, 431, …). */
  readonly status: number | undefined;

  /**
   * Creates a handshake error.
   *
   * @param code A stable `WS_HANDSHAKE_*` identifier.
   * @param message A human-readable description.
   * @param options The HTTP status and cause, when known.
   */
  constructor(code: string, message: string, options: HandshakeErrorOptions = {}) {
    super(code, message, options.cause === undefined ? {} : { cause: options.cause });
    this.name = "HandshakeError";
    this.status = options.status;
  }
}
