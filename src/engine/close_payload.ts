/**
 * The body of a close frame (RFC 6455 §5.5.1): empty, or a 2-byte status code
 * followed by an optional UTF-8 reason, 125 bytes at most in all.
 *
 * @module
 */

import { utf8Length } from "../_util/bytes.ts";
import { isValidApplicationCloseCode, isValidWireCloseCode } from "./close_code.ts";
import { ProtocolError } from "./errors.ts";

/**
 * Longest close reason in UTF-8 bytes: 125 minus the 2-byte code.
 *
 * @example
 * ```ts
 * import { encodeClosePayload, MAX_CLOSE_REASON_BYTES } from "@wsc/websocket-channel/engine";
 *
 * const payload = encodeClosePayload(1000, "x".repeat(MAX_CLOSE_REASON_BYTES));
 * console.assert(payload.byteLength === 125);
 * ```
 */
export const MAX_CLOSE_REASON_BYTES = 123;

/** A parsed close frame body. */
export interface ClosePayload {
  /** The status code; 1005 (no status received) when the body was empty. */
  code: number;
  /** The reason, `""` when absent. */
  reason: string;
}

const reasonDecoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const encoder = new TextEncoder();

/**
 * Parses a received close frame body.
 *
 * @param payload The unmasked close frame payload (≤ 125 bytes).
 * @returns The code (1005 if the body is empty) and reason.
 * @throws {ProtocolError} 1002 for a 1-byte body or a code peers may not send,
 * 1007 for a reason that is not valid UTF-8.
 *
 * @example
 * ```ts
 * import { parseClosePayload } from "@wsc/websocket-channel/engine";
 *
 * const { code, reason } = parseClosePayload(new Uint8Array([0x0f, 0xa0, 0x62, 0x79, 0x65]));
 * console.assert(code === 4000 && reason === "bye");
 * console.assert(parseClosePayload(new Uint8Array(0)).code === 1005);
 * ```
 */
export function parseClosePayload(payload: Uint8Array): ClosePayload {
  if (payload.length === 0) return { code: 1005, reason: "" };
  // RFC 6455 §5.5.1: "the first two bytes of the body MUST be a 2-byte unsigned integer".
  if (payload.length === 1) {
    throw new ProtocolError("WS_INVALID_CLOSE_PAYLOAD", "Close frame body of 1 byte", 1002);
  }
  const code = (payload[0] << 8) | payload[1];
  // RFC 6455 §7.4.1: 1005, 1006 and 1015 "MUST NOT be set as a status code in a Close control
  // frame by an endpoint"; undefined codes below 3000 are not allowed either.
  if (!isValidWireCloseCode(code)) {
    throw new ProtocolError("WS_INVALID_CLOSE_CODE", `Invalid close code ${code}`, 1002);
  }
  if (payload.length === 2) return { code, reason: "" };
  let reason: string;
  try {
    reason = reasonDecoder.decode(payload.subarray(2));
  } catch {
    // RFC 6455 §8.1: invalid UTF-8 "MUST _Fail the WebSocket Connection_" (1007, §7.4.1).
    throw new ProtocolError("WS_INVALID_UTF8", "Close reason is not valid UTF-8", 1007);
  }
  return { code, reason };
}

/**
 * Builds a close frame body. Validation is the caller's choice of rule
 * (wire codes here; applications are usually held to 1000 and 3000–4999).
 *
 * @param code The status code, or `undefined` for an empty body.
 * @param reason The reason; at most 123 UTF-8 bytes, only with a code.
 * @returns The body bytes.
 * @throws {RangeError} For a code peers may not receive or a reason over 123 bytes.
 * @throws {TypeError} For a reason that is not a string, or a reason without a code.
 *
 * @example
 * ```ts
 * import { encodeClosePayload } from "@wsc/websocket-channel/engine";
 *
 * const body = encodeClosePayload(1000, "done");
 * console.assert(body.length === 6 && body[0] === 0x03 && body[1] === 0xe8);
 * console.assert(encodeClosePayload().length === 0);
 * ```
 */
