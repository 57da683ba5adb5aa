/**
 * The options, events and states of {@linkcode Protocol} (protocol.ts), apart
 * from the state machine that uses them.
 *
 * @module
 */

import type { ProtocolError } from "./errors.ts";
import type { Role } from "./frame.ts";

/** Options of {@linkcode Protocol}. */

export interface ProtocolOptions {
  /** Which end we are: decides the masking direction (RFC 6455 §5.1). */
  role: Role;
  /**
   * Largest message accepted, in bytes, summed over fragments and checked on
   * declared lengths before anything is allocated; more fails with 1009. A
   * compressed (RSV1) message may take up to `maxCompressedSize()` of this on
   * the wire (deflate grows data that does not compress); the caller checks
   * its inflated size against this limit.
   * @default {67108864}
   */
  maxMessageSize?: number;
  /**
   * Most frames one data message may arrive in, empty ones included; past it
   * the connection fails with 1008 (`WS_TOO_MANY_FRAGMENTS`). Bounds the time
   * a peer can spend on one message of tiny fragments; `Infinity` disables.
   * @default {131072}
   */
  maxFragments?: number;
  /**
   * permessage-deflate was negotiated: accept RSV1 on the first frame of a
   * data message (reported as a `compressed` event) and allow
   * `{ compressed: true }` sends.
   * @default {false}
   */
  allowRsv1?: boolean;
  /**
   * Fills a 4-byte masking key (client role only). The default draws from a
   * pool of `crypto.getRandomValues` bytes. RFC 6455 §10.3: keys must be
   * unpredictable; inject a fixed key only in tests.
   */
  fillMask?: (key: Uint8Array) => void;
  /**
   * Hold back the close frame of a failure the peer caused until
   * {@linkcode Protocol.failNow} is called. Input processing still stops at
   * once (RFC 6455 §7.1.7: the endpoint "MUST NOT continue to attempt to
   * process data (including a responding Close frame) from the remote
   * endpoint"), but the application may still answer the messages it was given
   * before the failure: §7.1.7 says the endpoint "SHOULD send a Close frame
   * with an appropriate status code ... before proceeding to _Close the
   * WebSocket Connection_" and sets no deadline, so our close may follow the
   * replies the application already owed. This is what ws and python-websockets
   * achieve with synchronous message handlers. The caller must call
   * `failNow()` soon (with a deadline) so a silent application cannot keep a
   * failed connection open.
   * @default {false}
   */
  deferFailure?: boolean;
  /**
   * Hold back our reply to the peer's close frame until
   * {@linkcode Protocol.replyClose} is called, so that the application can
   * first answer the messages that came before the close (an echo of a
   * message sent together with a close goes out before our close, as with
   * ws). RFC 6455 §5.5.1: the endpoint "SHOULD do so as soon as practical.
   * An endpoint MAY delay sending a Close frame until its current message is
   * sent". Input still stops at the close (nothing follows it), and sends stay
   * allowed until the reply is queued. The caller must call `replyClose()`
   * soon (with a deadline) so the peer's close is always answered.
   * @default {false}
   */
  deferCloseReply?: boolean;
  /**
   * Unmasked payloads of up to this many bytes are copied next to their
   * frame header, so a small frame is one buffer; longer ones follow their
   * header by reference. A transport that copies small pieces together
   * itself (see `ByteWriter.copyPayloadsUpTo`) asks for less.
   * @default {1024}
   */
  copyPayloadsUpTo?: number;
  /**
   * Received payloads of up to this many bytes that arrive whole in one
   * chunk are delivered in a buffer of their own instead of as a view into
   * the chunk (see `FrameDecoderOptions.copyPayloadsUpTo`). A transport whose
   * runtime makes views of its reads dear asks for it (see
   * `ByteReader.copyReceivedUpTo`).
   * @default {0}
   */
  copyReceivedUpTo?: number;
}

/**
 * What {@linkcode Protocol.receive} reports, in wire order.
 *
 * - `text` / `binary`: a complete message.
 * - `compressed`: a complete RSV1 message, raw; the caller inflates it, checks
 *   size and UTF-8, and may call {@linkcode Protocol.fail}.
 * - `ping`: the pong is already queued in the outgoing bytes (past
 *   {@linkcode MAX_PENDING_PONGS} pongs not taken yet, in place of the latest
 *   of them: RFC 6455 §5.5.3).
 * - `pong`: a pong (solicited or not).
 * - `close`: the peer's close (code 1005 if its body was empty); our reply is
 *   queued if we had not sent a close yet (with `deferCloseReply`, only by
 *   {@linkcode Protocol.replyClose}).
 * - `error`: we failed the connection; a close with `error.closeCode` is
 *   queued (unless we had sent one), input is ignored from now on and no
 *   further events follow. With `deferFailure`, the close is queued only by
 *   {@linkcode Protocol.failNow}; sends stay allowed until then.
 */
export type ProtocolEvent =
  | { type: "text"; data: string }
  | { type: "binary"; data: Uint8Array }
  | { type: "compressed"; binary: boolean; data: Uint8Array }
  | { type: "ping"; data: Uint8Array }
  | { type: "pong"; data: Uint8Array }
  | { type: "close"; code: number; reason: string }
  | { type: "error"; error: ProtocolError };

/**
 * `open`: both sides may send. `closing`: one side sent a close frame.
 * `closed`: both did, or the connection was failed.
 */
export type ProtocolState = "open" | "closing" | "closed";

/** Options of {@linkcode Protocol.sendText} and {@linkcode Protocol.sendBinary}. */
export interface SendOptions {
  /** The bytes are a permessage-deflate payload: set RSV1. @default {false} */
  compressed?: boolean;
}

/**
 * Throws for options a {@linkcode Protocol} cannot run with.
 *
 * @throws {TypeError} For an unknown role.
 * @throws {RangeError} For a negative or NaN `maxMessageSize`,
 * `copyPayloadsUpTo` or `copyReceivedUpTo`, or a `maxFragments` below 1 or NaN.
 *
 * @example
 * ```ts
 * import { checkProtocolOptions } from "./protocol_options.ts";
 *
 * checkProtocolOptions({ role: "server", maxMessageSize: 1024 });
 * try {
 *   checkProtocolOptions({ role: "server", maxFragments: 0 });
 * } catch (error) {
 *   console.assert(error instanceof RangeError);
 * }
 * ```
 */
export function checkProtocolOptions(options: ProtocolOptions): void {
  const { role, maxMessageSize, maxFragments, copyPayloadsUpTo, copyReceivedUpTo } = options;
  if (role !== "client" && role !== "server") {
    throw new TypeError(`Cannot create protocol: invalid role ${String(role)}`);
  }
  if (maxMessageSize !== undefined && !(maxMessageSize >= 0)) {
    throw new RangeError(`Cannot create protocol: invalid maxMessageSize ${maxMessageSize}`);
  }
  if (maxFragments !== undefined && !(maxFragments >= 1)) {
    throw new RangeError(`Cannot create protocol: invalid maxFragments ${maxFragments}`);
  }
  if (copyPayloadsUpTo !== undefined && !(copyPayloadsUpTo >= 0)) {
    throw new RangeError(`Cannot create protocol: invalid copyPayloadsUpTo ${copyPayloadsUpTo}`);
  }
  if (copyReceivedUpTo !== undefined && !(copyReceivedUpTo >= 0)) {
    throw new RangeError(`Cannot create protocol: invalid copyReceivedUpTo ${copyReceivedUpTo}`);
  }
}
