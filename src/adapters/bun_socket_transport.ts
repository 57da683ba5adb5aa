/**
 * A server channel's transport straight over a `Bun.listen` socket: the
 * channel's {@linkcode ByteStreams.direct} reader (push mode, see
 * {@linkcode SocketReader}) and writer. One {@linkcode BunSocketIo} per
 * connection, kept in the socket's `data`; the listener's handlers
 * ({@linkcode bunSocketHandlers}) are shared by every socket.
 *
 * Writing: `socket.write()` takes what the kernel accepts and returns that
 * count, keeping nothing. The pieces written while the data handler runs, or
 * else within one microtask burst, go out together (Bun has no `writev`:
 * small pieces are copied into one buffer with the first 16 KiB of a large
 * piece after them; a burst holding a piece of 16 KiB or more is written at
 * once); what the socket did not take waits here, in order, and goes out
 * from the `drain` handler. While bytes wait, writes return the promise of
 * the drain that empties the queue, so the channel's sink backpressure
 * follows the socket's.
 *
 * @module
 */
import type { ByteReader, ByteStreams, ByteWriter } from "../channel/stream_channel_options.ts";
import { DirectTransport, SocketReader } from "./socket_reader.ts";

/** Pieces smaller than this are copied together into one write. */
const COPY_LIMIT = 16 * 1024;
/** A gathered write never grows past this. */
const MERGE_LIMIT = 64 * 1024;
/** Bytes gathered in one burst before they are written without waiting for its end. */
const FLUSH_NOW = 64 * 1024;

const RESOLVED = Promise.resolve();

/**
 * Where pieces are gathered for one write: `socket.write()` copies what it
 * takes before it returns, so one buffer serves every socket (no buffer,
 * no zero-filling per write); a remainder the kernel did not take is copied
 * out of it.
 */
const scratch = new Uint8Array(MERGE_LIMIT + COPY_LIMIT);

/** The part of a `Bun.listen` socket used here. */
export interface BunSocket {
  /** Per-socket state: the socket's {@linkcode BunSocketIo}. */
  data: BunSocketIo | undefined;
  /** Bytes the kernel took (possibly fewer than given), -1 once closed. */
  write(data: Uint8Array, byteOffset?: number, byteLength?: number): number;
  /** Sends FIN and closes the socket (what the kernel holds is still delivered). */
  end(): void;
  /** Half-closes: FIN, reading goes on. */
  shutdown(halfClose?: boolean): void;
  pause(): void;
  resume(): void;
  setNoDelay(noDelay?: boolean): boolean;
}

/** The `socket` handlers of `Bun.listen` (shared by every socket of the listener). */
export interface BunSocketHandlers {
  binaryType: "uint8array";
  open(socket: BunSocket): void;
  handshake?(socket: BunSocket, success: boolean, error: Error | null): void;
  data(socket: BunSocket, chunk: Uint8Array): void;
  drain(socket: BunSocket): void;
  end(socket: BunSocket): void;
  close(socket: BunSocket, error?: Error): void;
  error(socket: BunSocket, error: Error): void;
}

/** Sockets with bytes gathered in this burst, written in one microtask. */
let gathered: BunSocketIo[] = [];

function writeGathered(): void {
  const list = gathered;
  gathered = [];
  for (let i = 0; i < list.length; i++) list[i].flush();
}

/**
 * Reader and writer over one `Bun.listen` socket.
 *
 * @example
 * ```ts ignore
 * import { bunSocketHandlers } from "./bun_socket_transport.ts";
 * import { serverOverStreams } from "@wsc/websocket-channel/engine";
 *
 * Bun.listen({
 *   hostname: "127.0.0.1",
 *   port: 8080,
 *   allowHalfOpen: true,
 *   socket: bunSocketHandlers((io) => serverOverStreams(io.transport())),
 * });
 * ```
 */
