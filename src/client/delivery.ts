/**
 * Delivery tracking of the client. `send()` resolves once the transport
 * accepted a message (written to the socket, or to a browser WebSocket's
 * buffer); that is not receipt: a connection that dies takes with it
 * whatever was still in flight. So every connection keeps the messages it
 * wrote until they are *confirmed*, i.e. known to have been read by the
 * peer's WebSocket endpoint:
 *
 * - a pong answering a ping sent after the message was written (a heartbeat
 *   ping, an application-level heartbeat answer, or a confirmation ping):
 *   TCP delivers in order, so the peer read the message before the ping
 *   (RFC 6455 §5.5.2, §5.5.3);
 * - the peer's answer to a close frame this client sent (`disconnect()`,
 *   `close()`, a URL switch): the peer read every frame before ours.
 *
 * When a connection ends any other way (a drop, a heartbeat timeout, a close
 * the peer started, a close handshake that timed out), the messages written
 * on it since the last confirmation are *unconfirmed*: the client reports
 * them (`unconfirmed` event, metrics) and, with `resendUnconfirmed`, puts
 * them back in the offline queue.
 *
 * @module
 */
import type { OfflineQueue } from "./offline_queue.ts";
import type { Message } from "./types.ts";

/** Delivery tracking options of `WebSocketClient` (the `delivery` option). */
export interface DeliveryOptions {
  /**
   * Puts the unconfirmed messages of a connection that died back into the
   * offline queue, in their original order and ahead of everything sent
   * later, so they go out again once the client is open: at-least-once
   * delivery, with possible duplicates at the peer. Needs the offline queue
   * (with `queue: false` they are only reported). The client keeps its own
   * copy of each binary message until it is confirmed (within `maxBytes`),
   * so a buffer may be refilled once its `send()` resolved. Default `false`.
   */
  resendUnconfirmed?: boolean;
  /**
   * Sends a protocol ping after writes (at most one in flight per
   * connection) so that messages are confirmed within about one round trip
   * instead of at the next heartbeat; this keeps the unconfirmed window, and
   * so the duplicates of a resend, small. Ignored where the transport cannot
   * ping (a browser WebSocket). Default: the value of `resendUnconfirmed`.
   */
  confirmWithPing?: boolean;
  /**
   * Payload bytes of unconfirmed messages kept per connection. Older
   * unconfirmed messages beyond it are only counted (`omitted`), never
   * resent. `0` counts without keeping any message. Default 1 MiB.
   */
  maxBytes?: number;
}

/**
 * What the `unconfirmed` event of `WebSocketClient` carries: messages whose
 * `send()` resolved but which were not known to be delivered when their
 * connection ended.
 *
 * @example Log what may have been lost
 * ```ts
 * import type { UnconfirmedMessages } from "@wsc/websocket-channel/client";
 *
 * function describe(event: UnconfirmedMessages): string {
 *   const count = event.messages.length + event.omitted;
 *   return `${count} message(s) unconfirmed after ${event.code}` +
 *     (event.requeued ? ", sending again" : ", given up");
 * }
 * console.assert(
 *   describe({ messages: ["a"], omitted: 0, requeued: true, url: "ws://x", code: 1006 }) ===
 *     "1 message(s) unconfirmed after 1006, sending again",
 * );
 * ```
 */
export interface UnconfirmedMessages {
  /**
   * The messages as written (after the send interceptors), oldest first.
   * With `resendUnconfirmed`, binary ones are the client's copies of what
   * was written; without, they are the buffers given to `send()`, as they
   * are now.
   */
  readonly messages: readonly Message[];
  /**
   * Unconfirmed messages older than `messages` that were counted but not
   * kept (`delivery.maxBytes`); they are never resent.
   */
  readonly omitted: number;
  /**
   * `true`: `messages` are back in the offline queue and will be sent again
   * (`resendUnconfirmed`). `false`: the client has given up on them. A
   * requeued message that the queue discards before it is written again
   * (`disconnect()`, `close()`, TTL, overflow, reconnect given up) is
   * reported once more with `requeued: false` and the discard's `error`.
   */
  readonly requeued: boolean;
  /** The URL of the connection they were written on. */
  readonly url: string;
  /** How that connection ended (1006 when it was lost). */
  readonly code: number;
  /** Why the offline queue discarded requeued messages, for such a report. */
  readonly error?: Error;
}

