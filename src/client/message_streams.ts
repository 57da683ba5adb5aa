/**
 * The readable sides of the client: any number of independent message
 * readers that survive reconnects, each with its own bounded buffer and
 * overflow policy, and the JSON stream with its side channel of parse errors.
 *
 * @module
 */
import { type Deferred, deferred } from "../_util/deferred.ts";
import { ClientError, InvalidJsonError } from "./errors.ts";
import { type Message, messageSize } from "./types.ts";

/**
 * What a message reader does when its buffer is full:
 *
 * - `"error"`: the reader gets what it had buffered, then its stream errors
 *   with a `ClientError` `WS_READER_OVERFLOW` (counted in
 *   `metrics().readerOverflows`); it is unsubscribed. Other
 *   readers and the connection go on. Nothing is lost silently.
 * - `"drop-oldest"`: the oldest unread message is discarded to make room
 *   (counted in `metrics().readerDroppedMessages`); the reader stays subscribed.
 * - `"wait"`: the client stops reading the connection until this reader
 *   catches up (backpressure to the peer). This holds back every other
 *   reader and `on("message")` listener too: use it for a single consumer
 *   that must see everything at its own pace.
 */
export type ReaderOverflow = "error" | "drop-oldest" | "wait";

/** The buffer of one message reader (`client.stream`, `client.messages()`, `client.json()`). */
export interface ReaderOptions {
  /** Unread messages the reader may hold. @default {1024} */
  limit?: number;
  /**
   * Unread payload bytes (UTF-8 for text) the reader may hold; a message
   * larger than this is still accepted into an empty buffer.
   * @default {16777216}
   */
  maxBytes?: number;
  /** What happens when the buffer is full; see {@linkcode ReaderOverflow}. @default {"error"} */
  overflow?: ReaderOverflow;
}

const DEFAULT_LIMIT = 1024;
/** Slots a reader's buffer keeps for reuse once it is empty (and read past before it compacts). */
const SLOTS_KEPT = 1024;
const DEFAULT_MAX_BYTES = 16 * 1024 * 1024;

/**
 * A bounded buffer exposed as a `ReadableStream`. Pushing never waits;
 * when full, `overflow` decides. The stream has no queue of its own
 * (high-water mark 0): every buffered item is counted here.
 *
 * @example
 * ```ts
 * import { BoundedReader } from "./message_streams.ts";
 *
 * const buffer = new BoundedReader<number>({ limit: 2, overflow: "drop-oldest" });
 * buffer.push(1, 1); buffer.push(2, 1); buffer.push(3, 1);
 * const reader = buffer.stream.getReader();
 * console.assert((await reader.read()).value === 2);
 * ```
 */
export class BoundedReader<T> {
  /** The readable side. */
  readonly stream: ReadableStream<T>;
  /** Unread items are `#items[#head]` to `#items[#tail - 1]`; slots are reused, not reallocated. */
  #items: (T | undefined)[] = [];
  #sizes: number[] = [];
  #head = 0;
  #tail = 0;
  #bytes = 0;
  readonly #limit: number;
  readonly #maxBytes: number;
  readonly #overflow: ReaderOverflow;
  #controller!: ReadableStreamDefaultController<T>;
  /** A read is waiting: the next item goes straight to it. */
  #pulling = false;
  /** Set once no item will be added: the stream ends (or errors) after the buffer. */
  #end: { error?: unknown } | undefined;
  #cancelled = false;
  #space: Deferred<void> | undefined;
  readonly #onCancel: (() => void) | undefined;

