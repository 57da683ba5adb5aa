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
  let resolve!: (value: T | PromiseLike<T>) => void;
  let reject!: (reason?: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  let settled = false;
  return {
    promise,
    resolve(value) {
      if (settled) return;
      settled = true;
      resolve(value);
    },
    reject(reason) {
      if (settled) return;
      settled = true;
      reject(reason);
    },
    get settled() {
      return settled;
    },
  };
}

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
