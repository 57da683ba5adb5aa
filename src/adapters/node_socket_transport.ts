/**
 * A server channel's transport straight over a `node:net` socket, without
 * Web Streams: the channel's {@linkcode ByteStreams.direct} reader and writer.
 * Same contract as {@linkcode socketStreams} (the socket pauses while 64 KiB
 * wait unread; a write resolves once Node accepted it below its high-water
 * mark, otherwise after `'drain'`; writes in one microtask burst leave in one
 * writev), at a fraction of the cost: on Node 20 the two Web Streams and their
 * reader and writer were ~5 KiB of heap per idle connection, and every read
 * and write went through several promises of the stream machinery.
 *
 * @module
 */
import type { Socket } from "node:net";
import { nextTick } from "node:process";
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
 * Wraps a connected socket for a channel. Only {@linkcode ByteStreams.direct}
 * is usable: `readable` and `writable` throw (use `socketStreams` for Web
 * Streams).
 *
 * @example
 * ```ts ignore
 * import { socketTransport } from "./node_socket_transport.ts";
 * import { StreamChannel } from "@wsc/websocket-channel/engine";
 *
 * const channel = new StreamChannel({ role: "server" });
 * channel.open(socketTransport(socket));
 * ```
 */
export function socketTransport(socket: Socket): ByteStreams {
  let io: SocketIo | undefined;
  return {
    get readable(): ReadableStream<Uint8Array> {
      throw new TypeError("socketTransport() has no Web Streams; use direct() or socketStreams()");
    },
    get writable(): WritableStream<Uint8Array> {
      throw new TypeError("socketTransport() has no Web Streams; use direct() or socketStreams()");
    },
    close: () => socket.destroy(),
    direct: () => (io ??= new SocketIo(socket)),
  };
}

/** Reader and writer over one socket (one object: fewer allocations per connection). */
class SocketIo implements ByteReader, ByteWriter {
  readonly #socket: Socket;
  readonly closed: Promise<void>;
  #settleClosed!: (error?: unknown) => void;
  #chunks: Uint8Array[] = [];
  #bytes = 0;
  #waiting: ((result: ReadableStreamReadResult<Uint8Array>) => void) | undefined;
  #waitingFail: ((error: unknown) => void) | undefined;
  /** Reading ended: EOF, error or cancel. */
  #readDone = false;
  #readError: unknown;
  #failure: Error | undefined;
  #drain: { promise: Promise<void>; resolve: () => void; reject: (e: unknown) => void } | undefined;
  #corked = false;
  /** Push mode: where chunks go as they arrive (see {@linkcode ByteReader.attach}). */
  #target: ChunkTarget | undefined;

