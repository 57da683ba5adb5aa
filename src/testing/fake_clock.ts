/**
 * A manual clock for tests of time-driven code (backoff, heartbeats, TTLs,
 * timeouts): time moves only when the test says so, so schedules of minutes
 * run in milliseconds and always in the same order.
 *
 * @module
 */

interface Timer {
  id: number;
  at: number;
  fn: () => void;
}

/**
 * A clock with `now`, `setTimeout` and `clearTimeout` that you move by hand.
 * `advance(ms)` fires due timers in time order and lets promise chains settle
 * between timers, so async code reacting to a timer runs before the next one.
 * Pass it as the `clock` option of `WebSocketClient`.
 *
 * @example
 * ```ts
 * import { FakeClock } from "@wsc/websocket-channel/testing";
 *
 * const clock = new FakeClock();
 * let fired = 0;
 * clock.setTimeout(() => fired++, 1000);
 * await clock.advance(999);
 * console.assert(fired === 0);
 * await clock.advance(1);
 * console.assert(fired === 1 && clock.now() === 1000);
 * ```
 */
export class FakeClock {
  #now: number;
  #timers: Timer[] = [];
  #nextId = 1;

  /**
   * Creates a clock standing at `start`.
   * @param start The initial value of `now()`. Default 0.
   */
  constructor(start = 0) {
    this.#now = start;
  }

  /** The current fake time in ms. */
  now(): number {
    return this.#now;
  }

  /** Schedules `fn` at `now() + ms`; returns a handle for `clearTimeout`. */
  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.#nextId++;
    const delay = Number.isFinite(ms) && ms > 0 ? ms : 0;
    this.#timers.push({ id, at: this.#now + delay, fn });
    return id;
  }

  /** Cancels a timer; unknown handles are ignored. */
  clearTimeout(handle: unknown): void {
    const index = this.#timers.findIndex((timer) => timer.id === handle);
    if (index >= 0) this.#timers.splice(index, 1);
  }

  /** Timers scheduled and not fired or cleared yet. */
  get pending(): number {
    return this.#timers.length;
  }

  /** Milliseconds until the next timer, or `undefined` when none is scheduled. */
  get nextDelay(): number | undefined {
    const next = this.#next();
    return next === undefined ? undefined : next.at - this.#now;
  }

  /**
   * Moves time forward by `ms`, firing every timer that falls due on the way
   * (timers scheduled by those timers too), settling promises after each.
   */
  async advance(ms: number): Promise<void> {
    const target = this.#now + Math.max(0, ms);
    await settle();
    for (;;) {
      const next = this.#next();
      if (next === undefined || next.at > target) break;
      this.#fire(next);
      await settle();
    }
    this.#now = target;
    await settle();
  }

  /**
   * Fires timers in order until none is left (jumping time forward), at most
   * `limit` of them so that a periodic timer cannot loop forever.
   * @returns How many timers fired.
   */
  async runAll(limit = 1000): Promise<number> {
    let fired = 0;
    await settle();
    while (fired < limit) {
      const next = this.#next();
      if (next === undefined) break;
      this.#fire(next);
      fired++;
      await settle();
    }
    return fired;
  }

  /** Fires only the next timer (jumping time to it); false when none is scheduled. */
  async runNext(): Promise<boolean> {
    await settle();
    const next = this.#next();
    if (next === undefined) return false;
    this.#fire(next);
    await settle();
    return true;
  }

  /** Lets pending promise chains run without moving time. */
  flush(): Promise<void> {
    return settle();
  }

  #next(): Timer | undefined {
    let best: Timer | undefined;
    for (const timer of this.#timers) {
      if (!best || timer.at < best.at || (timer.at === best.at && timer.id < best.id)) best = timer;
    }
    return best;
  }

  #fire(timer: Timer): void {
    this.clearTimeout(timer.id);
    if (timer.at > this.#now) this.#now = timer.at;
    timer.fn();
  }
}

// One macrotask turn runs every queued microtask, including the ones they queue.
function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}
