/**
 * A promise together with the functions that settle it, like
 * `Promise.withResolvers()`, which Node 20 lacks.
 *
 * @module
 */

/** A promise and its settle functions, plus whether it has settled yet. */
export interface Deferred<T> {
  /** The promise settled by {@linkcode Deferred.resolve} / {@linkcode Deferred.reject}. */
  readonly promise: Promise<T>;
  /** Fulfils the promise; later calls to either settle function do nothing. */
  resolve(value: T | PromiseLike<T>): void;
  /** Rejects the promise; later calls to either settle function do nothing. */
  reject(reason?: unknown): void;
  /** `true` once `resolve` or `reject` has been called. */
  readonly settled: boolean;
}

/**
 * Creates a {@linkcode Deferred}.
 *
 * @example Settle a promise from the outside
 * ```ts
 * import { deferred } from "./deferred.ts";
 *
 * const ready = deferred<number>();
 * setTimeout(() => ready.resolve(42), 0);
 * console.assert((await ready.promise) === 42);
 * ```
 */
export function deferred<T>(): Deferred<T> {
  return new Settleable<T>();
}

// A class rather than an object literal with a getter: every such literal got
// its own hidden class (map, descriptor array, accessor pair), a per-call cost
// on the write path and ~0.5 KiB per idle channel (Node 20 heap snapshot).
class Settleable<T> implements Deferred<T> {
  readonly promise: Promise<T>;
  settled = false;
  #resolve!: (value: T | PromiseLike<T>) => void;
  #reject!: (reason?: unknown) => void;

  constructor() {
    this.promise = new Promise<T>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
  }

  resolve(value: T | PromiseLike<T>): void {
    if (this.settled) return;
    this.settled = true;
    this.#resolve(value);
  }

  reject(reason?: unknown): void {
    if (this.settled) return;
    this.settled = true;
    this.#reject(reason);
  }
}

/**
 * The promise a channel's `send()` returns when its transport took the
 * message at once with room to spare (a socket whose buffer is below its
 * high-water mark): nothing is left to wait for. Returned by identity, so a
 * caller with work to do once a message is accepted (the reconnecting
 * client's bookkeeping) does it at once instead of in a reaction per message.
 * Any other promise means "not known yet": wait for it. Not frozen, though
 * shared: Node's async hooks tag each promise awaited while they are on.
 *
 * @example
 * ```ts
 * import { ACCEPTED } from "./deferred.ts";
 *
 * const sent: Promise<void> = ACCEPTED; // what a channel hands back
 * if (sent === ACCEPTED) console.assert(true, "accepted: no need to await");
 * ```
 */
export const ACCEPTED: Promise<void> = Promise.resolve();

/**
 * Marks a promise as observed so that a rejection nobody awaits never becomes
 * an unhandled rejection (which ends the process on Node and Deno), while
 * callers that do await it still see the rejection.
 *
 * @example
 * ```ts
 * import { handled } from "./deferred.ts";
 *
 * const failed = handled(Promise.reject(new Error("nobody listens")));
 * await failed.catch(() => {}); // still rejects for those who ask
 * ```
 */
export function handled<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => {});
  return promise;
}
