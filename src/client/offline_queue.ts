/**
 * The bounded queue that holds messages while the client is not open.
 *
 * @module
 */
import type { Clock } from "../_util/clock.ts";
import { ClientError } from "./errors.ts";
import { type Message, messageSize } from "./types.ts";

/** What happens when a message does not fit in the offline queue. */
export type OverflowPolicy = "reject" | "drop-oldest" | "drop-newest";

/** Bounds of the offline queue. */
export interface OfflineQueueOptions {
  /** Total payload bytes (UTF-8 for text) the queue may hold. Default 1 MiB. */
  maxBytes?: number;
  /** Number of messages the queue may hold. Default unbounded (bytes still bound it). */
  maxMessages?: number;
  /** Milliseconds a message may wait before `send()` rejects with `WS_MESSAGE_EXPIRED`. Default 60 000. */
  ttl?: number;
  /**
   * On overflow: `reject` (the new `send()` rejects with `WS_QUEUE_FULL`),
   * `drop-oldest` (the oldest queued messages are evicted, their `send()`
   * rejects with `WS_MESSAGE_DROPPED`), `drop-newest` (the incoming message is
   * dropped and its `send()` rejects with `WS_MESSAGE_DROPPED`, the queue is
   * unchanged). Default `reject`.
   */
  overflow?: OverflowPolicy;
}

/** One queued message and the settlement of its `send()`. */
export interface QueuedMessage {
  readonly message: Message;
  /** Position in `send()` order; the queue is kept sorted by it. */
  readonly seq: number;
  readonly size: number;
  readonly expiresAt: number;
  resolve(): void;
  reject(error: unknown): void;
}

/**
 * FIFO of pending messages bounded by bytes, count and age. Every message
 * leaves it exactly once: taken for sending, or rejected with a typed error.
 *
 * @example
 * ```ts
 * import { OfflineQueue } from "./offline_queue.ts";
 * import { systemClock } from "@wsc/websocket-channel/client";
 *
 * const queue = new OfflineQueue(systemClock, { maxBytes: 4, overflow: "drop-oldest" });
 * const first = queue.push("abc");
 * first.catch((e) => console.assert(e.code === "WS_MESSAGE_DROPPED"));
 * const second = queue.push("de"); // evicts "abc"
 * console.assert(queue.length === 1 && queue.bytes === 2);
 * queue.clear(new Error("done")); // rejects what is still queued
 * await second.catch((e) => console.assert(e.message === "done"));
 * ```
 */
export class OfflineQueue {
  #items: QueuedMessage[] = [];
  #head = 0;
  #bytes = 0;
  #clock: Clock;
  #maxBytes: number;
  #maxMessages: number;
  #ttl: number;
  #overflow: OverflowPolicy;
  #timer: unknown = undefined;
  #lastSeq = -1;
  #timerAt = Infinity;
  /** Messages evicted by an overflow policy since creation. */
  dropped = 0;
  /** Messages that expired since creation. */
  expired = 0;

  /**
   * @param clock Time source for the TTL.
   * @param options Bounds and overflow policy.
   */
  constructor(clock: Clock, options: OfflineQueueOptions = {}) {
    this.#clock = clock;
    this.#maxBytes = options.maxBytes ?? 1024 * 1024;
    this.#maxMessages = options.maxMessages ?? Infinity;
    this.#ttl = options.ttl ?? 60_000;
    this.#overflow = options.overflow ?? "reject";
  }

  /** Queued messages. */
  get length(): number {
    return this.#items.length - this.#head;
  }

  /** Queued payload bytes. */
  get bytes(): number {
    return this.#bytes;
  }

  /**
   * Queues `message`; the promise settles when it is sent, dropped or
   * expired. `seq` is its place in send order (default: after everything).
   */
  push(message: Message, seq: number = this.#lastSeq + 1): Promise<void> {
    const size = messageSize(message);
    if (size > this.#maxBytes || this.#maxMessages < 1) {
      return Promise.reject(
        new ClientError(
          "WS_MESSAGE_TOO_BIG",
          `Message of ${size} bytes does not fit in the offline queue (${this.#maxBytes} bytes)`,
        ),
      );
    }
    while (this.#bytes + size > this.#maxBytes || this.length + 1 > this.#maxMessages) {
      if (this.#overflow === "drop-oldest") {
        this.#shiftOne()!.reject(
          new ClientError("WS_MESSAGE_DROPPED", "Message evicted from the full offline queue"),
        );
        this.dropped++;
      } else if (this.#overflow === "drop-newest") {
        this.dropped++;
        return Promise.reject(
          new ClientError(
            "WS_MESSAGE_DROPPED",
            "Offline queue is full; the new message was dropped",
          ),
        );
      } else {
        return Promise.reject(
          new ClientError(
            "WS_QUEUE_FULL",
            `Offline queue is full (${this.length} messages, ${this.#bytes} bytes)`,
          ),
        );
      }
    }
    return new Promise<void>((resolve, reject) => {
      this.#insert({
        message,
        seq,
        size,
        expiresAt: this.#clock.now() + this.#ttl,
        resolve,
        reject,
      });
    });
  }

  /** Takes the oldest message that has not expired (expired ones are rejected on the way). */
  shift(): QueuedMessage | undefined {
    this.expire();
    const item = this.#shiftOne();
    this.#arm();
    return item;
  }

  /**
   * Puts back a message that a dying connection did not accept; it keeps its
   * place in send order, so it goes out first on the next connection.
   */
  requeue(item: QueuedMessage): void {
    this.#insert(item);
  }

  /** Rejects every message whose TTL has passed. */
  expire(): void {
    const now = this.#clock.now();
    while (this.length > 0 && this.#items[this.#head].expiresAt <= now) {
      this.expired++;
      this.#shiftOne()!.reject(
        new ClientError("WS_MESSAGE_EXPIRED", `Message waited longer than ${this.#ttl} ms`),
      );
    }
  }

  /** Rejects every queued message with `error` and stops the TTL timer. */
  clear(error: unknown): void {
    const items = this.#items.slice(this.#head);
    this.#items = [];
    this.#head = 0;
    this.#bytes = 0;
    this.#disarm();
    for (const item of items) item.reject(error);
  }

  #insert(item: QueuedMessage): void {
    // Almost always an append; a requeued or late message walks back to its place.
    let at = this.#items.length;
    while (at > this.#head && this.#items[at - 1].seq > item.seq) at--;
    if (at === this.#items.length) this.#items.push(item);
    else this.#items.splice(at, 0, item);
    if (item.seq > this.#lastSeq) this.#lastSeq = item.seq;
    this.#bytes += item.size;
    this.#arm();
  }

  #shiftOne(): QueuedMessage | undefined {
    if (this.length === 0) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head++] = undefined as unknown as QueuedMessage;
    // Compact now and then so the array does not grow without bound.
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    this.#bytes -= item.size;
    return item;
  }

  // One timer for the oldest message: TTLs are equal, so FIFO order is expiry order.
  #arm(): void {
    if (this.length === 0 || !Number.isFinite(this.#ttl)) return this.#disarm();
    const at = this.#items[this.#head].expiresAt;
    if (this.#timer !== undefined && at === this.#timerAt) return;
    this.#disarm();
    this.#timerAt = at;
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      this.#timerAt = Infinity;
      this.expire();
      this.#arm();
    }, Math.max(0, at - this.#clock.now()));
  }

  #disarm(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Infinity;
  }
}
