/**
 * A small HTTP/1.1 head codec for transports that own the bytes (raw TCP,
 * in-memory pairs): an incremental head reader with limits and head
 * encoders (the start-line parsers are in `http1_start_line.ts`). Bodies are not handled: after a WebSocket
 * handshake the bytes that follow the head belong to the frame stream.
 *
 * @module
 */

import { HandshakeError, HandshakeErrorCode } from "./errors.ts";
import { isToken, isTokenChar } from "./header_tokens.ts";
import { isTarget, malformedHead } from "./http1_start_line.ts";

/**
 * The default head limits, the same for every server (our own parser on
 * Deno and Bun, `node:http`'s parsed request on Node through
 * {@linkcode checkHeadLimits}): 16 KiB in all, 8 KiB per line, 128 fields
 * (python-websockets' limits; `node:http` alone would take 2,000 fields).
 *
 * @example
 * ```ts
 * import { HTTP1_HEAD_LIMITS } from "./http1_codec.ts";
 *
 * console.assert(HTTP1_HEAD_LIMITS.maxHeaderCount === 128);
 * ```
 */
export const HTTP1_HEAD_LIMITS: Readonly<Required<Http1HeadReaderOptions>> = Object.freeze({
  maxHeadSize: 16384,
  maxHeaderCount: 128,
  maxLineLength: 8192,
});

/** Limits of {@linkcode Http1HeadReader}; exceeding any of them is HTTP 431. */
export interface Http1HeadReaderOptions {
  /** Total bytes of the head, start line and final CRLF included. @default 16384 */
  maxHeadSize?: number;
  /** Number of header fields. @default 128 */
  maxHeaderCount?: number;
  /** Bytes of one line, CRLF excluded. @default 8192 */
  maxLineLength?: number;
}

/** A parsed head: start line plus header fields, values decoded as Latin-1. */
export interface Http1Head {
  /** The request line or status line, unparsed (see {@linkcode parseRequestLine}). */
  startLine: string;
  /** Fields in order, names as received; nothing is merged. */
  fields: [name: string, value: string][];
  /** The same fields in `Headers`: repeated names read back joined with `, ` (RFC 7230 §3.2.2). */
  headers: Headers;
}

/** A complete head and the bytes that followed it in the same input. */
export interface Http1HeadResult {
  /** The parsed head. */
  head: Http1Head;
  /** Bytes after the blank line: the start of the frame stream (or of the next head). */
  rest: Uint8Array;
}

const CR = 0x0d;
const LF = 0x0a;

function latin1(bytes: Uint8Array, start: number, end: number): string {
  let out = "";
  // Chunked so huge lines never hit the argument-count limit of apply().
  for (let i = start; i < end; i += 4096) {
    out += String.fromCharCode.apply(null, bytes.subarray(i, Math.min(end, i + 4096)) as never);
  }
  return out;
}

/**
 * Reads one HTTP/1.1 head from chunks of any size. Each byte is looked at a
 * bounded number of times: completed lines are parsed as soon as their LF
 * arrives and only the unfinished line is kept, so feeding a 1 MiB header one
 * byte at a time is linear and stops at the size cap (tungstenite
 * CVE-2023-43669 re-parsed the whole buffer on every read).
 *
 * Strictness: lines end in CRLF (a bare CR or LF is 400); obsolete line
 * folding is 400 (RFC 7230 §3.2.4); whitespace before the colon is 400
 * (RFC 7230 §3.2.4 "MUST reject"); control characters in values are 400.
 * Bytes ≥ 0x80 are kept as Latin-1 characters; token checks reject them later.
 *
 * @example Parse a request that arrives with the first frame
 * ```ts
 * import { Http1HeadReader } from "./http1_codec.ts";
 *
 * const reader = new Http1HeadReader();
 * const head = new TextEncoder().encode("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
 * const result = reader.push(new Uint8Array([...head, 0x81, 0x80]));
 * console.assert(result?.head.headers.get("host") === "a");
 * console.assert(result?.rest.length === 2);
 * ```
 */
export class Http1HeadReader {
  #maxHeadSize: number;
  #maxHeaderCount: number;
  #maxLineLength: number;
  #line = new Uint8Array(256);
  #lineLength = 0;
  #headSize = 0;
  #startLine: string | undefined;
  #fields: [string, string][] = [];
  #done = false;
  #error: HandshakeError | undefined;