/** A message a connection wrote for `send()`. */
export interface WrittenMessage {
  /** The message as written. */
  readonly message: Message;
  /** Its place in `send()` order. */
  readonly seq: number;
  /** Its payload bytes. */
  readonly size: number;
}

/** Default of {@linkcode DeliveryOptions.maxBytes}. */
export const DEFAULT_UNCONFIRMED_BYTES = 1024 * 1024;

/**
 * The messages one connection wrote and has not seen confirmed, in write
 * order. Positions count writes: `mark` is taken when a ping is sent,
 * `confirm(mark)` when its answer comes back. Recording a write allocates
 * nothing: the kept messages sit in a ring of parallel arrays, created on
 * the first write that is kept.
 *
 * @example
 * ```ts
 * import { UnconfirmedWindow } from "./delivery.ts";
 *
 * const unconfirmed = new UnconfirmedWindow(1024);
 * unconfirmed.add("a", 0, 1);
 * const mark = unconfirmed.mark; // a ping goes out here
 * unconfirmed.add("b", 1, 1);
 * unconfirmed.confirm(mark); // its pong came back
 * const { messages, omitted } = unconfirmed.take();
 * console.assert(messages.length === 1 && messages[0].message === "b" && omitted === 0);
 * ```
 */
export class UnconfirmedWindow {
  #messages: (Message | undefined)[] = [];
  #seqs = new Float64Array(0);
  #sizes = new Float64Array(0);
  /** Index of the oldest kept message in the ring. */
  #head = 0;
  #kept = 0;
  #bytes = 0;
  #written = 0;
  #confirmed = 0;
  #maxBytes: number;
  #copy: boolean;

  /**
   * @param maxBytes Payload bytes kept; older messages are only counted.
   * @param copy Keep a copy of each binary message kept (it is written again, and the
   *   sender may have refilled its buffer since `send()` resolved).
   */
  constructor(maxBytes: number = DEFAULT_UNCONFIRMED_BYTES, copy = false) {
    this.#maxBytes = maxBytes;
    this.#copy = copy;
  }

  /** Writes recorded so far: the position a ping sent now confirms up to. */
  get mark(): number {
    return this.#written;
  }

  /** Messages written and not confirmed (kept or only counted). */
  get pending(): number {
    return this.#written - this.#confirmed;
  }

