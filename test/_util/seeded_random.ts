/**
 * Deterministic pseudo-random numbers for tests (Mulberry32), so a failing
 * fuzz case can be replayed from its seed.
 *
 * @module
 */

/**
 * A seeded generator of 32-bit values.
 *
 * @example
 * ```ts
 * import { SeededRandom } from "./seeded_random.ts";
 *
 * const a = new SeededRandom(42), b = new SeededRandom(42);
 * console.assert(a.next() === b.next());
 * ```
 */
export class SeededRandom {
  #state: number;

  /** @param seed Any 32-bit integer. */
  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** The next value in [0, 1). */
  next(): number {
    let t = (this.#state = (this.#state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [0, max). */
  int(max: number): number {
    return Math.floor(this.next() * max);
  }

  /** `length` random bytes. */
  bytes(length: number): Uint8Array {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) out[i] = this.int(256);
    return out;
  }

  /** One element of `items`. */
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }
}
