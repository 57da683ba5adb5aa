/**
 * Close status codes (RFC 6455 §7.4) under the names of Dart's
 * `web_socket_channel` `status` library, and the two validity rules: what a
 * peer may put on the wire, and what an application may ask for.
 *
 * @module
 */

/**
 * Close status codes, named as in Dart's `package:web_socket_channel/status.dart`.
 *
 * `noStatusReceived` (1005), `abnormalClosure` (1006) and `tlsHandshakeFailed`
 * (1015) are reported locally only; RFC 6455 §7.4.1 says they "MUST NOT be set
 * as a status code in a Close control frame by an endpoint".
 *
 * @example
 * ```ts
 * import { CloseCode } from "@wsc/websocket-channel/engine";
 *
 * console.assert(CloseCode.normalClosure === 1000);
 * console.assert(CloseCode.messageTooBig === 1009);
 * ```
 */
export const CloseCode = {
  /** 1000: the purpose of the connection was fulfilled. */
  normalClosure: 1000,
  /** 1001: the endpoint is going away (server shutdown, page navigation). */
  goingAway: 1001,
  /** 1002: the peer broke the protocol. */
  protocolError: 1002,
  /** 1003: a message of a type the endpoint cannot accept. */
  unsupportedData: 1003,
  /** 1005: a close frame without a status code arrived (local only). */
  noStatusReceived: 1005,
  /** 1006: the connection ended without a close frame (local only). */
  abnormalClosure: 1006,
  /** 1007: data inconsistent with the message type, e.g. invalid UTF-8 text. */
  invalidFramePayloadData: 1007,
  /** 1008: a message violates the endpoint's policy. */
  policyViolation: 1008,
  /** 1009: a message is too big to process. */
  messageTooBig: 1009,
  /** 1010: the client expected the server to negotiate an extension. */
  missingMandatoryExtension: 1010,
  /** 1011: the server hit an unexpected condition. */
  internalServerError: 1011,
  /** 1012: the service is restarting. */
  serviceRestart: 1012,
  /** 1013: try again later (temporary overload). */
  tryAgainLater: 1013,
  /** 1014: a gateway or proxy got an invalid response upstream. */
  badGateway: 1014,
  /** 1015: the TLS handshake failed (local only). */
  tlsHandshakeFailed: 1015,
} as const;

/** One of the values of {@linkcode CloseCode}. */
export type CloseCode = typeof CloseCode[keyof typeof CloseCode];

/**
 * Whether a peer may send `code` in a close frame: 1000–1003, 1007–1014 and
 * 3000–4999. Anything else in a received close frame fails the connection
 * with 1002 (RFC 6455 §7.4.1, §7.4.2; the same set as ws and python-websockets).
 *
 * @example
 * ```ts
 * import { isValidWireCloseCode } from "@wsc/websocket-channel/engine";
 *
 * console.assert(isValidWireCloseCode(1001));
 * console.assert(!isValidWireCloseCode(1005));
 * console.assert(!isValidWireCloseCode(5000));
 * ```
 */
export function isValidWireCloseCode(code: number): boolean {
  if (!Number.isInteger(code)) return false;
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
    (code >= 3000 && code <= 4999);
}

/**
 * Whether an application may pass `code` to a close call: 1000 or 3000–4999,
 * as the WHATWG WebSocket `close()` allows.
 *
 * @example
 * ```ts
 * import { isValidApplicationCloseCode } from "@wsc/websocket-channel/engine";
 *
 * console.assert(isValidApplicationCloseCode(4000));
 * console.assert(!isValidApplicationCloseCode(1001));
 * ```
 */
export function isValidApplicationCloseCode(code: number): boolean {
  return code === 1000 || (Number.isInteger(code) && code >= 3000 && code <= 4999);
}
