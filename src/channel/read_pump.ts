/**
 * The read side of a {@linkcode StreamChannel}: a pull-based loop over the
 * transport's reader that pauses while the application has too much unread
 * (so a slow reader of `stream` stops the reading of the socket, and the
 * peer's TCP window closes) or while too much of what we owe the peer waits
 * to be written (a peer that sends without reading stops being read), and
 * drains regardless once the channel is closing.
 *
 * @module
 */
import { type Deferred, deferred } from "../_util/deferred.ts";
import type { ByteReader } from "./stream_channel_options.ts";

/** What a {@linkcode ReadPump} reports to and asks of its channel. */
export interface ReadPumpHooks {
  /**
   * Takes one chunk from the transport; returns a promise when reading must
   * wait for it (an inflate, a failure waiting for the application's answers).
   */
  receive(chunk: Uint8Array): Promise<void> | undefined;
  /** Whether the application's unread messages reached the high-water mark. */
  full(): boolean;
  /**
   * A promise when the bytes waiting to be written passed their bound (it
   * settles once some were written; the loop then asks again), else `undefined`.
   */
  writing?(): Promise<unknown> | undefined;
  /** Whether the channel ended (reading stops, results are ignored). */
  ended(): boolean;
  /** The transport ended (EOF). */
  onEnd(): void;
  /** Reading failed (a reset, a broken pipe). */
  onError(error: unknown): void;
}

/**
 * Reads a transport into a channel, one chunk at a time.
 *
 * @example
 * ```ts
 * import { ReadPump } from "./read_pump.ts";
 *
 * const chunks: Uint8Array[] = [];
 * const readable = new ReadableStream<Uint8Array>({
 *   start(controller) {
 *     controller.enqueue(new Uint8Array([1]));
 *     controller.close();
 *   },
 * });
 * let ended!: () => void;
 * const done = new Promise<void>((resolve) => (ended = resolve));
 * const pump = new ReadPump({
 *   receive: (chunk) => void chunks.push(chunk),
 *   full: () => false,
 *   ended: () => false,
 *   onEnd: () => ended(),
 *   onError: () => {},
 * });
 * pump.start(readable.getReader());
 * await done;
 * console.assert(chunks.length === 1);
 * ```
 */
export class ReadPump {
  readonly #hooks: ReadPumpHooks;
  /** Read even though nobody pulls: a close is under way or the stream was cancelled. */
  #draining = false;
  #wake: Deferred<void> | undefined;

  /** @param hooks The channel's side of the loop. */
  constructor(hooks: ReadPumpHooks) {
    this.#hooks = hooks;
  }

  /**
   * Starts the loop; `head` holds bytes already read past the opening
   * handshake, handled before the first read.
   */
  start(reader: ByteReader, head?: Uint8Array): void {
    this.#run(reader, head);
  }

  /** From now on read without waiting for the application (closing, or `stream` cancelled). */
  drain(): void {
    this.#draining = true;
    this.wake();
  }

  /** The application took messages: a paused loop may read again. */
  wake(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.resolve();
  }

  async #run(reader: ByteReader, head?: Uint8Array): Promise<void> {
    const hooks = this.#hooks;
    try {
      if (head && head.byteLength > 0) {
        const pending = hooks.receive(head);
        if (pending) await pending;
      }
      while (!hooks.ended()) {
        if (!this.#draining && hooks.full()) {
          this.#wake = deferred<void>();
          await this.#wake.promise;
          continue;
        }
        const writing = this.#draining ? undefined : hooks.writing?.();
        if (writing !== undefined) {
          // drain() (closing) stops the wait too.
          const wake = this.#wake = deferred<void>();
          await Promise.race([writing.then(() => {}, () => {}), wake.promise]);
          if (this.#wake === wake) this.#wake = undefined;
          continue;
        }
        const { value, done } = await reader.read();
        if (hooks.ended()) return;
        if (done) return hooks.onEnd();
        const pending = hooks.receive(value);
        if (pending) await pending;
      }
    } catch (error) {
      hooks.onError(error);
    }
  }
}
