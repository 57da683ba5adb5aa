/**
 * A server channel's transport straight over a `Deno.Conn`, without Web
 * Streams: the channel's {@linkcode ByteStreams.direct} reader and writer.
 * Reads use the same adaptive buffer as {@linkcode denoConnStreams} (1 KiB
 * while idle, doubling while reads fill it, up to 256 KiB); writes go to
 * `conn.write` in order. Saves the readable, the connection's writable and
 * their reader and writer per connection, and the promises each read and
 * write took through the stream machinery.
 *
 * @module
 */
import type { ByteReader, ByteStreams, ByteWriter } from "../channel/stream_channel_options.ts";
import type { Deferred } from "../_util/deferred.ts";
import { DirectTransport, readClosed, settleReadClosed } from "./socket_reader.ts";
import { JoinArena } from "./join_arena.ts";

/** Smallest read buffer: what an idle connection holds. */
const MIN_READ = 1024;
/** Largest read buffer, reached only while reads keep filling it. */
const MAX_READ = 256 * 1024;
/**
 * Small reads in a row before the buffer halves. Halving after one small read
 * made a peer whose messages are just over the buffer (1 KiB and a header)
 * oscillate: a full read doubled it, the few bytes left over halved it again,
 * and every message took two reads and a frame spanning them.
 */
const SHRINK_AFTER = 8;
/**
 * Past the smallest size, reads go into a slab this many times the read
 * size, one after another, so a read allocates (and zero-fills) nothing
 * until the slab is used up. A fresh buffer per read cost a zero-filled
 * allocation of the whole buffer each time, however few bytes came: with
 * 64 KiB messages the buffer sat at 256 KiB, and its allocation and the
 * garbage collections it caused were 19 % of the server's profile.
 */
const SLAB_READS = 4;
/** Largest slab: two reads at the largest size. */
const MAX_SLAB = 2 * MAX_READ;
/** A slab's rest shorter than the read size is read into if it holds this many times the last read. */
const REST_FACTOR = 1.25;

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
export function denoConnTransport(conn: DirectConn): ByteStreams {
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
class ConnIo implements ByteReader, ByteWriter {
  readonly #conn: DirectConn;
  /** Created when asked for: the channel never does (see `failsOnlyInRead`). */
  #closed: Deferred<void> | undefined;
  /** How reading ended, once it has: `{ error }` (undefined for EOF or a cancel). */
  #readEnd: { error: unknown } | undefined;
  #size = MIN_READ;
  /** The slab reads go into while the read size is past the smallest, and the bytes used in it. */
  #slab: Uint8Array | undefined;
  #slabUsed = 0;
  /** The buffer of reads at the smallest size, read into again and again. */
  #small: Uint8Array | undefined;
  /** Bytes the last read into the slab got. */
  #lastRead = 0;
  /** Reads in a row that used less than a quarter of the buffer. */
  #smallReads = 0;
  #cancelled = false;
  /** The last write queued: writes run one after another; a failure fails the later ones. */
  #tail: Promise<void> = RESOLVED;
  /** Writes queued and not finished: with none, a write starts at once. */
  #queued = 0;
  #writeFailure: { error: unknown } | undefined;

  constructor(conn: DirectConn) {
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
    const size = this.#size;
    const buffer = this.#buffer(size);
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
    if (size > MIN_READ) {
      this.#slabUsed += n;
      this.#lastRead = n;
    }
    if (n === size) {
      this.#smallReads = 0;
      if (size < MAX_READ) this.#size = size * 2;
    } else if (n >= size / 4 || n === buffer.length) this.#smallReads = 0;
    else if (size > MIN_READ && ++this.#smallReads >= SHRINK_AFTER) {
      this.#smallReads = 0;
      this.#size = size / 2;
    }
    // The smallest buffer is read into again: what came is copied out (a 20-byte
    // message then lives on the JavaScript heap, not in a buffer of 1 KiB of its own).
    if (size === MIN_READ) return { done: false, value: buffer.slice(0, n) };
    return { done: false, value: n === buffer.length ? buffer : buffer.subarray(0, n) };
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

  /**
   * Where the next read goes: the connection's own buffer of the smallest
   * size (what an idle connection holds; its bytes are copied out), else
   * the next `size` bytes of the slab, or its shorter rest (see
   * {@linkcode REST_FACTOR}), or a new slab.
   * Bytes handed out stay valid: no part of a slab is read into twice.
   */
  #buffer(size: number): Uint8Array {
    if (size === MIN_READ) {
      this.#slab = undefined;
      return this.#small ??= new Uint8Array(MIN_READ);
    }
    const slab = this.#slab;
    const used = this.#slabUsed;
    if (slab !== undefined) {
      const left = slab.byteLength - used;
      if (left >= size) return slab.subarray(used, used + size);
      // Short of the read size, the rest is still read into when it holds the
      // last read and a quarter more: past the size, the slab's end was left
      // unused, and with reads that take what the peer sent so far (less than
      // the size), slabs went in for 1.6 times the bytes read.
      if (left >= MIN_READ && left >= this.#lastRead * REST_FACTOR) return slab.subarray(used);
    }
    this.#slabUsed = 0;
    return (this.#slab = new Uint8Array(Math.min(size * SLAB_READS, MAX_SLAB))).subarray(0, size);
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
  }
}
