/**
 * The bounded, in-order buffer in which a NATS backplane keeps publishes
 * while the link is down. The client library's own outbound buffer cannot
 * do this job: it is emptied on every reconnect attempt, so a publish
 * handed to it during an outage is lost.
 *
 * @example
 * ```ts
 * import { NatsOutageBuffer } from "./nats_outage_buffer.ts";
 *
 * const buffer = new NatsOutageBuffer({ maxBytes: 1024, timeout: 30_000 });
 * const sent = buffer.add("wsc.news", new Uint8Array([1, 2, 3]));
 * // The link is back:
 * const written: string[] = [];
 * buffer.drain((subject, payload) => written.push(`${subject} ${payload.byteLength}`));
 * await sent;
 * console.assert(written[0] === "wsc.news 3");
 * ```
 *
 * @module
 */
import { BackplaneError } from "../fanout/backplane.ts";
import { natsUnavailable } from "./nats_connection.ts";

/** Options of {@linkcode NatsOutageBuffer}. */
export interface NatsOutageBufferOptions {
  /** Bytes (subject and payload) that may wait; `0` refuses every publish. */
  maxBytes: number;
  /** Milliseconds a publish may wait before it is dropped; may be `Infinity`. */
  timeout: number;
}

/** One publish waiting for the link to come back. */
interface Pending {
  readonly subject: string;
  readonly payload: Uint8Array;
  readonly size: number;
  readonly expires: number;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

/**
 * Publishes waiting for the link, bounded in bytes and in time, sent in the
 * order they were added. A publish that does not fit rejects with
 * `WS_BACKPLANE_BUFFER_FULL`; one that waited `timeout` is dropped and
 * rejects with `WS_BACKPLANE_UNAVAILABLE`. One timer, for the oldest entry,
 * runs while anything waits.
 *
 * @example Full, then drained in order
 * ```ts
 * import { NatsOutageBuffer } from "./nats_outage_buffer.ts";
 *
 * const buffer = new NatsOutageBuffer({ maxBytes: 20, timeout: 1000 });
 * const first = buffer.add("a", new Uint8Array(9));
 * const second = buffer.add("b", new Uint8Array(9));
 * const refused = await buffer.add("c", new Uint8Array(9)).then(() => "", (e) => e.code);
 * console.assert(refused === "WS_BACKPLANE_BUFFER_FULL");
 * const order: string[] = [];
 * buffer.drain((subject) => order.push(subject));
 * await Promise.all([first, second]);
 * console.assert(order.join() === "a,b" && buffer.isEmpty);
 * ```
 */
export class NatsOutageBuffer {
  readonly #maxBytes: number;
  readonly #timeout: number;
  // A queue with a moving head: publishes leave in order, without O(n) shifts.
  #pending: Pending[] = [];
  #head = 0;
  #bytes = 0;
  #expiryTimer: ReturnType<typeof setTimeout> | undefined;

  /**
   * Creates an empty buffer.
   *
   * @param options Its bounds in bytes and in time.
   */
  constructor(options: NatsOutageBufferOptions) {
    this.#maxBytes = options.maxBytes;
    this.#timeout = options.timeout;
  }

  /** Whether nothing waits (then a publish may go straight to the link). */
  get isEmpty(): boolean {
    return this.#head === this.#pending.length;
  }

  /**
   * Queues one publish.
   *
   * @param subject Its subject.
   * @param payload Its encoded message.
   * @returns Resolves once {@linkcode NatsOutageBuffer.drain} sent it;
   * rejects with `WS_BACKPLANE_BUFFER_FULL` at once if it does not fit,
   * `WS_BACKPLANE_UNAVAILABLE` after waiting `timeout`, or the error given
   * to {@linkcode NatsOutageBuffer.failAll} or thrown by `drain`'s `send`.
   */
  add(subject: string, payload: Uint8Array): Promise<void> {
    const size = subject.length + payload.byteLength;
    if (this.#bytes + size > this.#maxBytes) {
      return Promise.reject(
        new BackplaneError(
          "WS_BACKPLANE_BUFFER_FULL",
          `NATS is unreachable and ${this.#bytes} bytes of publishes already wait (maxBufferedBytes ${this.#maxBytes})`,
        ),
      );
    }
    return new Promise<void>((resolve, reject) => {
      this.#pending.push({
        subject,
        payload,
        size,
        expires: Date.now() + this.#timeout,
        resolve,
        reject,
      });
      this.#bytes += size;
      // A new entry is never the oldest unless the queue was empty.
      if (this.#expiryTimer === undefined) this.#armExpiry();
    });
  }

  /**
   * Hands every waiting publish to `send`, oldest first, and empties the
   * buffer. A publish resolves when `send` returns, and rejects with what it
   * throws (the others still go).
   *
   * @param send Writes one publish to the link.
   */
  drain(send: (subject: string, payload: Uint8Array) => void): void {
    while (this.#head < this.#pending.length) {
      const entry = this.#take();
      try {
        send(entry.subject, entry.payload);
        entry.resolve();
      } catch (error) {
        entry.reject(error as Error);
      }
    }
    this.#armExpiry();
  }

  /**
   * Rejects every waiting publish with `error` and empties the buffer.
   *
   * @param error The reason, e.g. the backplane closed.
   */
  failAll(error: Error): void {
    clearTimeout(this.#expiryTimer);
    this.#expiryTimer = undefined;
    const pending = this.#pending.slice(this.#head);
    this.#pending = [];
    this.#head = 0;
    this.#bytes = 0;
    for (const entry of pending) entry.reject(error);
  }

  #take(): Pending {
    const entry = this.#pending[this.#head];
    // Drop the reference so a sent payload can be collected before the queue empties.
    (this.#pending as (Pending | undefined)[])[this.#head] = undefined;
    this.#head++;
    this.#bytes -= entry.size;
    if (this.#head === this.#pending.length) {
      this.#pending = [];
      this.#head = 0;
    } else if (this.#head >= 1024 && this.#head * 2 >= this.#pending.length) {
      this.#pending = this.#pending.slice(this.#head);
      this.#head = 0;
    }
    return entry;
  }

  /** One timer for the oldest waiting publish: entries expire in queue order. */
  #armExpiry(): void {
    clearTimeout(this.#expiryTimer);
    this.#expiryTimer = undefined;
    if (this.#head === this.#pending.length || !Number.isFinite(this.#timeout)) return;
    // Capped: a longer delay overflows the timer, which then fires at once,
    // again and again; capped, the callback just re-arms until the entry is due.
    const wait = Math.min(0x7fffffff, Math.max(0, this.#pending[this.#head].expires - Date.now()));
    this.#expiryTimer = setTimeout(() => {
      this.#expiryTimer = undefined;
      const now = Date.now();
      while (this.#head < this.#pending.length && this.#pending[this.#head].expires <= now) {
        this.#take().reject(
          natsUnavailable(`NATS stayed unreachable for bufferTimeout (${this.#timeout} ms)`),
        );
      }
      this.#armExpiry();
    }, wait);
  }
}
