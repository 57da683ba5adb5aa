/**
 * The client half of the opening handshake (RFC 6455 §4.1) on fetch types:
 * build the upgrade request, then verify the server's response.
 *
 * @module
 */

import { generateKey, isValidKey, signKey } from "./accept_key.ts";
import { HandshakeError, HandshakeErrorCode } from "./errors.ts";
import { hasToken, isToken, parseExtensions } from "./header_tokens.ts";
import { validateSubprotocols } from "./subprotocol.ts";
import { parseWebSocketUrl } from "./web_socket_url.ts";

/** Headers the handshake owns; a user value would break or smuggle the upgrade. */
const RESERVED = new Set([
  "connection",
  "upgrade",
  "sec-websocket-key",
  "sec-websocket-version",
  "sec-websocket-accept",
  "sec-websocket-protocol",
  "sec-websocket-extensions",
]);

/** Options of {@linkcode createUpgradeRequest}. */
export interface UpgradeRequestOptions {
  /** Subprotocols to offer, most preferred first. */
  protocols?: string | string[];
  /** Extra headers (e.g. `Authorization`, `Origin`, `Host`); handshake headers are refused. */
  headers?: HeadersInit;
  /** A ready-made `Sec-WebSocket-Extensions` offer (e.g. from the deflate layer). */
  extensions?: string;
  /** A fixed `Sec-WebSocket-Key` for tests; a fresh random key by default. */
  key?: string;
}

/** Result of {@linkcode createUpgradeRequest}. */
export interface UpgradeRequest {
  /** What to send: the `ws:`/`wss:` URL (fragment removed) and the headers. */
  request: { url: URL; headers: Headers };
  /** The `Sec-WebSocket-Key` sent; needed by {@linkcode verifyUpgradeResponse}. */
  key: string;
}

function headerPairs(init: HeadersInit): [string, string][] {
  if (init instanceof Headers) return [...init];
  if (Array.isArray(init)) {
    return init.map((pair) => {
      if (pair.length !== 2) throw new TypeError("Invalid header: expected a [name, value] pair");
      return [String(pair[0]), String(pair[1])];
    });
  }
  return Object.entries(init as Record<string, string>).map(([k, v]) => [k, String(v)]);
}

function isSafeHeaderValue(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    // RFC 7230 §3.2: field-content is VCHAR / obs-text with SP / HTAB inside;
    // CR, LF and NUL are how header injection (undici CVE-2026-1527) happens.
    if ((c < 0x20 && c !== 0x09) || c === 0x7f || c > 0xff) return false;
  }
  return true;
}

/**
 * Builds the client's upgrade request: RFC 6455 §4.1 items 1–12. Everything
 * is validated synchronously, before any byte could be written: a bad URL,
 * subprotocol or header value throws and nothing is sent.
 *
 * @param url `ws:`/`wss:` (or `http:`/`https:`, mapped as WHATWG does).
 * @param options Subprotocols, extra headers, extension offer, fixed key.
 * @returns The URL and headers to send, and the key to verify the answer with.
 * @throws {SyntaxError} Bad URL scheme, subprotocol, key or extension offer.
 * @throws {TypeError} A header name or value that is not allowed.
 *
 * @example
 * ```ts
 * import { createUpgradeRequest } from "./client_handshake.ts";
 *
 * const { request, key } = createUpgradeRequest("ws://localhost:8080/chat", {
 *   protocols: ["chat"],
 * });
 * console.assert(request.headers.get("sec-websocket-key") === key);
 * console.assert(request.headers.get("host") === "localhost:8080");
 * ```
 */
export function createUpgradeRequest(
  url: string | URL,
  options: UpgradeRequestOptions = {},
): UpgradeRequest {
  const parsed = parseWebSocketUrl(url);

  const protocols = options.protocols === undefined ? [] : validateSubprotocols(options.protocols);
  const key = options.key ?? generateKey();
  if (!isValidKey(key)) {
    throw new SyntaxError("Invalid Sec-WebSocket-Key: expected base64 of 16 bytes");
  }
  if (options.extensions !== undefined && options.extensions !== "") {
    if (parseExtensions(options.extensions) === undefined) {
      throw new SyntaxError(`Invalid extension offer: ${JSON.stringify(options.extensions)}`);
    }
  }

  const headers = new Headers();
  // RFC 6455 §4.1 item 4: Host carries the port when it is not the default.
  headers.set("host", parsed.host);
  for (const [name, value] of headerPairs(options.headers ?? {})) {
    if (!isToken(name)) throw new TypeError(`Invalid header name: ${JSON.stringify(name)}`);
    if (!isSafeHeaderValue(value)) {
      throw new TypeError(`Invalid value for header ${name}: control or non-Latin-1 character`);
    }
    if (RESERVED.has(name.toLowerCase())) {
      throw new TypeError(`Header ${name} is set by the handshake and cannot be overridden`);
    }
    if (name.toLowerCase() === "host") headers.set(name, value);
    else headers.append(name, value);
  }
  headers.set("upgrade", "websocket"); // RFC 6455 §4.1 item 5
  headers.set("connection", "Upgrade"); // RFC 6455 §4.1 item 6
  headers.set("sec-websocket-key", key); // RFC 6455 §4.1 item 7
  headers.set("sec-websocket-version", "13"); // RFC 6455 §4.1 item 9
  if (protocols.length > 0) headers.set("sec-websocket-protocol", protocols.join(", "));
  if (options.extensions) headers.set("sec-websocket-extensions", options.extensions);
  return { request: { url: parsed, headers }, key };
}

