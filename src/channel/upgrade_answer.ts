/**
 * The server half of the opening handshake once a request head was read,
 * whoever read it (our HTTP/1.1 head reader over a byte stream, or
 * `node:http`): the checks of the request (RFC 6455 §4.2.1), the origin
 * policy, the subprotocol, the application's `onUpgrade`, permessage-deflate
 * and the bytes of the 101 or of the refusal. No I/O: the caller writes the
 * answer, closes a refused connection and opens the channel of an accepted
 * one, so every raw-socket server answers the same request the same way.
 *
 * @module
 */
import type { Compression } from "../deflate/compression_options.ts";
import { PerMessageDeflate } from "../deflate/permessage_deflate.ts";
import { HandshakeError, HandshakeErrorCode } from "../handshake/errors.ts";
import { FieldHeaders } from "../handshake/field_headers.ts";
import { encodeResponseHead } from "../handshake/http1_codec.ts";
import { hostOrigin, targetUrl } from "./request_url.ts";
import type { OriginPolicy } from "../handshake/origin_policy.ts";
import {
  checkUpgradeRequest,
  createRejection,
  encodeRejection,
  type HandshakeRejection,
  upgradeResponseFields,
  type VerifyUpgradeRequestResult,
} from "../handshake/server_handshake.ts";
import type { SubprotocolSelector } from "../handshake/subprotocol.ts";
import {
  appendHeaders,
  encodeRefusal,
  hookFailureRejection,
  runUpgradeHook,
  type UpgradeHook,
  type UpgradeOutcome,
} from "../handshake/upgrade_hook.ts";

/** An upgrade request as read from the wire: request line and headers. */
export interface UpgradeRequestHead {
  /** The request method (case-sensitive). */
  method: string;
  /** The request target as sent, e.g. `/chat?room=1`. */
  target: string;
  /** The HTTP version as sent, e.g. `HTTP/1.1`. */
  httpVersion: string;
  /**
   * The request headers: a `Headers`, or the fields as received
   * ({@linkcode FieldHeaders}), which the checks read in place and the
   * `Request` is filled from.
   */
  headers: Headers | FieldHeaders;
  /**
   * The same fields in the order received, names as sent, when the caller
   * has them beside a `Headers`: the `Request` is then filled from them.
   * Copying a `Headers` into a `Request` costs several times as much (on
   * Deno about 9 µs and 10 KB of garbage per request).
   */
  fields?: readonly (readonly [name: string, value: string])[];
}

/** Options of {@linkcode answerUpgrade}: the server's handshake policy. */
export interface AnswerUpgradeOptions {
  /** Supported subprotocols, or a function choosing one of the offered. */
  protocols?: SubprotocolSelector;
  /** Origin allowlist or callback; every origin is allowed by default. */
  origins?: OriginPolicy;
  /** Refuse (403) a request without an `Origin` header. @default {false} */
  requireOrigin?: boolean;
  /** The application's check of a valid request (see the servers' `onUpgrade`). */
  onUpgrade?: UpgradeHook<unknown>;
  /** permessage-deflate settings; off when absent or `false`. */
  compression?: Compression;
  /** The connection is TLS: the request URL starts with `https:`. @default {false} */
  secure?: boolean;
  /**
   * The `signal` of the request `onUpgrade` gets. When it aborts before the
   * hook decided, the upgrade is refused with its `reason` (a 503
   * `HandshakeError`, as from `lateUpgradeCheck`, is answered 503,
   * anything else 500).
   */
  signal?: AbortSignal;
}

