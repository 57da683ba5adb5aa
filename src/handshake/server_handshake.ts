/**
 * The server half of the opening handshake (RFC 6455 §4.2) on fetch types:
 * check a request, then build the 101 headers or a rejection.
 *
 * Status policy (each failure gets a specific status, never a 101):
 *
 * | request problem                                   | status | extra headers                |
 * |---------------------------------------------------|--------|------------------------------|
 * | method is not GET                                 | 405    | `Allow: GET`                 |
 * | HTTP version known and not HTTP/1.1               | 505    |                              |
 * | no `Host`                                         | 400    |                              |
 * | no `Upgrade` header at all (plain HTTP request)   | 426    | `Upgrade: websocket`         |
 * | `Upgrade` without the `websocket` token           | 400    |                              |
 * | `Connection` without the `Upgrade` token          | 400    |                              |
 * | `Sec-WebSocket-Version` missing or not exactly 13 | 426    | `Sec-WebSocket-Version: 13`  |
 * | key missing, repeated or not base64 of 16 bytes   | 400    |                              |
 * | `Origin` refused by the policy                    | 403    |                              |
 * | no `Origin` while `requireOrigin` is set          | 403    |                              |
 * | malformed `Sec-WebSocket-Protocol`/`-Extensions`  | 400    |                              |
 *
 * @module
 */

import { isValidKey, signKeySync } from "./accept_key.ts";
import { hasToken, isToken, parseExtensions } from "./header_tokens.ts";
import type { HeaderLookup } from "./field_headers.ts";
import { encodeResponseHead } from "./http1_codec.ts";
import { isOriginAllowed, isOriginListed, type OriginPolicy } from "./origin_policy.ts";
import {
  parseSubprotocols,
  selectListed,
  selectSubprotocol,
  type SubprotocolSelector,
} from "./subprotocol.ts";

/** An HTTP answer refusing the upgrade; send it instead of a 101. */
export interface HandshakeRejection {
  /** The HTTP status (400, 403, 405, 426, 431, 505, …). */
  status: number;
  /** Response headers, including `Content-Type`, `Content-Length` and `Connection: close`. */
  headers: Headers;
  /** A short plain-text explanation. */
  body: string;
}

/** The request as the server sees it; a fetch `Request` fits. */
export interface UpgradeRequestLike {
  /** The request method (case-sensitive, RFC 7230 §3.1.1). */
  method: string;
  /** The request headers (repeated fields joined with `, `, as `Headers` does). */
  headers: HeaderLookup;
  /** The request URL, when known (unused by the checks). */
  url?: string;
  /** `HTTP/1.1` etc. when read from a raw socket; fetch requests leave it out. */
  httpVersion?: string;
}

/** Options of {@linkcode verifyUpgradeRequest}. */
export interface VerifyUpgradeRequestOptions {
  /** Supported subprotocols or a selection callback (see {@linkcode selectSubprotocol}). */
  protocols?: SubprotocolSelector;
  /** Origin allowlist or callback (see {@linkcode isOriginAllowed}); off by default. */
  origins?: OriginPolicy;
  /**
   * Refuse (403) a request without an `Origin` header. Browsers always send
   * one, so this shuts out only non-browser clients (which can forge any
   * `Origin` anyway); use it when every legitimate client is a browser.
   * @default {false}
   */
  requireOrigin?: boolean;
}

/** Result of {@linkcode verifyUpgradeRequest}. */
export type VerifyUpgradeRequestResult =
  | {
    ok: true;
    /** The client's `Sec-WebSocket-Key`. */
    key: string;
    /** The selected subprotocol, `""` for none. */
    protocol: string;
    /** The client's `Sec-WebSocket-Extensions` (syntax checked), `""` when absent. */
    offeredExtensions: string;
    /** The `Origin` header, `null` when absent. */
    origin: string | null;
  }
  | { ok: false; response: HandshakeRejection };