export class BunSocketIo extends SocketReader implements ByteWriter {
  readonly socket: BunSocket;
  #paused = false;
  /** The socket closed (by either side): writes fail. */
  #gone = false;
  #failure: Error | undefined;
  /** Pieces not yet written, in order, from `#head` on. */
  #queue: Uint8Array[] | undefined;
  #head = 0;
  #queued = 0;
  /** The socket refused part of a write: the rest waits for `drain`. */
  #blocked = false;
  /** In the list of sockets written at the end of this burst. */
  #scheduled = false;
  /** Inside the data handler: writes wait for its end. */
  #inData = false;
  #drain: { promise: Promise<void>; resolve: () => void; reject: (e: unknown) => void } | undefined;
  /** `close()` asked for FIN once the queue is written. */
  #ending: (() => void) | undefined;
  /** A TLS handshake timer, until the handshake is done. */
  timer: ReturnType<typeof setTimeout> | undefined;

  /** @param socket The accepted socket; its `data` becomes this object. */
  constructor(socket: BunSocket) {
    super();
    this.socket = socket;
    socket.data = this;
  }

  /** The connection as a channel transport (direct access only). */
  transport(): ByteStreams {
    return new BunTransport(this);
  }

  get reader(): ByteReader {
    return this;
  }

  get writer(): ByteWriter {
    return this;
  }

  /**
   * Frames keep only payloads of up to 64 bytes next to their header; the
   * header and a longer payload are copied together into one write here
   * (see `flush`), so the engine's own copy, and a frame buffer per message,
   * are saved. Echo of 1 KiB messages (Go client, 100 connections, 8
   * interleaved rounds): 1.07 times the messages per server CPU-second of
   * the frames copied whole. Below 64 bytes the batch writer would join
   * header and payload in a buffer of their own.
   */
  get copyPayloadsUpTo(): number {
    return 64;
  }

  /**
   * Payloads of up to 512 bytes that arrive whole in one read are copied
   * out of it (see `FrameDecoderOptions.copyPayloadsUpTo`): the read is a
   * fresh `Uint8Array` with no `ArrayBuffer` yet, which JavaScriptCore makes
   * on the first view of it (`subarray` of a 26-byte read: about 0.35 µs,
   * the copy 0.05 µs). Echo in process (reads and writes without sockets,
   * `bench/peers/bun_path_probe.ts`), µs of CPU per message, views against
   * copies: 20 B 0.97 / 0.56, 120 B 1.0–1.1 / 0.57–0.70, 250 B 1.3–1.4 /
   * 0.67–0.82, 500 B 1.1–1.4 / 0.85, 900 B 1.3–1.5 / 1.3 (the byte loop
   * that unmasks the copy catches up); past 1,000 bytes a new array is
   * allocated outside the garbage-collected heap and the copy loses.
   */
  get copyReceivedUpTo(): number {
    return 512;
  }

  // ── the listener's handlers ──────────────────────────────────────────

