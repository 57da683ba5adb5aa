/**
 * The reading half of the socket transports that are event-driven
 * underneath (a `node:net` socket, a `Bun.listen` socket): chunks arrive
 * through a callback, and the transport answers `read()` from them, or hands
 * them on at once in push mode ({@linkcode ByteReader.attach}). 64 KiB
 * waiting unread pause the socket until a read takes them.
 *
 * @module
 */
import { type Deferred, deferred, handled } from "../_util/deferred.ts";
import type {
  ByteReader,
  ByteStreams,
  ByteWriter,
  ChunkTarget,
} from "../channel/stream_channel_options.ts";

/** Bytes buffered unread before the socket is paused. */
const READ_HIGH_WATER = 64 * 1024;

const DONE: ReadableStreamReadResult<Uint8Array> = { done: true, value: undefined };
const RESOLVED = Promise.resolve();

/**
 * The shared reader; a transport extends it with its socket's pause, resume
 * and drop, and feeds it with {@linkcode SocketReader.received} and
 * {@linkcode SocketReader.endRead}.
 *
 * @example
 * ```ts ignore
 * class MyIo extends SocketReader {
 *   protected pauseSocket() { socket.pause(); }
 *   protected resumeSocket() { socket.resume(); }
 *   protected socketPaused() { return socket.isPaused(); }
 *   protected dropSocket() { socket.destroy(); }
 * }
 * ```
 */
export abstract class SocketReader implements ByteReader {
  /** Created when asked for (a channel in push mode never does). */
  #closed: Deferred<void> | undefined;
  /** How reading ended, once it has: `{ error }` (undefined for EOF). */
  #readEnd: { error: unknown } | undefined;
  /** Chunks waiting for `read()`; created for the first (an idle connection has none). */
  #chunks: Uint8Array[] | undefined;
  #bytes = 0;
  #waiting: ((result: ReadableStreamReadResult<Uint8Array>) => void) | undefined;
  #waitingFail: ((error: unknown) => void) | undefined;
  /** Push mode: where chunks go as they arrive (see {@linkcode ByteReader.attach}). */
  #target: ChunkTarget | undefined;
  /** Push mode: the target asked for a pause and did not resume yet. */
  #targetPaused = false;

  /** Stops the socket's reads. */
  protected abstract pauseSocket(): void;
  /** Lets the socket read again; what it held comes in a later callback, never within this call. */
  protected abstract resumeSocket(): void;
  /** Whether the socket's reads are stopped. */
  protected abstract socketPaused(): boolean;
  /** Drops the connection. */
  protected abstract dropSocket(): void;

  /** Whether reading ended (EOF, error or cancel). */
  protected get readDone(): boolean {
    return this.#readEnd !== undefined;
  }

