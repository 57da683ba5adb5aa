/**
 * The `onUpgrade` hook of the servers: the application's own check of an
 * upgrade request (authentication, rate limits) on fetch types, after the
 * WebSocket handshake itself was found valid and before the 101 is sent.
 * It answers with a `Response` to refuse, or with extra 101 headers and a
 * per-connection `data` value to accept.
 *
 * @module
 */
import { HandshakeError, HandshakeErrorCode } from "./errors.ts";
import { encodeResponseHead } from "./http1_codec.ts";
import { createRejection, type HandshakeRejection } from "./server_handshake.ts";

/**
 * Accepting an upgrade from `onUpgrade`: extra headers for the 101 answer
 * (e.g. `Set-Cookie`) and the per-connection value handed to `onChannel`.
 */
export interface UpgradeAcceptance<Data> {
  /**
   * Extra headers of the 101 answer. The handshake's own (`Upgrade`,
   * `Connection`, `Sec-WebSocket-*`) and body framing (`Content-Length`,
   * `Transfer-Encoding`) are refused: a `TypeError`, answered with 500.
   */
  headers?: HeadersInit;
  /** The connection's value, passed to `onChannel` as its third argument. */
  data: Data;
}

/**
 * What `onUpgrade` returns (or resolves to): a `Response` refuses the
 * upgrade with that status, headers and body; an {@linkcode UpgradeAcceptance}
 * accepts it; nothing (`undefined`) accepts it without data, which the type
 * allows only when `Data` includes `undefined`.
 */
export type UpgradeDecision<Data> =
  | Response
  | UpgradeAcceptance<Data>
  | (undefined extends NoInfer<Data>
    ? { headers?: HeadersInit; data?: undefined } | void | undefined
    : never);

/**
 * The `onUpgrade` option of every server entry point. `request.signal`
 * aborts when the server gives up on the handshake (its `handshakeTimeout`
 * in `serve()`, the client going away on Node) so a slow check can stop.
 */
export type UpgradeHook<Data> = (
  request: Request,
) => UpgradeDecision<Data> | Promise<UpgradeDecision<Data>>;

/** Result of {@linkcode runUpgradeHook}. */
export type UpgradeOutcome<Data> =
  | {
    /** Go on with the upgrade. */
    accepted: true;
    /** Extra headers for the 101 (empty without any). */
    headers: Headers;
    /** The connection's value (`undefined` without any). */
    data: Data;
  }
  | {
    /** Refused: answer with `response`. */
    accepted: false;
    /** The application's answer, to send as it is. */
    response: Response;
  };

/** Headers that belong to the handshake or to body framing: never taken from `onUpgrade`. */
const RESERVED = new Set([
  "upgrade",
  "connection",
  "sec-websocket-accept",
  "sec-websocket-protocol",
  "sec-websocket-extensions",
  "sec-websocket-version",
  "content-length",
  "transfer-encoding",
]);

/**
 * Runs `hook` on `request` and says what to do. Rejects with a
 * `HandshakeError` (`code` `WS_HANDSHAKE_HOOK_FAILED`, `status` 500,
 * `cause` the original error) when the hook throws or rejects, returns a
 * value of the wrong shape, or sets a reserved header. Without a hook the
 * upgrade is accepted with no headers and `data` undefined.
 *
 * @param hook The application's check, or `undefined`.
 * @param request The upgrade request.
 * @returns Accepted (headers, data) or refused (the response).
 *
 * @example
 * ```ts
 * import { runUpgradeHook } from "./upgrade_hook.ts";
 *
 * const request = new Request("http://localhost/", { headers: { authorization: "Bearer t" } });
 * const outcome = await runUpgradeHook((request) =>
 *   request.headers.get("authorization") === "Bearer t"
 *     ? { data: { user: "ada" } }
 *     : new Response("Unauthorized", { status: 401 }), request);
 * console.assert(outcome.accepted && outcome.data.user === "ada");
 * ```
 */
export async function runUpgradeHook<Data>(
  hook: UpgradeHook<Data> | undefined,
  request: Request,
): Promise<UpgradeOutcome<Data>> {
  if (!hook) return { accepted: true, headers: new Headers(), data: undefined as Data };
  let decision: unknown;
  try {
    decision = await hook(request);
    if (decision instanceof Response) return { accepted: false, response: decision };
    if (decision === undefined) {
      return { accepted: true, headers: new Headers(), data: undefined as Data };
    }
    if (typeof decision !== "object" || decision === null) {
      throw new TypeError(
        `onUpgrade must return a Response, { headers, data } or nothing, got ${typeof decision}`,
      );
    }
    const { headers: init, data } = decision as Partial<UpgradeAcceptance<Data>>;
    const headers = new Headers(init);
    for (const name of headers.keys()) {
      if (RESERVED.has(name)) {
        throw new TypeError(`onUpgrade may not set the ${name} header of the 101 answer`);
      }
    }
    return { accepted: true, headers, data: data as Data };
  } catch (error) {
    throw new HandshakeError(
      HandshakeErrorCode.upgradeHookFailed,
      `onUpgrade failed: ${error instanceof Error ? error.message : String(error)}`,
      { status: 500, cause: error },
    );
  }
}

