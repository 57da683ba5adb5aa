/**
 * Options of the engine channel over a byte-stream pair.
 *
 * @module
 */
import type { Role } from "../engine/frame.ts";
import { DEFAULT_MAX_FRAGMENTS } from "../engine/message_assembler.ts";
import type { AnswerPingMessages } from "./ping_messages.ts";
import { checkNumberOption } from "../_util/option_checks.ts";
import type { MessageDeflate } from "./channel_types.ts";

/** A byte-stream pair, e.g. a TCP socket as Web Streams. */
export interface ByteStreams {
  /** Bytes from the peer. */
  readable: ReadableStream<Uint8Array>;
  /** Bytes to the peer. */
  writable: WritableStream<Uint8Array>;
  /**
   * Drops the connection at once. Optional, but give it when the transport has
   * one (closing a connection outright, a socket's `destroy`): aborting a `WritableStream`
   * waits for a write in progress, which never ends while the peer is not
   * reading, so only this can end such a connection on time.
   */
  close?(): void;
  /**
   * Optional direct access for transports that are not Web Streams
   * underneath (a Node socket): when given, the channel reads and writes
   * through the returned pair instead of `readable.getReader()` and
   * `writable.getWriter()`, and does not touch `readable` / `writable`. On
   * Node 20 every Web Stream costs ~2 KiB of heap and each read or write goes
   * through several promises of the stream machinery (heap snapshot and CPU
   * profile of bench/echo.ts); a socket adapter saves both.
   */
  direct?(): { reader: ByteReader; writer: ByteWriter };
}

/** The part of a `ReadableStreamDefaultReader` a channel uses. */
export interface ByteReader {
  /** The next chunk, `done` at the end; rejects when the transport failed. */
  read(): Promise<ReadableStreamReadResult<Uint8Array>>;
  /** Settles when the transport ended: resolves at the end, rejects on failure. */
  readonly closed: Promise<unknown>;
  /**
   * Optional: `true` when a failure of the transport surfaces only in a
   * pending or later `read()` (it reads nothing while nobody asks, so it
   * never fails unseen while the channel pauses reading). The channel then
   * does not watch `closed`, which costs a promise reaction and a closure
   * per connection.
   */
  readonly failsOnlyInRead?: boolean;
  /**
   * Optional: the longest received payload that, arriving whole in one
   * chunk, the engine should copy into a buffer of its own rather than hand
   * over as a view into the chunk (none if absent). For a runtime where the
   * first view of a fresh read costs more than copying a short payload (Bun:
   * JavaScriptCore makes the read's `ArrayBuffer` then).
   */
  readonly copyReceivedUpTo?: number;
  /** Stops reading and releases the transport. */
  cancel(reason?: unknown): Promise<void>;
  /**
   * Optional, for pull-based transports whose socket reads into a buffer the
   * caller gives: reads the next bytes straight into `target` (at most
   * its length) and resolves with their count, or `null` at the end; rejects
   * as `read()` does. The channel offers the rest of a large payload's own
   * buffer, saving the transport's buffer and a copy per read.
   */
  readInto?(target: Uint8Array): Promise<number | null>;
  /**
   * Optional push mode, for transports that are event-driven underneath (a
   * Node or Bun socket): from this call on the transport hands every chunk
   * to `target.chunk()` synchronously as it arrives, and its end to
   * `target.end()` or `target.fail()`, instead of answering `read()`. Saves
   * a promise and a task switch per chunk. Give `pause` and `resume` with it.
   */
  attach?(target: ChunkTarget): void;
  /** Push mode: hand over no chunk until `resume()` (the transport buffers and stops reading). */
  pause?(): void;
  /** Push mode: hand over chunks again, those held first (never within this call). */
  resume?(): void;
}

