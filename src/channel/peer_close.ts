/**
 * Answering a peer's close frame on a {@linkcode StreamChannel}: our close
 * reply goes out at once when nothing received before the peer's close can
 * still be answered, otherwise after the application read those messages
 * and reacted, within a bounded {@linkcode ReplyWindow} (the mechanism that
 * also delays our close after a peer's violation).
 *
 * A client that writes a message and a close in one go thus gets the answer
 * to its message before our close, as from ws, whose message handlers run
 * synchronously. RFC 6455 §5.5.1: the endpoint SHOULD reply "as soon as
 * practical" and "MAY delay sending a Close frame until its current message
 * is sent". The wait is bounded in time (min(closeTimeout, 1 s)) and in bytes
 * (the channel ends it once its unwritten bytes pass `writableHighWaterMark`),
 * so a peer cannot hold a connection open or grow our buffers with it.
 *
 * @module
 */
import { ReplyWindow } from "./reply_window.ts";

/** What a {@linkcode PeerClose} needs from its channel. */
export interface PeerCloseHost {
  /** Whether the channel already ended. */
  closed(): boolean;
  /** Whether received messages wait unread in `stream`. */
  unread(): boolean;
  /** Resolves once accepted sends reached the engine; `undefined` if none waits. */
  pending(): Promise<unknown> | undefined;
  /** The channel's close timeout (ms): the answers are waited for min(closeTimeout, 1 s). */
  readonly settings: { readonly closeTimeout: number };
  /** Queues our close reply and goes on closing (runs at most once). */
  reply(): void;
}

/**
 * The peer's close of one channel, while our reply may wait.
 *
 * @example
 * ```ts
 * import { PeerClose } from "./peer_close.ts";
 *
 * let replied = 0;
 * const close = new PeerClose({
 *   closed: () => false,
 *   unread: () => false,
 *   pending: () => undefined,
 *   settings: { closeTimeout: 1000 },
 *   reply: () => void replied++,
 * });
 * console.assert(close.received(false) === undefined && replied === 1); // nothing to answer
 * ```
 */
export class PeerClose {
  readonly #host: PeerCloseHost;
  #window: ReplyWindow | undefined;
  #replied = false;

  /** @param host The channel. */
  constructor(host: PeerCloseHost) {
    this.#host = host;
  }

  /** The reply waits for the application's answers. */
  get active(): boolean {
    return this.#window !== undefined;
  }

  /**
   * The peer's close arrived. When messages that came before it may still be
   * answered (`messagesBefore`: some came in the same read; or some wait
   * unread, or sends are being prepared), the reply waits until the
   * application read them and reacted, within min(timeout, 1 s); otherwise it
   * is sent now. The returned promise holds the read loop meanwhile (the
   * engine takes no input after a close anyway).
   *
   * @param messagesBefore Whether data messages preceded the close in the same read.
   */
  received(messagesBefore: boolean): Promise<void> | undefined {
    const host = this.#host;
    if (this.#replied || this.#window) return undefined;
    if (!messagesBefore && !host.unread() && host.pending() === undefined) {
      this.replyNow();
      return undefined;
    }
    const window = new ReplyWindow({
      unread: () => host.unread(),
      pending: () => host.pending(),
    }, Math.min(host.settings.closeTimeout, 1000));
    this.#window = window;
    return window.done.then(() => this.replyNow());
  }

  /**
   * The application took a message or dropped the stream; with `force`, it
   * closed the sink (it will not answer more).
   */
  taken(force = false): void {
    this.#window?.taken(force);
  }

  /**
   * Sends the reply now, synchronously (the deadline, the byte bound, the
   * transport ended); idempotent, and a no-op once the channel ended.
   */
  replyNow(): void {
    const window = this.#window;
    this.#window = undefined;
    window?.end();
    if (this.#replied || this.#host.closed()) return;
    this.#replied = true;
    this.#host.reply();
  }
}