/** What {@linkcode answerUpgrade} decided. */
export type UpgradeAnswer =
  | {
    /** Send `answer` (the 101 head) and open the channel. */
    accepted: true;
    /** The head of the 101 answer. */
    answer: Uint8Array;
    /**
     * The request as `onUpgrade` saw it (method GET, URL with host, headers,
     * `signal`); without `onUpgrade`, built when first read.
     */
    request: Request;
    /**
     * The request's URL without building the request: as received, where
     * `request.url` is the URL parser's normalised form (`/a/../b` is `/b`).
     */
    url: string;
    /** The selected subprotocol, `""` for none. */
    protocol: string;
    /** The accepted `Sec-WebSocket-Extensions` value, `""` for none. */
    extensions: string;
    /** The negotiated permessage-deflate, when accepted. */
    deflate: PerMessageDeflate | undefined;
    /** The `data` that `onUpgrade` gave, `undefined` without it. */
    data: unknown;
  }
  | {
    /** Send `answer` (head and body), then close the connection. */
    accepted: false;
    /** The refusal. */
    answer: Uint8Array;
    /**
     * Why: a `HandshakeError` carrying the answer's status
     * (`WS_HANDSHAKE_BAD_STATUS` for a refused request, `WS_HANDSHAKE_HOOK_FAILED`
     * when `onUpgrade` failed), or the `signal`'s reason.
     */
    error: unknown;
    /** The request `onUpgrade` saw, when it was called (to report its failure with). */
    request?: Request;
  };

/**
 * Decides an upgrade request and builds the answer's bytes. A request that
 * fails the checks (400, 403, 405, 426, 505, …), that `onUpgrade` refuses
 * (its own `Response`), or whose `onUpgrade` throws (500) or is aborted by
 * `signal` is refused; a `Host` that makes no URL is refused with 400
 * (RFC 7230 §5.4). Rejects only for the server's own faults (invalid
 * `compression` settings, a `protocols` or `origins` callback that throws):
 * the caller then answers 500.
 *
 * @param head The request line and headers.
 * @param options The server's policy and the request's `signal`.
 * @returns The 101 and what was agreed, or the refusal and its error.
 *
 * @example
 * ```ts
 * import { answerUpgrade } from "./upgrade_answer.ts";
 *
 * const headers = new Headers({
 *   host: "example.com",
 *   upgrade: "websocket",
 *   connection: "Upgrade",
 *   "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
 *   "sec-websocket-version": "13",
 * });
 * const head = { method: "GET", target: "/chat", httpVersion: "HTTP/1.1", headers };
 * const answer = await answerUpgrade(head, { onUpgrade: () => ({ data: "ada" }) });
 * console.assert(answer.accepted && answer.data === "ada");
 * console.assert(new TextDecoder().decode(answer.answer).startsWith("HTTP/1.1 101 "));
 *
 * const refused = await answerUpgrade({ ...head, method: "POST" });
 * console.assert(!refused.accepted && new TextDecoder().decode(refused.answer).includes(" 405 "));
 * ```
 */
export async function answerUpgrade(
  head: UpgradeRequestHead,
  options: AnswerUpgradeOptions = {},
): Promise<UpgradeAnswer> {
  return await decideUpgrade(head, options);
}

/**
 * {@linkcode answerUpgrade} without a promise unless something asynchronous
 * decides: `onUpgrade`, or an `origins` or `protocols` callback. A server
 * without them answers every upgrade in the same call, and no promise or
 * suspended call is garbage per handshake. Throws (or rejects) where
 * `answerUpgrade` rejects.
 *
 * @param head The request line and headers.
 * @param options The server's policy and the request's `signal`.
 * @returns The answer, or a promise of it.
 *
 * @example
 * ```ts
 * import { decideUpgrade } from "./upgrade_answer.ts";
 *
 * const headers = new Headers({
 *   host: "example.com",
 *   upgrade: "websocket",
 *   connection: "Upgrade",
 *   "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
 *   "sec-websocket-version": "13",
 * });
 * const answer = decideUpgrade({ method: "GET", target: "/", httpVersion: "HTTP/1.1", headers });
 * console.assert(!(answer instanceof Promise) && answer.accepted);
 * ```
 */