  constructor(socket: Socket) {
    this.#socket = socket;
    this.closed = new Promise<void>((resolve, reject) => {
      this.#settleClosed = (error) => (error === undefined ? resolve() : reject(error));
    });
    // Observed by the channel; pre-marked so another user cannot crash the process with it.
    this.closed.catch(() => {});
    socket.on("data", (chunk: Uint8Array) => this.#onData(chunk));
    socket.on("end", () => this.#endRead(undefined));
    socket.on("error", (error: Error) => {
      this.#failure = error;
      this.#endRead(error);
      this.#rejectDrain(error);
    });
    socket.on("close", () => {
      this.#endRead(this.#failure);
      this.#rejectDrain(this.#failure ?? new Error("Socket closed"));
    });
    socket.on("drain", () => {
      const drain = this.#drain;
      this.#drain = undefined;
      drain?.resolve();
    });
  }

  get reader(): ByteReader {
    return this;
  }

  get writer(): ByteWriter {
    return this;
  }

  // ── reading ──────────────────────────────────────────────────────────

  read(): Promise<ReadableStreamReadResult<Uint8Array>> {
    if (this.#chunks.length > 0) {
      const value = this.#chunks.shift()!;
      this.#bytes -= value.byteLength;
      if (!this.#readDone && this.#bytes < READ_HIGH_WATER && this.#socket.isPaused()) {
        this.#socket.resume();
      }
      return Promise.resolve({ done: false, value });
    }
    if (this.#readError !== undefined) return Promise.reject(this.#readError);
    if (this.#readDone) return Promise.resolve(DONE);
    if (this.#socket.isPaused()) this.#socket.resume();
    return new Promise((resolve, reject) => {
      this.#waiting = resolve;
      this.#waitingFail = reject;
    });
  }

  attach(target: ChunkTarget): void {
    this.#target = target;
    // What came before (the channel opens after the upgrade) goes first, in order.
    const held = this.#chunks;
    this.#chunks = [];
    this.#bytes = 0;
    for (const chunk of held) target.chunk(chunk);
    if (this.#readDone) {
      if (this.#readError !== undefined) target.fail(this.#readError);
      else target.end();
    }
  }

  pause(): void {
    this.#socket.pause();
  }

  resume(): void {
    // Node hands over what it buffered in a later tick, never within this call.
    if (!this.#readDone) this.#socket.resume();
  }

  cancel(): Promise<void> {
    this.#chunks = [];
    this.#bytes = 0;
    this.#endRead(undefined);
    this.#socket.destroy();
    return RESOLVED;
  }

  #onData(chunk: Uint8Array): void {
    if (this.#readDone) return;
    // A plain Uint8Array view of Node's fresh read buffer (no copy), never the Buffer itself.
    const value = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (this.#target !== undefined) return this.#target.chunk(value);
    const waiting = this.#waiting;
    if (waiting !== undefined) {
      this.#waiting = this.#waitingFail = undefined;
      waiting({ done: false, value });
      return;
    }
    this.#chunks.push(value);
    this.#bytes += value.byteLength;
    if (this.#bytes >= READ_HIGH_WATER) this.#socket.pause();
  }

  #endRead(error: unknown): void {
    if (this.#readDone) return;
    this.#readDone = true;
    if (error !== undefined) {
      // As an errored ReadableStream: unread chunks are discarded, reads reject.
      this.#readError = error;
      this.#chunks = [];
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
    this.#settleClosed(error);
  }

  // ── writing ──────────────────────────────────────────────────────────

  write(chunk: Uint8Array): Promise<void> {
    const socket = this.#socket;
    if (this.#failure) return Promise.reject(this.#failure);
    if (socket.destroyed) return Promise.reject(new Error("Socket closed"));
    this.#cork();
    if (socket.write(chunk) && this.#drain === undefined) return RESOLVED;
    return this.#drained();
  }

  writeMany(chunks: Uint8Array[], last = false): Promise<void> | undefined {
    const socket = this.#socket;
    if (this.#failure) return Promise.reject(this.#failure);
    if (socket.destroyed) return Promise.reject(new Error("Socket closed"));
    // One piece and nothing else to come this turn: corking would only add a tick.
    if (!last || chunks.length > 1) this.#cork();
    // The socket gathers the pieces into one writev when it uncorks: no copy here.
    let room = true;
    for (let i = 0; i < chunks.length; i++) room = socket.write(chunks[i]);
    if (room && this.#drain === undefined) return undefined;
    return this.#drained();
  }

  #cork(): void {
    if (this.#corked) return;
    // One writev for the writes of this microtask burst (see socketStreams).
    this.#corked = true;
    const socket = this.#socket;
    socket.cork();
    nextTick(() => {
      this.#corked = false;
      socket.uncork();
    });
  }

  /** The promise of the next `drain` (the socket's buffer is past its high-water mark). */
  #drained(): Promise<void> {
    if (this.#drain === undefined) {
      let resolve!: () => void, reject!: (e: unknown) => void;
      const promise = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      this.#drain = { promise, resolve, reject };
    }
    return this.#drain.promise;
  }

  close(): Promise<void> {
    const socket = this.#socket;
    if (socket.destroyed || socket.writableEnded) return RESOLVED;
    return new Promise<void>((resolve) => {
      socket.end(resolve);
    });
  }

  abort(): Promise<void> {
    this.#socket.destroy();
    return RESOLVED;
  }

  #rejectDrain(error: unknown): void {
    const drain = this.#drain;
    this.#drain = undefined;
    drain?.reject(error);
  }
}
