/**
 * The engine {@linkcode Protocol} driven over a `{ readable, writable }` byte
 * stream pair: a pull-based read loop (a slow reader of `stream` stops the
 * reading of the transport), batched writes, the close handshake with a
 * timeout, and pings with round-trip times.
 *
 * @module
 */
import { Protocol } from "../engine/protocol.ts";
import { isValidWireCloseCode } from "../engine/close_code.ts";
import { handled } from "../_util/deferred.ts";
import { asBytes } from "../_util/bytes.ts";
import { checkSendable } from "../_util/sendable.ts";
import { ChannelCore } from "./channel_core.ts";
import { createSink, type SinkHandle } from "./channel_sink.ts";
import {
  CHANNEL_INTERNALS,
  type ChannelInternals,
  CLOSE_WATCH,
  type CloseWatcher,
  offerAllowed,
} from "./channel_internals.ts";
import { ChannelReceiver } from "./channel_receiver.ts";
import { InvalidStateError } from "./errors.ts";
import { isBeingDelivered, type ListenOptions, type MessageSubscription } from "./inbox.ts";
import { pingAnswerer } from "./ping_messages.ts";
import { PingTracker } from "./ping_tracker.ts";
import {
  type ByteReader,
  type ByteStreams,
  type ByteWriter,
  resolveSettings,
  type StreamChannelOpening,
  type StreamChannelOptions,
  type StreamChannelSettings,
} from "./stream_channel_options.ts";
import type { CloseInfo, Message, Sendable, WebSocketSink } from "./channel_types.ts";

export type {
  ByteStreams,
  StreamChannelOpening,
  StreamChannelOptions,
  StreamChannelSettings,
} from "./stream_channel_options.ts";

/**
 * A {@linkcode WebSocketChannel} over a byte-stream pair. Created by
 * {@linkcode fromStreams} (already open) or by the handshake helpers, which
 * call {@linkcode StreamChannel.open} or {@linkcode StreamChannel.abortOpening}.
 *
 * @example An in-memory echo
 * ```ts
 * import { StreamChannel } from "@wsc/websocket-channel/engine";
 *
 * const channel = new StreamChannel({ role: "server" });
 * console.assert(channel.closeCode === undefined);
 * channel.abortOpening(new Error("no transport in this example"));
 * console.assert((await channel.closed).code === 1006);
 * ```
 */
export class StreamChannel {
  readonly #core: ChannelCore;
  #subprotocol = "";
  #extensions = "";
  #internals: ChannelInternals | undefined;

  /**
   * Creates a channel that is not open yet; call {@linkcode StreamChannel.open}
   * after the opening handshake (or use {@linkcode fromStreams}).
   *
   * @param settings Role, limits and timeouts.
   */
  constructor(settings: StreamChannelSettings) {
    const receiver = new ChannelReceiver(pingAnswerer(settings.answerPingMessages));
    const core = new ChannelCore(
      resolveSettings(settings),
      receiver,
    );
    receiver.core = core;
    this.#core = core;
  }

  /** Resolves when closed, never rejects; see {@linkcode WebSocketChannel.closed}. */
  get closed(): Promise<CloseInfo> {
    return this.#core.closedPromise;
  }

  /**
   * For servers: registers `watcher` without creating `closed` (see `watchClose`).
   *
   * @ignore
   */
  [CLOSE_WATCH](watcher: CloseWatcher): void {
    this.#core.watchClose(watcher, this);
  }

  /** Resolves when open; see {@linkcode WebSocketChannel.ready}. */
  get ready(): Promise<void> {
    return this.#core.opened;
  }

  /** Received messages, created on first use; see {@linkcode WebSocketChannel.stream}. */
  get stream(): ReadableStream<Message> {
    return this.#core.inbox.stream;
  }

  /**
   * Hands each message to `listener` synchronously as it is received; see
   * {@linkcode WebSocketChannel.listen}.
   */
  listen(listener: (message: Message) => void, options?: ListenOptions): MessageSubscription {
    return this.#core.inbox.listen(listener, options);
  }

