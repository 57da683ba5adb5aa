/**
 * RFC 7692 §7 negotiation of permessage-deflate, both roles, all four
 * parameters. Pure functions over header strings; nothing here touches a
 * stream.
 *
 * With a `codec` (node:zlib, supplied by the Node, Deno and Bun adapters)
 * our side keeps context in both directions unless configured or asked not
 * to, and compresses with the agreed window. Without one, our sending side
 * compresses every message in a fresh `CompressionStream` (no sync flush on
 * the platform), so it never uses context takeover and always uses a 32 KiB
 * (15-bit) window. A `*_max_window_bits` below 15 for our direction is still
 * honoured: an LZ77 back-reference can never reach further back than the
 * start of the message it is in, so a message of at most 2^N bytes
 * compressed in a fresh stream never refers further than 2^N bytes; longer
 * messages are sent uncompressed (RSV1 clear). Our receiving side inflates
 * any window from 8 to 15.
 *
 * Parameter syntax (both roles; anything else → offer declined by a server,
 * response failed with 1010 by a client):
 *
 * | parameter | value | offer | response |
 * |---|---|---|---|
 * | `server_no_context_takeover` | none | ok | ok |
 * | `client_no_context_takeover` | none | ok | ok |
 * | `server_max_window_bits` | `8`…`15`, no leading zero, token or quoted | required | required |
 * | `client_max_window_bits` | `8`…`15`, or none | optional value | value required (§7.1.2.2) |
 * | any other name, a repeated name, `=7`, `=16`, `=0`, `=08`, `=15.0`, `="1 5"` | | invalid | invalid |
 *
 * @module
 */

import { ProtocolError } from "../engine/errors.ts";
import type { CompressionOptions } from "./compression_options.ts";
import {
  type ExtensionElement,
  formatExtensionElement,
  parseExtensionHeader,
} from "./extension_header.ts";

/** The extension token. */
export const EXTENSION_NAME = "permessage-deflate";

/** The agreed parameters of one connection (RFC 7692 §7 "agreed parameters"). */
export interface DeflateParams {
  /** The server compresses every message with an empty window. */
  serverNoContextTakeover: boolean;
  /** The client compresses every message with an empty window. */
  clientNoContextTakeover: boolean;
  /** The server's LZ77 window, 8–15 (15 when not negotiated). */
  serverMaxWindowBits: number;
  /** The client's LZ77 window, 8–15 (15 when not negotiated). */
  clientMaxWindowBits: number;
}

/** One side of a negotiation after syntax checks. */
interface Parsed {
  snct: boolean;
  cnct: boolean;
  smwb: number | undefined;
  cmwb: number | true | undefined;
}

const BITS = new Map<string, number>(
  ["8", "9", "10", "11", "12", "13", "14", "15"].map((s) => [s, Number(s)]),
);

/**
 * Checks parameter names, duplicates and values. `null` = invalid.
 * RFC 7692 §7: decline/fail on "an extension parameter not defined for use
 * in an offer/response", "an extension parameter with an invalid value",
 * "multiple extension parameters with the same name".
 */
function readParams(params: ExtensionElement["params"], kind: "offer" | "response"): Parsed | null {
  const seen = new Set<string>();
  const out: Parsed = { snct: false, cnct: false, smwb: undefined, cmwb: undefined };
  for (const [name, value] of params) {
    if (seen.has(name)) return null; // §7: duplicate parameter
    seen.add(name);
    switch (name) {
      case "server_no_context_takeover": // §7.1.1.1: "This extension parameter has no value."
        if (value !== true) return null;
        out.snct = true;
        break;
      case "client_no_context_takeover": // §7.1.1.2: no value
        if (value !== true) return null;
        out.cnct = true;
        break;
      case "server_max_window_bits": { // §7.1.2.1: always has a value, 8–15
        const bits = value === true ? undefined : BITS.get(value);
        if (bits === undefined) return null;
        out.smwb = bits;
        break;
      }
      case "client_max_window_bits": { // §7.1.2.2: value optional in an offer, required in a response
        if (value === true) {
          if (kind === "response") return null;
          out.cmwb = true;
        } else {
          const bits = BITS.get(value);
          if (bits === undefined) return null;
          out.cmwb = bits;
        }
        break;
      }
      default:
        return null; // unknown parameter (also `__proto__`, `constructor`, …)
    }
  }
  return out;
}

