/**
 * Writes the engine's outgoing bytes to a `WritableStream`, coalescing frame
 * headers, small payloads and several small frames into one write.
 *
 * @module
 */
import { concat } from "../_util/bytes.ts";
import { ACCEPTED, type Deferred, deferred, handled } from "../_util/deferred.ts";
import type { ByteWriter } from "./stream_channel_options.ts";

/**
 * For a gathering transport, pieces smaller than this are still copied
 * together: a socket write costs more than copying a few hundred bytes
 * (fan-out of 20 B frames: 1.3 µs per delivery with a write each, 0.6 µs
 * merged), while 1 KiB frames were faster written separately.
 */
const GATHER_COPY_LIMIT = 1024;

/** Pieces smaller than this are copied together; larger ones are written as they are (no copy). */
const COPY_LIMIT = 16 * 1024;
/** A coalesced write never grows past this, to keep the copies cheap. */
const MERGE_LIMIT = 64 * 1024;

/** Where a {@linkcode BatchWriter} takes its bytes from and reports a failed write to. */
export interface BatchSource {
  /** Returns (and forgets) the bytes owed to the peer, in order. */
  takeOutgoing(): Uint8Array[];
  /**
   * Called once when a write fails, with the transport's own error (Deno's
   * `BrokenPipe`, Node's `EPIPE`, …). The error it returns, if any, is what
   * the failed write and every later flush reject with: the channel's typed
   * error, so no runtime error reaches its users.
   */
  writeFailed(error: unknown): Error | void;
}

/**
 * Drains a byte source into a writer, one write batch at a time: while one
 * batch is being written, new bytes accumulate and go out together next.
 *
 * @example
 * ```ts
 * import { BatchWriter } from "./batch_writer.ts";
 *
 * const written: Uint8Array[] = [];
 * const pending: Uint8Array[] = [new Uint8Array([0x81, 0x01]), new Uint8Array([0x61])];
 * const writer = new WritableStream<Uint8Array>({ write: (c) => void written.push(c) }).getWriter();
 * const batches = new BatchWriter(writer, { takeOutgoing: () => pending.splice(0), writeFailed: () => {} });
 * await batches.flush();
 * console.assert(written.length === 1 && written[0].length === 3); // header + payload, one write
 * ```
 */
export class BatchWriter {
  readonly #writer: ByteWriter;
  readonly #source: BatchSource;
  #next: Deferred<void> | undefined;
  /** Bytes were queued by kick(), which nobody awaits. */
  #wanted = false;
  #writing = false;
  #inFlight = 0;
  #failure: { error: unknown } | undefined;
  #idle: Deferred<void> | undefined;

  /**
   * @param writer Where the bytes go.
   * @param source Gives the bytes and hears of a failed write (a channel's
   * core: one object, no closures per connection).
   */
  constructor(writer: ByteWriter, source: BatchSource) {
    this.#writer = writer;
    this.#source = source;
  }

