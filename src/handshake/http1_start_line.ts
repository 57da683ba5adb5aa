/**
 * The start lines of an HTTP/1.1 head (RFC 7230 §3.1): the request line a
 * server reads and the status line a client reads, checked strictly (tokens,
 * printable targets, `HTTP/d.d`, three-digit codes).
 *
 * @module
 */

import { HandshakeError, HandshakeErrorCode } from "./errors.ts";
import { isToken } from "./header_tokens.ts";

/**
 * The error of a malformed HTTP head: `WS_HANDSHAKE_MALFORMED_HEAD`, status 400.
 *
 * @param message What is wrong.
 * @returns The error to throw.
 *
 * @example
 * ```ts
 * import { malformedHead } from "./http1_start_line.ts";
 *
 * console.assert(malformedHead("Bare CR in HTTP head").status === 400);
 * ```
 */
export function malformedHead(message: string): HandshakeError {
  return new HandshakeError(HandshakeErrorCode.malformedHead, message, { status: 400 });
}

/** A parsed request line (RFC 7230 §3.1.1). */
export interface RequestLine {
  /** The method token, case-sensitive. */
  method: string;
  /** The request target as sent. */
  target: string;
  /** `HTTP/1.1` and the like. */
  version: string;
}

/** A parsed status line (RFC 7230 §3.1.2). */
export interface StatusLine {
  /** `HTTP/1.1` and the like. */
  version: string;
  /** The three-digit status code. */
  status: number;
  /** The reason phrase, possibly empty. */
  statusText: string;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function isHttpVersion(value: string): boolean {
  return value.length === 8 && value.startsWith("HTTP/") && isDigit(value.charCodeAt(5)) &&
    value.charCodeAt(6) === 0x2e && isDigit(value.charCodeAt(7));
}

/** Whether `value` is a request target: printable ASCII without spaces, not empty. */
export function isTarget(value: string): boolean {
  if (value.length === 0) return false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  return true;
}

/**
 * Parses `method SP request-target SP HTTP-version`.
 *
 * @param line The start line from `Http1Head.startLine`.
 * @returns Method, target and version (any `HTTP/d.d`; policy is the caller's).
 * @throws {HandshakeError} `WS_HANDSHAKE_MALFORMED_HEAD`, status 400.
 *
 * @example
 * ```ts
 * import { parseRequestLine } from "./http1_start_line.ts";
 *
 * console.assert(parseRequestLine("GET /chat HTTP/1.1").target === "/chat");
 * ```
 */
export function parseRequestLine(line: string): RequestLine {
  const first = line.indexOf(" ");
  const second = first < 0 ? -1 : line.indexOf(" ", first + 1);
  const method = line.slice(0, first);
  const target = line.slice(first + 1, second);
  const version = line.slice(second + 1);
  if (second < 0 || !isToken(method) || !isTarget(target) || !isHttpVersion(version)) {
    throw malformedHead("Invalid HTTP request line");
  }
  return { method, target, version };
}

/**
 * Parses `HTTP-version SP status-code SP reason-phrase`; a missing reason
 * (and its space) is tolerated, as many servers omit it.
 *
 * @param line The start line from `Http1Head.startLine`.
 * @returns Version, status and reason.
 * @throws {HandshakeError} `WS_HANDSHAKE_MALFORMED_HEAD`, status 400.
 *
 * @example
 * ```ts
 * import { parseStatusLine } from "./http1_start_line.ts";
 *
 * console.assert(parseStatusLine("HTTP/1.1 101 Switching Protocols").status === 101);
 * ```
 */
export function parseStatusLine(line: string): StatusLine {
  const version = line.slice(0, 8);
  const code = line.slice(9, 12);
  const ok = isHttpVersion(version) && line.charCodeAt(8) === 0x20 && code.length === 3 &&
    isDigit(code.charCodeAt(0)) && isDigit(code.charCodeAt(1)) && isDigit(code.charCodeAt(2)) &&
    (line.length === 12 || line.charCodeAt(12) === 0x20);
  if (!ok) throw malformedHead("Invalid HTTP status line");
  const statusText = line.slice(13);
  for (let i = 0; i < statusText.length; i++) {
    const c = statusText.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) throw malformedHead("Invalid HTTP reason phrase");
  }
  return { version, status: Number(code), statusText };
}