/** Where a transport in push mode delivers ({@linkcode ByteReader.attach}). */
export interface ChunkTarget {
  /** The next chunk, in order. */
  chunk(value: Uint8Array): void;
  /** The transport ended (EOF) after the last chunk. */
  end(): void;
  /** Reading failed (a reset, a broken pipe). */
  fail(error: unknown): void;
  /**
   * Optional, for a push-mode transport whose socket reads into a buffer it
   * gives (as {@linkcode ByteReader.readInto} in pull mode): asked before
   * each read, the view the next bytes may go straight into (the rest of a
   * large payload), or `undefined` for a read of the transport's own. Bytes
   * read there are handed over with {@linkcode ChunkTarget.chunkInTarget}.
   */
  readTarget?(): Uint8Array | undefined;
  /** `length` bytes were read to the start of the view {@linkcode ChunkTarget.readTarget} gave. */
  chunkInTarget?(length: number): void;
}

/** The part of a `WritableStreamDefaultWriter` a channel uses. */
export interface ByteWriter {
  /** Writes in order; resolves once the transport accepted the bytes. */
  write(chunk: Uint8Array): Promise<void>;
  /**
   * Optional, for transports that gather writes themselves (a Node socket's
   * `writev`): writes `chunks` in order without their being copied together
   * first, and returns `undefined` when the transport took them at once with
   * room to spare (nothing to wait for), else a promise as from `write()`.
   * Saves a copy and a promise per write on the per-message path. `last`:
   * no more writes are expected in this turn of the event loop, so there is
   * nothing to gather them with.
   */
  writeMany?(chunks: Uint8Array[], last?: boolean): Promise<void> | undefined;
  /**
   * Optional: the longest unmasked payload the engine should copy next to its
   * frame header (1 KiB if absent). A transport whose `writeMany` copies
   * small pieces into one buffer anyway asks for less: the frame then
   * holds no copy of its own.
   */
  readonly copyPayloadsUpTo?: number;
  /** Ends the writing half (FIN) after the queued bytes. */
  close(): Promise<void>;
  /** Drops the transport; queued bytes may be lost. */
  abort(reason?: unknown): Promise<void>;
}

/** Settings of a channel that do not depend on the opening handshake. */
export interface StreamChannelSettings {
  /** `"client"` masks what it sends; `"server"` expects masked frames. */
  role: Role;
  /**
   * Largest accepted message in bytes (after inflating); larger ones fail the
   * connection with 1009.
   * @default {67108864}
   */
  maxMessageSize?: number;
  /**
   * Most frames one received message may arrive in, empty ones included;
   * more fail the connection with 1008 (`WS_TOO_MANY_FRAGMENTS`).
   * @default {131072}
   */
  maxFragments?: number;
  /**
   * Milliseconds to wait for the peer's close frame (and, as a client, for
   * the server to close TCP, RFC 6455 §7.1.1) before dropping the transport.
   * @default {5000}
   */
  closeTimeout?: number;
  /**
   * Bytes of received messages queued in `stream` before the channel stops
   * reading its transport. Memory stays below this plus one message. Reading
   * also stops while more than this many bytes we owe the peer (answers,
   * pongs) wait to be written, so a peer that sends without reading cannot
   * make them grow without bound.
   * @default {1048576}
   */
  readableHighWaterMark?: number;
  /**
   * Bytes handed to the transport and not yet accepted before writes through
   * the `sink` stream (a writer or `pipeTo`) wait. `sink.add()` always waits
   * for its own bytes.
   * @default {65536}
   */
  writableHighWaterMark?: number;
  /**
   * Answer application-level ping messages (a browser client's heartbeat):
   * each received message equal to `ping` is answered with `pong` and not
   * delivered to `stream`. `true` means `{ ping: "ping", pong: "pong" }`.
   * @default {false}
   */
  answerPingMessages?: AnswerPingMessages;
}

/** What the opening handshake settled (all optional for a channel over ready streams). */
export interface StreamChannelOpening {
  /** The negotiated subprotocol. */
  protocol?: string;
  /** The negotiated `Sec-WebSocket-Extensions` value. */
  extensions?: string;
  /** The negotiated permessage-deflate, which compresses and inflates whole messages. */
  deflate?: MessageDeflate;
  /** Bytes already read from `readable` past the handshake. */
  head?: Uint8Array;
}

/** Options of {@linkcode fromStreams}. */
export interface StreamChannelOptions extends StreamChannelSettings, StreamChannelOpening {}

