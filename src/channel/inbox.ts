/**
 * Where a channel puts the messages it receives: handed synchronously to a
 * listener ({@linkcode Inbox.listen}, the per-message path with no promise
 * and no stream read), or read through a `ReadableStream` built on the same
 * queue ({@linkcode Inbox.stream}, created on first use). Messages that
 * arrive while nobody takes them wait here, counted in bytes, so the channel
 * knows when to stop reading its transport; an end (clean or an error) is
 * delivered only after every message received before it.
 *
 * @module
 */
import type { Message } from "./channel_types.ts";
import { InvalidStateError } from "./errors.ts";

/** `listen()` without options: one object for every channel. */
const NO_OPTIONS: ListenOptions = Object.freeze({});

/** Queue cost of a message: its size plus a little, so empty messages count too. */
export function messageCost(message: Message): number {
  return (typeof message === "string" ? message.length : message.byteLength) + 32;
}

/** Receives each message, synchronously, in order. */
export type MessageListener = (message: Message) => void;

/** How the end of the messages reaches a listener; see {@linkcode WebSocketChannel.listen}. */
export interface ListenOptions {
  /** The connection closed cleanly; called after the last message. */
  onDone?: () => void;
  /**
   * The connection ended uncleanly; called after the last message with the
   * error `stream` would error with (`ConnectionClosedError` 1006 for a lost
   * connection, the `ProtocolError` of a peer that broke the protocol).
   * Without it the error is not reported here; `closed` still says how the
   * connection ended.
   */
  onError?: (error: unknown) => void;
}

/**
 * A listener's hold on the messages of a channel (Dart's
 * `StreamSubscription`): pause and resume the delivery, or stop it.
 */
export interface MessageSubscription {
  /** Whether delivery is paused. */
  readonly isPaused: boolean;
  /**
   * Holds further messages until {@linkcode MessageSubscription.resume}.
   * Held messages count towards the channel's `readableHighWaterMark`:
   * past it the channel stops reading its transport, so a paused listener
   * slows the peer down instead of growing memory.
   */
  pause(): void;
  /** Delivers the held messages, then new ones as they arrive. */
  resume(): void;
  /**
   * Stops delivery for good; later messages are dropped. The connection
   * stays open (close the sink to close it), as after cancelling `stream`.
   */
  cancel(): void;
}

/** What an {@linkcode Inbox} tells its channel. */
export interface InboxHooks {
  /** Messages were taken or a reader waits: reading the transport may go on. */
  onSpace(): void;
  /** The reader cancelled: messages are dropped from now on. */
  onCancel(): void;
  /**
   * An exception thrown by an application's listener; by default rethrown
   * in a microtask (an uncaught error, as an event listener's would be).
   */
  report?(error: unknown): void;
}

const NO_HOOKS: InboxHooks = { onSpace() {}, onCancel() {} };

/** The message a `listen()` listener is being handed right now, if any. */
let delivering: Message | undefined;

/**
 * Whether `value` is the message a `listen()` listener is being handed at
 * this moment: one this library made (a string, or a `Uint8Array` over an
 * `ArrayBuffer` of its own), so sending it on needs no check. The check's
 * look at `view.buffer` would make, on JavaScriptCore, the `ArrayBuffer` of
 * a payload copied out of its read (0.3–0.6 µs), only to look at it.
 *
 * @example
 * ```ts
 * import { Inbox, isBeingDelivered } from "./inbox.ts";
 *
 * const inbox = new Inbox();
 * const seen: boolean[] = [];
 * inbox.listen((message) => seen.push(isBeingDelivered(message)));
 * inbox.push("a");
 * await Promise.resolve();
 * console.assert(seen.join() === "true" && !isBeingDelivered("a"));
 * ```
 */
export function isBeingDelivered(value: unknown): boolean {
  return value !== undefined && value === delivering;
}

function rethrow(error: unknown): void {
  queueMicrotask(() => {
    throw error;
  });
}

