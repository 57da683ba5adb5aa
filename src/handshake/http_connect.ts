/**
 * HTTP CONNECT through a forward proxy (RFC 9110 §9.3.6), sans-I/O: which
 * proxy a target goes through (an explicit URL, or the `HTTPS_PROXY` /
 * `HTTP_PROXY` / `NO_PROXY` environment when asked), the CONNECT request
 * with `Proxy-Authorization: Basic` from the proxy URL's credentials, and a
 * bounded reader of the proxy's answer. The adapters own the sockets.
 *
 * @module
 */
import { HandshakeError, HandshakeErrorCode } from "./errors.ts";
import { encodeRequestHead, Http1HeadReader } from "./http1_codec.ts";
import { parseStatusLine } from "./http1_start_line.ts";
import { checkProxySetting, type ProxySetting } from "./proxy_setting.ts";

/**
 * The proxy to reach `target` through, or `undefined` for a direct
 * connection. With `"env"`: `https_proxy`/`HTTPS_PROXY` for `wss:`, then
 * `http_proxy`/`HTTP_PROXY` (lowercase first; empty means unset; a value
 * without a scheme is taken as `http://`), and no proxy when `NO_PROXY`
 * (`no_proxy`) matches the host: `*`, or comma/space separated entries, each
 * a host matching itself and its subdomains (a leading `.` or `*.` is
 * ignored), optionally with `:port`.
 *
 * @param target The `ws:`/`wss:` URL.
 * @param setting The `proxy` option (checked with {@linkcode checkProxySetting}).
 * @param env Reads an environment variable (`undefined` when unset).
 * @returns The proxy URL, or `undefined`.
 * @throws {TypeError} For an environment proxy that is not an `http:` URL.
 *
 * @example
 * ```ts
 * import { proxyFor } from "./http_connect.ts";
 *
 * const env = { HTTPS_PROXY: "http://proxy:3128", NO_PROXY: "localhost,.internal" };
 * const read = (name: string) => env[name as keyof typeof env];
 * console.assert(proxyFor(new URL("wss://example.com/"), "env", read)?.host === "proxy:3128");
 * console.assert(proxyFor(new URL("wss://api.internal/"), "env", read) === undefined);
 * ```
 */
export function proxyFor(
  target: URL,
  setting: ProxySetting | undefined,
  env: (name: string) => string | undefined,
): URL | undefined {
  if (setting === undefined) return undefined;
  const checked = checkProxySetting(setting);
  if (checked !== "env") return checked;
  const read = (name: string) => env(name.toLowerCase()) || env(name) || undefined;
  const secure = target.protocol === "wss:" || target.protocol === "https:";
  const name = secure && read("HTTPS_PROXY") ? "HTTPS_PROXY" : "HTTP_PROXY";
  const value = read(name);
  if (!value) return undefined;
  if (bypasses(target, read("NO_PROXY") ?? "")) return undefined;
  const url = /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`;
  try {
    return checkProxySetting(url) as URL;
  } catch (cause) {
    throw new TypeError(`${name} must be an http:// proxy URL, got ${value}`, { cause });
  }
}

/** Whether `NO_PROXY` sends `target` directly. */
function bypasses(target: URL, noProxy: string): boolean {
  const host = target.hostname.toLowerCase().replace(/^\[|\]$/g, "");
  const port = target.port ||
    (target.protocol === "wss:" || target.protocol === "https:" ? "443" : "80");
  for (const raw of noProxy.toLowerCase().split(/[\s,]+/)) {
    if (!raw) continue;
    if (raw === "*") return true;
    // "[::1]:8080", "host:8080", "::1", ".example.com", "*.example.com"
    const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(raw);
    let name = bracket ? bracket[1] : raw;
    let wantedPort = bracket ? bracket[2] : undefined;
    if (!bracket && name.split(":").length === 2) [name, wantedPort] = name.split(":");
    if (wantedPort && wantedPort !== port) continue;
    name = name.replace(/^\*?\./, "");
    if (host === name || host.endsWith(`.${name}`)) return true;
  }
  return false;
}

/**
 * The CONNECT request for `host:port` (IPv6 in brackets), with
 * `Proxy-Authorization: Basic` when the proxy URL carries credentials
 * (percent-decoded, UTF-8).
 *
 * @param target The WebSocket URL whose host and port the tunnel reaches.
 * @param proxy The proxy URL.
 * @returns The request head as bytes.
 *
 * @example
 * ```ts
 * import { encodeConnectRequest } from "./http_connect.ts";
 *
 * const head = new TextDecoder().decode(
 *   encodeConnectRequest(new URL("wss://example.com/chat"), new URL("http://u:p@proxy:3128")),
 * );
 * console.assert(head.startsWith("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n"));
 * console.assert(head.includes("Proxy-Authorization: Basic dTpw\r\n"));
 * ```
 */
export function encodeConnectRequest(target: URL, proxy: URL): Uint8Array {
  const secure = target.protocol === "wss:" || target.protocol === "https:";
  const authority = `${target.hostname}:${target.port || (secure ? 443 : 80)}`;
  const headers: [string, string][] = [["Host", authority]];
  if (proxy.username || proxy.password) {
    const credentials = new TextEncoder().encode(
      `${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`,
    );
    headers.push(["Proxy-Authorization", `Basic ${base64(credentials)}`]);
  }
  return encodeRequestHead(authority, headers, { method: "CONNECT" });
}

function base64(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/** The proxy's answer to CONNECT. */
export interface ConnectResponse {
  /** The status; 2xx means the tunnel is open. */
  status: number;
  /** The reason phrase. */
  statusText: string;
  /** Bytes after the head: the tunnel's first bytes (2xx) or the start of an error body. */
  rest: Uint8Array;
}

/**
 * Reads the proxy's answer head from chunks, bounded by `maxHeadSize`
 * (16 KiB by default, as our other heads): a proxy that sends more, or a
 * malformed head, is a `HandshakeError` instead of unbounded buffering.
 *
 * @example
 * ```ts
 * import { ConnectResponseReader } from "./http_connect.ts";
 *
 * const reader = new ConnectResponseReader();
 * const answer = reader.push(new TextEncoder().encode("HTTP/1.1 407 Proxy Auth\r\n\r\n"));
 * console.assert(answer?.status === 407);
 * ```
 */
export class ConnectResponseReader {
  readonly #head: Http1HeadReader;

  /** @param options `maxHeadSize`: most bytes of the answer head. */
  constructor(options: { maxHeadSize?: number } = {}) {
    this.#head = new Http1HeadReader({ maxHeadSize: options.maxHeadSize });
  }

  /**
   * Feeds bytes from the proxy.
   *
   * @returns The answer once its head is complete, else `undefined`.
   * @throws {HandshakeError} For a malformed or oversized head.
   */
  push(chunk: Uint8Array): ConnectResponse | undefined {
    const result = this.#head.push(chunk);
    if (!result) return undefined;
    const line = parseStatusLine(result.head.startLine);
    if (line.version !== "HTTP/1.1" && line.version !== "HTTP/1.0") {
      throw new HandshakeError(
        HandshakeErrorCode.badHttpVersion,
        `The proxy answered with ${line.version}`,
      );
    }
    return { status: line.status, statusText: line.statusText, rest: result.rest };
  }
}