const encoder = new TextEncoder();

/**
 * Builds a rejection with a plain-text body and `Connection: close` (a
 * refused upgrade must not leave a tunnel open, A12 upgrade smuggling).
 *
 * @param status The HTTP status.
 * @param message The body text.
 * @param options Extra headers such as `Sec-WebSocket-Version`.
 * @returns The rejection.
 *
 * @example
 * ```ts
 * import { createRejection } from "./server_handshake.ts";
 *
 * const rejection = createRejection(503, "Server is shutting down");
 * console.assert(rejection.headers.get("connection") === "close");
 * ```
 */
export function createRejection(
  status: number,
  message: string,
  options: { headers?: HeadersInit } = {},
): HandshakeRejection {
  const headers = new Headers(options.headers);
  headers.set("content-type", "text/plain; charset=utf-8");
  headers.set("content-length", String(encoder.encode(message).length));
  headers.set("connection", "close");
  return { status, headers, body: message };
}

/**
 * The bytes of a rejection on a raw connection: its head, then its body.
 *
 * @param rejection From {@linkcode verifyUpgradeRequest} or {@linkcode createRejection}.
 * @returns Head and body, ready to write.
 *
 * @example
 * ```ts
 * import { createRejection, encodeRejection } from "./server_handshake.ts";
 *
 * const text = new TextDecoder().decode(encodeRejection(createRejection(403, "Origin not allowed")));
 * console.assert(text.startsWith("HTTP/1.1 403 ") && text.endsWith("\r\n\r\nOrigin not allowed"));
 * ```
 */
export function encodeRejection(rejection: HandshakeRejection): Uint8Array {
  const head = encodeResponseHead(rejection.status, rejection.headers);
  const body = encoder.encode(rejection.body);
  const bytes = new Uint8Array(head.byteLength + body.byteLength);
  bytes.set(head);
  bytes.set(body, head.byteLength);
  return bytes;
}

/**
 * Turns a rejection into a fetch `Response` for a runtime's own HTTP server;
 * `Content-Length` is left to the runtime.
 *
 * @param rejection From {@linkcode verifyUpgradeRequest} or {@linkcode createRejection}.
 * @returns A `Response` with the same status, headers and body.
 *
 * @example
 * ```ts
 * import { createRejection, rejectionResponse } from "./server_handshake.ts";
 *
 * const response = rejectionResponse(createRejection(403, "Origin not allowed"));
 * console.assert(response.status === 403);
 * ```
 */
export function rejectionResponse(rejection: HandshakeRejection): Response {
  const headers = new Headers(rejection.headers);
  headers.delete("content-length");
  return new Response(rejection.body, { status: rejection.status, headers });
}

function reject(status: number, message: string, headers?: HeadersInit) {
  return { ok: false as const, response: createRejection(status, message, { headers }) };
}

/**
 * Checks a client's opening handshake (RFC 6455 §4.2.1) and selects a
 * subprotocol. Every header is treated as possibly absent or hostile; bad
 * input yields a rejection, never an exception. The status for each
 * failure is in the module documentation.
 *
 * @param request Method, headers and (from raw sockets) the HTTP version.
 * @param options Subprotocol selection and Origin policy.
 * @returns `{ ok: true, … }` to answer 101, or `{ ok: false, response }`.
 *   It rejects only on programming errors: a user callback that throws, a
 *   protocol callback that returns an unoffered protocol, a malformed allowlist.
 *
 * @example
 * ```ts
 * import { verifyUpgradeRequest } from "./server_handshake.ts";
 *
 * const request = new Request("http://localhost/", {
 *   headers: {
 *     host: "localhost",
 *     upgrade: "websocket",
 *     connection: "keep-alive, Upgrade",
 *     "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
 *     "sec-websocket-version": "13",
 *     "sec-websocket-protocol": "chat",
 *   },
 * });
 * const result = await verifyUpgradeRequest(request, { protocols: ["chat"] });
 * console.assert(result.ok && result.protocol === "chat");
 * ```
 */
