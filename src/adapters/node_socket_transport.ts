/**
 * A channel's transport straight over a `node:net` socket, without
 * Web Streams: the channel's {@linkcode ByteStreams.direct} reader and writer.
 * The contract of {@linkcode socketStreams} (the socket pauses while 64 KiB
 * wait unread; writes in one microtask burst leave in one writev), except
 * that a write resolves at once while at most 64 KiB wait in the socket (not
 * only below Node's high-water mark), otherwise after `'drain'`; and
 * at a fraction of the cost: on Node 20 the two Web Streams and their
 * reader and writer were ~5 KiB of heap per idle connection, and every read
 * and write went through several promises of the stream machinery.
 *
 * @module
 */
import type { Socket } from "node:net";
import { nextTick } from "node:process";
import type { ByteReader, ByteWriter } from "../channel/stream_channel_options.ts";
import { type Deferred, deferred } from "../_util/deferred.ts";
import { installNodePayloadAllocator } from "./node_payload_allocator.ts";
import { DirectTransport, SocketReader } from "./socket_reader.ts";

/**
 * Bytes a write may leave buffered in the socket and still count as accepted.
 * Node keeps the written views (no copy) until they reach the kernel, so
 * the engine copies payloads of up to this size next to their header (see
 * `copyPayloadsUpTo`): a caller's buffer that is still in the socket after
 * its write resolved is never its own, and one that is not copied is longer
 * than this, so its write waits for `'drain'` (the socket emptied).
 * Node's own high-water mark for a socket is 16 KiB on Node 20: a 16 KiB
 * message with its frame header passed it on every write, and the promise of
 * each `'drain'` and its reactions were alive on every connection whenever
 * the young generation was collected (96 KB surviving each scavenge with 200
 * connections, against 6.5 KB without); V8 then grew the young generation and
 * ran a full collection every other scavenge. A write past this still waits
 * for `'drain'`, which Node then owes (the write returned false).
 */
const WRITE_HIGH_WATER = 64 * 1024;

/** With `corkLarge: false`, a burst of writes with a piece this large is not corked. */
const LARGE_PIECE = 64 * 1024;

/**
 * Payloads from this size on are not copied next to their header (see
 * `copyPayloadsUpTo`), and a burst with a piece this large is written at
 * once (corked around the calls when there are several), not gathered until
 * the end of the turn: larger pieces are never copied together anyway (see
 * `batch_writer.ts`).
 */
const WRITE_NOW_PIECE = 16 * 1024;

const RESOLVED = Promise.resolve();

/** Bun's `node:net`, whose cork copies (see `corkLarge`). */
const ON_BUN = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined";

/** Options of {@linkcode socketTransport}. */
export interface SocketTransportOptions {
  /**
   * Cork the socket for a burst of writes that holds a piece of 64 KiB or
   * more (a large payload after its header). Node gathers corked pieces into
   * one writev; Bun copies them into one buffer first, which cost more than
   * the extra write (writing a header and a 16 MiB payload: 7-11 ms of CPU
   * corked against 3.5-6 uncorked; 64 KiB: 0.05 against 0.02 ms), so it is
   * off on Bun. Bursts of small pieces are corked either way.
   * @default {true on Node, false on Bun}
   */
  corkLarge?: boolean;
}

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
export function socketTransport(
  socket: Socket,
  options: SocketTransportOptions = {},
): DirectTransport {
  installNodePayloadAllocator();
  return new SocketTransport(socket, options.corkLarge ?? !ON_BUN);
}

// A class, so a connection costs one object instead of an object and a closure per member.
class SocketTransport extends DirectTransport {
  readonly #socket: Socket;
  readonly #corkLarge: boolean;
  #io: SocketIo | undefined;

  constructor(socket: Socket, corkLarge: boolean) {
    super();
    this.#socket = socket;
    this.#corkLarge = corkLarge;
  }

  protected get streamsHint(): string {
    return "use direct() or socketStreams()";
  }

  close(): void {
    this.#socket.destroy();
  }

  direct(): { reader: ByteReader; writer: ByteWriter } {
    return this.#io ??= new SocketIo(this.#socket, this.#corkLarge);
  }
}

/** The socket's {@linkcode SocketIo}, for listeners shared by every socket. */
const IO = Symbol("websocket-channel.socketIo");
type SocketWithIo = Socket & { [IO]: SocketIo };

/** Reader and writer over one socket (one object: fewer allocations per connection). */
class SocketIo extends SocketReader implements ByteWriter {
  readonly #socket: Socket;
  #failure: Error | undefined;
  #drain: Deferred<void> | undefined;
  /** Settles once the socket wrote the caller's bytes it still held (see `copyPayloadsUpTo`). */
  #flush: Deferred<void> | undefined;
  /** Writes holding a caller's bytes whose callback has not come yet. */
  #callerWrites = 0;
  /** Their callback, made with the first such write. */
  #onCallerWritten: ((error?: Error | null) => void) | undefined;
  #corked = false;
  readonly #corkLarge: boolean;

