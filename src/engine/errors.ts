/**
 * Typed errors shared by every layer. Each carries a stable `code` string that
 * callers can switch on; failures caused by the peer also carry the close code
 * that was (or will be) sent.
 *
 * @module
 */

/** Options accepted by {@linkcode WebSocketError}. */
export interface WebSocketErrorOptions {
  /** The close code sent to the peer because of this error, if any. */
  closeCode?: number;
  /** The underlying error. */
  cause?: unknown;
}

/**
 * Base class of every error this library produces on purpose.
 *
 * @example Switch on the stable code
 * ```ts
 * import { WebSocketError } from "@wsc/websocket-channel/engine";
 *
 * const error = new WebSocketError("WS_INVALID_STATE", "Cannot send message: connection is closed");
 * console.assert(error.code === "WS_INVALID_STATE");
 * ```
 */
export class WebSocketError extends Error {
  /** A stable identifier such as `WS_INVALID_OPCODE`; never reworded. */
  readonly code: string;
  /** The close code associated with the failure, when there is one. */
  readonly closeCode: number | undefined;

  /**
   * Creates an error with a stable code.
   *
   * @param code A stable `WS_*` identifier.
   * @param message A human-readable description.
   * @param options The close code and cause, when known.
   */
  constructor(code: string, message: string, options: WebSocketErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "WebSocketError";
    this.code = code;
    this.closeCode = options.closeCode;
  }
}

/**
 * The peer broke RFC 6455 or RFC 7692. The connection was failed with
 * {@linkcode ProtocolError.closeCode}. The engine's codes, as `code` → close code:
 * `WS_INVALID_OPCODE`, `WS_INVALID_RSV`, `WS_FRAGMENTED_CONTROL_FRAME`,
 * `WS_CONTROL_FRAME_TOO_LONG`, `WS_MASK_REQUIRED`, `WS_UNEXPECTED_MASK`,
 * `WS_INVALID_PAYLOAD_LENGTH` (64-bit length with the top bit set),
 * `WS_UNEXPECTED_CONTINUATION`, `WS_EXPECTED_CONTINUATION`,
 * `WS_INVALID_CLOSE_PAYLOAD`, `WS_INVALID_CLOSE_CODE` → 1002;
 * `WS_INVALID_UTF8` → 1007; `WS_TOO_MANY_FRAGMENTS` → 1008; `WS_MESSAGE_TOO_BIG`,
 * `WS_UNSUPPORTED_PAYLOAD_LENGTH` (above 2^53 − 1) → 1009;
 * `WS_INTERNAL_ERROR` → 1011 (a bug or a throwing injected `fillMask`).
 *
 * @example
 * ```ts
 * import { ProtocolError } from "@wsc/websocket-channel/engine";
 *
 * const error = new ProtocolError("WS_INVALID_OPCODE", "Invalid opcode 3", 1002);
 * console.assert(error.closeCode === 1002);
 * ```
 */
export class ProtocolError extends WebSocketError {
  /** The close code sent to the peer. */
  declare readonly closeCode: number;

  /**
   * Creates a protocol error carrying the close code sent to the peer.
   *
   * @param code A stable `WS_*` identifier.
   * @param message A human-readable description.
   * @param closeCode The close code sent to the peer (1002, 1007, 1009, …).
   * @param options The underlying error, if any.
   */
  constructor(code: string, message: string, closeCode: number, options: { cause?: unknown } = {}) {
    super(code, message, { closeCode, cause: options.cause });
    this.name = "ProtocolError";
  }

  /**
   * `error` itself when it is a `ProtocolError`, else an internal error
   * (1011, `WS_INTERNAL_ERROR`) caused by it.
   *
   * @param error Anything thrown.
   */
  static from(error: unknown): ProtocolError {
    if (error instanceof ProtocolError) return error;
    const message = error instanceof Error ? error.message : String(error);
    return new ProtocolError("WS_INTERNAL_ERROR", `Internal error: ${message}`, 1011, {
      cause: error,
    });
  }
}
