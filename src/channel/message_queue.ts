/**
 * The `stream` of a channel: a `ReadableStream` over our own message queue,
 * so that the channel knows exactly how many bytes wait unread (to stop
 * reading its transport) and so that an error never discards messages that
 * were already received: they are delivered first, then the error.
 *
 * @module
 */
import type { Message } from "./channel_types.ts";

/** Queue cost of a message: its size plus a little, so empty messages count too. */
export function messageCost(message: Message): number {
  return (typeof message === "string" ? message.length : message.byteLength) + 32;
}

/**
 * Received messages waiting for the application, exposed as
 * {@linkcode MessageQueue.stream}.
 *
 * @example
 * ```ts
 * import { MessageQueue } from "./message_queue.ts";
 *
 * const queue = new MessageQueue({ onSpace: () => {}, onCancel: () => {} });
 * queue.push("a");
 * queue.error(new Error("lost"));
 * const reader = queue.stream.getReader();
 * console.assert((await reader.read()).value === "a"); // delivered before the error
 * await reader.read().catch((error) => console.assert(error.message === "lost"));
 * ```
 */
export class MessageQueue {
  /** The messages, one per chunk. */
  readonly stream: ReadableStream<Message>;
  #items: Message[] = [];
  #head = 0;
  #bytes = 0;
  #controller!: ReadableStreamDefaultController<Message>;
  /** A read is waiting for the next message. */
  #waiting = false;
  #end: { error: unknown } | "close" | undefined;
  #finished = false;
  readonly #onSpace: () => void;

  /**
   * @param hooks `onSpace`: a message was taken (the reader may read more);
   *   `onCancel`: the application cancelled the stream.
   */
  constructor(hooks: { onSpace: () => void; onCancel: () => void }) {
    this.#onSpace = hooks.onSpace;
    this.stream = new ReadableStream<Message>({
      start: (controller) => {
        this.#controller = controller;
      },
      pull: () => this.#pull(),
      cancel: () => {
        this.#finished = true;
        this.#items = [];
        this.#head = 0;
        this.#bytes = 0;
        hooks.onCancel();
      },
    }, { highWaterMark: 0 });
  }

  /** Bytes (with a small per-message cost) received and not yet read. */
  get bytes(): number {
    return this.#bytes;
  }

  /** `close()` or `error()` was called, or the stream was cancelled: new messages are dropped. */
  get ended(): boolean {
    return this.#finished || this.#end !== undefined;
  }

  /** Adds a received message (dropped once the queue ended). */
  push(message: Message): void {
    if (this.ended) return;
    if (this.#waiting) {
      this.#waiting = false;
      this.#controller.enqueue(message);
      return;
    }
    this.#items.push(message);
    this.#bytes += messageCost(message);
  }

  /** Ends the stream once the queued messages were read. */
  close(): void {
    if (this.ended) return;
    this.#end = "close";
    if (this.#waiting) this.#settle();
  }

  /** Errors the stream once the queued messages were read. */
  error(error: unknown): void {
    if (this.ended) return;
    this.#end = { error };
    if (this.#waiting) this.#settle();
  }

  #pull(): void {
    if (this.#head < this.#items.length) {
      const message = this.#items[this.#head];
      this.#items[this.#head++] = "";
      if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
        this.#items = this.#items.slice(this.#head);
        this.#head = 0;
      }
      this.#bytes -= messageCost(message);
      this.#controller.enqueue(message);
      this.#onSpace();
      return;
    }
    if (this.#end !== undefined) return this.#settle();
    this.#waiting = true;
    this.#onSpace();
  }

  #settle(): void {
    this.#waiting = false;
    if (this.#finished) return;
    this.#finished = true;
    const end = this.#end;
    try {
      if (end === "close") this.#controller.close();
      else this.#controller.error(end?.error);
    } catch { /* already cancelled */ }
  }
}
