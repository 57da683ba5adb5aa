/**
 * The `proxy` option of the engine client, checked where `connect()` is
 * called (a dependency-free module: browser builds load it too).
 *
 * @module
 */

/**
 * The `proxy` option of `connect()`: an `http://` proxy URL (credentials as
 * `http://user:pass@host:port`), or `"env"` to follow `HTTPS_PROXY` (for
 * `wss:`), `HTTP_PROXY` (for `ws:`, and for `wss:` without `HTTPS_PROXY`)
 * and `NO_PROXY`, lowercase names first.
 */
export type ProxySetting = "env" | string | URL;

/**
 * Checks a `proxy` option and returns it as a URL, or `"env"`.
 *
 * @param setting The option.
 * @returns `"env"`, or the proxy's URL.
 * @throws {TypeError} Unless it is `"env"` or an `http:` URL with a host
 *   (TLS to the proxy itself, `https:` proxies, is not supported).
 *
 * @example
 * ```ts
 * import { checkProxySetting } from "./proxy_setting.ts";
 *
 * console.assert((checkProxySetting("http://proxy:3128") as URL).port === "3128");
 * console.assert(checkProxySetting("env") === "env");
 * ```
 */
export function checkProxySetting(setting: ProxySetting): URL | "env" {
  if (setting === "env") return "env";
  let url: URL;
  try {
    url = new URL(setting);
  } catch (cause) {
    throw new TypeError(`proxy must be "env" or an http:// URL, got ${String(setting)}`, { cause });
  }
  if (url.protocol !== "http:" || !url.hostname) {
    throw new TypeError(
      `proxy must be an http:// URL (a CONNECT proxy reached without TLS), got ${url.protocol}//`,
    );
  }
  return url;
}
