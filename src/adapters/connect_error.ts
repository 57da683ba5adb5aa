/**
 * One constructor for the typed connect failures raised by the transports.
 *
 * @module
 */
import { WebSocketError } from "../engine/errors.ts";

/**
 * Creates the typed error for a failed connection attempt.
 *
 * @example
 * ```ts
 * import { connectError } from "./connect_error.ts";
 *
 * const error = connectError("WS_CONNECT_REFUSED", "Connection refused by 127.0.0.1:1");
 * console.assert(error.code === "WS_CONNECT_REFUSED");
 * ```
 */
export function connectError(code: string, message: string, cause?: unknown): WebSocketError {
  const error = new WebSocketError(code, message, { closeCode: 1006, cause });
  error.name = "ConnectError";
  return error;
}