  /** Sends one message without making the sink; see {@linkcode WebSocketChannel.send}. */
  send(message: Sendable): Promise<void> {
    const core = this.#core;
    // Made: its add() keeps the order of what a writer or pipe still holds.
    if (core.sinkHandle !== undefined) return core.sinkHandle.sink.add(message);
    // A message handed to listen() and sent on is one of ours: no need to look at its buffer.
    if (!isBeingDelivered(message)) checkSendable(message, "channel.send");
    return core.send(message);
  }

  /** The writing half, created on first use; see {@linkcode WebSocketSink}. */
  get sink(): WebSocketSink {
    const core = this.#core;
    return (core.sinkHandle ??= createChannelSink(core)).sink;
  }

  /** The negotiated subprotocol; see {@linkcode WebSocketChannel.protocol}. */
  get protocol(): string {
    return this.#subprotocol;
  }

  /** The negotiated extensions; see {@linkcode WebSocketChannel.extensions}. */
  get extensions(): string {
    return this.#extensions;
  }

  /** The close code once a close started; see {@linkcode WebSocketChannel.closeCode}. */
  get closeCode(): number | undefined {
    return this.#core.closeCode;
  }

  /** The close reason once a close started; see {@linkcode WebSocketChannel.closeReason}. */
  get closeReason(): string | undefined {
    return this.#core.closeReason;
  }

  /**
   * Starts the connection over `streams` once the opening handshake is done.
   * Locks both streams.
   */
  open(streams: ByteStreams, opening: StreamChannelOpening = {}): void {
    const core = this.#core;
    if (core.state !== "connecting") throw new InvalidStateError("The channel was already opened");
    core.deflate = opening.deflate;
    this.#subprotocol = opening.protocol ?? "";
    this.#extensions = opening.extensions ?? "";
    core.transport = streams;
    const direct = streams.direct?.();
    const reader: ByteReader = core.reader = direct ? direct.reader : streams.readable.getReader();
    const writer: ByteWriter = core.writer = direct ? direct.writer : streams.writable.getWriter();
    core.protocol = new Protocol({
      role: core.settings.role,
      maxMessageSize: core.settings.maxMessageSize,
      maxFragments: core.settings.maxFragments,
      allowRsv1: opening.deflate !== undefined,
      // Our close after a peer's violation, or our reply to its close, may wait for answers to
      // earlier messages (PeerFailure, PeerClose).
      deferFailure: true,
      deferCloseReply: true,
      copyPayloadsUpTo: writer.copyPayloadsUpTo,
      copyReceivedUpTo: reader.copyReceivedUpTo,
    });
    // A reset is noticed even while reading is paused for a slow consumer (a
    // transport in push mode reports it itself).
    if (reader.attach === undefined && !reader.failsOnlyInRead) {
      reader.closed.catch((error) => core.onError(error));
    }
    core.markOpen();
    core.pump.start(reader, opening.head);
  }

  /** Fails a connection that never opened: `ready` rejects, `closed` resolves 1006. */
  abortOpening(error: unknown): void {
    const core = this.#core;
    if (core.state !== "connecting") return;
    core.markOpeningFailed(error);
    core.finish({ code: 1006, reason: "", wasClean: false }, error);
  }

  /**
   * Closes with any code valid on the wire (1001 going away, 1011 …), for
   * servers and heartbeats; applications use `sink.close()`, which allows
   * only 1000 and 3000–4999 as browsers do.
   */
  closeWithCode(code: number, reason = ""): Promise<void> {
    if (!isValidWireCloseCode(code)) {
      return Promise.reject(new RangeError(`Invalid close code ${code}`));
    }
    return this.#core.close(code, reason);
  }