function toElement(p: Parsed): ExtensionElement {
  const params: ExtensionElement["params"] = [];
  if (p.snct) params.push(["server_no_context_takeover", true]);
  if (p.cnct) params.push(["client_no_context_takeover", true]);
  if (p.smwb !== undefined) params.push(["server_max_window_bits", String(p.smwb)]);
  if (p.cmwb !== undefined) {
    params.push(["client_max_window_bits", p.cmwb === true ? true : String(p.cmwb)]);
  }
  return { name: EXTENSION_NAME, params };
}

/**
 * The client's offers, in preference order. The first carries what the
 * options ask of the server; when it asks anything of the server
 * (`server_no_context_takeover`, `server_max_window_bits`) a second, plain
 * offer follows as the fallback so that a server that cannot honour the
 * request still agrees to compress. `client_no_context_takeover` is always
 * offered: it is the truth about our compressor and lets the server drop
 * its window after each message (§7.1.1.2 "just a hint").
 */
function clientOffers(options: CompressionOptions): Parsed[] {
  // `client_max_window_bits` without a value is offered by default: it lets
  // the server limit our window (§7.1.2.2), which costs us nothing — each
  // message is compressed in a fresh stream, so messages up to 2^N bytes
  // never refer further back, and longer ones go uncompressed.
  const cmwb = options.clientMaxWindowBits === false
    ? undefined
    : typeof options.clientMaxWindowBits === "number"
    ? options.clientMaxWindowBits
    : true;
  const first: Parsed = {
    snct: options.serverNoContextTakeover === true,
    // A fresh CompressionStream per message keeps no context: say so. A codec keeps it
    // unless asked not to.
    cnct: !keepsContext(options) || options.clientNoContextTakeover === true,
    smwb: options.serverMaxWindowBits,
    cmwb,
  };
  if (!first.snct && first.smwb === undefined) return [first];
  return [first, { snct: false, cnct: first.cnct, smwb: undefined, cmwb }];
}

/** Whether our compressor can carry its window from one message to the next (a codec). */
function keepsContext(options: CompressionOptions): boolean {
  return options.codec !== undefined && options.codec !== null;
}

/**
 * The client's `Sec-WebSocket-Extensions` request value.
 *
 * @example
 * ```ts
 * import { createOffer } from "./deflate_params.ts";
 *
 * console.assert(
 *   createOffer({}) === "permessage-deflate; client_no_context_takeover; client_max_window_bits",
 * );
 * console.assert(
 *   createOffer({ serverMaxWindowBits: 10, clientMaxWindowBits: false }) ===
 *     "permessage-deflate; client_no_context_takeover; server_max_window_bits=10, " +
 *       "permessage-deflate; client_no_context_takeover",
 * );
 * ```
 */
export function createOffer(options: CompressionOptions = {}): string {
  return clientOffers(options).map((p) => formatExtensionElement(toElement(p))).join(", ");
}

