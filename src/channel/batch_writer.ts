/**
 * Writes the engine's outgoing bytes to a `WritableStream`, coalescing frame
 * headers, small payloads and several small frames into one write.
 *
 * @module
 */
import { concat } from "../_util/bytes.ts";
import { type Deferred, deferred, handled } from "../_util/deferred.ts";

/** Pieces smaller than this are copied together; larger ones are written as they are (no copy). */
const COPY_LIMIT = 16 * 1024;
/** A coalesced write never grows past this, to keep the copies cheap. */
const MERGE_LIMIT = 64 * 1024;

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
 * const batches = new BatchWriter(writer, () => pending.splice(0), () => {});
 * await batches.flush();
 * console.assert(written.length === 1 && written[0].length === 3); // header + payload, one write
 * ```
 */
export class BatchWriter {
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #take: () => Uint8Array[];
  readonly #onError: (error: unknown) => void;
  #next: Deferred<void> | undefined;
  #writing = false;
  #inFlight = 0;
  #failure: { error: unknown } | undefined;
  #idle: Deferred<void> | undefined;

  /**
   * @param writer Where the bytes go.
   * @param take Returns (and forgets) the bytes owed to the peer, in order.
   * @param onError Called once when a write fails.
   */
  constructor(
    writer: WritableStreamDefaultWriter<Uint8Array>,
    take: () => Uint8Array[],
    onError: (error: unknown) => void,
  ) {
    this.#writer = writer;
    this.#take = take;
    this.#onError = onError;
  }

  /** Bytes handed to the writer whose write has not completed yet. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /**
   * Writes everything `take()` returns now or by the time the current batch
   * completes. Resolves when those bytes were accepted; rejects if the write
   * failed. The promise is pre-marked handled, so callers may ignore it.
   */
  flush(): Promise<void> {
    if (this.#failure) return handled(Promise.reject(this.#failure.error));
    if (!this.#next) {
      this.#next = deferred<void>();
      handled(this.#next.promise);
    }
    const promise = this.#next.promise;
    if (!this.#writing) this.#pump();
    return promise;
  }

  /** Resolves once no write is in progress (or a write failed). */
  idle(): Promise<void> {
    if (!this.#writing) return Promise.resolve();
    this.#idle ??= deferred<void>();
    return this.#idle.promise;
  }

  async #pump(): Promise<void> {
    this.#writing = true;
    while (this.#next) {
      const batch = this.#next;
      this.#next = undefined;
      try {
        await this.#write(this.#take());
        batch.resolve();
      } catch (error) {
        this.#failure = { error };
        batch.reject(error);
        const waiting = this.#next as Deferred<void> | undefined;
        waiting?.reject(error);
        this.#next = undefined;
        this.#onError(error);
      }
    }
    this.#writing = false;
    this.#idle?.resolve();
    this.#idle = undefined;
  }

  async #write(chunks: Uint8Array[]): Promise<void> {
    let last: Promise<void> | undefined;
    let small: Uint8Array[] = [];
    let smallBytes = 0;
    let total = 0;
    const put = (bytes: Uint8Array) => {
      // The stream settles writes in order, so awaiting the last one is enough;
      // the others only need their rejections observed.
      if (last) handled(last);
      last = this.#writer.write(bytes);
    };
    const putSmall = () => {
      if (small.length === 0) return;
      put(small.length === 1 ? small[0] : concat(small, smallBytes));
      small = [];
      smallBytes = 0;
    };
    for (const chunk of chunks) {
      total += chunk.byteLength;
      if (chunk.byteLength >= COPY_LIMIT) {
        putSmall();
        put(chunk);
        continue;
      }
      if (smallBytes + chunk.byteLength > MERGE_LIMIT) putSmall();
      small.push(chunk);
      smallBytes += chunk.byteLength;
    }
    putSmall();
    if (!last) return;
    this.#inFlight += total;
    try {
      await last;
    } finally {
      this.#inFlight -= total;
    }
  }
}