  /** Settles when reading ended: resolves at EOF, rejects on failure (pre-marked handled). */
  get closed(): Promise<void> {
    return (this.#closed ??= readClosed(this.#readEnd)).promise;
  }

  read(): Promise<ReadableStreamReadResult<Uint8Array>> {
    const chunks = this.#chunks;
    if (chunks !== undefined && chunks.length > 0) {
      const value = chunks.shift()!;
      this.#bytes -= value.byteLength;
      if (this.#readEnd === undefined && this.#bytes < READ_HIGH_WATER && this.socketPaused()) {
        this.resumeSocket();
      }
      return Promise.resolve({ done: false, value });
    }
    const end = this.#readEnd;
    if (end !== undefined) {
      return end.error === undefined ? Promise.resolve(DONE) : Promise.reject(end.error);
    }
    if (this.socketPaused()) this.resumeSocket();
    return new Promise((resolve, reject) => {
      this.#waiting = resolve;
      this.#waitingFail = reject;
    });
  }

  attach(target: ChunkTarget): void {
    this.#target = target;
    // What came before (the channel opens after the upgrade) goes first, in order.
    const held = this.#chunks;
    this.#chunks = undefined;
    this.#bytes = 0;
    if (held !== undefined) { for (const chunk of held) target.chunk(chunk); }
    const end = this.#readEnd;
    if (end !== undefined) {
      if (end.error !== undefined) target.fail(end.error);
      else target.end();
    } else if (!this.#targetPaused && this.socketPaused()) {
      // Paused while 64 KiB waited for read() (a peer that sent right behind its
      // upgrade request): nothing would resume it in push mode.
      this.resumeSocket();
    }
  }

  pause(): void {
    this.#targetPaused = true;
    this.pauseSocket();
  }

  resume(): void {
    this.#targetPaused = false;
    if (this.#readEnd === undefined) this.resumeSocket();
  }

  cancel(): Promise<void> {
    this.#chunks = undefined;
    this.#bytes = 0;
    this.endRead(undefined);
    this.dropSocket();
    return RESOLVED;
  }

  /** A chunk from the socket (a plain `Uint8Array`, never kept by the socket). */
  protected received(value: Uint8Array): void {
    if (this.#readEnd !== undefined) return;
    if (this.#target !== undefined) return this.#target.chunk(value);
    const waiting = this.#waiting;
    if (waiting !== undefined) {
      this.#waiting = this.#waitingFail = undefined;
      waiting({ done: false, value });
      return;
    }
    (this.#chunks ??= []).push(value);
    this.#bytes += value.byteLength;
    if (this.#bytes >= READ_HIGH_WATER) this.pauseSocket();
  }

  /** Reading ended: EOF (`error` undefined) or a failure. Later calls do nothing. */
  protected endRead(error: unknown): void {
    if (this.#readEnd !== undefined) return;
    this.#readEnd = { error };
    if (error !== undefined) {
      // As an errored ReadableStream: unread chunks are discarded, reads reject.
      this.#chunks = undefined;
      this.#bytes = 0;
    }
    const waiting = this.#waiting, fail = this.#waitingFail;
    this.#waiting = this.#waitingFail = undefined;
    if (error !== undefined) fail?.(error);
    else waiting?.(DONE);
    const target = this.#target;
    if (target !== undefined) {
      if (error !== undefined) target.fail(error);
      else target.end();
    }
    settleReadClosed(this.#closed, error);
  }
}

/**
 * A reader's `closed`, made when first asked for (an idle connection keeps
 * no promise of it): settled at once when reading already ended (`end`),
 * pre-marked handled.
 */
export function readClosed(end: { error: unknown } | undefined): Deferred<void> {
  const closed = deferred<void>();
  handled(closed.promise);
  if (end !== undefined) settleReadClosed(closed, end.error);
  return closed;
}

/** Settles a reader's `closed` if it was made: resolved at EOF or a cancel, rejected on failure. */
export function settleReadClosed(closed: Deferred<void> | undefined, error: unknown): void {
  if (error === undefined) closed?.resolve();
  else closed?.reject(error);
}

/**
 * A socket transport with direct access only: `readable` and `writable`
 * throw, naming where Web Streams over the socket are to be had.
 *
 * @example
 * ```ts ignore
 * class MyTransport extends DirectTransport {
 *   protected readonly streamsHint = "use direct()";
 *   close() { socket.destroy(); }
 *   direct() { return io; }
 * }
 * ```
 */
export abstract class DirectTransport implements ByteStreams {
  /** What to use for Web Streams, in the error that `readable` and `writable` throw. */
  protected abstract get streamsHint(): string;

  get readable(): ReadableStream<Uint8Array> {
    throw new TypeError(`This socket transport has no Web Streams; ${this.streamsHint}`);
  }

  get writable(): WritableStream<Uint8Array> {
    throw new TypeError(`This socket transport has no Web Streams; ${this.streamsHint}`);
  }

  /** Drops the connection at once. */
  abstract close(): void;

  /** The transport's reader and writer. */
  abstract direct(): { reader: ByteReader; writer: ByteWriter };
}
