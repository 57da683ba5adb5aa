/**
 * A strict, linear, single-pass parser and formatter for the
 * `Sec-WebSocket-Extensions` header value (RFC 6455 §9.1), kept inside the
 * deflate layer so that negotiation does not depend on the handshake layer.
 *
 * No regular expressions (ws CVE-2021-32640, websocket-extensions
 * CVE-2020-7662) and no plain-object maps: parameters are kept as an ordered
 * list of `[name, value]` pairs, so duplicates stay visible to the caller and
 * names such as `__proto__` are plain data (ws GHSA-5v72-xg48-5rpm).
 *
 * @module
 */

/** One `extension` element: its token and its parameters in wire order. */
export interface ExtensionElement {
  /** The extension token, exactly as sent. */
  name: string;
  /** `[name, value]` pairs in wire order; `true` for a parameter without a value. */
  params: Array<[string, string | true]>;
}

/** RFC 7230 §3.2.6 tchar, indexed by char code (0–127). */
const TCHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~") TCHAR[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) TCHAR[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TCHAR[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TCHAR[c] = 1;

function isTchar(c: number): boolean {
  return c < 128 && TCHAR[c] === 1;
}

function isOws(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

/**
 * Parses a `Sec-WebSocket-Extensions` value (several header lines may be
 * joined with `", "` first). Returns `null` when the value does not follow
 * the grammar; empty list elements (`a, , b`) are skipped as RFC 7230 §7
 * asks of recipients.
 *
 * Grammar (RFC 6455 §9.1): `extension-list = 1#extension`,
 * `extension = extension-token *( ";" extension-param )`,
 * `extension-param = token [ "=" (token | quoted-string) ]` — "When using the
 * quoted-string syntax variant, the value after quoted-string unescaping MUST
 * conform to the 'token' ABNF", so a quoted value that is not a token makes
 * the whole value malformed.
 *
 * @example
 * ```ts
 * import { parseExtensionHeader } from "./extension_header.ts";
 *
 * const list = parseExtensionHeader('permessage-deflate; client_max_window_bits="10", x-foo');
 * console.assert(list !== null && list.length === 2 && list[0].params[0][1] === "10");
 * console.assert(parseExtensionHeader("permessage-deflate; =1") === null);
 * ```
 */
export function parseExtensionHeader(value: string): ExtensionElement[] | null {
  const out: ExtensionElement[] = [];
  const n = value.length;
  let i = 0;
  const skipOws = () => {
    while (i < n && isOws(value.charCodeAt(i))) i++;
  };
  const token = (): string | null => {
    const start = i;
    while (i < n && isTchar(value.charCodeAt(i))) i++;
    return i > start ? value.slice(start, i) : null;
  };
  while (i < n) {
    skipOws();
    if (i >= n) break;
    if (value.charCodeAt(i) === 0x2c /* , */) {
      i++;
      continue;
    }
    const name = token();
    if (name === null) return null;
    const element: ExtensionElement = { name, params: [] };
    skipOws();
    while (i < n && value.charCodeAt(i) === 0x3b /* ; */) {
      i++;
      skipOws();
      const param = token();
      if (param === null) return null;
      skipOws();
      let paramValue: string | true = true;
      if (i < n && value.charCodeAt(i) === 0x3d /* = */) {
        i++;
        skipOws();
        if (i < n && value.charCodeAt(i) === 0x22 /* " */) {
          i++;
          let unescaped = "";
          let closed = false;
          while (i < n) {
            const c = value.charCodeAt(i);
            if (c === 0x22) {
              closed = true;
              i++;
              break;
            }
            if (c === 0x5c /* \ */) i++;
            if (i >= n) return null;
            unescaped += value[i];
            i++;
          }
          // RFC 6455 §9.1: the unescaped value MUST conform to the token ABNF.
          if (!closed || !isTokenString(unescaped)) return null;
          paramValue = unescaped;
        } else {
          const v = token();
          if (v === null) return null;
          paramValue = v;
        }
        skipOws();
      }
      element.params.push([param, paramValue]);
    }
    out.push(element);
    if (i < n) {
      if (value.charCodeAt(i) !== 0x2c) return null;
      i++;
    }
  }
  return out;
}

function isTokenString(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) if (!isTchar(s.charCodeAt(i))) return false;
  return true;
}

/**
 * Formats one extension element as `name; a; b=1`. Values are written as
 * bare tokens (every value this layer produces is one).
 *
 * @example
 * ```ts
 * import { formatExtensionElement } from "./extension_header.ts";
 *
 * const text = formatExtensionElement({ name: "permessage-deflate", params: [["server_no_context_takeover", true]] });
 * console.assert(text === "permessage-deflate; server_no_context_takeover");
 * ```
 */
export function formatExtensionElement(element: ExtensionElement): string {
  let text = element.name;
  for (const [name, value] of element.params) {
    text += value === true ? `; ${name}` : `; ${name}=${value}`;
  }
  return text;
}
