/**
 * Typed errors of the channel layer. Each extends
 * {@linkcode WebSocketError}, so `error.code` is a stable `WS_*` string.
 *
 * @module
 */
import { WebSocketError } from "../engine/errors.ts";

/**
 * The connection ended, or is ending, so the operation cannot proceed.
 * `closeCode` says how it ended: 1006 when no close frame was exchanged
 * (abrupt loss), otherwise the code of the close handshake.
 *
 * @example
 * ```ts
 * import { ConnectionClosedError } from "@wsc/websocket-channel";
 *
 * const error = new ConnectionClosedError(1006, "");
 * console.assert(error.code === "WS_CONNECTION_CLOSED" && error.closeCode === 1006);
 * ```
 */
export class ConnectionClosedError extends WebSocketError {
  /** The close code of the connection (1006 for an abrupt end). */
  declare readonly closeCode: number;
  /** The close reason, `""` when none was given. */
  readonly closeReason: string;

  /**
   * Creates the error for a connection that ended with `closeCode`.
   *
   * @param closeCode How the connection ended.
   * @param closeReason The reason given with the close code.
   * @param options A custom message and the underlying cause, if any.
   */
  constructor(
    closeCode: number,
    closeReason = "",
    options: { message?: string; cause?: unknown } = {},
  ) {
    const message = options.message ??
      (closeCode === 1006
        ? "Connection closed abnormally (no close frame received)"
        : `Connection closed with code ${closeCode}${closeReason ? `: ${closeReason}` : ""}`);
    super("WS_CONNECTION_CLOSED", message, { closeCode, cause: options.cause });
    this.name = "ConnectionClosedError";
    this.closeReason = closeReason;
  }
}

/**
 * Opening the connection failed. `code` says why: `WS_CONNECT_REFUSED`,
 * `WS_CONNECT_DNS`, `WS_CONNECT_TLS`, `WS_CONNECT_TIMEOUT`,
 * `WS_CONNECT_ABORTED`, `WS_CONNECT_FAILED` (the platform gave no detail) or a
 * handshake code such as `WS_HANDSHAKE_STATUS`.
 *
 * @example
 * ```ts
 * import { ConnectError } from "@wsc/websocket-channel";
 *
 * const error = new ConnectError("WS_CONNECT_TIMEOUT", "No connection within 30000 ms");
 * console.assert(error.closeCode === 1006);
 * ```
 */
export class ConnectError extends WebSocketError {
  /** The HTTP status of a rejected upgrade, when the platform exposes it. */
  readonly status: number | undefined;

  /**
   * Creates the error for a failed connection attempt.
   *
   * @param code A stable `WS_CONNECT_*` (or handshake) identifier.
   * @param message What happened, with the target.
   * @param options The HTTP status and underlying cause, when known.
   */
  constructor(code: string, message: string, options: { status?: number; cause?: unknown } = {}) {
    super(code, message, { closeCode: 1006, cause: options.cause });
    this.name = "ConnectError";
    this.status = options.status;
  }
}

/**
 * The API was used in a state that does not allow it, e.g. `sink.add()`
 * while a writer or `pipeTo()` holds the sink.
 *
 * @example
 * ```ts
 * import { InvalidStateError } from "@wsc/websocket-channel";
 *
 * const error = new InvalidStateError("Cannot add a message: the sink is locked by a writer");
 * console.assert(error.code === "WS_INVALID_STATE");
 * ```
 */
export class InvalidStateError extends WebSocketError {
  /**
   * Creates the error for a call made in the wrong state.
   *
   * @param message What was attempted and why it is not allowed now.
   */
  constructor(message: string) {
    super("WS_INVALID_STATE", message);
    this.name = "InvalidStateError";
  }
}

/**
 * The platform cannot do what was asked (a ping over a browser `WebSocket`,
 * custom headers in a browser). `code` is `WS_PING_UNSUPPORTED` or
 * `WS_OPTION_UNSUPPORTED`; the message names the option or method.
 *
 * @example
 * ```ts
 * import { UnsupportedError } from "@wsc/websocket-channel";
 *
 * const error = new UnsupportedError("WS_PING_UNSUPPORTED", "ping() needs the engine transport");
 * console.assert(error.name === "UnsupportedError");
 * ```
 */
export class UnsupportedError extends WebSocketError {
  /**
   * Creates the error for something the platform cannot do.
   *
   * @param code `WS_PING_UNSUPPORTED` or `WS_OPTION_UNSUPPORTED`.
   * @param message Names the option or method and the platform limitation.
   */
  constructor(code: string, message: string) {
    super(code, message);
    this.name = "UnsupportedError";
  }
}
