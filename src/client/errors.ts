/**
 * Typed errors of the reconnecting client. Every one is a
 * {@linkcode WebSocketError} with a stable `code` that callers switch on.
 *
 * @module
 */
import { WebSocketError } from "../engine/errors.ts";

/**
 * The stable codes a {@linkcode ClientError} can carry.
 *
 * - `WS_CLIENT_CLOSED`: the client was closed with `close()`; it is final.
 * - `WS_ABORTED`: the `signal` given to the client aborted.
 * - `WS_CONNECT_TIMEOUT`: an attempt (connect + handshake + `afterConnect`) took longer than `connectTimeout`.
 * - `WS_CONNECT_CANCELLED`: `disconnect()`, a new `connect(url)` or `close()` interrupted a pending connect.
 * - `WS_RECONNECT_STOPPED`: the reconnect policy or `maxAttempts` ended the reconnect loop.
 * - `WS_AFTER_CONNECT_FAILED`: the `afterConnect` hook threw; the attempt counts as failed.
 * - `WS_HEARTBEAT_TIMEOUT`: no pong within the heartbeat deadline; the connection is treated as dead (1006).
 * - `WS_HEARTBEAT_UNSUPPORTED`: the transport cannot ping and no application-level ping is configured.
 * - `WS_QUEUE_FULL`: the offline queue is full and the overflow policy is `reject`.
 * - `WS_MESSAGE_DROPPED`: the message was evicted by `drop-oldest`/`drop-newest`, or discarded by `disconnect()`.
 * - `WS_MESSAGE_EXPIRED`: the message waited in the offline queue longer than its TTL.
 * - `WS_MESSAGE_TOO_BIG`: a single message is larger than the whole offline queue.
 * - `WS_NOT_CONNECTED`: sent while not open with the offline queue disabled.
 * - `WS_READER_OVERFLOW`: a message reader with `overflow: "error"` fell further behind than its buffer allows.
 */
export type ClientErrorCode =
  | "WS_CLIENT_CLOSED"
  | "WS_ABORTED"
  | "WS_CONNECT_TIMEOUT"
  | "WS_CONNECT_CANCELLED"
  | "WS_RECONNECT_STOPPED"
  | "WS_AFTER_CONNECT_FAILED"
  | "WS_HEARTBEAT_TIMEOUT"
  | "WS_HEARTBEAT_UNSUPPORTED"
  | "WS_QUEUE_FULL"
  | "WS_MESSAGE_DROPPED"
  | "WS_MESSAGE_EXPIRED"
  | "WS_MESSAGE_TOO_BIG"
  | "WS_NOT_CONNECTED"
  | "WS_READER_OVERFLOW";

/**
 * An error produced by {@linkcode WebSocketClient}; `code` is one of
 * {@linkcode ClientErrorCode}.
 *
 * @example Tell a full queue from an expired message
 * ```ts
 * import { ClientError } from "@wsc/websocket-channel/client";
 *
 * const error: unknown = new ClientError("WS_QUEUE_FULL", "Offline queue is full");
 * if (error instanceof ClientError && error.code === "WS_QUEUE_FULL") {
 *   console.assert(error.name === "ClientError");
 * }
 * ```
 */
export class ClientError extends WebSocketError {
  /** The stable identifier of this failure. */
  declare readonly code: ClientErrorCode;

  /**
   * Creates the error.
   * @param code A stable {@linkcode ClientErrorCode}.
   * @param message A human-readable description.
   * @param options The close code associated with the failure and the cause.
   */
  constructor(
    code: ClientErrorCode,
    message: string,
    options: { closeCode?: number; cause?: unknown } = {},
  ) {
    super(code, message, options);
    this.name = "ClientError";
  }
}

/**
 * A received message that is not valid JSON, reported on the side channel of
 * `client.json()` instead of failing the stream.
 *
 * @example
 * ```ts
 * import { InvalidJsonError } from "@wsc/websocket-channel/client";
 *
 * const error = new InvalidJsonError("{oops", new SyntaxError("Unexpected token"));
 * console.assert(error.code === "WS_INVALID_JSON" && error.data === "{oops");
 * ```
 */
export class InvalidJsonError extends WebSocketError {
  /** The message as received (text, or bytes that were decoded as UTF-8). */
  readonly data: string | Uint8Array;

  /**
   * Creates the error.
   * @param data The offending message.
   * @param cause The parser's error.
   */
  constructor(data: string | Uint8Array, cause: unknown) {
    super("WS_INVALID_JSON", `Received a message that is not valid JSON`, { cause });
    this.name = "InvalidJsonError";
    this.data = data;
  }
}

/**
 * Reads an HTTP status carried by a handshake error, whatever its class.
 *
 * @example
 * ```ts
 * import { errorStatus } from "./errors.ts";
 *
 * console.assert(errorStatus(Object.assign(new Error("rejected"), { status: 403 })) === 403);
 * ```
 */
export function errorStatus(error: unknown): number | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const status = (error as { status?: unknown }).status;
  return typeof status === "number" ? status : undefined;
}

/**
 * Reads a close code carried by an error, whatever its class.
 *
 * @example
 * ```ts
 * import { ClientError } from "@wsc/websocket-channel/client";
 * import { errorCloseCode } from "./errors.ts";
 *
 * console.assert(errorCloseCode(new ClientError("WS_HEARTBEAT_TIMEOUT", "x", { closeCode: 1006 })) === 1006);
 * ```
 */
export function errorCloseCode(error: unknown): number | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const code = (error as { closeCode?: unknown }).closeCode;
  return typeof code === "number" ? code : undefined;
}

/**
 * A short JSON-able description of an error, for metrics and states.
 *
 * @example
 * ```ts
 * import { describeError } from "./errors.ts";
 *
 * console.assert(describeError(new TypeError("bad")).code === "TypeError");
 * ```
 */
export function describeError(error: unknown): { code: string; message: string } {
  if (error instanceof WebSocketError) return { code: error.code, message: error.message };
  if (error instanceof Error) return { code: error.name, message: error.message };
  return { code: "UNKNOWN", message: String(error) };
}