  /** Bytes handed to the writer whose write has not completed yet. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /**
   * Writes everything `take()` returns now or by the time the current batch
   * completes. Resolves when those bytes were accepted; rejects if the write
   * failed. The promise is pre-marked handled, so callers may ignore it. It
   * is {@linkcode ACCEPTED} itself when a gathering transport took the bytes
   * at once.
   */
  flush(): Promise<void> {
    if (this.#failure) return handled(Promise.reject(this.#failure.error));
    if (!this.#writing && this.#writer.writeMany !== undefined) {
      // Nothing in progress and a gathering transport: write now, no batch to wait for.
      return this.#writeNow() ?? ACCEPTED;
    }
    if (!this.#next) {
      this.#next = deferred<void>();
      handled(this.#next.promise);
    }
    const promise = this.#next.promise;
    if (!this.#writing) this.#pump();
    return promise;
  }

  /**
   * Starts writing what `take()` returns, as {@linkcode BatchWriter.flush}
   * does, without a promise for the caller: a fan-out queues one frame on
   * thousands of connections per message and waits for none of them. A
   * failed write still reaches `onError`.
   *
   * @param last Nothing more is expected for this connection in this turn of
   * the event loop (a transport may write at once instead of gathering).
   */
  kick(last = false): void {
    if (this.#failure) return;
    if (!this.#writing && this.#writer.writeMany !== undefined) {
      this.#writeNow(last);
      return;
    }
    this.#wanted = true;
    if (!this.#writing) this.#pump();
  }

  /**
   * Hands what `take()` returns to a gathering transport at once. Returns
   * `undefined` when it was taken without waiting, else a (handled) promise
   * of the write, which the pump follows up on.
   */
  #writeNow(last = false): Promise<void> | undefined {
    const chunks = mergeSmall(this.#source.takeOutgoing());
    if (chunks.length === 0) return undefined;
    let pending: Promise<void> | undefined;
    try {
      pending = this.#writer.writeMany!(chunks, last);
    } catch (error) {
      return handled(Promise.reject(this.#fail(error, undefined)));
    }
    if (pending === undefined) return undefined;
    this.#writing = true;
    let total = 0;
    for (let i = 0; i < chunks.length; i++) total += chunks[i].byteLength;
    this.#inFlight += total;
    const written = pending.then(
      () => {
        this.#inFlight -= total;
        this.#writing = false;
        if (this.#next || this.#wanted) this.#pump();
        else this.#settleIdle();
      },
      (error) => {
        this.#inFlight -= total;
        this.#writing = false;
        const failure = this.#fail(error, undefined);
        this.#settleIdle();
        throw failure;
      },
    );
    return handled(written);
  }

  /** Resolves once no write is in progress (or a write failed). */
  idle(): Promise<void> {
    if (!this.#writing) return Promise.resolve();
    this.#idle ??= deferred<void>();
    return this.#idle.promise;
  }

  async #pump(): Promise<void> {
    this.#writing = true;
    while (this.#next || this.#wanted) {
      const batch = this.#next;
      this.#next = undefined;
      this.#wanted = false;
      try {
        await this.#write(this.#source.takeOutgoing());
        batch?.resolve();
      } catch (error) {
        this.#fail(error, batch);
      }
    }
    this.#writing = false;
    this.#settleIdle();
  }

  /**
   * A write failed: `onError` hears it once, then it and every later flush
   * reject with what `onError` made of it. Returns that error.
   */
  #fail(error: unknown, batch: Deferred<void> | undefined): unknown {
    if (this.#failure) {
      batch?.reject(this.#failure.error);
      return this.#failure.error;
    }
    // Set before onError runs: a flush from inside it (the channel closing) fails at once.
    this.#failure = { error };
    const reported = this.#source.writeFailed(error);
    const failure = reported instanceof Error ? reported : error;
    this.#failure = { error: failure };
    batch?.reject(failure);
    const waiting = this.#next as Deferred<void> | undefined;
    waiting?.reject(failure);
    this.#next = undefined;
    this.#wanted = false;
    return failure;
  }

  #settleIdle(): void {
    this.#idle?.resolve();
    this.#idle = undefined;
  }

  async #write(chunks: Uint8Array[]): Promise<void> {
    // No closures or scratch arrays per batch: this runs once per echoed
    // message when messages arrive one per read.
    if (chunks.length === 0) return;
    if (this.#writer.writeMany !== undefined) {
      // The transport gathers the pieces itself: only small ones are copied together.
      chunks = mergeSmall(chunks);
      const pending = this.#writer.writeMany(chunks);
      if (pending === undefined) return;
      let bytes = 0;
      for (let i = 0; i < chunks.length; i++) bytes += chunks[i].byteLength;
      this.#inFlight += bytes;
      try {
        await pending;
      } finally {
        this.#inFlight -= bytes;
      }
      return;
    }
    let last: Promise<void> | undefined;
    let total = 0;
    if (chunks.length === 1) {
      total = chunks[0].byteLength;
      last = this.#writer.write(chunks[0]);
    } else {
      let from = 0;
      let smallBytes = 0;
      for (let i = 0; i < chunks.length; i++) {
        const size = chunks[i].byteLength;
        total += size;
        if (size < COPY_LIMIT && smallBytes + size <= MERGE_LIMIT) {
          smallBytes += size;
          continue;
        }
        // chunks[from..i) are small and go out merged, before chunks[i].
        if (i > from) last = this.#put(chunks, from, i, smallBytes, last);
        if (size >= COPY_LIMIT) {
          last = this.#put(chunks, i, i + 1, size, last);
          from = i + 1;
          smallBytes = 0;
        } else {
          from = i;
          smallBytes = size;
        }
      }
      if (chunks.length > from) last = this.#put(chunks, from, chunks.length, smallBytes, last);
    }
    this.#inFlight += total;
    try {
      await last;
    } finally {
      this.#inFlight -= total;
    }
  }

  /** Writes chunks[from..to) as one write (copied together when several). */
  #put(
    chunks: Uint8Array[],
    from: number,
    to: number,
    bytes: number,
    previous: Promise<void> | undefined,
  ): Promise<void> {
    // The stream settles writes in order, so awaiting the last one is enough;
    // the others only need their rejections observed.
    if (previous) handled(previous);
    return this.#writer.write(
      to - from === 1 ? chunks[from] : concat(chunks.slice(from, to), bytes),
    );
  }
}

/** Copies each run of consecutive small pieces into one (larger pieces pass by reference). */
function mergeSmall(chunks: Uint8Array[]): Uint8Array[] {
  if (chunks.length < 2) return chunks;
  let out: Uint8Array[] | undefined;
  let from = 0;
  let bytes = 0;
  for (let i = 0; i <= chunks.length; i++) {
    const size = i < chunks.length ? chunks[i].byteLength : Infinity;
    if (size < GATHER_COPY_LIMIT && bytes + size <= MERGE_LIMIT) {
      bytes += size;
      continue;
    }
    // chunks[from..i) are small: one piece if more than one.
    if (i - from > 1) {
      out ??= chunks.slice(0, from);
      out.push(concat(chunks.slice(from, i), bytes));
    } else if (out !== undefined && i > from) out.push(chunks[from]);
    if (i < chunks.length && size >= GATHER_COPY_LIMIT) {
      if (out !== undefined) out.push(chunks[i]);
      from = i + 1;
      bytes = 0;
    } else {
      from = i;
      bytes = size;
    }
  }
  return out ?? chunks;
}
