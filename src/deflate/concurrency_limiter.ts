/**
 * A FIFO counting semaphore bounding how many (de)compressions run at once
 * in the process, so that 10,000 connections compressing at the same time
 * hold at most `max` platform streams and their buffers (ws#1202: zlib
 * memory fragmentation; ws's `concurrencyLimit` is 10).
 *
 * @module
 */

/**
 * Runs async jobs with at most `max` of them in flight, in call order.
 *
 * @example
 * ```ts
 * import { ConcurrencyLimiter } from "./concurrency_limiter.ts";
 *
 * const limiter = new ConcurrencyLimiter(2);
 * const results = await Promise.all([1, 2, 3].map((n) => limiter.run(async () => n * 2)));
 * console.assert(results.join() === "2,4,6");
 * ```
 */
export class ConcurrencyLimiter {
  /** Maximum jobs in flight. */
  readonly max: number;
  #active = 0;
  #waiting: Array<() => void> = [];
  #head = 0;

  /** @param max Maximum jobs in flight (≥ 1). */
  constructor(max: number) {
    if (!Number.isInteger(max) || max < 1) {
      throw new RangeError(`max must be a positive integer, got ${max}`);
    }
    this.max = max;
  }

  /** Jobs running now. */
  get active(): number {
    return this.#active;
  }

  /** Jobs waiting for a slot. */
  get pending(): number {
    return this.#waiting.length - this.#head;
  }

  /** Runs `job` when a slot is free; settles as `job` does. */
  async run<T>(job: () => Promise<T>): Promise<T> {
    if (this.#active >= this.max) {
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    } else {
      this.#active++;
    }
    try {
      return await job();
    } finally {
      this.#release();
    }
  }

  #release(): void {
    if (this.#head < this.#waiting.length) {
      // Hand the slot over directly: #active stays the same.
      const next = this.#waiting[this.#head];
      this.#head++;
      if (this.#head > 1024 && this.#head * 2 > this.#waiting.length) {
        this.#waiting = this.#waiting.slice(this.#head);
        this.#head = 0;
      }
      next();
    } else {
      this.#active--;
    }
  }
}

const shared = new Map<number, ConcurrencyLimiter>();

/**
 * The process-wide limiter for `max`: every connection configured with the
 * same `maxConcurrency` shares one.
 *
 * @example
 * ```ts
 * import { sharedLimiter } from "./concurrency_limiter.ts";
 *
 * console.assert(sharedLimiter(10) === sharedLimiter(10));
 * ```
 */
export function sharedLimiter(max: number): ConcurrencyLimiter {
  let limiter = shared.get(max);
  if (limiter === undefined) {
    limiter = new ConcurrencyLimiter(max);
    shared.set(max, limiter);
  }
  return limiter;
}