  /** Records a message (its place in send order, its payload bytes) whose write the transport accepted. */
  add(message: Message, seq: number, size: number): void {
    this.#written++;
    if (size > this.#maxBytes) {
      // It alone does not fit: everything older goes too, and it is only counted.
      while (this.#kept > 0) this.#dropOldest();
      return;
    }
    const capacity = this.#messages.length;
    if (this.#kept === capacity) this.#grow(capacity);
    const at = (this.#head + this.#kept) & (this.#messages.length - 1);
    this.#messages[at] = this.#copy ? keptCopy(message) : message;
    this.#seqs[at] = seq;
    this.#sizes[at] = size;
    this.#kept++;
    this.#bytes += size;
    while (this.#bytes > this.#maxBytes) this.#dropOldest();
  }

  /** Confirms the first `mark` writes. */
  confirm(mark: number): void {
    if (mark <= this.#confirmed) return;
    this.#confirmed = Math.min(mark, this.#written);
    // Kept messages are always the newest ones: keep at most `pending`.
    while (this.#kept > this.pending) this.#dropOldest();
  }

  /** Confirms every write so far. */
  confirmAll(): void {
    this.confirm(this.#written);
  }

  /** Hands out the unconfirmed messages and starts over empty. */
  take(): { messages: WrittenMessage[]; omitted: number } {
    const messages: WrittenMessage[] = [];
    const mask = this.#messages.length - 1;
    for (let i = 0; i < this.#kept; i++) {
      const at = (this.#head + i) & mask;
      messages.push({ message: this.#messages[at]!, seq: this.#seqs[at], size: this.#sizes[at] });
    }
    const omitted = this.pending - messages.length;
    this.#messages = [];
    this.#seqs = new Float64Array(0);
    this.#sizes = new Float64Array(0);
    this.#head = 0;
    this.#kept = 0;
    this.#bytes = 0;
    this.#confirmed = this.#written;
    return { messages, omitted };
  }

  #dropOldest(): void {
    const at = this.#head;
    this.#messages[at] = undefined;
    this.#bytes -= this.#sizes[at];
    this.#head = (at + 1) & (this.#messages.length - 1);
    this.#kept--;
  }

  /** Doubles the ring (a power of two, so indexes wrap with a mask), oldest first again. */
  #grow(capacity: number): void {
    const next = Math.max(16, capacity * 2);
    const messages = new Array<Message | undefined>(next).fill(undefined);
    const seqs = new Float64Array(next);
    const sizes = new Float64Array(next);
    for (let i = 0; i < this.#kept; i++) {
      const at = (this.#head + i) & (capacity - 1);
      messages[i] = this.#messages[at];
      seqs[i] = this.#seqs[at];
      sizes[i] = this.#sizes[at];
    }
    this.#messages = messages;
    this.#seqs = seqs;
    this.#sizes = sizes;
    this.#head = 0;
  }
}

/**
 * Reports what dead connections leave unconfirmed: requeues it when asked,
 * emits the `unconfirmed` events and keeps the counters of the metrics. A
 * requeued message that the queue discards before it is written again is
 * reported once more as given up, so every unconfirmed message ends in
 * exactly one report with `requeued: false` unless it is resent.
 *
 * @example
 * ```ts
 * import { UnconfirmedReporter } from "./delivery.ts";
 *
 * const reporter = new UnconfirmedReporter((event) => console.log(event.messages));
 * reporter.report([{ message: "a", seq: 0, size: 1 }], { omitted: 0, url: "ws://x", code: 1006 });
 * console.assert(reporter.unconfirmedMessages === 1 && reporter.resentMessages === 0);
 * ```
 */
export class UnconfirmedReporter {
  /** Messages given up on without a confirmation. */
  unconfirmedMessages = 0;
  /** Messages put back in the offline queue. */
  resentMessages = 0;
  #emit: (event: UnconfirmedMessages) => void;
  /** Requeued messages the queue discarded, reported together after the current task. */
  #discarded: { message: Message; url: string; code: number; error: Error }[] = [];

  /** @param emit Delivers an `unconfirmed` event. */
  constructor(emit: (event: UnconfirmedMessages) => void) {
    this.#emit = emit;
  }

  /**
   * Reports the unconfirmed messages of a connection that ended, and puts
   * them back in `requeueInto` when given.
   */
  report(
    items: readonly WrittenMessage[],
    context: { omitted: number; url: string; code: number; requeueInto?: OfflineQueue },
  ): void {
    const { omitted, url, code } = context;
    const queue = items.length > 0 ? context.requeueInto : undefined;
    this.unconfirmedMessages += omitted + (queue ? 0 : items.length);
    if (queue) {
      this.resentMessages += items.length;
      for (const item of items) {
        // Its original place in send order puts it ahead of everything sent later.
        queue.push(item.message, item.seq).catch((error) =>
          this.#onDiscarded(item.message, url, code, error)
        );
      }
    }
    this.#emit({
      messages: items.map((item) => item.message),
      omitted,
      requeued: queue !== undefined,
      url,
      code,
    });
  }

  #onDiscarded(message: Message, url: string, code: number, error: unknown): void {
    this.unconfirmedMessages++;
    const value = error instanceof Error ? error : new Error(String(error));
    if (this.#discarded.push({ message, url, code, error: value }) > 1) return;
    // A clear() rejects many at once: one event per connection and cause.
    queueMicrotask(() => {
      const discarded = this.#discarded;
      this.#discarded = [];
      let from = 0;
      for (let i = 1; i <= discarded.length; i++) {
        const first = discarded[from];
        const next = discarded[i];
        if (
          next && next.url === first.url && next.code === first.code && next.error === first.error
        ) continue;
        this.#emit({
          messages: discarded.slice(from, i).map((entry) => entry.message),
          omitted: 0,
          requeued: false,
          url: first.url,
          code: first.code,
          error: first.error,
        });
        from = i;
      }
    });
  }
}

/**
 * The message as a resend needs it: a binary message is copied, since its
 * sender may refill the buffer once `send()` resolved; text is immutable.
 */
export function keptCopy(message: Message): Message {
  return typeof message === "string" ? message : message.slice();
}