  /**
   * @param options The bounds and the overflow policy.
   * @param onCancel Called once when the reader cancels its stream.
   */
  constructor(options: ReaderOptions = {}, onCancel?: () => void) {
    this.#limit = Math.max(1, options.limit ?? DEFAULT_LIMIT);
    this.#maxBytes = Math.max(0, options.maxBytes ?? DEFAULT_MAX_BYTES);
    this.#overflow = options.overflow ?? "error";
    this.#onCancel = onCancel;
    this.stream = new ReadableStream<T>({
      start: (controller) => {
        this.#controller = controller;
      },
      pull: () => {
        if (this.length > 0) this.#controller.enqueue(this.#take());
        else if (this.#end) this.#finish();
        else this.#pulling = true;
      },
      cancel: () => {
        this.#cancelled = true;
        this.#end ??= {};
        this.#items = [];
        this.#sizes = [];
        this.#head = 0;
        this.#tail = 0;
        this.#bytes = 0;
        this.#release();
        this.#onCancel?.();
      },
    }, { highWaterMark: 0 });
  }

  /** Unread items. */
  get length(): number {
    return this.#tail - this.#head;
  }

  /**
   * Adds an item of `size` bytes. Returns how many older items `drop-oldest`
   * evicted for it, or `"overflow"` when the `error` policy ended the reader.
   */
  push(item: T, size: number): number | "overflow" {
    if (this.#end) return 0;
    if (this.#pulling) {
      this.#pulling = false;
      this.#controller.enqueue(item);
      return 0;
    }
    let dropped = 0;
    if (this.#full(size)) {
      if (this.#overflow === "error") {
        this.end(
          new ClientError(
            "WS_READER_OVERFLOW",
            `Message reader overflow: over ${this.#limit} messages or ${this.#maxBytes} bytes unread`,
          ),
        );
        return "overflow";
      }
      if (this.#overflow === "drop-oldest") {
        for (; this.length > 0 && this.#full(size); dropped++) this.#take();
      }
    }
    this.#items[this.#tail] = item;
    this.#sizes[this.#tail++] = size;
    this.#bytes += size;
    return dropped;
  }

  /** With the `wait` policy: a promise while the buffer is full, resolved when it has room. */
  space(): Promise<void> | undefined {
    if (this.#overflow !== "wait" || this.#end || !this.#full(0)) return undefined;
    this.#space ??= deferred();
    return this.#space.promise;
  }

  /** Ends the stream after the buffered items: it closes, or errors with `error`. */
  end(error?: unknown): void {
    if (this.#end) return;
    this.#end = error === undefined ? {} : { error };
    this.#release();
    if (this.#pulling && this.length === 0) {
      this.#pulling = false;
      this.#finish();
    }
  }

  #full(incoming: number): boolean {
    if (this.length === 0) return false;
    return this.length >= this.#limit || this.#bytes + incoming > this.#maxBytes;
  }

  #take(): T {
    const items = this.#items;
    const head = this.#head;
    const item = items[head] as T;
    items[head] = undefined;
    this.#bytes -= this.#sizes[head];
    if (head + 1 === this.#tail) {
      // Empty, a prompt reader's usual state: the slots are written again
      // from the start (no array per message), unless a burst made them many.
      this.#head = this.#tail = 0;
      if (items.length > SLOTS_KEPT) {
        this.#items = [];
        this.#sizes = [];
      }
    } else if (++this.#head > SLOTS_KEPT && this.#head * 2 >= this.#tail) {
      // Amortized O(1): the unread half moves to the front once it is the smaller one.
      const tail = this.#tail;
      items.copyWithin(0, this.#head, tail);
      this.#sizes.copyWithin(0, this.#head, tail);
      this.#tail = tail - this.#head;
      items.fill(undefined, this.#tail, tail);
      this.#head = 0;
    }
    if (this.#space && !this.#full(0)) this.#release();
    return item;
  }

  #release(): void {
    this.#space?.resolve();
    this.#space = undefined;
  }

  #finish(): void {
    if (this.#cancelled) return;
    const error = this.#end?.error;
    if (error === undefined) this.#controller.close();
    else this.#controller.error(error);
  }
}

/** A reader of a {@linkcode MessageFanout} and how it takes a message. */
interface Subscriber {
  readonly reader: BoundedReader<unknown>;
  readonly offer: (message: Message, size: number) => void;
}

/** Callbacks of {@linkcode MessageFanout} for what readers lose. */
export interface FanoutLosses {
  /** A `drop-oldest` reader discarded `count` unread messages. */
  dropped?(count: number): void;
  /** An `error` reader overflowed and was ended. */
  overflowed?(): void;
}

/**
 * Delivers every message to each subscribed reader, each with its own
 * bounded buffer; `deliver` waits only for readers with the `wait` policy.
 *
 * @example
 * ```ts
 * import { MessageFanout } from "./message_streams.ts";
 *
 * const fanout = new MessageFanout({ limit: 4 });
 * const a = fanout.messages().getReader();
 * const b = fanout.messages().getReader();
 * fanout.deliver("hello", 5);
 * console.assert((await a.read()).value === "hello" && (await b.read()).value === "hello");
 * ```
 */
export class MessageFanout {
  /**
   * Each reader and how it takes a message. Replaced, never changed in
   * place, so a reader that leaves during `deliver` does not disturb the loop.
   */
  #readers: readonly Subscriber[] = [];
  readonly #defaults: ReaderOptions;
  readonly #losses: FanoutLosses;
  #closed = false;

  /**
   * @param defaults The buffer of a reader created without options.
   * @param losses Told about messages readers lost to their overflow policy.
   */
  constructor(defaults: ReaderOptions = {}, losses: FanoutLosses = {}) {
    this.#defaults = defaults;
    this.#losses = losses;
  }

  /** How many readers are subscribed. */
  get size(): number {
    return this.#readers.length;
  }

  /** A new reader of every message from now on. */
  messages(options?: ReaderOptions): ReadableStream<Message> {
    return this.#subscribe<Message>(options, (reader, message, size) => reader.push(message, size));
  }

  /**
   * A new reader of parsed JSON values; text is parsed as is, binary is
   * decoded as UTF-8 first. Invalid JSON goes to `onError`, never into the
   * stream.
   */
  json<T>(onError: (error: InvalidJsonError) => void, options?: ReaderOptions): ReadableStream<T> {
    const decoder = new TextDecoder("utf-8", { fatal: true });
    return this.#subscribe<T>(options, (reader, message, size) => {
      let value: T;
      try {
        value = JSON.parse(typeof message === "string" ? message : decoder.decode(message)) as T;
      } catch (error) {
        onError(new InvalidJsonError(message, error));
        return 0;
      }
      return reader.push(value, size);
    });
  }

  /**
   * Hands `message` (`size` payload bytes) to every reader; returns a promise
   * when a reader with the `wait` policy is full, else `behind` when a reader
   * did not take the message at once (it has unread messages), else nothing.
   */
  deliver(
    message: Message,
    size = messageSize(message),
    behind?: Promise<void>,
  ): Promise<void> | undefined {
    const readers = this.#readers;
    let wait: Promise<void> | undefined;
    let waits: Promise<void>[] | undefined;
    let unread = false;
    for (let i = 0; i < readers.length; i++) {
      const { reader, offer } = readers[i];
      offer(message, size);
      const full = reader.space();
      if (!full) {
        unread ||= reader.length > 0;
        continue;
      }
      if (!wait) wait = full;
      else (waits ??= [wait]).push(full);
    }
    if (waits) return Promise.all(waits).then(() => {});
    if (wait || !behind) return wait;
    if (this.#readers === readers) return unread ? behind : undefined;
    // A reader overflowed and left during the loop: its leftovers hold nobody back.
    for (const { reader } of this.#readers) if (reader.length > 0) return behind;
    return undefined;
  }

  /** Ends every reader after what it has buffered (the client was closed). */
  close(): void {
    this.#closed = true;
    for (const { reader } of this.#readers) reader.end();
    this.#readers = [];
  }

  #subscribe<T>(
    options: ReaderOptions | undefined,
    push: (reader: BoundedReader<T>, message: Message, size: number) => number | "overflow",
  ): ReadableStream<T> {
    const reader: BoundedReader<T> = new BoundedReader<T>(
      { ...this.#defaults, ...options },
      () => this.#remove(reader),
    );
    if (this.#closed) {
      reader.end();
      return reader.stream;
    }
    const offer = (message: Message, size: number) => {
      const result = push(reader, message, size);
      if (result === "overflow") {
        this.#remove(reader);
        this.#losses.overflowed?.();
      } else if (result > 0) this.#losses.dropped?.(result);
    };
    this.#readers = [...this.#readers, { reader: reader as BoundedReader<unknown>, offer }];
    return reader.stream;
  }

  #remove(reader: object): void {
    this.#readers = this.#readers.filter((subscriber) => subscriber.reader !== reader);
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