/**
 * Server side: picks the first acceptable permessage-deflate offer in
 * `header` (the request's `Sec-WebSocket-Extensions`, several lines joined
 * with `", "`) and returns the response value and the agreed parameters, or
 * `null` to decline (respond without the extension). Never throws on peer
 * input: a malformed header declines everything, an invalid offer is skipped.
 *
 * Response rules (offer → response):
 *
 * | offer has | response carries | why |
 * |---|---|---|
 * | anything, no `codec` | `server_no_context_takeover` | §7.1.1.1 a server MAY add it; a fresh `CompressionStream` per message never keeps context |
 * | `server_no_context_takeover`, or option `serverNoContextTakeover: true` | `server_no_context_takeover` | §7.1.1.1 |
 * | neither, with a `codec` | no `server_no_context_takeover` | the codec keeps our window (better ratio) |
 * | `client_no_context_takeover` | `client_no_context_takeover` | §7.1.1.2 lets us drop the client's window |
 * | no `client_no_context_takeover`, no `codec`, option `clientNoContextTakeover` not `false` | `client_no_context_takeover` | §7.1.1.2 "A server MAY include the "client_no_context_takeover" extension parameter in an extension negotiation response"; replaying a kept window into a fresh stream per message costs ~2× CPU |
 * | no `client_no_context_takeover`, with a `codec` and option `clientNoContextTakeover` not `true`, or without a codec and `clientNoContextTakeover: false` | no `client_no_context_takeover` | the client may keep its context (a codec's inflater keeps the window; without one, its last 32 KiB is replayed) |
 * | `server_max_window_bits=N` | `server_max_window_bits=min(N, option ?? 15)` | §7.1.2.1 "the same or smaller value" |
 * | no `server_max_window_bits`, option M < 15 | `server_max_window_bits=M` | §7.1.2.1 a server MAY add it |
 * | `client_max_window_bits[=N]`, option M | `client_max_window_bits=min(N ?? 15, M)` | §7.1.2.2 |
 * | no `client_max_window_bits` | never `client_max_window_bits` | §7.1.2.2 MUST NOT |
 *
 * @example
 * ```ts
 * import { acceptOffer } from "./deflate_params.ts";
 *
 * const result = acceptOffer("permessage-deflate; client_max_window_bits", {});
 * console.assert(
 *   result?.response === "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
 * );
 * const keep = acceptOffer("permessage-deflate", { clientNoContextTakeover: false });
 * console.assert(keep?.response === "permessage-deflate; server_no_context_takeover");
 * console.assert(acceptOffer("permessage-deflate; server_max_window_bits=16", {}) === null);
 * ```
 */
export function acceptOffer(
  header: string,
  options: CompressionOptions = {},
): { response: string; params: DeflateParams } | null {
  if (typeof header !== "string") return null;
  const list = parseExtensionHeader(header);
  if (list === null) return null;
  for (const element of list) {
    if (element.name.toLowerCase() !== EXTENSION_NAME) continue;
    const offer = readParams(element.params, "offer");
    if (offer === null) continue; // §7: "A server MUST decline an extension negotiation offer" that is invalid
    const ownBits = typeof options.serverMaxWindowBits === "number"
      ? options.serverMaxWindowBits
      : 15;
    const smwb = offer.smwb !== undefined
      ? Math.min(offer.smwb, ownBits)
      : ownBits < 15
      ? ownBits
      : undefined;
    let cmwb: number | undefined;
    if (offer.cmwb !== undefined && typeof options.clientMaxWindowBits === "number") {
      cmwb = Math.min(offer.cmwb === true ? 15 : offer.cmwb, options.clientMaxWindowBits);
    }
    const codec = keepsContext(options);
    const response: Parsed = {
      // §7.1.1.1: a server MAY add it. A fresh CompressionStream per message keeps no
      // context anyway; a codec keeps it unless configured not to.
      snct: !codec || offer.snct || options.serverNoContextTakeover === true,
      // §7.1.1.2: "A server MAY include the "client_no_context_takeover"
      // extension parameter in an extension negotiation response." We do by
      // default: a platform DecompressionStream cannot carry a window from
      // one message to the next, so a client that keeps its context costs a
      // replay of up to 32 KiB per message (measured: 2-2.5x the server CPU
      // per 1 KiB message) plus a 32 KiB window per connection.
      // A codec's inflater keeps the client's window for free, so then only on request.
      cnct: offer.cnct ||
        (codec
          ? options.clientNoContextTakeover === true
          : options.clientNoContextTakeover !== false),
      smwb,
      cmwb,
    };
    return {
      response: formatExtensionElement(toElement(response)),
      params: {
        serverNoContextTakeover: response.snct,
        clientNoContextTakeover: response.cnct,
        serverMaxWindowBits: smwb ?? 15,
        clientMaxWindowBits: cmwb ?? (typeof offer.cmwb === "number" ? offer.cmwb : 15),
      },
    };
  }
  return null;
}

