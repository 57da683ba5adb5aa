/**
 * Linear-time, single-pass parsers for the header grammars of the opening
 * handshake: RFC 7230 token lists (`Connection`, `Upgrade`) and RFC 6455 §9.1
 * `Sec-WebSocket-Extensions`. No regular expressions: backtracking header
 * regexes were ws CVE-2021-32640 and websocket-extensions CVE-2020-7662.
 * Parsed parameters live in `Map`s, so names like `__proto__` or
 * `constructor` are plain data (ws GHSA-5v72-xg48-5rpm).
 *
 * @module
 */

/** RFC 7230 §3.2.6 tchar, indexed by char code (0–127). */
const TCHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~") TCHAR[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) TCHAR[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TCHAR[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TCHAR[c] = 1;

/**
 * Whether char code `c` is an RFC 7230 `tchar`.
 *
 * @example
 * ```ts
 * import { isTokenChar } from "./header_tokens.ts";
 *
 * console.assert(isTokenChar("a".charCodeAt(0)) && !isTokenChar(",".charCodeAt(0)));
 * ```
 */
export function isTokenChar(c: number): boolean {
  return c < 128 && TCHAR[c] === 1;
}

/**
 * Whether `value` is a non-empty RFC 7230 `token` (ASCII only).
 *
 * @example
 * ```ts
 * import { isToken } from "./header_tokens.ts";
 *
 * console.assert(isToken("permessage-deflate") && !isToken("a b") && !isToken(""));
 * ```
 */
export function isToken(value: string): boolean {
  if (value.length === 0) return false;
  for (let i = 0; i < value.length; i++) {
    if (!isTokenChar(value.charCodeAt(i))) return false;
  }
  return true;
}

