/**
 * The URL of an upgrade request from its target and `Host`, checked as a
 * server must (RFC 7230 §5.4, RFC 9110 §4.2.4, RFC 9112 §3.2) and as every
 * runtime's fetch `Request` takes it.
 *
 * @module
 */

/**
 * The URL of a request (RFC 7230 §5.5): an origin-form target after the
 * scheme and the `Host` (so `//evil.example/` stays a path), an
 * absolute-form one as it is. `undefined` when the `Host` is not a valid
 * `host[:port]` (absent: `localhost`) or the target is not one of those.
 *
 * @param target The request target as sent.
 * @param host The `Host` header.
 * @param secure TLS: `https:`, else `http:`.
 * @returns The absolute URL, or `undefined` for an invalid `Host` or
 *   target.
 *
 * @example
 * ```ts
 * import { requestUrl } from "./request_url.ts";
 *
 * console.assert(requestUrl("//a/b?c", "example.com:8080") === "http://example.com:8080//a/b?c");
 * console.assert(requestUrl("/", "a b") === undefined);
 * ```
 */
export function requestUrl(
  target: string,
  host: string | null,
  secure = false,
): string | undefined {
  const origin = hostOrigin(host, secure);
  const url = origin === undefined ? undefined : targetUrl(target, origin);
  try {
    return url === undefined ? undefined : new URL(url).href;
  } catch {
    return undefined;
  }
}

/**
 * {@linkcode requestUrl} after the `Host` check, short of its last parse:
 * for an origin-form target (every browser's and most clients' requests)
 * the checked origin and the target as sent, which the `Request` parses to
 * the same URL (so once, not twice). `undefined` for a target in neither
 * form, of another scheme, or with user info: RFC 9110 §4.2.4 has a
 * recipient treat that as an error, and a fetch `Request` refuses such a
 * URL (Node's throws).
 *
 * @param target The request target as sent.
 * @param origin The checked origin of the `Host` ({@linkcode hostOrigin}).
 * @returns The URL, or `undefined` for a target a server refuses.
 *
 * @example
 * ```ts
 * import { targetUrl } from "./request_url.ts";
 *
 * console.assert(targetUrl("/chat?room=1", "http://a") === "http://a/chat?room=1");
 * console.assert(targetUrl("ws://b/chat", "http://a") === "ws://b/chat");
 * console.assert(targetUrl("http://u:p@b/", "http://a") === undefined);
 * console.assert(targetUrl("file:///etc/passwd", "http://a") === undefined);
 * ```
 */
export function targetUrl(target: string, origin: string): string | undefined {
  if (target.startsWith("/")) return origin + target;
  // Otherwise only the absolute form (RFC 9112 §3.2: authority form is for CONNECT, `*`
  // for OPTIONS), of a scheme a WebSocket request can have.
  try {
    const url = new URL(target);
    return WEB_SCHEMES.has(url.protocol) && url.username === "" && url.password === ""
      ? url.href
      : undefined;
  } catch {
    return undefined;
  }
}

/** The schemes of an absolute-form upgrade target. */
const WEB_SCHEMES: ReadonlySet<string> = new Set(["http:", "https:", "ws:", "wss:"]);

/**
 * The last `Host` checked and its origin: the clients of a server mostly
 * send the same `Host`, whose check is then a string comparison instead of
 * a URL parse.
 */
const lastHost: { host: string | null; secure: boolean; origin: string | undefined } = {
  host: null,
  secure: false,
  origin: "http://localhost",
};

/**
 * The origin for a `Host` (absent: `localhost`), `undefined` unless a valid
 * `host[:port]`.
 *
 * @param host The `Host` header.
 * @param secure TLS: `https:`, else `http:`.
 * @returns The origin, or `undefined`.
 *
 * @example
 * ```ts
 * import { hostOrigin } from "./request_url.ts";
 *
 * console.assert(hostOrigin("Example.com:443", true) === "https://example.com");
 * console.assert(hostOrigin("u@a", false) === undefined);
 * ```
 */
export function hostOrigin(host: string | null, secure: boolean): string | undefined {
  if (host === lastHost.host && secure === lastHost.secure) return lastHost.origin;
  let origin: string | undefined;
  try {
    const base = new URL(`${secure ? "https" : "http"}://${host ?? "localhost"}`);
    // Userinfo, path or query in the Host.
    origin = base.href === `${base.origin}/` ? base.origin : undefined;
  } catch {
    origin = undefined;
  }
  lastHost.host = host;
  lastHost.secure = secure;
  lastHost.origin = origin;
  return origin;
}