/**
 * The received messages of one channel, for one reader: a listener or the
 * stream, whichever comes first.
 *
 * @example A listener, paused and resumed
 * ```ts
 * import { Inbox } from "./inbox.ts";
 *
 * const inbox = new Inbox();
 * const seen: unknown[] = [];
 * const subscription = inbox.listen((message) => {
 *   seen.push(message);
 *   subscription.pause();
 * }, { onDone: () => seen.push("done") });
 * inbox.push("a");
 * inbox.push("b"); // held: the listener paused
 * inbox.close();
 * console.assert(seen.join() === "a");
 * subscription.resume(); // "b" is delivered, then the end
 * console.assert(seen.join() === "a,b,done");
 * ```
 *
 * @example The stream: messages before an error are read first
 * ```ts
 * import { Inbox } from "./inbox.ts";
 *
 * const inbox = new Inbox();
 * inbox.push("a");
 * inbox.error(new Error("lost"));
 * const reader = inbox.stream.getReader();
 * console.assert((await reader.read()).value === "a");
 * await reader.read().catch((error) => console.assert(error.message === "lost"));
 * ```
 */
export class Inbox {
  readonly #hooks: InboxHooks;
  /** Messages received and not yet delivered, from `#head`. */
  #items: Message[] | undefined;
  #head = 0;
  #bytes = 0;
  #listener: MessageListener | undefined;
  #options: ListenOptions | undefined;
  /** A reader (listener or stream) took the messages; a second one is refused. */
  #taken = false;
  #paused = false;
  /** `listen()` was called and its first delivery waits for a microtask. */
  #starting = false;
  /** The listener is the application's: its exceptions are reported, not thrown into the channel. */
  #guarded = false;
  #delivering = false;
  #end: { error: unknown } | "close" | undefined;
  /** The end was delivered or the reader cancelled. */
  #finished = false;
  #stream: ReadableStream<Message> | undefined;

  /** @param hooks What the channel is told; nothing by default. */
  constructor(hooks: InboxHooks = NO_HOOKS) {
    this.#hooks = hooks;
  }

  /** Bytes (with a small per-message cost) received and not yet delivered. */
  get bytes(): number {
    return this.#bytes;
  }

  /** `close()` or `error()` was called, or the reader cancelled: new messages are dropped. */
  get ended(): boolean {
    return this.#finished || this.#end !== undefined;
  }

  /** Adds a received message: delivered at once when the listener is ready, else held. */
  push(message: Message): void {
    if (this.ended) return;
    if (
      this.#listener !== undefined && !this.#paused && !this.#starting &&
      (this.#items === undefined || this.#head === this.#items.length) && !this.#delivering
    ) {
      // As #flush does: an end the listener causes (closing the sink) waits until it returns.
      this.#delivering = true;
      try {
        this.#call(message);
      } finally {
        this.#delivering = false;
      }
      if (this.#end !== undefined || this.#items !== undefined) this.#flush();
      return;
    }
    (this.#items ??= []).push(message);
    this.#bytes += messageCost(message);
  }

  /** Ends the messages once the held ones were delivered. */
  close(): void {
    if (this.ended) return;
    this.#end = "close";
    this.#flush();
  }

  /** Ends the messages with `error` once the held ones were delivered. */
  error(error: unknown): void {
    if (this.ended) return;
    this.#end = { error };
    this.#flush();
  }

  /**
   * Delivers every message to `listener`, synchronously as it arrives (those
   * already held: in a microtask, so the returned subscription exists by
   * then). An exception thrown by `listener` does not reach the channel: it
   * is rethrown in a microtask, as an event listener's would be.
   *
   * @throws {InvalidStateError} if `stream` or `listen()` was used before.
   */
  listen(listener: MessageListener, options: ListenOptions = NO_OPTIONS): MessageSubscription {
    if (typeof listener !== "function") {
      throw new TypeError(`listen() expects a function; got ${typeof listener}`);
    }
    this.#take("listen()");
    this.#listener = listener;
    this.#options = options;
    this.#guarded = true;
    this.#starting = true;
    queueMicrotask(() => {
      this.#starting = false;
      this.#resumed();
    });
    return new Subscription(this);
  }

  /**
   * The messages as a `ReadableStream`, one per chunk, created on first use.
   * Once `listen()` was used it returns a locked stream (it cannot be read).
   */
  get stream(): ReadableStream<Message> {
    if (this.#stream !== undefined) return this.#stream;
    if (this.#taken) {
      // Someone else reads the messages: a stream nobody can read, as a locked one.
      const locked = new ReadableStream<Message>();
      locked.getReader();
      return this.#stream = locked;
    }
    this.#take("stream");
    let controller!: ReadableStreamDefaultController<Message>;
    this.#listener = (message) => {
      controller.enqueue(message);
      // One message per read: the next waits here, counted, until the next pull.
      this.#paused = true;
    };
    this.#options = {
      onDone: () => controller.close(),
      onError: (error) => controller.error(error),
    };
    this.#paused = true;
    return this.#stream = new ReadableStream<Message>({
      start: (c) => void (controller = c),
      pull: () => {
        this.#paused = false;
        this.#resumed();
      },
      cancel: () => this.cancel(),
    }, { highWaterMark: 0 });
  }

