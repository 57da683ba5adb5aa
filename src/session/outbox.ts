/**
 * The session client's outbox: every send stays here, with its seq and
 * encoded frame, until the server settles it (ACK / REJECT), it times out,
 * or an overflow policy evicts it. Bounded by bytes and count.
 *
 * @module
 */
import type { Clock } from "../_util/clock.ts";
import type { OverflowPolicy } from "../client/offline_queue.ts";
import { SessionError } from "./errors.ts";

/** Bounds of the outbox. */
export interface OutboxOptions {
  /** Frame bytes the outbox may hold. @default {1048576} */
  maxBytes?: number;
  /** Messages the outbox may hold. @default {Infinity} */
  maxMessages?: number;
  /**
   * When full: `reject` the new send (`WS_SESSION_OUTBOX_FULL`), evict the
   * oldest (`drop-oldest`) or the new one (`drop-newest`), both rejecting
   * with `WS_SESSION_DROPPED`. @default {"reject"}
   */
  overflow?: OverflowPolicy;
}

/** One unsettled send. */
export interface OutboxEntry {
  readonly seq: number;
  readonly frame: Uint8Array;
  /** The connection (by number) it was last written on; 0: never. */
  sentOn: number;
  resolve(): void;
  reject(error: SessionError): void;
  /** When `ackTimeout` gives up on it (clock time). */
  readonly expiresAt: number;
}

/**
 * Unsettled sends in seq order.
 *
 * @example
 * ```ts
 * import { Outbox } from "./outbox.ts";
 * import { systemClock } from "@wsc/websocket-channel/client";
 *
 * const outbox = new Outbox(systemClock, Infinity, { maxMessages: 10 });
 * const sent = outbox.add(1, new Uint8Array([2, 1, 104]));
 * outbox.settleUpTo(1);
 * await sent;
 * console.assert(outbox.size === 0);
 * ```
 */
export class Outbox {
  readonly #entries: OutboxEntry[] = [];
  readonly #clock: Clock;
  readonly #ackTimeout: number;
  readonly #maxBytes: number;
  readonly #maxMessages: number;
  readonly #overflow: OverflowPolicy;
  #bytes = 0;
  #timer: unknown = undefined;

  /**
   * @param clock Timers for `ackTimeout`.
   * @param ackTimeout Milliseconds a send may wait to be settled.
   * @param options Bounds and overflow policy.
   */
  constructor(clock: Clock, ackTimeout: number, options: OutboxOptions = {}) {
    this.#clock = clock;
    this.#ackTimeout = ackTimeout;
    this.#maxBytes = options.maxBytes ?? 1024 * 1024;
    this.#maxMessages = options.maxMessages ?? Infinity;
    this.#overflow = options.overflow ?? "reject";
  }

  /** Unsettled sends. */
  get size(): number {
    return this.#entries.length;
  }

  /** Their frame bytes. */
  get bytes(): number {
    return this.#bytes;
  }

  /** The unsettled sends, oldest first (a copy). */
  entries(): OutboxEntry[] {
    return [...this.#entries];
  }

  /**
   * Adds a send; the promise settles with the server's answer or a typed
   * error. `onAdded` gets the entry when it was added (not on overflow).
   */
  add(seq: number, frame: Uint8Array, onAdded?: (entry: OutboxEntry) => void): Promise<void> {
    const size = frame.byteLength;
    if (size > this.#maxBytes || this.#maxMessages < 1) {
      return Promise.reject(
        new SessionError(
          "WS_SESSION_OUTBOX_FULL",
          `A message of ${size} bytes never fits the outbox`,
        ),
      );
    }
    while (this.#bytes + size > this.#maxBytes || this.#entries.length >= this.#maxMessages) {
      if (this.#overflow === "drop-oldest") {
        this.#remove(0).reject(
          new SessionError(
            "WS_SESSION_DROPPED",
            "Evicted from the full outbox before it was acknowledged",
          ),
        );
      } else {
        return Promise.reject(
          this.#overflow === "drop-newest"
            ? new SessionError(
              "WS_SESSION_DROPPED",
              "The outbox is full; the new message was dropped",
            )
            : new SessionError(
              "WS_SESSION_OUTBOX_FULL",
              `The outbox is full (${this.#entries.length} messages, ${this.#bytes} bytes)`,
            ),
        );
      }
    }
    return new Promise<void>((resolve, reject) => {
      const expiresAt = this.#clock.now() + this.#ackTimeout;
      const entry: OutboxEntry = { seq, frame, sentOn: 0, resolve, reject, expiresAt };
      this.#entries.push(entry);
      this.#bytes += size;
      this.#arm();
      onAdded?.(entry);
    });
  }

  /**
   * One timer for the oldest send (all wait the same `ackTimeout`, so the
   * oldest expires first); it is moved only when it fires or the outbox
   * empties, not on every acknowledgement.
   */
  #arm(): void {
    if (this.#timer !== undefined || !Number.isFinite(this.#ackTimeout)) return;
    if (this.#entries.length === 0) return;
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      const now = this.#clock.now();
      while (this.#entries.length > 0 && this.#entries[0].expiresAt <= now) {
        this.#remove(0).reject(
          new SessionError(
            "WS_SESSION_ACK_TIMEOUT",
            `No acknowledgement within ${this.#ackTimeout} ms; the server may still accept it`,
          ),
        );
      }
      this.#arm();
    }, Math.max(0, this.#entries[0].expiresAt - this.#clock.now()));
  }

  #disarmIfEmpty(): void {
    if (this.#entries.length > 0 || this.#timer === undefined) return;
    this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Resolves every send with a seq up to `seq` (an ACK, or the accepted seq of a WELCOME). */
  settleUpTo(seq: number): void {
    let count = 0;
    while (count < this.#entries.length && this.#entries[count].seq <= seq) count++;
    for (const entry of this.#take(count)) entry.resolve();
  }

  /** Rejects the send `seq` with `error` (a REJECT). */
  reject(seq: number, error: SessionError): void {
    const at = this.#entries.findIndex((entry) => entry.seq === seq);
    if (at >= 0) this.#remove(at).reject(error);
  }

  /** Rejects every send with `error`. */
  clear(error: SessionError): void {
    for (const entry of this.#take(this.#entries.length)) entry.reject(error);
  }

  #take(count: number): OutboxEntry[] {
    const taken = this.#entries.splice(0, count);
    for (const entry of taken) this.#bytes -= entry.frame.byteLength;
    this.#disarmIfEmpty();
    return taken;
  }

  #remove(at: number): OutboxEntry {
    const [entry] = this.#entries.splice(at, 1);
    this.#bytes -= entry.frame.byteLength;
    this.#disarmIfEmpty();
    return entry;
  }
}