export function encodeClosePayload(code?: number, reason = ""): Uint8Array {
  if (typeof reason !== "string") throw new TypeError("Cannot close: reason must be a string");
  if (code === undefined) {
    if (reason !== "") throw new TypeError("Cannot close: a reason requires a code");
    return new Uint8Array(0);
  }
  if (typeof code !== "number" || !isValidWireCloseCode(code)) {
    throw new RangeError(`Cannot close: invalid close code ${String(code)}`);
  }
  // Each UTF-16 code unit encodes to at least one byte: reject long strings before encoding.
  if (reason.length > MAX_CLOSE_REASON_BYTES) {
    throw new RangeError(`Cannot close: reason is longer than 123 bytes`);
  }
  const body = new Uint8Array(2 + reason.length * 3);
  const { written } = encoder.encodeInto(reason, body.subarray(2));
  // RFC 6455 §5.5: control frame payloads are 125 bytes or less.
  if (written > MAX_CLOSE_REASON_BYTES) {
    throw new RangeError(`Cannot close: reason is ${written} bytes, at most 123 allowed`);
  }
  body[0] = code >>> 8;
  body[1] = code & 0xff;
  return body.subarray(0, 2 + written);
}

/**
 * Checks the close arguments an application gives (a sink's or a client's
 * `close()`) as the WHATWG `WebSocket.close()` does: the code is
 * 1000 or 3000–4999, the reason at most 123 UTF-8 bytes (RFC 6455 §5.5: a
 * control frame payload is at most 125 bytes, two of which hold the code).
 * Returns the code to send: 1000 when only a reason is given.
 *
 * @example
 * ```ts
 * import { validateCloseArguments } from "./close_payload.ts";
 *
 * console.assert(validateCloseArguments(undefined, "bye") === 1000);
 * try {
 *   validateCloseArguments(1001);
 * } catch (error) {
 *   console.assert(error instanceof RangeError);
 * }
 * ```
 */
export function validateCloseArguments(code?: number, reason?: string): number | undefined {
  if (code !== undefined) {
    if (typeof code !== "number") {
      throw new TypeError(`Close code must be a number, got ${typeof code}`);
    }
    if (!isValidApplicationCloseCode(code)) {
      throw new RangeError(`Close code must be 1000 or in the range 3000-4999, got ${code}`);
    }
  }
  if (reason !== undefined) {
    if (typeof reason !== "string") {
      throw new TypeError(`Close reason must be a string, got ${typeof reason}`);
    }
    if (utf8Length(reason) > MAX_CLOSE_REASON_BYTES) {
      throw new RangeError(`Close reason must be at most ${MAX_CLOSE_REASON_BYTES} UTF-8 bytes`);
    }
    if (code === undefined && reason !== "") return 1000;
  }
  return code;
}

/**
 * The close reason for a failure: the error's message when it fits a close
 * frame (RFC 6455 §5.5: 123 bytes with the code), else none.
 *
 * @example
 * ```ts
 * import { failureReason } from "./close_payload.ts";
 *
 * console.assert(failureReason(new Error("Invalid UTF-8")) === "Invalid UTF-8");
 * console.assert(failureReason(new Error("x".repeat(200))) === "");
 * ```
 */
export function failureReason(error: { message: string }): string {
  return utf8Length(error.message) <= MAX_CLOSE_REASON_BYTES ? error.message : "";
}

/**
 * The close a failure sends: its close code, and its message as the reason
 * when that fits (see {@linkcode failureReason}).
 *
 * @example
 * ```ts
 * import { failureClose } from "./close_payload.ts";
 *
 * const close = failureClose({ message: "Invalid UTF-8", closeCode: 1007 });
 * console.assert(close.code === 1007 && close.reason === "Invalid UTF-8");
 * ```
 */
export function failureClose(
  error: { message: string; closeCode: number },
): { code: number; reason: string } {
  return { code: error.closeCode, reason: failureReason(error) };
}
