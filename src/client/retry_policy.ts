/**
 * Whether to reconnect after a connection ended or an attempt failed, decided
 * from the close code, the HTTP status of a refused handshake, or the error.
 *
 * @module
 */
import { backoffDelay } from "./backoff.ts";
import { errorCloseCode, errorStatus } from "./errors.ts";

/** What the policy sees about one ended connection or failed attempt. */
export interface DisconnectInfo {
  /** The close code (1006 when the transport vanished or an attempt failed). */
  code: number;
  /** The close reason, possibly empty. */
  reason: string;
  /** The HTTP status when the server refused the WebSocket handshake. */
  status?: number;
  /** The error, when the end was a failure rather than a close frame. */
  error?: unknown;
  /** Whether the connection had reached `open` (false for a failed attempt). */
  wasOpen: boolean;
  /** Consecutive failed attempts so far, this one included. */
  attempt: number;
}

/**
 * `true`/`false`, or an object that can also raise the backoff floor for
 * the next delay (in milliseconds), e.g. for 1013 "Try Again Later".
 */
export type ReconnectDecision = boolean | { reconnect: boolean; minDelay?: number };

/** Decides whether to reconnect; see {@linkcode defaultReconnectPolicy}. */
export type ReconnectPolicy = (info: DisconnectInfo) => ReconnectDecision;

/**
 * Floor applied after 1013 Try Again Later and HTTP 429/503 by the default policy.
 *
 * @example
 * ```ts
 * import { defaultReconnectPolicy, TRY_AGAIN_LATER_DELAY } from "@wsc/websocket-channel/client";
 *
 * const decision = defaultReconnectPolicy({ code: 1013, reason: "", wasOpen: true, attempt: 1 });
 * console.assert(typeof decision === "object" && decision.minDelay === TRY_AGAIN_LATER_DELAY);
 * ```
 */
export const TRY_AGAIN_LATER_DELAY = 5000;

/**
 * The default policy.
 *
 * Reconnect after: 1000 and 1001 from the server (restarts, deploys), 1005
 * (no status), 1006 (connection lost), 1011–1014 (server error, restart, try
 * again later, bad gateway), 3xxx except 3000/3003 (unauthorized/forbidden),
 * HTTP 408/429/5xx, connect timeouts and network errors.
 *
 * Do not reconnect after: 1002, 1003, 1007–1010 (a protocol or content
 * problem that a retry repeats), 1015 (TLS), 4xxx (application said stop),
 * and any other HTTP 4xx, e.g. 401/403 (a retry only hammers the server).
 * A close initiated by `disconnect()`/`close()` never reaches the policy.
 *
 * @param info The ended connection or failed attempt.
 * @returns The decision, with a longer floor for 1013, 429 and 503.
 *
 * @example Keep the default but also stop on 4001
 * ```ts
 * import { defaultReconnectPolicy, type ReconnectPolicy } from "@wsc/websocket-channel/client";
 *
 * const policy: ReconnectPolicy = (info) =>
 *   info.code === 4001 ? false : defaultReconnectPolicy(info);
 * console.assert(policy({ code: 1006, reason: "", wasOpen: true, attempt: 1 }) === true);
 * ```
 */
export function defaultReconnectPolicy(info: DisconnectInfo): ReconnectDecision {
  const status = info.status ?? errorStatus(info.error);
  if (status !== undefined) {
    if (status === 429 || status === 503) {
      return { reconnect: true, minDelay: TRY_AGAIN_LATER_DELAY };
    }
    if (status === 408 || status >= 500) return true;
    return status < 400 ? true : false;
  }
  const code = info.error !== undefined && !info.wasOpen
    ? errorCloseCode(info.error) ?? info.code
    : info.code;
  return decideByCloseCode(code);
}

function decideByCloseCode(code: number): ReconnectDecision {
  if (code === 1013) return { reconnect: true, minDelay: TRY_AGAIN_LATER_DELAY };
  if (code === 1000 || code === 1001 || code === 1005 || code === 1006) return true;
  if (code >= 1011 && code <= 1014) return true;
  if (code === 1002 || code === 1003 || (code >= 1007 && code <= 1010) || code === 1015) {
    return false;
  }
  if (code >= 3000 && code <= 3999) return code !== 3000 && code !== 3003;
  if (code >= 4000 && code <= 4999) return false;
  // Unknown or reserved codes: the connection is gone for a reason we cannot
  // judge; retrying with backoff is the safe default.
  return true;
}

/**
 * Normalises a {@linkcode ReconnectDecision} to an object.
 *
 * @example
 * ```ts
 * import { normalizeDecision } from "./retry_policy.ts";
 *
 * console.assert(normalizeDecision(true).reconnect === true);
 * ```
 */
export function normalizeDecision(
  decision: ReconnectDecision,
): { reconnect: boolean; minDelay: number } {
  if (typeof decision === "boolean") return { reconnect: decision, minDelay: 0 };
  return { reconnect: decision.reconnect === true, minDelay: decision.minDelay ?? 0 };
}

/** @internal Fully resolved reconnect settings. */
export interface ResolvedReconnect {
  enabled: boolean;
  base?: number;
  max?: number;
  floor?: number;
  maxAttempts: number;
  stableAfter: number;
  policy?: ReconnectPolicy;
}

/**
 * Whether, and after how long, to try again once an attempt or a connection
 * ended: asks the policy (unless reconnecting is off or the streak has used
 * up `maxAttempts`; `info.attempt` is the streak) and draws the full-jitter
 * backoff, never below the configured floor nor the policy's `minDelay`.
 *
 * @param info How it ended.
 * @param settings The resolved `reconnect` option.
 * @param random Uniform random in [0, 1) for the jitter.
 * @param onPolicyError Told when the policy throws; that counts as "stop".
 * @returns The delay in ms before the next attempt, or `undefined` to stop.
 *
 * @example
 * ```ts
 * import { retryDelay } from "./retry_policy.ts";
 *
 * const settings = { enabled: true, base: 100, max: 1000, maxAttempts: 3, stableAfter: 5000 };
 * const info = { code: 1006, reason: "", wasOpen: true, attempt: 1 };
 * const delay = retryDelay(info, settings, () => 0.5, console.error);
 * console.assert(delay !== undefined && delay <= 100);
 * console.assert(retryDelay({ ...info, attempt: 3 }, settings, () => 0.5, console.error) === undefined);
 * ```
 */
export function retryDelay(
  info: DisconnectInfo,
  settings: ResolvedReconnect,
  random: () => number,
  onPolicyError: (error: unknown) => void,
): number | undefined {
  if (!settings.enabled || info.attempt >= settings.maxAttempts) return undefined;
  let decision: { reconnect: boolean; minDelay: number };
  try {
    decision = normalizeDecision((settings.policy ?? defaultReconnectPolicy)(info));
  } catch (error) {
    onPolicyError(error);
    return undefined;
  }
  if (!decision.reconnect) return undefined;
  return backoffDelay(info.attempt - 1, {
    base: settings.base,
    max: settings.max,
    floor: Math.max(settings.floor ?? 0, decision.minDelay),
    random,
  });
}