/**
 * Defaults of {@linkcode StreamChannelSettings}.
 *
 * @example
 * ```ts
 * import { STREAM_CHANNEL_DEFAULTS } from "./stream_channel_options.ts";
 *
 * console.assert(STREAM_CHANNEL_DEFAULTS.closeTimeout === 5000);
 * ```
 */
export const STREAM_CHANNEL_DEFAULTS = {
  maxMessageSize: 64 * 1024 * 1024,
  maxFragments: DEFAULT_MAX_FRAGMENTS,
  closeTimeout: 5000,
  readableHighWaterMark: 1024 * 1024,
  writableHighWaterMark: 64 * 1024,
};

/**
 * Settings with every default filled in (what a channel runs with).
 *
 * @example
 * ```ts
 * import { type ResolvedSettings, STREAM_CHANNEL_DEFAULTS } from "./stream_channel_options.ts";
 *
 * const settings: ResolvedSettings = { ...STREAM_CHANNEL_DEFAULTS, role: "server" };
 * console.assert(settings.closeTimeout === 5000);
 * ```
 */
export type ResolvedSettings = StreamChannelSettings & typeof STREAM_CHANNEL_DEFAULTS;

/**
 * Fills in the defaults of `settings`: an object of the same seven fields for
 * every channel (whatever else the caller's object holds, such as a server's
 * own options), so each connection keeps a small object of one shape.
 * Throws `TypeError` / `RangeError` for a high-water mark that is not a
 * number of at least 0.
 *
 * @example
 * ```ts
 * import { resolveSettings } from "./stream_channel_options.ts";
 *
 * const settings = resolveSettings({ role: "server", closeTimeout: undefined });
 * console.assert(settings.closeTimeout === 5000 && settings.role === "server");
 * ```
 */
export function resolveSettings(settings: StreamChannelSettings): ResolvedSettings {
  if (resolved.has(settings)) return settings as ResolvedSettings;
  // NaN would never stop reading: memory without bound.
  checkNumberOption("readableHighWaterMark", settings.readableHighWaterMark, { min: 0 });
  checkNumberOption("writableHighWaterMark", settings.writableHighWaterMark, { min: 0 });
  const d = STREAM_CHANNEL_DEFAULTS;
  return {
    role: settings.role,
    maxMessageSize: settings.maxMessageSize ?? d.maxMessageSize,
    maxFragments: settings.maxFragments ?? d.maxFragments,
    closeTimeout: settings.closeTimeout ?? d.closeTimeout,
    readableHighWaterMark: settings.readableHighWaterMark ?? d.readableHighWaterMark,
    writableHighWaterMark: settings.writableHighWaterMark ?? d.writableHighWaterMark,
    answerPingMessages: settings.answerPingMessages,
  };
}

/** Settings made by {@linkcode serverSettings}: taken as they are. */
const resolved = new WeakSet<object>();
/** Per server options object, the settings of its channels. */
const byServer = new WeakMap<object, ResolvedSettings>();

/**
 * The settings of every server channel made with `options` (a server's
 * options object): resolved once and shared by all its connections, frozen.
 * A different object (or a changed copy) gets settings of its own. Only the
 * channel's own settings are read (no spread of the rest: a server's options
 * hold much else).
 *
 * @example
 * ```ts
 * import { serverSettings } from "./stream_channel_options.ts";
 *
 * const options = { maxMessageSize: 1024 };
 * console.assert(serverSettings(options) === serverSettings(options));
 * console.assert(serverSettings(options).role === "server");
 * ```
 */
export function serverSettings(options: Omit<StreamChannelSettings, "role">): ResolvedSettings {
  let settings = byServer.get(options);
  if (settings === undefined) {
    settings = Object.freeze(resolveSettings({
      role: "server",
      maxMessageSize: options.maxMessageSize,
      maxFragments: options.maxFragments,
      closeTimeout: options.closeTimeout,
      readableHighWaterMark: options.readableHighWaterMark,
      writableHighWaterMark: options.writableHighWaterMark,
      answerPingMessages: options.answerPingMessages,
    }));
    resolved.add(settings);
    byServer.set(options, settings);
  }
  return settings;
}