  /** Bytes from the peer. */
  onData(chunk: Uint8Array): void {
    // What the channel writes while it handles the chunk (echoes, pongs) leaves
    // in one write when the handler returns, without waiting for a microtask.
    this.#inData = true;
    try {
      this.received(chunk);
    } finally {
      this.#inData = false;
    }
    if (this.#queue !== undefined && !this.#blocked) this.flush();
  }

  /** The peer's FIN. */
  onEnd(): void {
    this.endRead(undefined);
  }

  /** The socket closed, after `error` when it failed (a reset). */
  onClose(error: Error | undefined): void {
    this.#gone = true;
    // A TLS handshake cut short (by the peer, or a server closing) leaves no timer behind.
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const failure = this.#failure ??= error;
    this.#queue = undefined;
    this.#queued = 0;
    this.endRead(failure);
    this.#settleDrain(failure ?? new Error("Socket closed"));
    this.#ending?.();
  }

  /** A failure reported before the close. */
  onError(error: Error): void {
    this.#failure ??= error;
    this.endRead(error);
    this.#settleDrain(error);
  }

  /** The kernel takes bytes again. */
  onDrain(): void {
    this.#blocked = false;
    this.flush();
  }

  // ── reading ──────────────────────────────────────────────────────────

  protected pauseSocket(): void {
    if (this.#paused) return;
    this.#paused = true;
    this.socket.pause();
  }

  protected resumeSocket(): void {
    if (!this.#paused) return;
    this.#paused = false;
    // Bun hands over what it held from a later callback, never within this call.
    this.socket.resume();
  }

  protected socketPaused(): boolean {
    return this.#paused;
  }

  protected dropSocket(): void {
    this.drop();
  }

  /** Closes the socket at once; bytes still queued here are dropped. */
  drop(): void {
    if (this.#gone) return;
    this.#gone = true;
    this.#queue = undefined;
    this.#queued = 0;
    if (this.timer !== undefined) clearTimeout(this.timer);
    // Bun calls the close handler from inside end(): the channel hears of it
    // in a microtask, not from within its own call.
    queueMicrotask(() => this.socket.end());
  }

  // ── writing ──────────────────────────────────────────────────────────

  write(chunk: Uint8Array): Promise<void> {
    return this.writeMany([chunk]) ?? RESOLVED;
  }

  writeMany(chunks: Uint8Array[], last = false): Promise<void> | undefined {
    if (this.#failure) return Promise.reject(this.#failure);
    if (this.#gone || this.#ending) return Promise.reject(new Error("Socket closed"));
    const queue = this.#queue ??= [];
    let large = false;
    for (let i = 0; i < chunks.length; i++) {
      const size = chunks[i].byteLength;
      queue.push(chunks[i]);
      this.#queued += size;
      if (size >= COPY_LIMIT) large = true;
    }
    if (!this.#blocked) {
      if (last || large || this.#queued >= FLUSH_NOW) this.flush();
      else if (!this.#scheduled && !this.#inData) {
        this.#scheduled = true;
        if (gathered.push(this) === 1) queueMicrotask(writeGathered);
      }
    }
    if (this.#failure) return Promise.reject(this.#failure);
    return this.#blocked ? this.#drained() : undefined;
  }

  /** Writes what is queued until the socket refuses part of it. */
  flush(): void {
    this.#scheduled = false;
    const queue = this.#queue;
    if (queue === undefined || this.#blocked || this.#gone) return;
    while (this.#head < queue.length) {
      const first = queue[this.#head];
      let pieces = 1;
      /** Bytes of the large piece after the gathered ones that go into the same write. */
      let lent = 0;
      /** Bytes gathered into the scratch buffer, 0 when `first` is written as it is. */
      let gathered = 0;
      if (first.byteLength < COPY_LIMIT) {
        // Small pieces in a row go out as one buffer.
        let size = first.byteLength;
        while (this.#head + pieces < queue.length) {
          const next = queue[this.#head + pieces].byteLength;
          if (next >= COPY_LIMIT || size + next > MERGE_LIMIT) break;
          size += next;
          pieces++;
        }
        // A large piece next lends its start, so that the small ones (a frame's
        // header) do not leave as a TCP segment of their own.
        const after = queue[this.#head + pieces];
        if (after !== undefined && after.byteLength >= COPY_LIMIT) lent = COPY_LIMIT;
        if (pieces > 1 || lent > 0) gathered = gather(queue, this.#head, pieces, lent);
      }
      // The scratch buffer is written by offset and length: no view of it per write.
      const length = gathered > 0 ? gathered : first.byteLength;
      const written = gathered > 0
        ? this.socket.write(scratch, 0, gathered)
        : this.socket.write(first);
      if (written < 0) {
        this.#gone = true;
        this.#failure ??= new Error("Socket closed");
        this.#settleDrain(this.#failure);
        return;
      }
      this.#queued -= written;
      const lender = this.#head + pieces;
      if (written < length) {
        // The kernel is full: the rest goes out from the drain handler.
        const small = length - lent;
        if (written >= small) {
          this.#head = lender;
          queue[lender] = queue[lender].subarray(written - small);
        } else {
          if (lent > 0) queue[lender] = queue[lender].subarray(lent);
          this.#head = lender - 1;
          // Gathered pieces live in the shared scratch buffer: keep a copy of the rest.
          queue[this.#head] = gathered > 0
            ? scratch.slice(written, length)
            : first.subarray(written);
        }
        this.#blocked = true;
        return;
      }
      if (lent > 0 && lent < queue[lender].byteLength) {
        this.#head = lender;
        queue[lender] = queue[lender].subarray(lent);
      } else {
        // A lender gathered whole (a payload of exactly COPY_LIMIT bytes) is done with.
        this.#head = lent > 0 ? lender + 1 : lender;
      }
    }
    // All written: forget the pieces (an idle connection keeps no queue).
    this.#queue = undefined;
    this.#head = 0;
    this.#settleDrain(undefined);
    this.#ending?.();
  }

  /** The promise of the drain that empties the queue. */
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

  #settleDrain(error: unknown): void {
    const drain = this.#drain;
    this.#drain = undefined;
    if (drain === undefined) return;
    if (error === undefined) drain.resolve();
    else drain.reject(error);
  }

  close(): Promise<void> {
    if (this.#gone) return RESOLVED;
    if (this.#ending) return RESOLVED;
    return new Promise<void>((resolve) => {
      this.#ending = () => {
        this.#ending = undefined;
        // FIN after the queued bytes; reading goes on until the peer's FIN.
        if (!this.#gone) this.socket.shutdown();
        resolve();
      };
      if (this.#queue === undefined) this.#ending();
    });
  }

  abort(): Promise<void> {
    this.drop();
    return RESOLVED;
  }
}

/**
 * Copies `count` pieces of `queue` from `from` on, and the first `lent` bytes
 * of the piece after them, into the scratch buffer (valid until the next
 * call).
 *
 * @returns The number of bytes gathered.
 */
function gather(queue: Uint8Array[], from: number, count: number, lent: number): number {
  let offset = 0;
  for (let i = from; i < from + count; i++) {
    scratch.set(queue[i], offset);
    offset += queue[i].byteLength;
  }
  if (lent > 0) {
    const lender = queue[from + count];
    scratch.set(lent === lender.byteLength ? lender : lender.subarray(0, lent), offset);
    offset += lent;
  }
  return offset;
}

/** The connection's {@linkcode ByteStreams}: direct access only. */
class BunTransport extends DirectTransport {
  readonly #io: BunSocketIo;

  constructor(io: BunSocketIo) {
    super();
    this.#io = io;
  }

  protected get streamsHint(): string {
    return "use direct()";
  }

  close(): void {
    this.#io.drop();
  }

  direct(): { reader: ByteReader; writer: ByteWriter } {
    return this.#io;
  }
}

/**
 * The `socket` handlers for `Bun.listen`, shared by every socket: each
 * accepted socket gets its {@linkcode BunSocketIo} and goes to `accept`,
 * after its TLS handshake when `tls` is given (a handshake not done within
 * `tls.timeout` milliseconds closes the socket).
 *
 * @param accept Runs the connection (its handshake, then the channel).
 * @param tls The listener uses TLS, and how long its handshake may take.
 * @returns The handlers, for `Bun.listen({ socket })`.
 *
 * @example
 * ```ts ignore
 * const listener = Bun.listen({
 *   hostname: "127.0.0.1",
 *   port: 0,
 *   allowHalfOpen: true,
 *   socket: bunSocketHandlers((io) => serverOverStreams(io.transport())),
 * });
 * ```
 */
export function bunSocketHandlers(
  accept: (io: BunSocketIo) => void,
  tls?: { timeout: number },
): BunSocketHandlers {
  const handlers: BunSocketHandlers = {
    binaryType: "uint8array",
    open(socket) {
      const io = new BunSocketIo(socket);
      if (tls === undefined) return accept(io);
      io.timer = setTimeout(dropSocketIo, tls.timeout, io);
    },
    data: (socket, chunk) => socket.data?.onData(chunk),
    drain: (socket) => socket.data?.onDrain(),
    end: (socket) => socket.data?.onEnd(),
    close: (socket, error) => socket.data?.onClose(error),
    error: (socket, error) => socket.data?.onError(error),
  };
  if (tls !== undefined) {
    handlers.handshake = (socket, success) => {
      const io = socket.data;
      if (io === undefined || io.timer === undefined) return;
      clearTimeout(io.timer);
      io.timer = undefined;
      // A failed handshake: Bun closes the socket itself.
      if (success) accept(io);
    };
  }
  return handlers;
}

function dropSocketIo(io: BunSocketIo): void {
  io.timer = undefined;
  io.drop();
}
