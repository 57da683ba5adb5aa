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
import type { ByteReader, ChunkTarget } from "./stream_channel_options.ts";

/** What a {@linkcode ReadPump} reports to and asks of its channel. */
export interface ReadPumpHooks {
  /**
   * Takes one chunk from the transport; returns a promise when reading must
   * wait for it (an inflate, a failure waiting for the application's answers).
   */
  receive(chunk: Uint8Array): Promise<void> | undefined;
  /**
   * Optional: where the next bytes may be read straight into (the rest of a
   * large payload), for a transport with {@linkcode ByteReader.readInto};
   * `undefined` for a plain read.
   */
  readTarget?(): Uint8Array | undefined;
  /** Takes `length` bytes read to the start of {@linkcode readTarget}'s view, as `receive` does a chunk. */
  receiveInTarget?(length: number): Promise<void> | undefined;
  /** Whether the application's unread messages reached the high-water mark. */
  full(): boolean;
  /**
   * A promise when the bytes waiting to be written passed their bound (it
   * settles once some were written; the loop then asks again), else `undefined`.
   */
  writing?(): Promise<unknown> | undefined;
  /** Whether the channel closed (reading stops, results are ignored). */
  closed(): boolean;
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
 *   closed: () => false,
 *   onEnd: () => ended(),
 *   onError: () => {},
 * });
 * pump.start(readable.getReader());
 * await done;
 * console.assert(chunks.length === 1);
 * ```
 */
export class ReadPump implements ChunkTarget {
  readonly #hooks: ReadPumpHooks;
  /** Read even though nobody pulls: a close is under way or the stream was cancelled. */
  #draining = false;
  #wake: Deferred<void> | undefined;
  /** Push mode: the transport, while it hands chunks to {@linkcode ReadPump.chunk}. */
  #pushing: ByteReader | undefined;
  /** Push mode: why the transport is paused (a `receive` under way, the application, writes). */
  #held: "receiving" | "full" | "writing" | undefined;
  /** Push mode: chunks that came while held (a transport may hand over one more). */
  #late: Uint8Array[] | undefined;
  #ended = false;

  /** @param hooks The channel's side of the loop. */
  constructor(hooks: ReadPumpHooks) {
    this.#hooks = hooks;
  }

  /**
   * Starts the loop; `head` holds bytes already read past the opening
   * handshake, handled before the first read.
   */
  start(reader: ByteReader, head?: Uint8Array): void {
    if (reader.attach === undefined) return void this.#run(reader, head);
    this.#pushing = reader;
    if (head && head.byteLength > 0) this.chunk(head);
    reader.attach(this);
  }

  // ── push mode: the transport calls these synchronously ──────────────────

  /** A chunk from a transport in push mode; see {@linkcode ByteReader.attach}. */
  chunk(value: Uint8Array): void {
    if (this.#ended || this.#hooks.closed()) return;
    if (this.#held !== undefined) {
      (this.#late ??= []).push(value);
      return;
    }
    this.#take(value);
  }

  /** The transport in push mode ended. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    // While held, the end comes after the chunks still held (see #release).
    if (this.#held === undefined && !this.#hooks.closed()) this.#hooks.onEnd();
  }

  /** Reading failed in push mode. */
  fail(error: unknown): void {
    this.#ended = true;
    this.#late = undefined;
    this.#hooks.onError(error);
  }

  /** Push mode: the rest of a large payload, for a transport that reads into a given view. */
  readTarget(): Uint8Array | undefined {
    if (this.#held !== undefined || this.#ended || this.#hooks.closed()) return undefined;
    return this.#hooks.readTarget?.();
  }

  /** Push mode: `length` bytes were read into the view of {@linkcode ReadPump.readTarget}. */
  chunkInTarget(length: number): void {
    if (this.#ended || this.#hooks.closed()) return;
    this.#received(this.#hooks.receiveInTarget!(length));
  }

  #take(value: Uint8Array): void {
    this.#received(this.#hooks.receive(value));
  }

  /** After a chunk: hold the transport while its receive is under way, else through the gate. */
  #received(pending: Promise<void> | undefined): void {
    if (pending === undefined) return this.#gate();
    this.#hold("receiving");
    pending.then(() => this.#release("receiving"), (error) => this.fail(error));
  }

  /** Pauses the transport while the application is full or writes are behind. */
  #gate(): void {
    const hooks = this.#hooks;
    if (this.#draining || hooks.closed()) return;
    if (hooks.full()) return this.#hold("full");
    const writing = hooks.writing?.();
    if (writing === undefined) return;
    this.#hold("writing");
    writing.then(() => this.#release("writing"), () => this.#release("writing"));
  }

  #hold(why: "receiving" | "full" | "writing"): void {
    if (this.#held === undefined) this.#pushing!.pause!();
    this.#held = why;
  }

  #release(why: "receiving" | "full" | "writing"): void {
    if (this.#held !== why) return;
    this.#held = undefined;
    const hooks = this.#hooks;
    // Chunks that came in while held go first, each through the gate again.
    const late = this.#late;
    while (late !== undefined && late.length > 0 && this.#held === undefined) {
      if (hooks.closed()) return;
      this.#take(late.shift()!);
    }
    if (this.#held !== undefined) return;
    this.#late = undefined;
    if (this.#ended) {
      if (!hooks.closed()) hooks.onEnd();
      return;
    }
    this.#gate();
    if (this.#held === undefined) this.#pushing!.resume!();
  }

  /** From now on read without waiting for the application (closing, or `stream` cancelled). */
  drain(): void {
    this.#draining = true;
    this.wake();
    // Writes behind no longer hold reading either (not from inside the caller's code).
    if (this.#held === "writing") queueMicrotask(() => this.#release("writing"));
  }

  /** The application took messages: a paused loop may read again. */
  wake(): void {
    if (this.#held === "full") {
      // Asynchronously: wake() comes from inside the application's read.
      // Asked again then: a second wake must not release a hold taken since (still full).
      if (this.#draining || !this.#hooks.full()) queueMicrotask(() => this.#releaseIfRoom());
      return;
    }
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.resolve();
  }

  #releaseIfRoom(): void {
    if (this.#draining || !this.#hooks.full()) this.#release("full");
  }

  async #run(reader: ByteReader, head?: Uint8Array): Promise<void> {
    const hooks = this.#hooks;
    try {
      if (head && head.byteLength > 0) {
        const pending = hooks.receive(head);
        if (pending) await pending;
      }
      while (!hooks.closed()) {
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
        const target = reader.readInto && hooks.readTarget?.();
        if (target) {
          const length = await reader.readInto!(target);
          if (hooks.closed()) return;
          if (length === null) return hooks.onEnd();
          const pending = hooks.receiveInTarget!(length);
          if (pending) await pending;
          continue;
        }
        const { value, done } = await reader.read();
        if (hooks.closed()) return;
        if (done) return hooks.onEnd();
        const pending = hooks.receive(value);
        if (pending) await pending;
      }
    } catch (error) {
      hooks.onError(error);
    }
  }
}