  /** Whether the reader paused (or, for `stream`, has no read waiting). */
  get paused(): boolean {
    return this.#paused;
  }

  /** See {@linkcode MessageSubscription.pause}. */
  pause(): void {
    if (!this.#finished) this.#paused = true;
  }

  /** See {@linkcode MessageSubscription.resume}. */
  resume(): void {
    if (!this.#paused || this.#finished) return;
    this.#paused = false;
    if (!this.#starting) this.#resumed();
  }

  /** See {@linkcode MessageSubscription.cancel}. */
  cancel(): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#listener = undefined;
    this.#options = undefined;
    this.#items = undefined;
    this.#head = 0;
    this.#bytes = 0;
    this.#hooks.onCancel();
  }

  #take(by: string): void {
    if (this.#taken) {
      throw new InvalidStateError(
        `Cannot use ${by}: this channel's messages are already read through stream or listen()`,
      );
    }
    this.#taken = true;
  }

  /** The reader wants messages: held ones go first, then the transport may be read. */
  #resumed(): void {
    this.#flush();
    if (!this.#finished) this.#hooks.onSpace();
  }

  /** Delivers held messages while the listener takes them, then the end. */
  #flush(): void {
    if (this.#delivering || this.#listener === undefined) return;
    this.#delivering = true;
    try {
      const items = this.#items;
      while (items !== undefined && this.#head < items.length) {
        if (this.#paused || this.#starting || this.#finished) break;
        const message = items[this.#head];
        items[this.#head++] = "";
        this.#bytes -= messageCost(message);
        this.#call(message);
      }
      if (items !== undefined && this.#head === items.length) {
        this.#items = undefined;
        this.#head = 0;
      } else if (items !== undefined && this.#head > 1024 && this.#head * 2 > items.length) {
        this.#items = items.slice(this.#head);
        this.#head = 0;
      }
      if (
        this.#end !== undefined && !this.#paused && !this.#starting && !this.#finished &&
        this.#items === undefined
      ) {
        this.#settle();
      }
    } finally {
      this.#delivering = false;
    }
  }

  #call(message: Message): void {
    if (!this.#guarded) return this.#listener!(message);
    // Restored after: a listener may send to a channel that delivers at once (a pair in memory).
    const outer = delivering;
    delivering = message;
    try {
      this.#listener!(message);
    } catch (error) {
      (this.#hooks.report ?? rethrow)(error);
    } finally {
      delivering = outer;
    }
  }

  #settle(): void {
    this.#finished = true;
    const end = this.#end;
    const options = this.#options;
    this.#listener = undefined;
    this.#options = undefined;
    try {
      if (end === "close") options?.onDone?.();
      else options?.onError?.(end!.error);
    } catch (error) {
      if (this.#guarded) (this.#hooks.report ?? rethrow)(error);
    }
  }
}

class Subscription implements MessageSubscription {
  readonly #inbox: Inbox;

  constructor(inbox: Inbox) {
    this.#inbox = inbox;
  }

  get isPaused(): boolean {
    return this.#inbox.paused;
  }

  pause(): void {
    this.#inbox.pause();
  }

  resume(): void {
    this.#inbox.resume();
  }

  cancel(): void {
    this.#inbox.cancel();
  }
}
