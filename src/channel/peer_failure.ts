/**
 * Failing a {@linkcode StreamChannel} after the peer broke the protocol (or
 * sent a message that does not inflate): the close goes out at once when
 * nothing received before the violation can still be answered, otherwise
 * after the application read those messages and reacted, within a bounded
 * {@linkcode ReplyWindow}.
 *
 * @module
 */
import type { ProtocolError } from "../engine/errors.ts";
import type { ProtocolEvent } from "../engine/protocol.ts";
import { ReplyWindow } from "./reply_window.ts";

/** What a {@linkcode PeerFailure} needs from its channel. */
export interface PeerFailureHost {
  /** Whether the channel already ended. */
  closed(): boolean;
  /** Whether received messages wait unread in `stream`. */
  unread(): boolean;
  /** Resolves once accepted sends reached the engine; `undefined` if none waits. */
  pending(): Promise<unknown> | undefined;
  /** The channel's close timeout (ms): the answers are waited for min(closeTimeout, 1 s). */
  readonly settings: { readonly closeTimeout: number };
  /** Records the close code and reason, and ends `stream` with `error` after its messages. */
  ending(error: ProtocolError, code: number, reason: string): void;
  /** Sends the close (the engine was failed) and shuts the connection down. */
  shutDown(error: ProtocolError, code: number, reason: string): void;
}

/**
 * The failure in progress of one channel (at most one).
 *
 * @example
 * ```ts
 * import { ProtocolError } from "@wsc/websocket-channel";
 * import { PeerFailure } from "./peer_failure.ts";
 *
 * const closes: number[] = [];
 * const failure = new PeerFailure({
 *   closed: () => false,
 *   unread: () => false,
 *   pending: () => undefined,
 *   settings: { closeTimeout: 1000 },
 *   ending: () => {},
 *   shutDown: (_error, code) => void closes.push(code),
 * });
 * failure.fail(new ProtocolError("WS_INVALID_UTF8", "bad", 1007), { reason: "", messagesBefore: false, failEngine: () => {} });
 * console.assert(closes[0] === 1007); // nothing to answer: closed at once
 * ```
 */
export class PeerFailure {
  readonly #host: PeerFailureHost;
  #window: ReplyWindow | undefined;

  /** @param host The channel. */
  constructor(host: PeerFailureHost) {
    this.#host = host;
  }

  /** A failure waits for the application's answers. */
  get active(): boolean {
    return this.#window !== undefined;
  }

  /**
   * Fails the connection with `error.closeCode`. When messages that arrived
   * before the violation may still be answered (`messagesBefore`: some came in
   * the same read; or some wait unread, or sends are being prepared), `stream`
   * ends at once (those messages first, then the error) but the close is sent
   * only after the application read them and reacted, within
   * min(timeout, 1 s). The returned promise holds the read loop meanwhile.
   *
   * @param error The violation.
   * @param how The close reason, whether data messages preceded the violation
   *   in the same read, and the call that queues the engine's close frame.
   */
  fail(
    error: ProtocolError,
    how: { reason: string; messagesBefore: boolean; failEngine: () => void },
  ): Promise<void> | undefined {
    const host = this.#host;
    if (host.closed() || this.#window) return undefined;
    const code = error.closeCode;
    if (!how.messagesBefore && !host.unread() && host.pending() === undefined) {
      how.failEngine();
      host.shutDown(error, code, how.reason);
      return undefined;
    }
    host.ending(error, code, how.reason);
    const window = new ReplyWindow({
      unread: () => host.unread(),
      pending: () => host.pending(),
    }, Math.min(host.settings.closeTimeout, 1000));
    this.#window = window;
    return window.done.then(() => {
      this.#window = undefined;
      if (host.closed()) return;
      how.failEngine();
      host.shutDown(error, code, how.reason);
    });
  }

  /**
   * The application took a message or dropped the stream; with `force`, it
   * closed the sink (it will not answer more).
   */
  taken(force = false): void {
    this.#window?.taken(force);
  }

  /** The connection ended otherwise: stop waiting. */
  end(): void {
    this.#window?.end();
  }
}

/** Whether a data message precedes `events[index]` (scanned only when a failure happens). */
export function hasMessageBefore(events: ProtocolEvent[], index: number): boolean {
  for (let i = 0; i < index; i++) {
    const type = events[i].type;
    if (type === "text" || type === "binary" || type === "compressed") return true;
  }
  return false;
}