/** Options of {@linkcode verifyUpgradeResponse}: what the client sent. */
export interface VerifyUpgradeResponseOptions {
  /** The `Sec-WebSocket-Key` that was sent. */
  key: string;
  /** The subprotocols that were offered. */
  protocols?: string | string[];
  /** The `Sec-WebSocket-Extensions` offer that was sent. */
  extensions?: string;
}

/** What the server agreed to. */
export interface UpgradeResponseResult {
  /** The selected subprotocol, `""` when none. */
  protocol: string;
  /** The accepted extensions header value, `""` when none; parameters are checked by their owner. */
  extensions: string;
}

function fail(code: string, message: string, status?: number): never {
  throw new HandshakeError(code, message, status === undefined ? {} : { status });
}

/**
 * Verifies the server's answer (RFC 6455 §4.1, "the client MUST _Fail the
 * WebSocket Connection_" list). Every header may be missing or hostile (bytes
 * ≥ 0x80, CVE-2026-55517): each failure is a {@linkcode HandshakeError},
 * never another exception.
 *
 * @param response The status and headers received.
 * @param options The key, subprotocols and extension offer that were sent.
 * @returns The selected subprotocol and the accepted extensions.
 * @throws {HandshakeError} (as a rejection) with a `WS_HANDSHAKE_*` code;
 *   `status` is set for a non-101 answer.
 *
 * @example
 * ```ts
 * import { signKey } from "@wsc/websocket-channel";
 * import { verifyUpgradeResponse } from "./client_handshake.ts";
 *
 * const key = "dGhlIHNhbXBsZSBub25jZQ==";
 * const headers = new Headers({
 *   upgrade: "websocket",
 *   connection: "Upgrade",
 *   "sec-websocket-accept": await signKey(key),
 *   "sec-websocket-protocol": "chat",
 * });
 * const { protocol } = await verifyUpgradeResponse({ status: 101, headers }, {
 *   key,
 *   protocols: ["chat"],
 * });
 * console.assert(protocol === "chat");
 * ```
 */
export async function verifyUpgradeResponse(
  response: { status: number; headers: Headers },
  options: VerifyUpgradeResponseOptions,
): Promise<UpgradeResponseResult> {
  const { status, headers } = response;
  // RFC 6455 §4.1: "If the status code received from the server is not 101,
  // the client handles the response per HTTP [RFC2616] procedures."
  if (status !== 101) {
    fail(HandshakeErrorCode.badStatus, `Expected status 101, got ${status}`, status);
  }
  // RFC 6455 §4.1 item 2: Upgrade MUST be "websocket", case-insensitively.
  if (headers.get("upgrade")?.toLowerCase() !== "websocket") {
    fail(HandshakeErrorCode.badUpgrade, "Missing or invalid Upgrade header in the response");
  }
  // RFC 6455 §4.1 item 3: Connection MUST contain the token "Upgrade".
  if (!hasToken(headers.get("connection"), "upgrade")) {
    fail(HandshakeErrorCode.badConnection, "Missing Upgrade token in the Connection header");
  }
  // RFC 6455 §4.1 item 4: the accept value MUST match SHA-1(key + GUID).
  const accept = headers.get("sec-websocket-accept");
  if (accept === null || accept !== await signKey(options.key)) {
    fail(HandshakeErrorCode.badAccept, "Missing or invalid Sec-WebSocket-Accept header");
  }

  const offeredProtocols = options.protocols === undefined
    ? []
    : typeof options.protocols === "string"
    ? [options.protocols]
    : options.protocols;
  const protocol = headers.get("sec-websocket-protocol");
  // RFC 6455 §4.1 item 6: a subprotocol "not present in the client's
  // handshake" MUST fail; a joined value ("a, b") is never one we offered.
  if (protocol !== null && (!isToken(protocol) || !offeredProtocols.includes(protocol))) {
    fail(
      HandshakeErrorCode.unexpectedProtocol,
      `Server selected a subprotocol that was not offered: ${JSON.stringify(protocol)}`,
    );
  }

  const extensions = headers.get("sec-websocket-extensions");
  if (extensions !== null) {
    const accepted = parseExtensions(extensions);
    if (accepted === undefined) {
      fail(HandshakeErrorCode.badExtensions, "Malformed Sec-WebSocket-Extensions header");
    }
    const offered = new Set(
      (parseExtensions(options.extensions ?? "") ?? []).map((e) => e.name.toLowerCase()),
    );
    const seen = new Set<string>();
    for (const { name } of accepted) {
      const lower = name.toLowerCase();
      // RFC 6455 §4.1 item 5: an extension "not present in the client's
      // handshake" MUST fail the connection; so does naming one twice.
      if (!offered.has(lower) || seen.has(lower)) {
        fail(
          HandshakeErrorCode.unexpectedExtension,
          `Server accepted an extension that was not offered: ${name}`,
        );
      }
      seen.add(lower);
    }
  }
  return { protocol: protocol ?? "", extensions: extensions ?? "" };
}