  /** Sends a ping and resolves with the round-trip time; see {@linkcode WebSocketChannel.ping}. */
  async ping(data?: string | Uint8Array): Promise<number> {
    const core = this.#core;
    if (core.state === "connecting") await this.ready;
    if (core.state !== "open") throw core.closedError();
    const pings = core.pings ??= new PingTracker();
    const payload = data === undefined
      ? pings.nextPayload()
      : typeof data === "string"
      ? new TextEncoder().encode(data)
      : data;
    if (payload.byteLength > 125) throw new RangeError("Ping payload must be at most 125 bytes");
    const rtt = pings.add(payload);
    core.protocol!.sendPing(payload);
    core.batches!.flush();
    return await rtt;
  }

  /**
   * For servers and the topic hub; see {@linkcode ChannelInternals}.
   *
   * @ignore
   */
  get [CHANNEL_INTERNALS](): ChannelInternals {
    return this.#internals ??= channelInternals(this.#core, this);
  }
}

function createChannelSink(core: ChannelCore): SinkHandle {
  const handle = createSink({
    add: (message) => core.send(message),
    write: (message) => {
      const limit = core.settings.writableHighWaterMark;
      if (!(message instanceof ArrayBuffer || ArrayBuffer.isView(message))) {
        const sent = handled(core.send(message));
        return core.sender.backlog > limit ? sent : undefined;
      }
      // A write that resolves before the transport took its bytes (so that the next message
      // joins them) leaves the writer free to refill its buffer: the channel sends its own copy.
      if (core.sender.backlog + message.byteLength > limit) return core.send(message);
      const sent = handled(core.send(asBytes(message).slice()));
      return core.sender.backlog > limit ? sent : undefined;
    },
    close: (code, reason) => core.close(code, reason),
    abort: () => core.close(1011, "").catch(() => {}),
    closing: (code, reason) => core.closing(code, reason),
  });
  if (core.sinkError !== undefined) handle.error(core.sinkError);
  return handle;
}

function channelInternals(core: ChannelCore, channel: StreamChannel): ChannelInternals {
  return {
    acceptsFrames: core.settings.role === "server",
    // Known once the opening handshake is done.
    get deflate() {
      return core.deflate;
    },
    nativeTopics: undefined,
    isOpen: () => core.state === "open" && !core.closeRequested,
    backlog: () => core.sender.backlog,
    offerFrames: (frames, limit) => {
      if (core.state !== "open" || core.closeRequested) return 2;
      const backlog = core.sender.queuedBytes + core.protocol!.outgoingBytes + core.inFlight;
      if (!offerAllowed(backlog, frames.byteLength, limit)) return 1;
      core.protocol!.sendEncoded(frames);
      if (core.replying) core.boundReplies();
      return 0;
    },
    flush: () => {
      if (core.writer !== undefined && core.protocol!.outgoingBytes > 0) {
        core.batches!.kick(true);
      }
    },
    offerMessage: (message, limit) => {
      if (core.state !== "open" || core.closeRequested) return 2;
      const size = typeof message === "string" ? message.length : message.byteLength;
      if (!offerAllowed(core.sender.backlog, size, limit)) return 1;
      handled(core.send(message));
      return 0;
    },
    close: (code, reason) => channel.closeWithCode(code, reason),
  };
}

/**
 * Runs the WebSocket protocol over an already upgraded byte-stream pair (the
 * opening handshake is done), like Dart's `WebSocketChannel(StreamChannel)`.
 *
 * @example An in-memory pair of channels
 * ```ts
 * import { fromStreams } from "./stream_channel.ts";
 *
 * const up = new TransformStream<Uint8Array, Uint8Array>();
 * const down = new TransformStream<Uint8Array, Uint8Array>();
 * const client = fromStreams({ readable: down.readable, writable: up.writable }, { role: "client" });
 * const server = fromStreams({ readable: up.readable, writable: down.writable }, { role: "server" });
 * await client.sink.add("hi");
 * const reader = server.stream.getReader();
 * console.assert((await reader.read()).value === "hi");
 * await client.sink.close(1000);
 * ```
 */
export function fromStreams(streams: ByteStreams, options: StreamChannelOptions): StreamChannel {
  const channel = new StreamChannel(options);
  channel.open(streams, options);
  return channel;
}
