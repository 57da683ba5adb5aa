/**
 * Reconnect delays: truncated binary exponential backoff with full jitter.
 *
 * RFC 6455 §7.2.3: "clients SHOULD use some form of backoff … The first
 * reconnect attempt SHOULD be delayed by a random amount of time … truncated
 * binary exponential backoff". Full jitter (every delay uniform in a growing
 * window) spreads a crowd of clients that lost the same server, instead of
 * moving the whole crowd in lockstep.
 *
 * @module
 */

/** Parameters of {@linkcode backoffDelay}; all times in milliseconds. */
export interface BackoffOptions {
  /** Width of the first window (attempt 0). Default 1000. */
  base?: number;
  /** Upper bound of every delay (the cap). Default 30 000. */
  max?: number;
  /**
   * Lower bound of every delay. The random part is added on top of it, so
   * clients keep spreading out even with a floor. Default 0.
   */
  floor?: number;
  /** A source of uniform numbers in [0, 1). Default `Math.random`. */
  random?: () => number;
}

/**
 * Defaults of {@linkcode BackoffOptions}.
 *
 * @example
 * ```ts
 * import { backoffDelay, DEFAULT_BACKOFF } from "@wsc/websocket-channel/client";
 *
 * console.assert(DEFAULT_BACKOFF.base === 1000);
 * // However many attempts failed, the delay never exceeds the maximum.
 * console.assert(backoffDelay(50, { random: () => 0.999 }) <= DEFAULT_BACKOFF.max);
 * ```
 */
export const DEFAULT_BACKOFF: Readonly<Required<Omit<BackoffOptions, "random">>> = Object.freeze({
  base: 1000,
  max: 30_000,
  floor: 0,
});

/**
 * The delay before reconnect attempt number `attempt` (0 for the first retry
 * after a loss): `floor + random · min(max − floor, base · 2^attempt)`.
 * The result is always in `[floor, max]` (a floor above `max` wins).
 * Pure apart from `random`, so a seeded random makes it reproducible.
 *
 * @param attempt How many consecutive attempts failed before this one (0-based).
 * @param options Window, cap, floor and random source.
 * @returns The delay in whole milliseconds.
 *
 * @example The windows grow, then stop at the cap
 * ```ts
 * import { backoffDelay, seededRandom } from "@wsc/websocket-channel/client";
 *
 * const random = seededRandom(42);
 * const delay = backoffDelay(3, { base: 500, max: 10_000, random });
 * console.assert(delay >= 0 && delay <= 4000);
 * ```
 */
export function backoffDelay(attempt: number, options: BackoffOptions = {}): number {
  const base = nonNegative(options.base ?? DEFAULT_BACKOFF.base);
  const max = nonNegative(options.max ?? DEFAULT_BACKOFF.max);
  const floor = nonNegative(options.floor ?? DEFAULT_BACKOFF.floor);
  const random = options.random ?? Math.random;
  if (floor >= max) return Math.round(floor);
  // Clamp the exponent so 2^n stays finite; past ~2^31 every window is the cap anyway.
  const exponent = Math.min(Math.max(0, Math.floor(attempt)), 31);
  const window = Math.min(max - floor, base * 2 ** exponent);
  let r = random();
  // A misbehaving random must not produce delays outside the documented bounds.
  if (!(r >= 0)) r = 0;
  if (r >= 1) r = 1;
  return Math.min(max, Math.round(floor + r * window));
}

function nonNegative(value: number): number {
  return Number.isFinite(value) && value > 0 ? value : 0;
}

/**
 * A deterministic uniform random source in [0, 1) (mulberry32), for tests and
 * simulations that must be reproducible. Not for security.
 *
 * @param seed Any 32-bit integer.
 * @returns A function returning the next number of the sequence.
 *
 * @example
 * ```ts
 * import { seededRandom } from "@wsc/websocket-channel/client";
 *
 * const a = seededRandom(7), b = seededRandom(7);
 * console.assert(a() === b());
 * ```
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
