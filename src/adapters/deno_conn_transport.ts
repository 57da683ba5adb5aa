/**
 * A channel's transport straight over a `Deno.Conn`, without Web
 * Streams: the channel's {@linkcode ByteStreams.direct} reader and writer.
 * Reads use the same adaptive buffer as {@linkcode denoConnStreams} (1 KiB
 * while idle, doubling while reads fill it, up to 256 KiB); writes go to
 * `conn.write` in order. Saves the readable, the connection's writable and
 * their reader and writer per connection, and the promises each read and
 * write took through the stream machinery. The channel takes the chunks in
 * push mode ({@linkcode ByteReader.attach}): one reaction to each
 * `conn.read`, no promise of a `read()` and no resumption of the channel's
 * read loop per chunk.
 *
 * @module
 */
import type { ByteReader, ByteWriter, ChunkTarget } from "../channel/stream_channel_options.ts";
import type { Deferred } from "../_util/deferred.ts";
import { DirectTransport, readClosed, settleReadClosed } from "./socket_reader.ts";
import { JoinArena } from "./join_arena.ts";
import { AdaptiveReads } from "./adaptive_reads.ts";

/**
 * `conn.write` has no vectored form: pieces written together are copied into
 * one write up to this many bytes in all. A frame's header written on its
 * own went out as a TCP segment of its own (no delay is set), a second
 * system call and a second wake-up of the peer per message. A 64 KiB
 * payload and its header fit: copying them into one write cost less than a
 * second write for all but the first 16 KiB (echoing 64 KiB messages, 1.15
 * times the messages per server CPU-second); joining up to 256 KiB did not
 * help (0.91).
 */
const JOIN_LIMIT = 64 * 1024 + 16;
/** A piece too large to join: this much of its start goes out with the pieces before it. */
const JOIN_HEAD = 16 * 1024;
/** Where joined writes copy their pieces, shared by every connection. */
const joinArena = new JoinArena();

/** Where a connection's writes start: one settled promise for all of them. */
const RESOLVED: Promise<void> = Promise.resolve();

const DONE: ReadableStreamReadResult<Uint8Array> = { done: true, value: undefined };

/** The part of `Deno.Conn` used here. */
export interface DirectConn {
  read(buffer: Uint8Array): Promise<number | null>;
  write(bytes: Uint8Array): Promise<number>;
  closeWrite(): Promise<void>;
  close(): void;
}

/**
 * Wraps a connection for a channel. Only {@linkcode ByteStreams.direct} is
 * usable: `readable` and `writable` throw (use `denoConnStreams` for Web
 * Streams).
 *
 * @example
 * ```ts ignore
 * import { denoConnTransport } from "./deno_conn_transport.ts";
 * import { serverOverStreams } from "@wsc/websocket-channel/engine";
 *
 * for await (const conn of Deno.listen({ port: 8080 })) {
 *   serverOverStreams(denoConnTransport(conn)).then(({ channel }) => channel.stream.pipeTo(channel.sink));
 * }
 * ```
 */
export function denoConnTransport(conn: DirectConn): DirectTransport {
  return new ConnTransport(conn);
}

/** A class rather than an object of closures: an idle connection keeps it. */
class ConnTransport extends DirectTransport {
  readonly #conn: DirectConn;
  #io: ConnIo | undefined;

  constructor(conn: DirectConn) {
    super();
    this.#conn = conn;
  }

  protected get streamsHint(): string {
    return "use direct() or denoConnStreams()";
  }

  close(): void {
    closeQuietly(this.#conn);
  }

  direct(): ConnIo {
    return this.#io ??= new ConnIo(this.#conn);
  }
}

function closeQuietly(conn: DirectConn): void {
  try {
    conn.close();
  } catch { /* already closed */ }
}

/** Reader and writer over one connection. */
class ConnIo extends AdaptiveReads implements ByteReader, ByteWriter {
  readonly #conn: DirectConn;
  /** Created when asked for: the channel never does (see `failsOnlyInRead`). */
  #closed: Deferred<void> | undefined;
  /** How reading ended, once it has: `{ error }` (undefined for EOF or a cancel). */
  #readEnd: { error: unknown } | undefined;
  #cancelled = false;
  /** The last write queued: writes run one after another; a failure fails the later ones. */
  #tail: Promise<void> = RESOLVED;
  /** Writes queued and not finished: with none, a write starts at once. */
  #queued = 0;
  #writeFailure: { error: unknown } | undefined;
  /** Push mode: where chunks go (see {@linkcode ConnIo.attach}). */
  #target: ChunkTarget | undefined;
  #paused = false;
  /** Push mode: a `conn.read` is under way, into this buffer (or the target's view). */
  #reading = false;
  #readBuffer: Uint8Array | undefined;
  #intoTarget = false;
  /** Push mode: what a read brought while paused (bytes, or a count in the target's view). */
  #held: Uint8Array | number | undefined;
  /** Push mode: the two reactions of every read, made once per connection. */
  #onRead: ((n: number | null) => void) | undefined;
  #onReadError: ((error: unknown) => void) | undefined;

