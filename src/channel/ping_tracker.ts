/**
 * Matches pongs to outstanding pings and measures round-trip times.
 *
 * @module
 */
import { type Deferred, deferred } from "../_util/deferred.ts";

/** Outstanding pings kept at most; older ones are answered by any later pong anyway. */
const MAX_OUTSTANDING = 64;

interface Outstanding {
  payload: Uint8Array;
  sentAt: number;
  result: Deferred<number>;
}

/**
 * Tracks pings in the order they were sent. A pong answers the oldest ping
 * with the same payload and every ping sent before it: RFC 6455 §5.5.3 lets a
 * peer answer only the most recent ping. Unsolicited pongs are ignored.
 *
 * @example
 * ```ts
 * import { PingTracker } from "./ping_tracker.ts";
 *
 * const pings = new PingTracker();
 * const rtt = pings.add(new Uint8Array([1]));
 * pings.pong(new Uint8Array([1]));
 * console.assert((await rtt) >= 0);
 * ```
 */
export class PingTracker {
  #outstanding: Outstanding[] = [];
  #counter = 0;

  /** A payload unlikely to collide with the application's own pings. */
  nextPayload(): Uint8Array {
    const payload = new Uint8Array(4);
    new DataView(payload.buffer).setUint32(0, ++this.#counter >>> 0);
    return payload;
  }

  /** Registers a ping just sent; resolves with its round-trip time in ms. */
  add(payload: Uint8Array): Promise<number> {
    const result = deferred<number>();
    this.#outstanding.push({ payload: payload.slice(), sentAt: performance.now(), result });
    if (this.#outstanding.length > MAX_OUTSTANDING) {
      // The oldest cannot be told apart from newer ones any more; a later pong counts for it.
      const dropped = this.#outstanding.shift()!;
      const newest = this.#outstanding[this.#outstanding.length - 1].result.promise;
      newest.then(
        () => dropped.result.resolve(performance.now() - dropped.sentAt),
        (e) => dropped.result.reject(e),
      );
    }
    return result.promise;
  }

  /** Handles a received pong. */
  pong(payload: Uint8Array): void {
    const index = this.#outstanding.findIndex((entry) => sameBytes(entry.payload, payload));
    if (index < 0) return;
    const now = performance.now();
    for (const entry of this.#outstanding.splice(0, index + 1)) {
      entry.result.resolve(now - entry.sentAt);
    }
  }

  /** Rejects every outstanding ping (the connection ended). */
  fail(error: unknown): void {
    for (const entry of this.#outstanding.splice(0)) entry.result.reject(error);
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}
