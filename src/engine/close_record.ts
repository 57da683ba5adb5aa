/**
 * What the engine knows of a connection's close, in one place (as
 * python-websockets' protocol keeps `close_sent`, `close_rcvd` and derives
 * `close_code` from them): the close frame we sent, the peer's, a failure,
 * and whether the transport was lost. The channel above reads the code and
 * reason from here instead of keeping copies of its own.
 *
 * @module
 */

/** A close frame's code and reason (1005 and `""` for an empty body). */
export interface CloseFrameInfo {
  /** The status code. */
  readonly code: number;
  /** The reason, `""` when none. */
  readonly reason: string;
}

/**
 * The close frames of one connection and how it ended.
 *
 * @example We close, the peer answers
 * ```ts
 * import { CloseRecord } from "./close_record.ts";
 *
 * const record = new CloseRecord();
 * record.sent({ code: 4000, reason: "bye" });
 * console.assert(record.code === 4000 && !record.complete);
 * record.received({ code: 1000, reason: "" });
 * console.assert(record.complete && record.code === 4000); // ours came first
 * ```
 *
 * @example The transport is lost before the peer's close: 1006
 * ```ts
 * import { CloseRecord } from "./close_record.ts";
 *
 * const record = new CloseRecord();
 * record.sent({ code: 1000, reason: "" });
 * record.lost();
 * console.assert(record.code === 1006 && record.reason === "");
 * ```
 */
export class CloseRecord {
  #sent: CloseFrameInfo | undefined;
  #received: CloseFrameInfo | undefined;
  #first: CloseFrameInfo | undefined;
  #failed: CloseFrameInfo | undefined;
  /** Our first close frame was the failure's (not a close of ours queued before it). */
  #failureSent = false;
  #lost = false;

  /** Our close frame was queued. */
  sent(close: CloseFrameInfo): void {
    if (this.#sent === undefined && this.#failed !== undefined) this.#failureSent = true;
    this.#sent ??= close;
    this.#first ??= close;
  }

  /** The peer's close frame arrived. */
  received(close: CloseFrameInfo): void {
    this.#received ??= close;
    this.#first ??= close;
  }

  /** We failed the connection with this code (its close frame may come later or never). */
  failed(close: CloseFrameInfo): void {
    this.#failed ??= close;
  }

  /** The transport ended or was given up (EOF, a reset, the close timeout). */
  lost(): void {
    this.#lost = true;
  }

  /** Our close frame was queued. */
  get isSent(): boolean {
    return this.#sent !== undefined;
  }

  /** The peer's close frame arrived. */
  get isReceived(): boolean {
    return this.#received !== undefined;
  }

  /** Both close frames were exchanged. */
  get complete(): boolean {
    return this.#sent !== undefined && this.#received !== undefined;
  }

  /**
   * The code the connection closes with: 1006 when the transport was lost
   * before the close handshake completed (and before the close frame of a
   * failure of ours went out); else our failure's; else the first close of
   * either side; `undefined` before any of these.
   */
  get code(): number | undefined {
    return this.#outcome()?.code;
  }

  /** The reason that goes with {@linkcode CloseRecord.code}. */
  get reason(): string | undefined {
    return this.#outcome()?.reason;
  }

  #outcome(): CloseFrameInfo | undefined {
    // A failure whose close frame never went out ended abnormally too, also
    // when a close of ours went out before the failure.
    if (this.#lost && !this.complete && !this.#failureSent) return ABNORMAL;
    return this.#failed ?? this.#first;
  }
}

const ABNORMAL: CloseFrameInfo = { code: 1006, reason: "" };
