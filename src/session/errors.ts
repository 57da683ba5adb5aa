/**
 * Typed errors of the session layer (`wsc.session.1`).
 *
 * @module
 */
import { WebSocketError } from "../engine/errors.ts";

/**
 * The stable codes a {@linkcode SessionError} can carry.
 *
 * Peer faults (the connection is closed with `closeCode`):
 * - `WS_SESSION_MALFORMED`: a frame that does not decode (1008).
 * - `WS_SESSION_UNKNOWN_KIND`: an unknown kind, or one of the other direction (1008).
 * - `WS_SESSION_TEXT_FRAME`: a text message on a session connection (1003).
 * - `WS_SESSION_HANDSHAKE`: no `HELLO` first, or none in time (1008).
 * - `WS_SESSION_LIMIT`: too many topics or subscribes, a duplicate subscribe, a field too long (1008).
 * - `WS_SESSION_BAD_POSITION`: a resume position beyond the topic's end (1008).
 *
 * Server faults:
 * - `WS_SESSION_STORE_UNAVAILABLE`: the store (e.g. Redis) failed while serving
 *   the connection; it is closed with 1011 and the client resumes after reconnecting.
 * - `WS_SESSION_UNRECORDED` (to `onError`): the application accepted a send
 *   but the store failed to record it for a whole `leaseTime`; the connection
 *   is closed with 1011 and another process may deliver the send again.
 *
 * Outcomes of a client `send()`:
 * - `WS_SESSION_REJECTED`: the server's application refused the message.
 * - `WS_SESSION_ACK_TIMEOUT`: no acknowledgement within `ackTimeout`; the
 *   message may still be accepted later.
 * - `WS_SESSION_OUTBOX_FULL`: the outbox is full and the policy is `reject`.
 * - `WS_SESSION_DROPPED`: evicted by `drop-oldest` / `drop-newest`.
 * - `WS_SESSION_CLOSED`: the session client was closed with the message unsettled.
 * - `WS_SESSION_UNSUPPORTED`: the server did not select the session subprotocol.
 */
export type SessionErrorCode =
  | "WS_SESSION_MALFORMED"
  | "WS_SESSION_UNKNOWN_KIND"
  | "WS_SESSION_TEXT_FRAME"
  | "WS_SESSION_HANDSHAKE"
  | "WS_SESSION_LIMIT"
  | "WS_SESSION_BAD_POSITION"
  | "WS_SESSION_STORE_UNAVAILABLE"
  | "WS_SESSION_UNRECORDED"
  | "WS_SESSION_REJECTED"
  | "WS_SESSION_ACK_TIMEOUT"
  | "WS_SESSION_OUTBOX_FULL"
  | "WS_SESSION_DROPPED"
  | "WS_SESSION_CLOSED"
  | "WS_SESSION_UNSUPPORTED";

/**
 * An error of the session layer; `code` is one of {@linkcode SessionErrorCode},
 * `closeCode` the code the connection was closed with when a peer broke the
 * protocol.
 *
 * @example
 * ```ts
 * import { SessionError } from "@wsc/websocket-channel/session";
 *
 * const error = new SessionError("WS_SESSION_MALFORMED", "truncated frame", { closeCode: 1008 });
 * console.assert(error.code === "WS_SESSION_MALFORMED" && error.closeCode === 1008);
 * ```
 */
export class SessionError extends WebSocketError {
  /** The stable code. */
  declare readonly code: SessionErrorCode;

  /**
   * Creates the error.
   *
   * @param code The stable code.
   * @param message What happened, for people.
   * @param options The close code sent to the peer, and the cause.
   */
  constructor(
    code: SessionErrorCode,
    message: string,
    options: { closeCode?: number; cause?: unknown } = {},
  ) {
    super(code, message, options);
    this.name = "SessionError";
  }
}
