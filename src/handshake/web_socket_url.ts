/**
 * The URL rules of the WHATWG `WebSocket` constructor, in one place for the
 * client handshake and `connect()` on every transport.
 *
 * @module
 */

/**
 * Parses a WebSocket URL as the WHATWG `WebSocket` constructor does:
 * `http:`/`https:` become `ws:`/`wss:`, any other scheme than `ws:`/`wss:`
 * is refused, and the fragment is dropped (it is never sent).
 *
 * @param url The URL given by the caller.
 * @returns A new `URL` with a `ws:` or `wss:` scheme and no fragment.
 * @throws {SyntaxError} For a string that is not a URL or a scheme that is not a WebSocket one.
 *
 * @example
 * ```ts
 * import { parseWebSocketUrl } from "./web_socket_url.ts";
 *
 * console.assert(parseWebSocketUrl("https://example.com/a#b").href === "wss://example.com/a");
 * try {
 *   parseWebSocketUrl("ftp://example.com");
 * } catch (error) {
 *   console.assert(error instanceof SyntaxError);
 * }
 * ```
 */
export function parseWebSocketUrl(url: string | URL): URL {
  if (typeof url !== "string" && !(url instanceof URL)) {
    throw new TypeError(`A WebSocket URL must be a string or a URL, got ${typeof url}`);
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (cause) {
    throw new SyntaxError(`Invalid WebSocket URL: ${String(url)}`, { cause });
  }
  if (parsed.protocol === "http:") parsed.protocol = "ws:";
  else if (parsed.protocol === "https:") parsed.protocol = "wss:";
  if (parsed.protocol !== "ws:" && parsed.protocol !== "wss:") {
    throw new SyntaxError(
      `Invalid WebSocket URL scheme: ${parsed.protocol} (use ws:, wss:, http: or https:)`,
    );
  }
  // WHATWG WebSockets: the fragment is never sent.
  parsed.hash = "";
  return parsed;
}