export function decideUpgrade(
  head: UpgradeRequestHead,
  options: AnswerUpgradeOptions = {},
): UpgradeAnswer | Promise<UpgradeAnswer> {
  // The head and the options are what the checks read; a promise only with a callback policy.
  const verdict = checkUpgradeRequest(head, options);
  return verdict instanceof Promise
    ? verdict.then((checked) => afterChecks(head, options, checked))
    : afterChecks(head, options, verdict);
}

/** {@linkcode decideUpgrade} once the request passed or failed its checks. */
function afterChecks(
  head: UpgradeRequestHead,
  options: AnswerUpgradeOptions,
  verdict: VerifyUpgradeRequestResult,
): UpgradeAnswer | Promise<UpgradeAnswer> {
  if (!verdict.ok) return refusedWith(verdict.response);
  const origin = hostOrigin(head.headers.get("host"), options.secure ?? false);
  // RFC 7230 §5.4: a Host header field with an invalid value MUST get 400.
  if (origin === undefined) return refusedWith(createRejection(400, "Invalid Host header"));
  const url = targetUrl(head.target, origin);
  if (url === undefined) return refusedWith(createRejection(400, "Invalid request target"));
  // Without onUpgrade, no promise, and no Request until something reads `request`.
  if (!options.onUpgrade) {
    return accept(verdict, options, new RequestSource(url, head, options.signal), NO_HOOK);
  }
  const request = upgradeRequest(url, head, options.signal);
  return decide(options.onUpgrade, request).then((decided) =>
    decided.accepted ? accept(verdict, options, request, decided) : { ...decided, request }
  );
}

/** The 101 for a request that passed its checks and `onUpgrade`. */
function accept(
  verdict: Extract<VerifyUpgradeRequestResult, { ok: true }>,
  options: AnswerUpgradeOptions,
  request: Request | RequestSource,
  decided: Extract<UpgradeOutcome<unknown>, { accepted: true }>,
): UpgradeAnswer {
  const accepted = PerMessageDeflate.acceptOffer(
    verdict.offeredExtensions || null,
    options.compression,
  );
  const extensions = accepted?.response ?? "";
  const fields = upgradeResponseFields(verdict.key, {
    protocol: verdict.protocol,
    extensions,
  });
  const response = decided === NO_HOOK
    ? fields
    : appendHeaders(new Headers(fields), decided.headers);
  return new Accepted(
    encodeResponseHead(101, response),
    request,
    verdict.protocol,
    extensions,
    accepted?.deflate,
    decided.data,
  );
}

/**
 * An accepted upgrade. Its `request` is built when first read, unless
 * `onUpgrade` already had one: a server whose application never reads it
 * builds none. On Node the first `Request` or `Headers` loads the fetch
 * implementation, about 2 MB of heap that every full collection then marks.
 */
class Accepted {
  /** Always: see {@linkcode UpgradeAnswer}. */
  readonly accepted = true as const;
  /** The head of the 101 answer. */
  readonly answer: Uint8Array;
  /** The selected subprotocol, `""` for none. */
  readonly protocol: string;
  /** The accepted `Sec-WebSocket-Extensions` value, `""` for none. */
  readonly extensions: string;
  /** The negotiated permessage-deflate, when accepted. */
  readonly deflate: PerMessageDeflate | undefined;
  /** The `data` that `onUpgrade` gave, `undefined` without it. */
  readonly data: unknown;
  /** See {@linkcode UpgradeAnswer}. */
  readonly url: string;
  #request: Request | RequestSource;

  constructor(
    answer: Uint8Array,
    request: Request | RequestSource,
    protocol: string,
    extensions: string,
    deflate: PerMessageDeflate | undefined,
    data: unknown,
  ) {
    this.answer = answer;
    this.url = request.url;
    this.#request = request;
    this.protocol = protocol;
    this.extensions = extensions;
    this.deflate = deflate;
    this.data = data;
  }