  constructor(conn: DirectConn) {
    super();
    this.#conn = conn;
  }

  /**
   * A failure of the connection surfaces only in a `read()` (this reader
   * reads nothing while nobody asks): the channel need not watch `closed`,
   * which would cost a promise, its reactions and closures per connection.
   */
  get failsOnlyInRead(): boolean {
    return true;
  }

  /** Settles when reading ended: resolves at EOF or a cancel, rejects on failure (pre-marked handled). */
  get closed(): Promise<void> {
    return (this.#closed ??= readClosed(this.#readEnd)).promise;
  }

  get reader(): ByteReader {
    return this;
  }

  get writer(): ByteWriter {
    return this;
  }

  async read(): Promise<ReadableStreamReadResult<Uint8Array>> {
    if (this.#readEnd !== undefined) return DONE;
    const buffer = this.nextBuffer();
    let n: number | null;
    try {
      n = await this.#conn.read(buffer);
    } catch (error) {
      this.#readFailed(error);
      return DONE;
    }
    if (n === null) {
      this.#end(undefined);
      return DONE;
    }
    return { done: false, value: this.took(buffer, n) };
  }

  /**
   * Push mode: from now on reads run one after another while not paused,
   * each chunk handed to `target` as its read completes. Saves per read the
   * promise of `read()`, its result object and the channel's resumption
   * after it: one reaction to `conn.read`'s promise is all.
   */
  attach(target: ChunkTarget): void {
    this.#target = target;
    const end = this.#readEnd;
    if (end !== undefined) return end.error === undefined ? target.end() : target.fail(end.error);
    this.#onRead = (n) => this.#pushed(n);
    this.#onReadError = (error) => {
      this.#reading = false;
      // A read interrupted by our own cancel() is the end, already told.
      if (!this.#cancelled) this.#end(error);
    };
    this.#pull();
  }

  /** Push mode: no chunk is handed over until {@linkcode ConnIo.resume} (no read starts). */
  pause(): void {
    this.#paused = true;
  }

  /** Push mode: reads go on; a chunk held while paused is handed over first, never within this call. */
  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    const held = this.#held;
    if (held === undefined) return this.#pull();
    queueMicrotask(() => {
      if (this.#paused || this.#held !== held) return;
      this.#held = undefined;
      this.#handOver(held);
    });
  }

  /** Push mode: starts the next read unless one is under way, reading is paused or over. */
  #pull(): void {
    if (this.#reading || this.#paused || this.#readEnd !== undefined) return;
    const target = this.#target!.readTarget?.();
    const buffer = target ?? this.nextBuffer();
    this.#intoTarget = target !== undefined;
    this.#readBuffer = buffer;
    this.#reading = true;
    let read: Promise<number | null>;
    try {
      read = this.#conn.read(buffer);
    } catch (error) {
      return this.#onReadError!(error);
    }
    read.then(this.#onRead, this.#onReadError);
  }

  /** Push mode: a read completed. */
  #pushed(n: number | null): void {
    this.#reading = false;
    const buffer = this.#readBuffer!;
    this.#readBuffer = undefined;
    if (this.#readEnd !== undefined) return;
    if (n === null) return this.#end(undefined);
    const value = this.#intoTarget ? n : this.took(buffer, n);
    if (this.#paused) this.#held = value;
    else this.#handOver(value);
  }

  #handOver(value: Uint8Array | number): void {
    if (typeof value === "number") this.#target!.chunkInTarget!(value);
    else this.#target!.chunk(value);
    this.#pull();
  }

  /** Reads straight into the channel's buffer (the rest of a large payload): no copy. */
  async readInto(target: Uint8Array): Promise<number | null> {
    if (this.#readEnd !== undefined) return null;
    let n: number | null;
    try {
      n = await this.#conn.read(target);
    } catch (error) {
      this.#readFailed(error);
      return null;
    }
    if (n === null) this.#end(undefined);
    return n;
  }

  /**
   * A read rejected: one interrupted by our own cancel() is the end (the
   * caller returns it), anything else ends the reader and is thrown.
   */
  #readFailed(error: unknown): void {
    if (this.#cancelled) return;
    this.#end(error);
    throw error;
  }

  cancel(): Promise<void> {
    this.#cancelled = true;
    this.#end(undefined);
    closeQuietly(this.#conn);
    return Promise.resolve();
  }

  write(chunk: Uint8Array): Promise<void> {
    return this.#enqueue(chunk);
  }

  writeMany(chunks: Uint8Array[]): Promise<void> {
    return this.#enqueue(chunks.length === 1 ? chunks[0] : chunks);
  }

  /** Runs the write at once when none is queued, else after the last one. */
  #enqueue(bytes: Uint8Array | Uint8Array[]): Promise<void> {
    if (this.#writeFailure !== undefined) return Promise.reject(this.#writeFailure.error);
    const next = this.#queued++ !== 0
      ? this.#tail.then(() => this.#send(bytes))
      : bytes instanceof Uint8Array
      ? this.#start(bytes)
      : this.#send(bytes);
    this.#tail = next;
    return next;
  }

  /**
   * A write with none queued before it: straight to `conn.write`, whose
   * promise gets one reaction. Going through {@linkcode ConnIo.#send} cost
   * two async functions, their promises and resumptions per message.
   */
  #start(bytes: Uint8Array): Promise<void> {
    let written: Promise<number>;
    try {
      written = this.#conn.write(bytes);
    } catch (error) {
      return Promise.reject(this.#failed(error));
    }
    const length = bytes.byteLength;
    return written.then(
      // Only part taken: #send writes the rest and counts the write as done.
      (n) => n < length ? this.#send(bytes.subarray(n)) : this.#settled(),
      (error) => {
        throw this.#failed(error);
      },
    );
  }

  /** A write failed: the writes queued behind it never run and reject with its error, as every later one does. */
  #failed(error: unknown): unknown {
    this.#writeFailure ??= { error };
    this.#settled();
    return error;
  }

  /** A write is over. With none queued behind it, the next one starts from the shared settled promise. */
  #settled(): void {
    // An idle connection then keeps no promise of its last write (the 101's).
    if (--this.#queued === 0 && this.#writeFailure === undefined) this.#tail = RESOLVED;
  }

  async #send(bytes: Uint8Array | Uint8Array[]): Promise<void> {
    try {
      if (bytes instanceof Uint8Array) await this.#writeAll(bytes);
      else await this.#writeJoined(bytes);
    } catch (error) {
      throw this.#failed(error);
    }
    this.#settled();
  }

  close(): Promise<void> {
    const next = this.#tail.then(() => this.#conn.closeWrite()).catch(() => {});
    this.#tail = next;
    return next;
  }

  abort(): Promise<void> {
    closeQuietly(this.#conn);
    return Promise.resolve();
  }

  async #writeAll(chunk: Uint8Array): Promise<void> {
    // conn.write may take only part of the bytes.
    let written = 0;
    while (written < chunk.byteLength) {
      written += await this.#conn.write(written === 0 ? chunk : chunk.subarray(written));
    }
  }

  /**
   * Writes `chunks` in order in as few writes as {@linkcode JOIN_LIMIT}
   * allows: runs of pieces are copied together into a join buffer, and a
   * large piece after them lends its first {@linkcode JOIN_HEAD} bytes to
   * their write (a frame's header goes out with the start of its payload).
   */
  async #writeJoined(chunks: Uint8Array[]): Promise<void> {
    let total = 0;
    for (let i = 0; i < chunks.length; i++) total += chunks[i].byteLength;
    const lease = joinArena.take(Math.min(total, JOIN_LIMIT));
    const buffer = lease.bytes;
    try {
      let fill = 0;
      for (let i = 0; i < chunks.length; i++) {
        let chunk = chunks[i];
        if (fill + chunk.byteLength > JOIN_LIMIT) {
          if (fill > 0) {
            const take = Math.min(chunk.byteLength, Math.max(0, JOIN_HEAD - fill));
            buffer.set(chunk.subarray(0, take), fill);
            await this.#writeAll(buffer.subarray(0, fill + take));
            chunk = chunk.subarray(take);
            fill = 0;
          }
          if (chunk.byteLength > JOIN_LIMIT) {
            await this.#writeAll(chunk);
            continue;
          }
        }
        buffer.set(chunk, fill);
        fill += chunk.byteLength;
      }
      if (fill > 0) await this.#writeAll(buffer.subarray(0, fill));
    } finally {
      // The write is over (done or failed): the connection no longer reads the range.
      joinArena.give(lease);
    }
  }

  #end(error: unknown): void {
    if (this.#readEnd !== undefined) return;
    this.#readEnd = { error };
    settleReadClosed(this.#closed, error);
    const target = this.#target;
    if (target === undefined) return;
    this.#held = undefined;
    if (error === undefined) target.end();
    else target.fail(error);
  }
}
