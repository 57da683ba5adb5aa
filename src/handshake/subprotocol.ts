/**
 * `Sec-WebSocket-Protocol`: strict parsing, validation of what we offer, and
 * the server's selection rule.
 *
 * @module
 */

import { isToken, parseTokenList } from "./header_tokens.ts";

/**
 * Parses a client's `Sec-WebSocket-Protocol` offer. RFC 6455 §4.1: elements
 * "MUST be non-empty strings … not including separator characters … and MUST
 * all be unique strings", so empty elements (`chat,,x`, `,chat`), non-token
 * characters (`chat;x`, bytes ≥ 0x80) and duplicates make the whole header
 * invalid.
 *
 * @param value The header value, or `null` when absent (an empty offer).
 * @returns The offered subprotocols in the client's order, or `undefined`
 *   when the header is malformed.
 *
 * @example
 * ```ts
 * import { parseSubprotocols } from "./subprotocol.ts";
 *
 * console.assert(parseSubprotocols("chat, superchat")?.length === 2);
 * console.assert(parseSubprotocols("chat, chat") === undefined);
 * ```
 */
export function parseSubprotocols(value: string | null): string[] | undefined {
  if (value === null) return [];
  const list = parseTokenList(value, { allowEmpty: false });
  if (list === undefined) return undefined;
  const seen = new Set<string>();
  for (const item of list) {
    if (seen.has(item)) return undefined;
    seen.add(item);
  }
  return list;
}

/**
 * Validates subprotocols a client is about to offer, as the WHATWG
 * `WebSocket` constructor does, before anything is written (A7: a value like
 * `"a\r\nX-Evil: 1"` must never reach the wire).
 *
 * @param protocols The protocols to offer.
 * @returns The same list as an array.
 * @throws {TypeError} If an element is not a string.
 * @throws {SyntaxError} If an element is not a token or repeats.
 *
 * @example
 * ```ts
 * import { validateSubprotocols } from "./subprotocol.ts";
 *
 * validateSubprotocols(["chat", "superchat"]);
 * try {
 *   validateSubprotocols(["a\r\nX-Evil: 1"]);
 * } catch (error) {
 *   console.assert(error instanceof SyntaxError);
 * }
 * ```
 */
export function validateSubprotocols(protocols: string | Iterable<string>): string[] {
  const list = typeof protocols === "string" ? [protocols] : [...protocols];
  const seen = new Set<string>();
  for (const protocol of list) {
    if (typeof protocol !== "string") {
      throw new TypeError(`Invalid subprotocol: expected a string, got ${typeof protocol}`);
    }
    if (!isToken(protocol)) {
      throw new SyntaxError(`Invalid subprotocol: ${JSON.stringify(protocol)}`);
    }
    if (seen.has(protocol)) {
      throw new SyntaxError(`Duplicate subprotocol: ${JSON.stringify(protocol)}`);
    }
    seen.add(protocol);
  }
  return list;
}

/**
 * How a server picks a subprotocol: the list it supports, or a callback that
 * receives the client's offer (in the client's order) and returns one of its
 * elements or `undefined` for none.
 */
export type SubprotocolSelector =
  | readonly string[]
  | ((offered: string[]) => string | undefined | Promise<string | undefined>);

/**
 * Chooses the subprotocol to answer with.
 *
 * Default rule with a list: **the first protocol in the client's offer that
 * the server supports**. RFC 6455 §11.3.4 has the client list its values "in
 * order of preference", so we honour the client's order; pass a callback for
 * server preference. Matching is exact (subprotocol names are case-sensitive).
 * No match is not an error: the server answers without the header and the
 * client decides (RFC 6455 §4.2.2 item 5.4 says null means none selected).
 *
 * @param offered The client's offer from {@linkcode parseSubprotocols}.
 * @param selector Supported protocols or a selection callback.
 * @returns The selected protocol, or `""` for none.
 * @throws {TypeError} If a callback returns something that was not offered.
 *
 * @example
 * ```ts
 * import { selectSubprotocol } from "./subprotocol.ts";
 *
 * console.assert(await selectSubprotocol(["v2", "v1"], ["v1", "v2"]) === "v2");
 * console.assert(await selectSubprotocol(["v2", "v1"], (offer) => offer.at(-1)) === "v1");
 * ```
 */
export async function selectSubprotocol(
  offered: readonly string[],
  selector: SubprotocolSelector | undefined,
): Promise<string> {
  if (typeof selector !== "function") return selectListed(offered, selector);
  if (offered.length === 0) return "";
  const chosen = await selector([...offered]);
  if (chosen === undefined || chosen === "") return "";
  // RFC 6455 §4.2.2 item 5.4: the value "MUST be derived from the values
  // that the client sent"; anything else would make a correct client fail.
  if (typeof chosen !== "string" || !offered.includes(chosen)) {
    throw new TypeError(`Selected subprotocol was not offered: ${JSON.stringify(chosen)}`);
  }
  return chosen;
}

/**
 * {@linkcode selectSubprotocol} with a list of supported protocols (or
 * none), which needs no promise: the first offered one that is supported.
 *
 * @param offered The client's offer from {@linkcode parseSubprotocols}.
 * @param supported The server's protocols; `undefined` selects none.
 * @returns The selected protocol, or `""` for none.
 *
 * @example
 * ```ts
 * import { selectListed } from "./subprotocol.ts";
 *
 * console.assert(selectListed(["v2", "v1"], ["v1", "v2"]) === "v2");
 * console.assert(selectListed(["v3"], ["v1"]) === "");
 * ```
 */
export function selectListed(
  offered: readonly string[],
  supported: readonly string[] | undefined,
): string {
  if (supported === undefined) return "";
  for (const protocol of offered) {
    if (supported.includes(protocol)) return protocol;
  }
  return "";
}