/**
 * The bytes of a refusal `Response` on a raw connection: its status, reason,
 * headers and body as they are, with `Content-Length` set to the body's
 * length and `Connection: close` (the connection is closed after it), as
 * a runtime's own HTTP server frames a response itself.
 *
 * @param response The application's answer.
 * @returns Head and body, ready to write.
 * @throws {TypeError} If a header value cannot be sent in an HTTP/1.1 head.
 *
 * @example
 * ```ts
 * import { encodeRefusal } from "./upgrade_hook.ts";
 *
 * const bytes = await encodeRefusal(new Response("no", { status: 401 }));
 * console.assert(new TextDecoder().decode(bytes).startsWith("HTTP/1.1 401 "));
 * ```
 */
export async function encodeRefusal(response: Response): Promise<Uint8Array> {
  const body = new Uint8Array(await response.arrayBuffer());
  const headers = new Headers(response.headers);
  headers.delete("transfer-encoding");
  headers.set("content-length", String(body.byteLength));
  headers.set("connection", "close");
  const head = encodeResponseHead(response.status, headers, {
    statusText: response.statusText || undefined,
  });
  const bytes = new Uint8Array(head.byteLength + body.byteLength);
  bytes.set(head);
  bytes.set(body, head.byteLength);
  return bytes;
}

/**
 * Merges the hook's extra headers into the 101 headers (`Set-Cookie` kept
 * as separate fields).
 *
 * @param base The handshake's own 101 headers.
 * @param extra The hook's headers.
 * @returns `base`, with the extra fields appended.
 *
 * @example
 * ```ts
 * import { appendHeaders } from "./upgrade_hook.ts";
 *
 * const merged = appendHeaders(new Headers({ upgrade: "websocket" }), new Headers({ "x-a": "1" }));
 * console.assert(merged.get("x-a") === "1");
 * ```
 */
export function appendHeaders(base: Headers, extra: Headers): Headers {
  for (const [name, value] of extra) base.append(name, value);
  return base;
}

/**
 * What to report of a failed upgrade, if the application is to blame: for
 * `WS_HANDSHAKE_HOOK_FAILED` the error `onUpgrade` threw (the `cause`), for a
 * handshake timeout answered with 503 (`onUpgrade` too slow) the timeout
 * error itself; `undefined` for anything else (the client's fault, a
 * network failure).
 *
 * @param error A rejection of a server handshake.
 * @returns `{ error }` to report, or `undefined`.
 *
 * @example
 * ```ts
 * import { HandshakeError } from "@wsc/websocket-channel";
 * import { hookFailure } from "./upgrade_hook.ts";
 *
 * const thrown = new Error("database down");
 * const failure = new HandshakeError("WS_HANDSHAKE_HOOK_FAILED", "onUpgrade failed", {
 *   status: 500,
 *   cause: thrown,
 * });
 * console.assert(hookFailure(failure)?.error === thrown);
 * ```
 */
export function hookFailure(error: unknown): { error: unknown } | undefined {
  if (!(error instanceof HandshakeError)) return undefined;
  if (error.code === HandshakeErrorCode.upgradeHookFailed) return { error: error.cause };
  if (error.code === HandshakeErrorCode.timeout && error.status === 503) return { error };
  return undefined;
}

/**
 * The error and the answer for an `onUpgrade` still running when the
 * handshake's time is up: a `HandshakeError` (`WS_HANDSHAKE_TIMEOUT`,
 * status 503, since the server and not the client was slow), and a 503
 * with `Retry-After: 1` that never repeats the application's state.
 *
 * @param timeout The handshake timeout, in milliseconds.
 * @returns The error to abort the request's signal with and report, and the answer.
 *
 * @example
 * ```ts
 * import { lateUpgradeCheck } from "./upgrade_hook.ts";
 *
 * const { error, rejection } = lateUpgradeCheck(10_000);
 * console.assert(error.status === 503 && rejection.status === 503);
 * ```
 */
export function lateUpgradeCheck(
  timeout: number,
): { error: HandshakeError; rejection: HandshakeRejection } {
  return {
    error: new HandshakeError(
      HandshakeErrorCode.timeout,
      `onUpgrade not settled within the handshake timeout of ${timeout} ms`,
      { status: 503 },
    ),
    rejection: lateRejection(),
  };
}

/**
 * The answer to an upgrade whose server closed before it was decided: 503
 * with `Retry-After: 1` (another instance, or this one restarted, may take
 * it).
 *
 * @returns The rejection to send instead of a 101.
 *
 * @example
 * ```ts
 * import { closingRejection } from "./upgrade_hook.ts";
 *
 * console.assert(closingRejection().status === 503);
 * ```
 */
export function closingRejection(): HandshakeRejection {
  return createRejection(503, "Server closing", { headers: { "retry-after": "1" } });
}

function lateRejection(): HandshakeRejection {
  return createRejection(503, "Upgrade check timed out", { headers: { "retry-after": "1" } });
}

/**
 * The answer to an `onUpgrade` that failed: for one still running when the
 * handshake's time was up (a `HandshakeError` with status 503, see
 * {@linkcode lateUpgradeCheck}) its 503, for anything else 500. Neither
 * repeats the application's error to the client.
 *
 * @param error Why `onUpgrade` gave no decision.
 * @returns The answer to send.
 *
 * @example
 * ```ts
 * import { hookFailureRejection, lateUpgradeCheck } from "./upgrade_hook.ts";
 *
 * console.assert(hookFailureRejection(lateUpgradeCheck(100).error).status === 503);
 * console.assert(hookFailureRejection(new Error("database down")).status === 500);
 * ```
 */
export function hookFailureRejection(error: unknown): HandshakeRejection {
  return error instanceof HandshakeError && error.status === 503
    ? lateRejection()
    : createRejection(500, "Internal Server Error");
}