export function verifyUpgradeRequest(
  request: UpgradeRequestLike,
  options: VerifyUpgradeRequestOptions = {},
): Promise<VerifyUpgradeRequestResult> {
  try {
    return Promise.resolve(checkUpgradeRequest(request, options));
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * {@linkcode verifyUpgradeRequest} without a promise unless a callback needs
 * one: only an `origins` or `protocols` function makes it asynchronous. A
 * server answers every upgrade through it, and each promise and suspended
 * call of an asynchronous check is garbage per handshake.
 *
 * @param request Method, headers and (from raw sockets) the HTTP version.
 * @param options Subprotocol selection and Origin policy.
 * @returns The result, or a promise of it with an `origins` or `protocols`
 *   callback. Throws (or rejects) only on the programming errors listed at
 *   {@linkcode verifyUpgradeRequest}.
 *
 * @example
 * ```ts
 * import { checkUpgradeRequest } from "./server_handshake.ts";
 *
 * const headers = new Headers({
 *   host: "localhost",
 *   upgrade: "websocket",
 *   connection: "Upgrade",
 *   "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
 *   "sec-websocket-version": "13",
 * });
 * const result = checkUpgradeRequest({ method: "GET", headers }, { protocols: ["chat"] });
 * console.assert(!(result instanceof Promise) && result.ok && result.protocol === "");
 * ```
 */
export function checkUpgradeRequest(
  request: UpgradeRequestLike,
  options: VerifyUpgradeRequestOptions = {},
): VerifyUpgradeRequestResult | Promise<VerifyUpgradeRequestResult> {
  const { headers } = request;
  // RFC 6455 §4.2.1 item 1: "An HTTP/1.1 or higher GET request".
  if (request.method !== "GET") return reject(405, "Method not allowed", { allow: "GET" });
  if (request.httpVersion !== undefined && request.httpVersion !== "HTTP/1.1") {
    return reject(505, "HTTP version not supported");
  }
  // RFC 6455 §4.2.1 item 2: "A |Host| header field".
  if (!headers.get("host")) return reject(400, "Missing Host header");
  // RFC 6455 §4.2.1 item 3: Upgrade containing "websocket", case-insensitive.
  const upgrade = headers.get("upgrade");
  if (upgrade === null) return reject(426, "Upgrade required", { upgrade: "websocket" });
  if (!hasToken(upgrade, "websocket", { allowSlash: true })) {
    return reject(400, "Invalid Upgrade header");
  }
  // RFC 6455 §4.2.1 item 4: Connection including the token "Upgrade".
  if (!hasToken(headers.get("connection"), "upgrade")) {
    return reject(400, "Invalid Connection header");
  }
  // RFC 6455 §4.2.2 / §4.4: on a version mismatch, answer with the versions
  // we support in Sec-WebSocket-Version (426 is the suggested status).
  if (headers.get("sec-websocket-version") !== "13") {
    return reject(426, "Unsupported WebSocket version", { "sec-websocket-version": "13" });
  }
  // RFC 6455 §4.2.1 item 5: base64 of a 16-byte value; two keys join as "a, b".
  const key = headers.get("sec-websocket-key");
  if (key === null || !isValidKey(key)) return reject(400, "Invalid Sec-WebSocket-Key header");
  // RFC 6455 §4.2.2: a refused origin MUST get an error status, e.g. 403.
  const origin = headers.get("origin");
  if (origin === null && options.requireOrigin === true) return reject(403, "Origin required");
  const { origins } = options;
  if (typeof origins === "function") {
    return isOriginAllowed(origin, origins).then((allowed) =>
      allowed ? checkOffers(headers, key, origin, options) : reject(403, "Origin not allowed")
    );
  }
  if (!isOriginListed(origin, origins)) return reject(403, "Origin not allowed");
  return checkOffers(headers, key, origin, options);
}

/** The rest of {@linkcode checkUpgradeRequest} once the origin is allowed: the offers. */
function checkOffers(
  headers: HeaderLookup,
  key: string,
  origin: string | null,
  options: VerifyUpgradeRequestOptions,
): VerifyUpgradeRequestResult | Promise<VerifyUpgradeRequestResult> {
  const offered = parseSubprotocols(headers.get("sec-websocket-protocol"));
  if (offered === undefined) return reject(400, "Invalid Sec-WebSocket-Protocol header");
  // RFC 6455 §9.1: malformed extension data MUST fail the handshake.
  const extensions = headers.get("sec-websocket-extensions");
  if (extensions !== null && parseExtensions(extensions) === undefined) {
    return reject(400, "Invalid Sec-WebSocket-Extensions header");
  }
  const offeredExtensions = extensions ?? "";
  const { protocols } = options;
  if (typeof protocols === "function") {
    return selectSubprotocol(offered, protocols).then((protocol) => ({
      ok: true,
      key,
      protocol,
      offeredExtensions,
      origin,
    }));
  }
  return { ok: true, key, protocol: selectListed(offered, protocols), offeredExtensions, origin };
}

/**
 * Headers of the 101 answer (RFC 6455 §4.2.2 item 5). A 101 cannot be a fetch
 * `Response`, so callers write these through their runtime or
 * `encodeResponseHead`.
 *
 * @param key The client's `Sec-WebSocket-Key`.
 * @param options The selected subprotocol and the accepted extensions header.
 * @returns `Upgrade`, `Connection`, `Sec-WebSocket-Accept` and the optional headers.
 * @throws {TypeError} If the protocol is not a token or the extensions are malformed.
 *
 * @example
 * ```ts
 * import { createUpgradeResponseHeaders } from "./server_handshake.ts";
 *
 * const headers = await createUpgradeResponseHeaders("dGhlIHNhbXBsZSBub25jZQ==", {});
 * console.assert(headers.get("sec-websocket-accept") === "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
 * ```
 */
export function createUpgradeResponseHeaders(
  key: string,
  options: { protocol?: string; extensions?: string } = {},
): Promise<Headers> {
  try {
    return Promise.resolve(new Headers(upgradeResponseFields(key, options)));
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * The fields of {@linkcode createUpgradeResponseHeaders} as name/value pairs,
 * in the order a `Headers` lists them (sorted, lower-case), without building
 * one: what a server that writes the head itself needs.
 *
 * @param key The client's `Sec-WebSocket-Key`.
 * @param options The selected subprotocol and the accepted extensions header.
 * @returns The pairs.
 * @throws {TypeError} If the protocol is not a token or the extensions are malformed.
 *
 * @example
 * ```ts
 * import { upgradeResponseFields } from "./server_handshake.ts";
 *
 * const fields = upgradeResponseFields("dGhlIHNhbXBsZSBub25jZQ==", { protocol: "chat" });
 * console.assert(fields[1][1] === "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" && fields[2][1] === "chat");
 * ```
 */
export function upgradeResponseFields(
  key: string,
  options: { protocol?: string; extensions?: string } = {},
): [string, string][] {
  const { protocol, extensions } = options;
  if (protocol && !isToken(protocol)) {
    throw new TypeError(`Invalid subprotocol: ${JSON.stringify(protocol)}`);
  }
  if (extensions && parseExtensions(extensions) === undefined) {
    throw new TypeError(`Invalid Sec-WebSocket-Extensions value: ${JSON.stringify(extensions)}`);
  }
  const fields: [string, string][] = [
    ["connection", "Upgrade"],
    ["sec-websocket-accept", signKeySync(key)],
  ];
  if (extensions) fields.push(["sec-websocket-extensions", extensions]);
  if (protocol) fields.push(["sec-websocket-protocol", protocol]);
  fields.push(["upgrade", "websocket"]);
  return fields;
}
