/**
 * The connections a server admitted whose upgrade is not decided yet, each
 * with its handshake slot and the same deadline, `handshakeTimeout` after
 * its admission.
 *
 * @module
 */

/** One admitted connection waiting for its upgrade to be decided. */
export interface PendingHandshake {
  /** When it expires, on the `performance.now()` clock. */
  readonly expires: number;
  /** Gives its handshake slot back. */
  readonly release: () => void;
  /**
   * Set once its request head is complete: the controller aborted when
   * `onUpgrade` is too late, `true` without `onUpgrade`.
   */
  deciding?: AbortController | true;
}

/**
 * Admitted connections by deadline, on one timer. Every connection waits
 * the same time, so admission order is deadline order: the timer is set for
 * the oldest deadline, and when it fires it expires every connection due
 * and is set again for the next. A timer and its closures per connection
 * would be garbage for every handshake, and during a burst of connections
 * they live long enough to be promoted to the old generation.
 *
 * @example
 * ```ts
 * import { PendingHandshakes } from "./pending_handshakes.ts";
 *
 * let free = 2;
 * const expired: string[] = [];
 * const pending = new PendingHandshakes<string>(10, (key) => expired.push(key));
 * pending.admit("a", () => free++);
 * free--;
 * pending.admit("b", () => free++);
 * free--;
 * pending.settle("a"); // its upgrade was decided in time
 * await new Promise((resolve) => setTimeout(resolve, 50));
 * console.assert(expired.join() === "b" && free === 2);
 * ```
 */
export class PendingHandshakes<Key> {
  readonly #entries = new Map<Key, PendingHandshake>();
  readonly #timeout: number;
  readonly #expired: (key: Key, entry: PendingHandshake) => void;
  #timer: ReturnType<typeof setTimeout> | undefined;

  /**
   * @param timeout Milliseconds from admission to expiry.
   * @param expired Called with each connection that expired, after its slot
   *   was given back (it is no longer pending then).
   */
  constructor(timeout: number, expired: (key: Key, entry: PendingHandshake) => void) {
    this.#timeout = timeout;
    this.#expired = expired;
  }

  /** Connections waiting. */
  get size(): number {
    return this.#entries.size;
  }

  /** The entry of a waiting connection, `undefined` when it is not (or no longer) pending. */
  get(key: Key): PendingHandshake | undefined {
    return this.#entries.get(key);
  }

  /** Starts the wait of `key`, holding the slot that `release` gives back. */
  admit(key: Key, release: () => void): void {
    this.#entries.set(key, { expires: performance.now() + this.#timeout, release });
    if (this.#timer === undefined) this.#arm(this.#timeout);
  }

  /**
   * Ends the wait of `key` (its upgrade decided, refused, or the connection
   * gone) and gives its slot back; nothing when it is not pending.
   *
   * @returns Its entry, `undefined` when it was not pending.
   */
  settle(key: Key): PendingHandshake | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    this.#entries.delete(key);
    entry.release();
    if (this.#entries.size === 0 && this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    return entry;
  }

  /**
   * Ends every wait without expiring any (the server is closing): each slot
   * given back and the timer stopped.
   */
  clear(): void {
    // Deleting the entry being visited is safe in a Map's iteration.
    for (const key of this.#entries.keys()) this.settle(key);
  }

  #arm(delay: number): void {
    this.#timer = setTimeout(() => this.#sweep(), delay);
  }

  #sweep(): void {
    this.#timer = undefined;
    const now = performance.now();
    for (const [key, entry] of this.#entries) {
      if (entry.expires > now) break;
      this.settle(key);
      this.#expired(key, entry);
    }
    // The oldest still waiting (one admitted by an `expired` callback may have set a later timer).
    const next = this.#entries.values().next();
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (!next.done) this.#arm(Math.max(1, next.value.expires - performance.now()));
  }
}