  /** The request as `onUpgrade` saw it, or as it would have. */
  get request(): Request {
    const request = this.#request;
    if (request instanceof RequestSource) return this.#request = request.build();
    return request;
  }
}

type Refusal = Extract<UpgradeAnswer, { accepted: false }>;

/** What a `Request` is built from once it is asked for. */
class RequestSource {
  /** The request's URL (checked: a `Request` takes it). */
  readonly url: string;
  readonly #head: UpgradeRequestHead;
  readonly #signal: AbortSignal | undefined;

  constructor(url: string, head: UpgradeRequestHead, signal: AbortSignal | undefined) {
    this.url = url;
    this.#head = head;
    this.#signal = signal;
  }

  /** The request, as {@linkcode upgradeRequest} builds it. */
  build(): Request {
    return upgradeRequest(this.url, this.#head, this.#signal);
  }
}

/** The `Request` that `onUpgrade` and `onChannel` see, following `signal` when given. */
function upgradeRequest(url: string, head: UpgradeRequestHead, signal?: AbortSignal): Request {
  const { fields, headers } = head;
  if (fields === undefined && !(headers instanceof FieldHeaders)) {
    return new Request(url, { headers, signal });
  }
  const request = new Request(url, signal && { signal });
  const target = request.headers;
  // A field that Headers refuses is left out: the request passed its checks, and reading
  // its Request (perhaps long after the handshake) must not throw.
  if (headers instanceof FieldHeaders) headers.appendTo(target);
  else {
    for (let i = 0; i < fields!.length; i++) {
      try {
        target.append(fields![i][0], fields![i][1]);
      } catch { /* not a valid field for Headers */ }
    }
  }
  return request;
}

/**
 * The outcome without `onUpgrade`: accepted, nothing added (one object for
 * every request, compared against). Its `headers` are made only if read: a
 * `Headers` made when this module loads would load Node's fetch
 * implementation for every server.
 */
const NO_HOOK: Extract<UpgradeOutcome<unknown>, { accepted: true }> = Object.freeze({
  accepted: true as const,
  get headers(): Headers {
    return new Headers();
  },
  data: undefined,
});

/** A refusal of the request itself, its error carrying the status. */
function refusedWith(rejection: HandshakeRejection): Refusal {
  const { status, body } = rejection;
  return {
    accepted: false,
    answer: encodeRejection(rejection),
    error: new HandshakeError(
      HandshakeErrorCode.badStatus,
      `Upgrade refused with ${status}: ${body}`,
      { status },
    ),
  };
}

/**
 * Runs `onUpgrade` and encodes its refusal, both until `request.signal`
 * aborts: the hook's later answer is then ignored and the upgrade refused
 * with the signal's reason.
 */
async function decide(
  hook: UpgradeHook<unknown>,
  request: Request,
): Promise<Extract<UpgradeOutcome<unknown>, { accepted: true }> | Refusal> {
  const { signal } = request;
  let onAbort = () => {};
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
  });
  aborted.catch(() => {}); // the hook decided first
  try {
    const outcome = await Promise.race([runUpgradeHook(hook, request), aborted]);
    if (outcome.accepted) return outcome;
    const { status } = outcome.response;
    let answer: Uint8Array;
    try {
      answer = await Promise.race([encodeRefusal(outcome.response), aborted]);
    } catch (error) {
      if (signal.aborted) throw error;
      throw new HandshakeError(
        HandshakeErrorCode.upgradeHookFailed,
        `onUpgrade's Response cannot be sent: ${(error as Error).message}`,
        { status: 500, cause: error },
      );
    }
    const error = new HandshakeError(
      HandshakeErrorCode.badStatus,
      `Upgrade refused by onUpgrade with ${status}`,
      { status },
    );
    return { accepted: false, answer, error };
  } catch (error) {
    // The body never repeats the application's error to the client.
    return { accepted: false, answer: encodeRejection(hookFailureRejection(error)), error };
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}