  /** @param options Size and count limits. */
  constructor(options: Http1HeadReaderOptions = {}) {
    this.#maxHeadSize = options.maxHeadSize ?? HTTP1_HEAD_LIMITS.maxHeadSize;
    this.#maxHeaderCount = options.maxHeaderCount ?? HTTP1_HEAD_LIMITS.maxHeaderCount;
    this.#maxLineLength = options.maxLineLength ?? HTTP1_HEAD_LIMITS.maxLineLength;
  }

  /** Bytes consumed so far as part of the head. */
  get bytesRead(): number {
    return this.#headSize;
  }

  /**
   * Feeds the next chunk.
   *
   * @param chunk Bytes from the peer; not retained after the call, except
   *   that `rest` is a view into it.
   * @returns The head and the remaining bytes once the blank line has been
   *   seen, otherwise `undefined` (feed more).
   * @throws {HandshakeError} `status` 431 (`WS_HANDSHAKE_HEAD_TOO_LARGE`,
   *   `WS_HANDSHAKE_TOO_MANY_HEADERS`) or 400 (`WS_HANDSHAKE_MALFORMED_HEAD`);
   *   later calls throw the same error. A `TypeError` after completion.
   */
  push(chunk: Uint8Array): Http1HeadResult | undefined {
    if (this.#error) throw this.#error;
    if (this.#done) throw new TypeError("Cannot push: the head is already complete");
    try {
      return this.#scan(chunk);
    } catch (error) {
      if (error instanceof HandshakeError) this.#error = error;
      throw error;
    }
  }

  #scan(chunk: Uint8Array): Http1HeadResult | undefined {
    let pos = 0;
    while (pos < chunk.length) {
      const lf = chunk.indexOf(LF, pos);
      const end = lf < 0 ? chunk.length : lf;
      this.#headSize += (lf < 0 ? end : end + 1) - pos;
      if (this.#headSize > this.#maxHeadSize) {
        throw new HandshakeError(
          HandshakeErrorCode.headTooLarge,
          `HTTP head exceeds ${this.#maxHeadSize} bytes`,
          { status: 431 },
        );
      }
      this.#append(chunk, pos, end);
      if (lf < 0) return undefined;
      pos = lf + 1;
      if (this.#endLine()) {
        this.#done = true;
        const fields = this.#fields;
        const headers = new Headers();
        for (const [name, value] of fields) headers.append(name, value);
        return {
          head: { startLine: this.#startLine!, fields, headers },
          rest: chunk.subarray(pos),
        };
      }
    }
    return undefined;
  }

  #append(chunk: Uint8Array, start: number, end: number): void {
    const needed = this.#lineLength + (end - start);
    // +1 leaves room for the CR that precedes LF within the line cap.
    if (needed > this.#maxLineLength + 1) {
      throw new HandshakeError(
        HandshakeErrorCode.headTooLarge,
        `HTTP header line exceeds ${this.#maxLineLength} bytes`,
        { status: 431 },
      );
    }
    if (needed > this.#line.length) {
      const grown = new Uint8Array(Math.max(needed, this.#line.length * 2));
      grown.set(this.#line.subarray(0, this.#lineLength));
      this.#line = grown;
    }
    this.#line.set(chunk.subarray(start, end), this.#lineLength);
    this.#lineLength = needed;
  }

  /** Handles the line just terminated by LF; returns true at the blank line. */
  #endLine(): boolean {
    const line = this.#line;
    let length = this.#lineLength;
    this.#lineLength = 0;
    // RFC 7230 §3.5 allows a bare LF; we refuse it so every hop agrees on framing.
    if (length === 0 || line[length - 1] !== CR) {
      throw malformedHead("HTTP line not terminated by CRLF");
    }
    length--;
    for (let i = 0; i < length; i++) {
      if (line[i] === CR) throw malformedHead("Bare CR in HTTP head");
    }
    if (this.#startLine === undefined) {
      // RFC 7230 §3.5: "SHOULD ignore at least one empty line" before the start line.
      if (length === 0) return false;
      this.#startLine = latin1(line, 0, length);
      return false;
    }
    if (length === 0) return true;
    // RFC 7230 §3.2.4: obs-fold is rejected with 400.
    if (line[0] === 0x20 || line[0] === 0x09) {
      throw malformedHead("Obsolete line folding in HTTP head");
    }
    if (this.#fields.length >= this.#maxHeaderCount) {
      throw new HandshakeError(
        HandshakeErrorCode.tooManyHeaders,
        `HTTP head has more than ${this.#maxHeaderCount} header fields`,
        { status: 431 },
      );
    }
    let colon = 0;
    while (colon < length && isTokenChar(line[colon])) colon++;
    // RFC 7230 §3.2.4: no whitespace between field-name and colon, MUST reject.
    if (colon === 0 || colon === length || line[colon] !== 0x3a) {
      throw malformedHead("Invalid HTTP header name");
    }
    let start = colon + 1;
    let end = length;
    while (start < end && (line[start] === 0x20 || line[start] === 0x09)) start++;
    while (end > start && (line[end - 1] === 0x20 || line[end - 1] === 0x09)) end--;
    for (let i = start; i < end; i++) {
      const c = line[i];
      // RFC 7230 §3.2: field-vchar / SP / HTAB; obs-text (≥ 0x80) passes as Latin-1.
      if ((c < 0x20 && c !== 0x09) || c === 0x7f) {
        throw malformedHead("Control character in HTTP header value");
      }
    }
    this.#fields.push([latin1(line, 0, colon), latin1(line, start, end)]);
    return false;
  }
}

/**
 * Applies the limits of {@linkcode Http1HeadReader} to a head that another
 * parser already read (`node:http`'s `IncomingMessage`: its request line and
 * `rawHeaders`), so a server answers the same 431 whichever parser read the
 * request. Sizes are counted as on the wire (`name: value` plus CRLF per
 * line); values that the other parser trimmed count a little shorter.
 *
 * @param startLine The request line, e.g. `GET /chat HTTP/1.1`.
 * @param rawHeaders Names and values alternating, as in `rawHeaders`.
 * @param options The limits; {@linkcode HTTP1_HEAD_LIMITS} by default.
 * @returns The 431 `HandshakeError` to answer with, or `undefined` within limits.
 *
 * @example
 * ```ts
 * import { checkHeadLimits } from "./http1_codec.ts";
 *
 * const many = Array.from({ length: 1000 }, (_, i) => [`x-${i}`, "v"]).flat();
 * console.assert(checkHeadLimits("GET / HTTP/1.1", many)?.status === 431);
 * console.assert(checkHeadLimits("GET / HTTP/1.1", ["Host", "a"]) === undefined);
 * ```
 */
export function checkHeadLimits(
  startLine: string,
  rawHeaders: readonly string[],
  options: Http1HeadReaderOptions = {},
): HandshakeError | undefined {
  const maxHeadSize = options.maxHeadSize ?? HTTP1_HEAD_LIMITS.maxHeadSize;
  const maxHeaderCount = options.maxHeaderCount ?? HTTP1_HEAD_LIMITS.maxHeaderCount;
  const maxLineLength = options.maxLineLength ?? HTTP1_HEAD_LIMITS.maxLineLength;
  if (rawHeaders.length / 2 > maxHeaderCount) {
    return new HandshakeError(
      HandshakeErrorCode.tooManyHeaders,
      `HTTP head has more than ${maxHeaderCount} header fields`,
      { status: 431 },
    );
  }
  // Start line, each "name: value" and the blank line, every one with its CRLF.
  let size = startLine.length + 4;
  let longest = startLine.length;
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const line = rawHeaders[i].length + 2 + rawHeaders[i + 1].length;
    size += line + 2;
    if (line > longest) longest = line;
  }
  if (longest > maxLineLength) {
    return new HandshakeError(
      HandshakeErrorCode.headTooLarge,
      `HTTP header line exceeds ${maxLineLength} bytes`,
      { status: 431 },
    );
  }
  if (size > maxHeadSize) {
    return new HandshakeError(
      HandshakeErrorCode.headTooLarge,
      `HTTP head exceeds ${maxHeadSize} bytes`,
      { status: 431 },
    );
  }
  return undefined;
}

const REASONS: Record<number, string> = {
  101: "Switching Protocols",
  200: "OK",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  426: "Upgrade Required",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  503: "Service Unavailable",
  505: "HTTP Version Not Supported",
};

function encodeHead(startLine: string, headers: HeadersInit): Uint8Array {
  // Pairs as given (no copy of each pair: this runs for every 101 a server sends). Arrays
  // first: on Node, naming `Headers` loads the fetch implementation.
  const pairs: ArrayLike<unknown>[] = Array.isArray(headers)
    ? headers
    : headers instanceof Headers
    ? [...headers]
    : Object.entries(headers as Record<string, string>);
  // Checked and measured first, then written straight into the bytes: no string per line.
  let length = startLine.length + 4;
  for (let p = 0; p < pairs.length; p++) {
    const name = String(pairs[p][0]), value = String(pairs[p][1]);
    if (!isToken(name)) throw new TypeError(`Invalid header name: ${JSON.stringify(name)}`);
    for (let i = 0; i < value.length; i++) {
      const c = value.charCodeAt(i);
      // CR/LF/NUL in a value would split the head (header injection).
      if ((c < 0x20 && c !== 0x09) || c === 0x7f || c > 0xff) {
        throw new TypeError(`Invalid value for header ${name}: control or non-Latin-1 character`);
      }
    }
    length += name.length + value.length + 4;
  }
  const bytes = new Uint8Array(length);
  let at = putLine(bytes, 0, startLine);
  for (let p = 0; p < pairs.length; p++) {
    at = putLatin1(bytes, at, String(pairs[p][0]));
    bytes[at++] = 0x3a; // ":"
    bytes[at++] = 0x20;
    at = putLine(bytes, at, String(pairs[p][1]));
  }
  bytes[at++] = CR;
  bytes[at] = LF;
  return bytes;
}

/** Writes `text`'s character codes (Latin-1) at `at`; returns the index after them. */
function putLatin1(bytes: Uint8Array, at: number, text: string): number {
  for (let i = 0; i < text.length; i++) bytes[at++] = text.charCodeAt(i);
  return at;
}

/** {@linkcode putLatin1}, then CRLF. */
function putLine(bytes: Uint8Array, at: number, text: string): number {
  at = putLatin1(bytes, at, text);
  bytes[at++] = CR;
  bytes[at++] = LF;
  return at;
}

/**
 * Encodes a request head, ending with the blank line.
 *
 * @param target The request target, e.g. `/chat?room=1`.
 * @param headers Header fields, written in iteration order.
 * @param options The method (`GET` by default).
 * @returns The head as bytes (Latin-1).
 * @throws {TypeError} For a bad method, target, header name, or a value with
 *   control characters (CR, LF, NUL).
 *
 * @example
 * ```ts
 * import { encodeRequestHead } from "./http1_codec.ts";
 *
 * const bytes = encodeRequestHead("/", [["Host", "example.com"]]);
 * console.assert(new TextDecoder().decode(bytes) === "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n");
 * ```
 */
export function encodeRequestHead(
  target: string,
  headers: HeadersInit,
  options: { method?: string } = {},
): Uint8Array {
  const method = options.method ?? "GET";
  if (!isToken(method)) throw new TypeError(`Invalid HTTP method: ${JSON.stringify(method)}`);
  if (!isTarget(target)) throw new TypeError(`Invalid request target: ${JSON.stringify(target)}`);
  return encodeHead(`${method} ${target} HTTP/1.1`, headers);
}

/**
 * Encodes a response head, ending with the blank line.
 *
 * @param status A status code from 100 to 999.
 * @param headers Header fields, written in iteration order.
 * @param options The reason phrase; a standard one for common codes by default.
 * @returns The head as bytes (Latin-1).
 * @throws {TypeError} For a bad status, reason, header name or value.
 *
 * @example
 * ```ts
 * import { encodeResponseHead } from "./http1_codec.ts";
 *
 * const bytes = encodeResponseHead(101, { upgrade: "websocket", connection: "Upgrade" });
 * console.assert(new TextDecoder().decode(bytes).startsWith("HTTP/1.1 101 Switching Protocols\r\n"));
 * ```
 */
export function encodeResponseHead(
  status: number,
  headers: HeadersInit,
  options: { statusText?: string } = {},
): Uint8Array {
  if (!Number.isInteger(status) || status < 100 || status > 999) {
    throw new TypeError(`Invalid HTTP status: ${status}`);
  }
  const statusText = options.statusText ?? REASONS[status] ?? "";
  for (let i = 0; i < statusText.length; i++) {
    const c = statusText.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f || c > 0xff) {
      throw new TypeError("Invalid reason phrase: control or non-Latin-1 character");
    }
  }
  return encodeHead(`HTTP/1.1 ${status} ${statusText}`, headers);
}
