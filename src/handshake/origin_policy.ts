/**
 * Origin allowlists against cross-site WebSocket hijacking (RFC 6455 §10.2,
 * CWE-1385).
 *
 * @module
 */

/**
 * Which `Origin` values a server accepts: a list of exact origins
 * (`"https://example.com"`, or `"null"` for opaque origins) and anchored
 * `RegExp`s, or a callback that receives the raw header (`null` when absent).
 */
export type OriginPolicy =
  | readonly (string | RegExp)[]
  | ((origin: string | null) => boolean | Promise<boolean>);

/**
 * Canonical form of an `Origin` header value (RFC 6454 §6.1: scheme "://"
 * host [ ":" port ]), or `undefined` when the value is not one. Scheme and
 * host are case-insensitive (RFC 6454 §4 lowercases them), so
 * `https://EXAMPLE.com` and `https://example.com` are the same origin; an
 * attacker gains nothing by changing case. Anything else that a browser
 * never sends (a path, a default port, credentials) is refused.
 */
function canonicalOrigin(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  const origin = url.origin;
  if (origin === "null" || value.toLowerCase() !== origin) return undefined;
  return origin;
}

function configuredOrigin(entry: string): string {
  if (entry === "null") return entry;
  let url: URL;
  try {
    url = new URL(entry);
  } catch (cause) {
    throw new TypeError(`Invalid origin in allowlist: ${JSON.stringify(entry)}`, { cause });
  }
  if (url.origin === "null") {
    throw new TypeError(`Invalid origin in allowlist: ${JSON.stringify(entry)}`);
  }
  return url.origin;
}

function fullMatch(pattern: RegExp, value: string): boolean {
  // Anchor the whole pattern so /https:\/\/example\.com/ cannot match
  // "https://example.com.evil.com"; drop g/y so lastIndex never leaks state.
  const flags = pattern.flags.replace("g", "").replace("y", "").replace("m", "");
  return new RegExp(`^(?:${pattern.source})$`, flags).test(value);
}

/**
 * Applies an {@linkcode OriginPolicy} to a request's `Origin` header.
 *
 * With a list, a **missing** `Origin` is accepted: cross-site WebSocket
 * hijacking needs a victim's browser, and browsers always send `Origin` on a
 * WebSocket handshake (RFC 6455 §4.1, §10.2), while non-browser clients
 * (servers, CLIs, mobile apps) usually send none and could forge any value
 * anyway. To refuse requests without `Origin`, set the servers'
 * `requireOrigin: true` or use a callback. Strings compare the full origin
 * (scheme, host and port); there is no prefix, suffix or substring matching.
 *
 * @param origin The `Origin` header value, or `null` when absent.
 * @param policy The allowlist or callback; `undefined` accepts everything.
 * @returns Whether the origin is allowed.
 * @throws {TypeError} If a string in the list is not a valid origin.
 *
 * @example
 * ```ts
 * import { isOriginAllowed } from "./origin_policy.ts";
 *
 * const allow = ["https://example.com", /https:\/\/[a-z]+\.example\.com/];
 * console.assert(await isOriginAllowed("https://app.example.com", allow));
 * console.assert(!(await isOriginAllowed("https://example.com.evil.com", allow)));
 * console.assert(!(await isOriginAllowed("http://example.com", allow)));
 * ```
 */
export async function isOriginAllowed(
  origin: string | null,
  policy: OriginPolicy | undefined,
): Promise<boolean> {
  if (typeof policy === "function") return (await policy(origin)) === true;
  return isOriginListed(origin, policy);
}

/**
 * {@linkcode isOriginAllowed} for an allowlist (or none), which needs no
 * promise: what a server checks each upgrade with.
 *
 * @param origin The `Origin` header value, or `null` when absent.
 * @param list The allowlist; `undefined` accepts everything.
 * @returns Whether the origin is allowed.
 * @throws {TypeError} If a string in the list is not a valid origin.
 *
 * @example
 * ```ts
 * import { isOriginListed } from "./origin_policy.ts";
 *
 * console.assert(isOriginListed("https://example.com", ["https://example.com"]));
 * console.assert(!isOriginListed("https://evil.example", ["https://example.com"]));
 * console.assert(isOriginListed(null, ["https://example.com"]));
 * ```
 */
export function isOriginListed(
  origin: string | null,
  list: readonly (string | RegExp)[] | undefined,
): boolean {
  if (list === undefined || origin === null) return true;
  const canonical = origin === "null" ? "null" : canonicalOrigin(origin);
  if (canonical === undefined) return false;
  for (const entry of list) {
    if (typeof entry === "string") {
      if (configuredOrigin(entry) === canonical) return true;
    } else if (entry instanceof RegExp) {
      if (fullMatch(entry, canonical)) return true;
    } else {
      throw new TypeError("Invalid origin in allowlist: expected a string or a RegExp");
    }
  }
  return false;
}
