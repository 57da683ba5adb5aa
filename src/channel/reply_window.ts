/**
 * The short wait between detecting a peer's protocol violation and sending
 * our close, so that the application can answer the messages it received
 * before the violation (an echo server's echo goes out before the close, as
 * with ws or python-websockets, whose message handlers run synchronously).
 *
 * RFC 6455 §7.1.7: input stops at once ("MUST NOT continue to attempt to
 * process data"; the engine ignores it); only the sending of our close (which
 * the endpoint "SHOULD send ... before proceeding to _Close the WebSocket
 * Connection_") waits, and never longer than the deadline.
 *
 * @module
 */
import { type Deferred, deferred } from "../_util/deferred.ts";

/** What a {@linkcode ReplyWindow} watches. */
export interface ReplyWindowHooks {
  /** Whether received messages are still waiting unread in the channel's `stream`. */
  unread(): boolean;
  /** Resolves once every message accepted by the sink was handed to the engine; `undefined` if none waits. */
  pending(): Promise<unknown> | undefined;
}

/**
 * Resolves {@linkcode ReplyWindow.done} once the application has read every
 * message received before the failure, then one macrotask later (its
 * reaction to the last read — read → `sink.add` → engine — runs in
 * microtasks before that), then once pending sends reached the engine; or
 * after `timeout` ms, whichever comes first, so an application that does not
 * read cannot keep a failed connection open.
 *
 * @example
 * ```ts
 * import { ReplyWindow } from "./reply_window.ts";
 *
 * let unread = 1;
 * const window = new ReplyWindow({ unread: () => unread > 0, pending: () => undefined }, 1000);
 * unread = 0;
 * window.taken(); // the reader took the last message
 * await window.done; // one macrotask later
 * ```
 */
export class ReplyWindow {
  /** Resolves when the close may be sent; never rejects. */
  readonly done: Promise<void>;
  readonly #hooks: ReplyWindowHooks;
  readonly #done: Deferred<void> = deferred<void>();
  #deadline: ReturnType<typeof setTimeout> | undefined;
  #tick: ReturnType<typeof setTimeout> | undefined;
  #answering = false;

  /**
   * Opens the window; it may already be answering if nothing is unread.
   *
   * @param hooks The channel's unread messages and pending sends.
   * @param timeout Milliseconds after which the window ends regardless.
   */
  constructor(hooks: ReplyWindowHooks, timeout: number) {
    this.#hooks = hooks;
    this.done = this.#done.promise;
    this.#deadline = setTimeout(() => this.end(), timeout);
    this.taken();
  }

  /**
   * Call when the application took a message or dropped the stream. With
   * `force`, stops waiting for the reader (the application closed the sink:
   * it will not answer more).
   */
  taken(force = false): void {
    if (this.#answering || this.#done.settled) return;
    if (!force && this.#hooks.unread()) return;
    this.#answering = true;
    this.#tick = setTimeout(() => {
      this.#tick = undefined;
      const pending = this.#hooks.pending();
      if (pending === undefined) return this.end();
      pending.then(() => this.end(), () => this.end());
    }, 0);
  }

  /** Ends the window now (the deadline, or the connection ended otherwise); idempotent. */
  end(): void {
    if (this.#done.settled) return;
    clearTimeout(this.#deadline);
    clearTimeout(this.#tick);
    this.#deadline = this.#tick = undefined;
    this.#done.resolve();
  }
}