  constructor(socket: Socket, corkLarge: boolean) {
    super();
    this.#socket = socket;
    this.#corkLarge = corkLarge;
    (socket as SocketWithIo)[IO] = this;
    socket.on("data", SocketIo.#onSocketData);
    socket.on("end", SocketIo.#onSocketEnd);
    socket.on("error", SocketIo.#onSocketError);
    socket.on("close", SocketIo.#onSocketClose);
    socket.on("drain", SocketIo.#onSocketDrain);
  }

  // Listeners shared by every socket (`this` is the socket): closures per
  // connection would cost a function and a scope each.
  static #onSocketData = function (this: SocketWithIo, chunk: Uint8Array): void {
    // A plain Uint8Array view of Node's fresh read buffer (no copy), never the Buffer itself.
    this[IO].received(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
  };

  static #onSocketEnd = function (this: SocketWithIo): void {
    this[IO].endRead(undefined);
  };

  static #onSocketError = function (this: SocketWithIo, error: Error): void {
    const io = this[IO];
    io.#failure = error;
    io.endRead(error);
    io.#rejectDrain(error);
  };

  static #onSocketClose = function (this: SocketWithIo): void {
    const io = this[IO];
    io.endRead(io.#failure);
    io.#rejectDrain(io.#failure ?? new Error("Socket closed"));
  };

  static #onSocketDrain = function (this: SocketWithIo): void {
    const io = this[IO];
    const drain = io.#drain;
    io.#drain = undefined;
    drain?.resolve();
  };

  get reader(): ByteReader {
    return this;
  }

  get writer(): ByteWriter {
    return this;
  }

  /**
   * Payloads shorter than {@linkcode WRITE_NOW_PIECE} are copied next to
   * their header; longer ones are written from the caller's bytes, at once,
   * and a write that leaves any of them in the socket (the kernel did not
   * take all) resolves only once Node wrote them: a caller that refills its
   * buffer once `sink.add()` resolved never changes bytes not yet sent.
   */
  get copyPayloadsUpTo(): number {
    return WRITE_NOW_PIECE - 1;
  }

  protected pauseSocket(): void {
    this.#socket.pause();
  }

  protected resumeSocket(): void {
    // Node hands over what it buffered in a later tick, never within this call.
    this.#socket.resume();
  }

  protected socketPaused(): boolean {
    return this.#socket.isPaused();
  }

  protected dropSocket(): void {
    this.#socket.destroy();
  }

  // ── writing ──────────────────────────────────────────────────────────

  write(chunk: Uint8Array): Promise<void> {
    const socket = this.#socket;
    if (this.#failure) return Promise.reject(this.#failure);
    if (socket.destroyed) return Promise.reject(new Error("Socket closed"));
    this.#cork();
    if (hasRoom(socket, socket.write(chunk)) && this.#drain === undefined) return RESOLVED;
    return this.#drained();
  }

  writeMany(chunks: Uint8Array[], last = false): Promise<void> | undefined {
    const socket = this.#socket;
    if (this.#failure) return Promise.reject(this.#failure);
    if (socket.destroyed) return Promise.reject(new Error("Socket closed"));
    let accepted = true;
    // Pieces this large are a caller's payload (shorter ones were copied; see copyPayloadsUpTo).
    const callers = hasPieceOf(chunks, WRITE_NOW_PIECE);
    const end = chunks.length - 1;
    if (callers && !this.#corked) {
      // A large message (its header and payload) leaves now as one writev: gathering it
      // with what the rest of this turn writes would save no system call, and the
      // gathering costs a tick and a closure per message.
      const cork = end > 0 && (this.#corkLarge || !hasPieceOf(chunks, LARGE_PIECE));
      if (cork) socket.cork();
      for (let i = 0; i < end; i++) socket.write(chunks[i]);
      accepted = socket.write(chunks[end], this.#callerWritten());
      if (cork) socket.uncork();
    } else {
      // One piece and nothing else to come this turn: corking would only add a tick.
      if ((!last || end > 0) && (this.#corkLarge || !hasPieceOf(chunks, LARGE_PIECE))) {
        this.#cork();
      }
      // The socket gathers the pieces into one writev when it uncorks: no copy here.
      for (let i = 0; i < end; i++) socket.write(chunks[i]);
      accepted = socket.write(chunks[end], callers ? this.#callerWritten() : undefined);
    }
    if (!hasRoom(socket, accepted) || this.#drain !== undefined) return this.#drained();
    // Most writes went to the kernel within the call; a caller's bytes still in the socket
    // are its own only once Node wrote them.
    if (callers && socket.writableLength > 0) return (this.#flush ??= deferred<void>()).promise;
    return undefined;
  }

  /** Counts a write holding a caller's bytes; returns the callback that uncounts it. */
  #callerWritten(): (error?: Error | null) => void {
    this.#callerWrites++;
    return this.#onCallerWritten ??= (error) => {
      this.#callerWrites--;
      const flush = this.#flush;
      if (flush === undefined) return;
      if (error) {
        this.#flush = undefined;
        flush.reject(error);
      } else if (this.#callerWrites === 0) {
        this.#flush = undefined;
        flush.resolve();
      }
    };
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
    return (this.#drain ??= deferred<void>()).promise;
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
    const drain = this.#drain, flush = this.#flush;
    this.#drain = this.#flush = undefined;
    drain?.reject(error);
    flush?.reject(error);
  }
}

/**
 * Whether writing may go on: the last write was below Node's high-water mark,
 * or what waits in the socket is within {@linkcode WRITE_HIGH_WATER} (Node
 * emits `'drain'` once it empties, since that write returned false).
 */
function hasRoom(socket: Socket, accepted: boolean): boolean {
  return accepted || socket.writableLength <= WRITE_HIGH_WATER;
}

function hasPieceOf(chunks: Uint8Array[], size: number): boolean {
  for (let i = 0; i < chunks.length; i++) if (chunks[i].byteLength >= size) return true;
  return false;
}
