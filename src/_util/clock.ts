/**
 * The time source of the client, its heartbeat and the servers' idle
 * timeout, injectable so that tests run backoff and heartbeat schedules
 * instantly (see `FakeClock` in `./testing`).
 *
 * @module
 */

/**
 * Timers and the current time. `setTimeout` returns an opaque handle that is
 * only ever passed back to `clearTimeout`.
 *
 * @example A clock that logs every timer
 * ```ts
 * import { systemClock, type Clock } from "@wsc/websocket-channel/client";
 *
 * const logging: Clock = {
 *   now: () => systemClock.now(),
 *   setTimeout: (fn, ms) => systemClock.setTimeout(fn, ms),
 *   clearTimeout: (handle) => systemClock.clearTimeout(handle),
 * };
 * console.assert(typeof logging.now() === "number");
 * ```
 */
export interface Clock {
  /** Milliseconds since the epoch (or any monotonic origin used consistently). */
  now(): number;
  /** Calls `fn` once after `ms` milliseconds; returns a handle for `clearTimeout`. */
  setTimeout(fn: () => void, ms: number): unknown;
  /** Cancels a timer; unknown or fired handles are ignored. */
  clearTimeout(handle: unknown): void;
}

/**
 * The real clock: `Date.now` and the global timers.
 *
 * @example
 * ```ts
 * import { systemClock } from "@wsc/websocket-channel/client";
 *
 * const handle = systemClock.setTimeout(() => {}, 10);
 * systemClock.clearTimeout(handle);
 * ```
 */
export const systemClock: Clock = Object.freeze({
  now: () => Date.now(),
  setTimeout: (fn: () => void, ms: number): unknown => globalThis.setTimeout(fn, ms),
  clearTimeout: (handle: unknown) =>
    globalThis.clearTimeout(handle as ReturnType<typeof globalThis.setTimeout>),
});

/**
 * Resolves after `ms` on `clock`, or rejects with `signal.reason` when the
 * signal aborts first; the timer is always cleared.
 *
 * @example
 * ```ts
 * import { systemClock } from "@wsc/websocket-channel/client";
 * import { sleep } from "./clock.ts";
 *
 * await sleep(systemClock, 1, new AbortController().signal);
 * ```
 */
export function sleep(clock: Clock, ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => {
      clock.clearTimeout(handle);
      reject(signal.reason);
    };
    const handle = clock.setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
