/**
 * The readable sides of the client: message streams that survive reconnects
 * and apply backpressure (a slow reader pauses reading the socket), and the
 * JSON stream with its side channel of parse errors.
 *
 * @module
 */
import { InvalidJsonError } from "./errors.ts";
import type { Message } from "./types.ts";

interface Subscriber {
  offer(message: Message): void;
  /** Resolves when the reader wants more. */
  capacity(): Promise<void> | undefined;
  close(): void;
}

/**
 * Delivers every message to each open stream; `deliver` waits while any
 * stream is full.
 *
 * @example
 * ```ts
 * import { MessageFanout } from "./message_streams.ts";
 *
 * const fanout = new MessageFanout(4);
 * const stream = fanout.messages();
 * await fanout.deliver("hello");
 * const { value } = await stream.getReader().read();
 * console.assert(value === "hello");
 * ```
 */
export class MessageFanout {
  #subscribers = new Set<Subscriber>();
  #highWaterMark: number;
  #closed = false;

  /** @param highWaterMark Messages buffered per stream before `deliver` waits. */
  constructor(highWaterMark: number) {
    this.#highWaterMark = Math.max(1, highWaterMark);
  }

  /** Whether any stream is listening. */
  get size(): number {
    return this.#subscribers.size;
  }

  /** A new stream of every message from now on. */
  messages(): ReadableStream<Message> {
    return this.#subscribe<Message>((message, controller) => controller.enqueue(message));
  }

  /**
   * A new stream of parsed JSON values; text is parsed as is, binary is
   * decoded as UTF-8 first. Invalid JSON goes to `onError`, never into the
   * stream.
   */
  json<T>(onError: (error: InvalidJsonError) => void): ReadableStream<T> {
    const decoder = new TextDecoder("utf-8", { fatal: true });
    return this.#subscribe<T>((message, controller) => {
      let value: T;
      try {
        value = JSON.parse(typeof message === "string" ? message : decoder.decode(message)) as T;
      } catch (error) {
        onError(new InvalidJsonError(message, error));
        return;
      }
      controller.enqueue(value);
    });
  }

  /** Hands `message` to every stream; returns a promise only when one of them is full. */
  deliver(message: Message): Promise<void> | undefined {
    let wait: Promise<void> | undefined;
    let waits: Promise<void>[] | undefined;
    for (const subscriber of this.#subscribers) {
      subscriber.offer(message);
      const full = subscriber.capacity();
      if (!full) continue;
      if (!wait) wait = full;
      else (waits ??= [wait]).push(full);
    }
    return waits ? Promise.all(waits).then(() => {}) : wait;
  }

  /** Ends every stream (the client was closed). */
  close(): void {
    this.#closed = true;
    for (const subscriber of [...this.#subscribers]) subscriber.close();
    this.#subscribers.clear();
  }

  #subscribe<T>(
    push: (message: Message, controller: ReadableStreamDefaultController<T>) => void,
  ): ReadableStream<T> {
    let controller!: ReadableStreamDefaultController<T>;
    let wake: (() => void) | undefined;
    let waiting: Promise<void> | undefined;
    const subscriber: Subscriber = {
      offer: (message) => push(message, controller),
      capacity: () => {
        if ((controller.desiredSize ?? 1) > 0) return undefined;
        waiting ??= new Promise<void>((resolve) => (wake = resolve));
        return waiting;
      },
      close: () => {
        try {
          controller.close();
        } catch { /* already cancelled */ }
        release();
      },
    };
    const release = () => {
      wake?.();
      wake = undefined;
      waiting = undefined;
    };
    const stream = new ReadableStream<T>({
      start: (c) => {
        controller = c;
      },
      pull: () => release(),
      cancel: () => {
        this.#subscribers.delete(subscriber);
        release();
      },
    }, new CountQueuingStrategy({ highWaterMark: this.#highWaterMark }));
    if (this.#closed) subscriber.close();
    else this.#subscribers.add(subscriber);
    return stream;
  }
}

/**
 * A stream of parsed JSON values with `errors`, a side stream of the
 * messages that were not valid JSON (the main stream never errors for them).
 * Both streams end when the client is closed.
 */
export type JsonStream<T> = ReadableStream<T> & {
  /** Invalid messages, as typed errors. Holds at most 100 unread ones (oldest dropped). */
  readonly errors: ReadableStream<InvalidJsonError>;
};

/**
 * A bounded buffer exposed as a stream: pushing never waits, the oldest
 * unread item is dropped past `limit` (used for the JSON error side channel,
 * which nobody may be reading).
 *
 * @example
 * ```ts
 * import { DroppingBuffer } from "./message_streams.ts";
 *
 * const buffer = new DroppingBuffer<number>(2);
 * buffer.push(1); buffer.push(2); buffer.push(3);
 * const reader = buffer.stream.getReader();
 * console.assert((await reader.read()).value === 2);
 * ```
 */
export class DroppingBuffer<T> {
  /** The readable side. */
  readonly stream: ReadableStream<T>;
  #items: T[] = [];
  #limit: number;
  #wake: (() => void) | undefined;
  #closed = false;

  /** @param limit Most unread items kept. */
  constructor(limit: number) {
    this.#limit = limit;
    this.stream = new ReadableStream<T>({
      pull: async (controller) => {
        while (this.#items.length === 0 && !this.#closed) {
          await new Promise<void>((resolve) => (this.#wake = resolve));
        }
        if (this.#items.length > 0) controller.enqueue(this.#items.shift()!);
        else controller.close();
      },
      cancel: () => {
        this.#closed = true;
        this.#items = [];
      },
    }, { highWaterMark: 0 });
  }

  /** Adds an item, dropping the oldest unread one when full. */
  push(item: T): void {
    if (this.#closed) return;
    this.#items.push(item);
    if (this.#items.length > this.#limit) this.#items.shift();
    this.#wake?.();
  }

  /** Ends the stream after the buffered items. */
  close(): void {
    this.#closed = true;
    this.#wake?.();
  }
}