function isOws(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

/** Options of {@linkcode parseTokenList}. */
export interface TokenListOptions {
  /**
   * Accept empty elements (`a,,b`, `,a`) as RFC 7230 §7 asks recipients of
   * legacy lists to do; they are skipped.
   * @default true
   */
  allowEmpty?: boolean;
  /**
   * Accept `token/token` elements, as in the `Upgrade` header's
   * `protocol-name/protocol-version` (RFC 7230 §6.7).
   * @default false
   */
  allowSlash?: boolean;
}

/**
 * Parses an RFC 7230 `#token` list in one pass: commas, optional whitespace
 * around them, and elements made of token characters.
 *
 * @param value The header value (`Headers.get` joins repeated fields with `, `).
 * @param options Empty-element and `token/token` policy.
 * @returns The elements in order, or `undefined` if the value breaks the grammar
 *   (including any character outside ASCII tokens).
 *
 * @example
 * ```ts
 * import { parseTokenList } from "./header_tokens.ts";
 *
 * console.assert(parseTokenList("keep-alive, Upgrade")?.join("|") === "keep-alive|Upgrade");
 * console.assert(parseTokenList("a b") === undefined);
 * ```
 */
export function parseTokenList(
  value: string,
  options: TokenListOptions = {},
): string[] | undefined {
  const out: string[] = [];
  return scanTokenList(value, options, out, undefined) === MALFORMED ? undefined : out;
}

const MALFORMED = -1;
const FOUND = 1;

/**
 * The one pass of the `#token` grammar behind {@linkcode parseTokenList}
 * and {@linkcode hasToken}: collects the elements into `out`, or (without
 * `out`) compares each with `wanted` (lower-case) in place, copying none.
 * Returns `MALFORMED`, `FOUND` (`wanted` is there, the whole value valid) or 0.
 */
function scanTokenList(
  value: string,
  options: TokenListOptions | undefined,
  out: string[] | undefined,
  wanted: string | undefined,
): number {
  const allowEmpty = options?.allowEmpty ?? true;
  const allowSlash = options?.allowSlash ?? false;
  const n = value.length;
  let elements = 0;
  let found = false;
  let i = 0;
  for (;;) {
    while (i < n && isOws(value.charCodeAt(i))) i++;
    const start = i;
    let slashAt = -1;
    for (; i < n; i++) {
      const c = value.charCodeAt(i);
      if (isTokenChar(c)) continue;
      if (c === 0x2f && allowSlash && slashAt < 0 && i > start) {
        slashAt = i;
        continue;
      }
      break;
    }
    const end = i;
    if (slashAt >= 0 && slashAt === end - 1) return MALFORMED; // "token/" has no version
    while (i < n && isOws(value.charCodeAt(i))) i++;
    if (end === start) {
      if (!allowEmpty) return MALFORMED;
    } else {
      elements++;
      if (out !== undefined) out.push(value.slice(start, end));
      else if (!found && wanted !== undefined) found = equalsLowerCase(value, start, end, wanted);
    }
    if (i === n) break;
    if (value.charCodeAt(i) !== 0x2c) return MALFORMED;
    i++;
  }
  if (elements === 0 && !allowEmpty) return MALFORMED;
  return found ? FOUND : 0;
}

/** Whether `value[start, end)` is `lower` compared ASCII case-insensitively. */
function equalsLowerCase(value: string, start: number, end: number, lower: string): boolean {
  if (end - start !== lower.length) return false;
  for (let i = start; i < end; i++) {
    let c = value.charCodeAt(i);
    if (c >= 0x41 && c <= 0x5a) c |= 0x20;
    if (c !== lower.charCodeAt(i - start)) return false;
  }
  return true;
}

/**
 * Whether a token list contains `token`, compared ASCII case-insensitively
 * element by element, never as a substring (so `Connection: keep-alive,
 * Upgrade` matches `upgrade` and `upgradex` does not).
 *
 * @param value The header value, or `null` when absent (never matches).
 * @param token The token to look for.
 * @param options Passed to {@linkcode parseTokenList}.
 * @returns `false` for a missing or malformed header.
 *
 * @example
 * ```ts
 * import { hasToken } from "./header_tokens.ts";
 *
 * console.assert(hasToken("keep-alive, Upgrade", "upgrade"));
 * console.assert(!hasToken("upgradex", "upgrade"));
 * ```
 */
export function hasToken(
  value: string | null,
  token: string,
  options?: TokenListOptions,
): boolean {
  if (value === null) return false;
  return scanTokenList(value, options, undefined, token.toLowerCase()) === FOUND;
}

/**
 * One element of a `Sec-WebSocket-Extensions` list. Parameter names are data
 * in a `Map`, never property lookups.
 */
export interface ExtensionEntry {
  /** The extension token, e.g. `permessage-deflate` (case as received). */
  name: string;
  /**
   * Parameters in order; `null` for a parameter without a value. When a name
   * repeats, the last value wins and {@linkcode hasDuplicateParams} is set.
   */
  params: Map<string, string | null>;
  /** RFC 7692 §7: an offer or response repeating a parameter must be declined. */
  hasDuplicateParams: boolean;
}

/**
 * Reads a quoted-string starting at `value[start] === '"'`. Returns the
 * unescaped text and the index after the closing quote, or `undefined` when
 * it is unterminated or holds a control character; one pass, no backtracking
 * (the `a; b="\\c\\c…` PoC of CVE-2020-7662 ends in linear time here).
 */
function readQuoted(value: string, start: number): [string, number] | undefined {
  let out = "";
  let i = start + 1;
  const n = value.length;
  while (i < n) {
    const c = value.charCodeAt(i);
    if (c === 0x22) return [out, i + 1];
    if (c === 0x5c) {
      if (i + 1 >= n) return undefined;
      const e = value.charCodeAt(i + 1);
      // RFC 7230 §3.2.6: quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
      if (e !== 0x09 && (e < 0x20 || e === 0x7f || e > 0xff)) return undefined;
      out += value[i + 1];
      i += 2;
      continue;
    }
    if (c !== 0x09 && (c < 0x20 || c === 0x7f || c > 0xff)) return undefined;
    out += value[i];
    i++;
  }
  return undefined;
}

function skipOws(value: string, i: number): number {
  while (i < value.length && isOws(value.charCodeAt(i))) i++;
  return i;
}

function skipToken(value: string, i: number): number {
  while (i < value.length && isTokenChar(value.charCodeAt(i))) i++;
  return i;
}

/**
 * Parses `Sec-WebSocket-Extensions` (RFC 6455 §9.1) in a single pass:
 * `1#( token *( ";" token [ "=" ( token / quoted-string ) ] ) )` with optional
 * whitespace around separators. A quoted value must still be a token once
 * unescaped (RFC 6455 §9.1). Empty list elements are rejected.
 *
 * @param value The header value (repeated fields already joined with `, `).
 * @returns The entries in order, or `undefined` for malformed input, which
 *   RFC 6455 §9.1 says the recipient MUST treat as a failed handshake.
 *
 * @example
 * ```ts
 * import { parseExtensions } from "./header_tokens.ts";
 *
 * const [offer] = parseExtensions("permessage-deflate; client_max_window_bits")!;
 * console.assert(offer.name === "permessage-deflate");
 * console.assert(offer.params.get("client_max_window_bits") === null);
 * console.assert(parseExtensions(",;constructor") === undefined);
 * ```
 */
export function parseExtensions(value: string): ExtensionEntry[] | undefined {
  const out: ExtensionEntry[] = [];
  const n = value.length;
  let i = 0;
  for (;;) {
    i = skipOws(value, i);
    const nameEnd = skipToken(value, i);
    if (nameEnd === i) return undefined;
    const entry: ExtensionEntry = {
      name: value.slice(i, nameEnd),
      params: new Map(),
      hasDuplicateParams: false,
    };
    i = skipOws(value, nameEnd);
    while (i < n && value.charCodeAt(i) === 0x3b) {
      i = skipOws(value, i + 1);
      const keyEnd = skipToken(value, i);
      if (keyEnd === i) return undefined;
      const key = value.slice(i, keyEnd);
      let param: string | null = null;
      i = skipOws(value, keyEnd);
      if (i < n && value.charCodeAt(i) === 0x3d) {
        i = skipOws(value, i + 1);
        if (i < n && value.charCodeAt(i) === 0x22) {
          const quoted = readQuoted(value, i);
          if (quoted === undefined || !isToken(quoted[0])) return undefined;
          [param, i] = quoted;
        } else {
          const valueEnd = skipToken(value, i);
          if (valueEnd === i) return undefined;
          param = value.slice(i, valueEnd);
          i = valueEnd;
        }
        i = skipOws(value, i);
      }
      if (entry.params.has(key)) entry.hasDuplicateParams = true;
      entry.params.set(key, param);
    }
    out.push(entry);
    if (i === n) return out;
    if (value.charCodeAt(i) !== 0x2c) return undefined;
    i++;
  }
}

/** Input of {@linkcode formatExtensions}: a name and optional parameters. */
export interface ExtensionInput {
  /** The extension token. */
  name: string;
  /** Parameters; `null` or `true` writes the name alone. */
  params?: Map<string, string | null | true> | Iterable<[string, string | null | true]>;
}

/**
 * Formats extensions for `Sec-WebSocket-Extensions`:
 * `name; param=value; flag, other`.
 *
 * @param extensions Entries to write, in order.
 * @returns The header value (empty string for an empty list).
 * @throws {TypeError} If a name or value is not a token (RFC 6455 §9.1 only
 *   allows values that are tokens, quoted or not, so quoting never helps).
 *
 * @example
 * ```ts
 * import { formatExtensions } from "./header_tokens.ts";
 *
 * const value = formatExtensions([
 *   { name: "permessage-deflate", params: [["client_max_window_bits", true]] },
 * ]);
 * console.assert(value === "permessage-deflate; client_max_window_bits");
 * ```
 */
export function formatExtensions(extensions: Iterable<ExtensionInput>): string {
  const parts: string[] = [];
  for (const { name, params } of extensions) {
    if (!isToken(name)) throw new TypeError(`Invalid extension name: ${JSON.stringify(name)}`);
    let part = name;
    for (const [key, value] of params ?? []) {
      if (!isToken(key)) throw new TypeError(`Invalid extension parameter: ${JSON.stringify(key)}`);
      if (value === null || value === true) {
        part += `; ${key}`;
      } else if (isToken(value)) {
        part += `; ${key}=${value}`;
      } else {
        throw new TypeError(`Invalid extension parameter value: ${JSON.stringify(value)}`);
      }
    }
    parts.push(part);
  }
  return parts.join(", ");
}