function negotiationError(message: string): ProtocolError {
  // RFC 6455 §7.4.1: 1010 is the client's "expected the server to negotiate" code.
  return new ProtocolError("WS_DEFLATE_NEGOTIATION", message, 1010);
}

/**
 * Client side: validates the server's `Sec-WebSocket-Extensions` response
 * against what {@linkcode createOffer} sent for the same `options`. Returns
 * the agreed parameters, or `null` when the header is absent or empty (the
 * server declined). Throws `ProtocolError` code `WS_DEFLATE_NEGOTIATION`,
 * close code 1010, on anything else that is not an acceptance of one of our
 * offers (§7: the client "MUST _Fail the WebSocket Connection_").
 *
 * Acceptance rules (response vs. one of our offers; any offer may match):
 *
 * | response has | allowed when |
 * |---|---|
 * | exactly one element, `permessage-deflate` | always required |
 * | `server_no_context_takeover` | always (§7.1.1.1) |
 * | no `server_no_context_takeover` | the offer did not request it (§7.1.1.1 acceptance means including it) |
 * | `client_no_context_takeover` | always (§7.1.1.2) |
 * | `server_max_window_bits=M` | offer had none, or offered N ≥ M (§7.1.2.1) |
 * | no `server_max_window_bits` | the offer did not request it (§7.1.2.1) |
 * | `client_max_window_bits=M` | the offer had it without a value, or with N ≥ M (§7.1.2.2) |
 *
 * @example
 * ```ts
 * import { acceptResponse } from "./deflate_params.ts";
 *
 * const params = acceptResponse("permessage-deflate; server_no_context_takeover", {});
 * console.assert(params?.serverNoContextTakeover === true);
 * try {
 *   acceptResponse("permessage-deflate; client_max_window_bits=10", {});
 * } catch (error) {
 *   console.assert((error as { closeCode?: number }).closeCode === 1010);
 * }
 * ```
 */
export function acceptResponse(
  header: string | null | undefined,
  options: CompressionOptions = {},
): DeflateParams | null {
  if (header === null || header === undefined) return null;
  if (typeof header !== "string") {
    throw negotiationError("Sec-WebSocket-Extensions is not a string");
  }
  if (header.trim() === "") return null;
  const list = parseExtensionHeader(header);
  if (list === null) throw negotiationError("Malformed Sec-WebSocket-Extensions response");
  if (list.length !== 1 || list[0].name.toLowerCase() !== EXTENSION_NAME) {
    throw negotiationError(`Server accepted extensions that were not offered: ${header}`);
  }
  const response = readParams(list[0].params, "response");
  if (response === null) {
    throw negotiationError(`Invalid permessage-deflate parameters in response: ${header}`);
  }
  // readParams("response") never yields a valueless client_max_window_bits.
  const responseCmwb = response.cmwb === true ? undefined : response.cmwb;
  for (const offer of clientOffers(options)) {
    if (offer.snct && !response.snct) continue;
    if (offer.smwb !== undefined && (response.smwb === undefined || response.smwb > offer.smwb)) {
      continue;
    }
    if (responseCmwb !== undefined) {
      if (offer.cmwb === undefined) continue; // §7.1.2.2 MUST NOT appear unless offered
      if (offer.cmwb !== true && responseCmwb > offer.cmwb) continue;
    }
    return {
      serverNoContextTakeover: response.snct,
      clientNoContextTakeover: response.cnct,
      serverMaxWindowBits: response.smwb ?? 15,
      clientMaxWindowBits: responseCmwb ??
        (typeof offer.cmwb === "number" ? offer.cmwb : 15),
    };
  }
  throw negotiationError(`permessage-deflate response does not match any offer: ${header}`);
}
