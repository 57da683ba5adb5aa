/**
 * The engine {@linkcode Protocol} driven over a `{ readable, writable }` byte
 * stream pair: a pull-based read loop (a slow reader of `stream` stops the
 * reading of the transport), batched writes, the close handshake with a
 * timeout, and pings with round-trip times.
 *
 * @module
 */
import { Protocol, type ProtocolEvent } from "../engine/protocol.ts";
import { isValidWireCloseCode } from "../engine/close_code.ts";
import type { ProtocolError } from "../engine/errors.ts";
import { deferred, handled } from "../_util/deferred.ts";
import { BatchWriter } from "./batch_writer.ts";
import { createSink, type SinkHandle } from "./channel_sink.ts";
import { closeTransport, dropTransport } from "./close_transport.ts";
import { ConnectionClosedError, InvalidStateError } from "./errors.ts";
import { CHANNEL_INTERNALS, type ChannelInternals, offerAllowed } from "./channel_internals.ts";
import { inflateMessage } from "./inflate_message.ts";
import {
  Inbox,
  type ListenOptions,
  type MessageListener,
  type MessageSubscription,
} from "./inbox.ts";
import { MessageSender, type SenderTarget } from "./message_sender.ts";
import { failureReason, hasMessageBefore, PeerFailure } from "./peer_failure.ts";
import { PeerClose } from "./peer_close.ts";
import { type PingAnswerer, pingAnswerer } from "./ping_messages.ts";
import { PingTracker } from "./ping_tracker.ts";
import { ReadPump } from "./read_pump.ts";
import {
  type ByteReader,
  type ByteStreams,
  type ByteWriter,
  definedOnly,
  STREAM_CHANNEL_DEFAULTS,
  type StreamChannelOpening,
  type StreamChannelOptions,
  type StreamChannelSettings,
} from "./stream_channel_options.ts";
import type {
  CloseInfo,
  Message,
  MessageDeflate,
  Sendable,
  WebSocketSink,
} from "./channel_types.ts";

export type {
  ByteStreams,
  StreamChannelOpening,
  StreamChannelOptions,
  StreamChannelSettings,
} from "./stream_channel_options.ts";

type State = "connecting" | "open" | "closing" | "closed";

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
  /** Resolves when open; see {@linkcode WebSocketChannel.ready}. */
  readonly ready: Promise<void>;
  /** Resolves when closed, never rejects. */
  readonly closed: Promise<CloseInfo>;

  readonly #settings: Required<StreamChannelSettings>;
  readonly #ready = deferred<void>();
  readonly #closed = deferred<CloseInfo>();
  /** Created on first use of `sink`; most of a sink's cost is its `WritableStream`. */
  #sinkHandle: SinkHandle | undefined;
  /** Why the sink refuses writes, once the connection stopped taking them. */
  #sinkError: unknown;
  readonly #inbox: Inbox;
  #state: State = "connecting";
  #protocol: Protocol | undefined;
  #reader: ByteReader | undefined;
  #writer: ByteWriter | undefined;
  #batches: BatchWriter | undefined;
  #target: SenderTarget | undefined;
  #dropConnection: (() => void) | undefined;
  #deflate: MessageDeflate | undefined;
  #subprotocol = "";
  #extensions = "";
  #closeCode: number | undefined;
  #closeReason: string | undefined;
  readonly #pump: ReadPump;
  /** Both close frames were exchanged. */
  #handshakeDone = false;
  #closeTimer: ReturnType<typeof setTimeout> | undefined;
  /** Sends waiting for the opening handshake, a `Blob` read or compression, in order. */
  readonly #sender: MessageSender;
  /** `sink.close()` was called; messages already accepted still go out first. */
  #closeRequested = false;
  // Created on first use, as the failure below: most connections never need them.
  #pings: PingTracker | undefined;
  /** The peer broke the protocol; our close may wait until the application answered what came before. */
  #failure: PeerFailure | undefined;
  /** The peer sent a close; our reply may wait until the application answered what came before. */
  #peerClose: PeerClose | undefined;
  #internals: ChannelInternals | undefined;
  /** The transport's own error once reading or writing failed: the cause of our errors after it. */
  #transportError: unknown;
  /** Answers application-level ping messages (`answerPingMessages`). */
  readonly #answerPing: PingAnswerer | undefined;

  /**
   * Creates a channel that is not open yet; call {@linkcode StreamChannel.open}
   * after the opening handshake (or use {@linkcode fromStreams}).
   *
   * @param settings Role, limits and timeouts.
   */
  constructor(settings: StreamChannelSettings) {
    this.#settings = { ...STREAM_CHANNEL_DEFAULTS, ...definedOnly(settings) } as Required<
      StreamChannelSettings
    >;
    this.#answerPing = pingAnswerer(settings.answerPingMessages);
    this.ready = handled(this.#ready.promise);
    this.closed = this.#closed.promise;
    this.#pump = new ReadPump({
      receive: (chunk) => this.#receive(chunk),
      full: () => this.#inbox.bytes >= this.#settings.readableHighWaterMark,
      writing: () => this.#owedWaiting(),
      ended: () => this.#state === "closed",
      onEnd: () => this.#onEof(),
      onError: (error) => this.#onTransportError(error),
    });
    this.#inbox = new Inbox({
      onSpace: () => {
        this.#pump.wake();
        this.#failure?.taken();
        this.#peerClose?.taken();
      },
      onCancel: () => {
        // Dart's StreamChannel contract: cancelling the stream does not close
        // the connection; messages are dropped from now on.
        this.#pump.drain();
        this.#failure?.taken();
        this.#peerClose?.taken();
      },
    });
    // One target object for the connection's life (it was a new object per send).
    this.#sender = new MessageSender(() => this.#target, {
      opened: this.ready,
      isOpen: () => this.#state === "open",
      closedError: () => this.#closedError(),
    });
  }

  /** Received messages, created on first use; see {@linkcode WebSocketChannel.stream}. */
  get stream(): ReadableStream<Message> {
    return this.#inbox.stream;
  }

  /**
   * Hands each message to `listener` synchronously as it is received; see
   * {@linkcode WebSocketChannel.listen}.
   */
  listen(listener: MessageListener, options?: ListenOptions): MessageSubscription {
    return this.#inbox.listen(listener, options);
  }

  /** The writing half, created on first use; see {@linkcode WebSocketSink}. */
  get sink(): WebSocketSink {
    return (this.#sinkHandle ??= this.#createSink()).sink;
  }

  #createSink(): SinkHandle {
    const handle = createSink({
      add: (message) => this.#send(message),
      write: (message) => {
        const sent = handled(this.#send(message));
        return this.#sender.backlog > this.#settings.writableHighWaterMark ? sent : undefined;
      },
      close: (code, reason) => this.#close(code, reason),
      abort: () => this.#close(1011, "").catch(() => {}),
      closing: (code, reason) => {
        if (this.#closeCode !== undefined || this.#state === "closed") return;
        this.#closeCode = code ?? 1005;
        this.#closeReason = reason ?? "";
        // The close timeout also bounds draining messages queued in the sink
        // (a peer that stopped reading must not make close() hang).
        if (this.#state === "open") this.#startCloseTimer();
      },
    });
    if (this.#sinkError !== undefined) handle.error(this.#sinkError);
    return handle;
  }

  /** The sink refuses writes from now on (now, or when it is created). */
  #errorSink(error: unknown): void {
    this.#sinkError ??= error;
    this.#sinkHandle?.error(error);
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
    return this.#closeCode;
  }

  /** The close reason once a close started; see {@linkcode WebSocketChannel.closeReason}. */
  get closeReason(): string | undefined {
    return this.#closeReason;
  }

  /**
   * Starts the connection over `streams` once the opening handshake is done.
   * Locks both streams.
   */
  open(streams: ByteStreams, opening: StreamChannelOpening = {}): void {
    if (this.#state !== "connecting") throw new InvalidStateError("The channel was already opened");
    this.#deflate = opening.deflate;
    this.#subprotocol = opening.protocol ?? "";
    this.#extensions = opening.extensions ?? "";
    this.#protocol = new Protocol({
      role: this.#settings.role,
      maxMessageSize: this.#settings.maxMessageSize,
      maxFragments: this.#settings.maxFragments,
      allowRsv1: opening.deflate !== undefined,
      // Our close after a peer's violation, or our reply to its close, may wait for answers to
      // earlier messages (PeerFailure, PeerClose).
      deferFailure: true,
      deferCloseReply: true,
    });
    this.#dropConnection = streams.close?.bind(streams);
    const direct = streams.direct?.();
    this.#reader = direct ? direct.reader : streams.readable.getReader();
    // A reset is noticed even while reading is paused for a slow consumer.
    this.#reader.closed.catch((error) => this.#onTransportError(error));
    this.#writer = direct ? direct.writer : streams.writable.getWriter();
    this.#batches = new BatchWriter(
      this.#writer,
      () => this.#protocol!.takeOutgoing(),
      (error) => {
        this.#onTransportError(error);
        // The failed send and every later one reject with our error, never the runtime's.
        return this.#closedError();
      },
    );
    this.#target = { protocol: this.#protocol, batches: this.#batches, deflate: this.#deflate };
    this.#state = "open";
    this.#ready.resolve();
    this.#pump.start(this.#reader, opening.head);
  }

  /** Fails a connection that never opened: `ready` rejects, `closed` resolves 1006. */
  abortOpening(error: unknown): void {
    if (this.#state !== "connecting") return;
    this.#state = "closed";
    this.#ready.reject(error);
    this.#closeCode = 1006;
    this.#closeReason = "";
    this.#finish({ code: 1006, reason: "", wasClean: false }, error);
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
    return this.#close(code, reason);
  }

  /** Sends a ping and resolves with the round-trip time; see {@linkcode WebSocketChannel.ping}. */
  async ping(data?: string | Uint8Array): Promise<number> {
    if (this.#state === "connecting") await this.ready;
    if (this.#state !== "open") throw this.#closedError();
    const payload = data === undefined
      ? (this.#pings ??= new PingTracker()).nextPayload()
      : typeof data === "string"
      ? new TextEncoder().encode(data)
      : data;
    if (payload.byteLength > 125) throw new RangeError("Ping payload must be at most 125 bytes");
    const rtt = (this.#pings ??= new PingTracker()).add(payload);
    this.#protocol!.sendPing(payload);
    this.#batches!.flush();
    return await rtt;
  }

  /**
   * For servers and the topic hub; see {@linkcode ChannelInternals}.
   *
   * @ignore
   */
  get [CHANNEL_INTERNALS](): ChannelInternals {
    // deno-lint-ignore no-this-alias
    const self = this;
    return this.#internals ??= {
      acceptsFrames: this.#settings.role === "server",
      // Known once the opening handshake is done.
      get deflate() {
        return self.#deflate;
      },
      nativeTopics: undefined,
      isOpen: () => this.#state === "open" && !this.#closeRequested,
      backlog: () => this.#sender.backlog,
      offerFrames: (frames, limit) => {
        if (this.#state !== "open" || this.#closeRequested) return 2;
        const backlog = this.#sender.queuedBytes + this.#protocol!.outgoingBytes +
          this.#batches!.inFlight;
        if (!offerAllowed(backlog, frames.byteLength, limit)) return 1;
        this.#protocol!.sendEncoded(frames);
        if (this.#peerClose?.active || this.#failure?.active) this.#boundReplies();
        return 0;
      },
      flush: () => {
        if (this.#batches !== undefined && this.#protocol!.outgoingBytes > 0) {
          this.#batches.kick(true);
        }
      },
      offerMessage: (message, limit) => {
        if (this.#state !== "open" || this.#closeRequested) return 2;
        const size = typeof message === "string" ? message.length : message.byteLength;
        if (!offerAllowed(this.#sender.backlog, size, limit)) return 1;
        handled(this.#send(message));
        return 0;
      },
      close: (code, reason) => this.closeWithCode(code, reason),
    };
  }

  // ── reading ────────────────────────────────────────────────────────────

  /**
   * Feeds bytes to the engine; returns a promise only when a message must be
   * inflated or a failure waits for the application's answers.
   */
  #receive(chunk: Uint8Array): Promise<void> | undefined {
    const events = this.#protocol!.receive(chunk);
    for (let i = 0; i < events.length; i++) {
      const event = events[i];
      if (event.type === "compressed") return this.#receiveAsync(events, i);
      if (event.type === "error") return this.#onEngineError(event.error, events, i);
      if (event.type === "close") return this.#onCloseFrame(event, hasMessageBefore(events, i));
      this.#handle(event);
    }
    this.#flushOwed();
    return undefined;
  }

  async #receiveAsync(events: ProtocolEvent[], from: number): Promise<void> {
    for (let i = from; i < events.length; i++) {
      const event = events[i];
      if (event.type === "error") return this.#onEngineError(event.error, events, i);
      if (event.type === "close") return this.#onCloseFrame(event, hasMessageBefore(events, i));
      if (event.type !== "compressed") {
        this.#handle(event);
        continue;
      }
      let message: Message;
      try {
        message = await inflateMessage(this.#deflate!, event, this.#settings.maxMessageSize);
      } catch (error) {
        if (this.#isClosed()) return;
        const failure = error as ProtocolError;
        this.#flushOwed();
        return this.#peerFailure().fail(failure, {
          reason: "",
          messagesBefore: hasMessageBefore(events, i),
          failEngine: () => this.#protocol!.fail(failure.closeCode, ""),
        });
      }
      if (this.#isClosed()) return;
      this.#deliver(message);
    }
    this.#flushOwed();
  }

  /** Reads the state through a call, so checks after an `await` are not narrowed away. */
  #isClosed(): boolean {
    return this.#state === "closed";
  }

  #handle(event: ProtocolEvent): void {
    switch (event.type) {
      case "text":
      case "binary":
        return this.#deliver(event.data);
      case "pong":
        return this.#pings?.pong(event.data);
        // "ping": the engine already queued the pong; "close" and "error": see #receive.
    }
  }

  /** The engine found a violation (it stopped reading; its close waits for failNow()). */
  #onEngineError(
    error: ProtocolError,
    events: ProtocolEvent[],
    index: number,
  ): Promise<void> | undefined {
    // Pongs owed for pings earlier in the batch go out first.
    this.#flushOwed();
    // failNow() sends the error's message as the close reason when it fits (RFC 6455 §5.5).
    return this.#peerFailure().fail(error, {
      reason: failureReason(error),
      messagesBefore: hasMessageBefore(events, index),
      failEngine: () => this.#protocol!.failNow(),
    });
  }

  #peerFailure(): PeerFailure {
    return this.#failure ??= new PeerFailure({
      closed: () => this.#state === "closed",
      unread: () => this.#inbox.bytes > 0,
      pending: () => this.#sender.pending,
      timeout: this.#settings.closeTimeout,
      ending: (error, code, reason) => {
        this.#closeCode = code;
        this.#closeReason = reason;
        this.#endStream(false, error);
      },
      shutDown: (error, code, reason) => this.#onProtocolError(error, code, reason),
    });
  }

  #deliver(message: Message): void {
    const pong = this.#answerPing?.(message);
    if (pong !== undefined) return void handled(this.#send(pong));
    this.#inbox.push(message);
  }

  /**
   * While the bytes we owe the peer (engine queue and writes in flight: answers,
   * pongs) pass readableHighWaterMark, the transport is not read: a peer that
   * sends without reading cannot grow them without bound (the engine keeps few
   * pongs, but an application may answer every message without waiting).
   */
  #owedWaiting(): Promise<void> | undefined {
    const owed = this.#protocol!.outgoingBytes + this.#batches!.inFlight;
    if (owed <= this.#settings.readableHighWaterMark || this.#state === "closed") return undefined;
    return this.#batches!.flush();
  }

  /** Writes pongs and close replies the engine queued. */
  #flushOwed(): void {
    if (this.#protocol!.outgoingBytes > 0) this.#batches!.flush();
  }

  // ── closing ────────────────────────────────────────────────────────────

  /**
   * The peer's close arrived (the last event of its read). If it started the
   * close, our reply may wait for the application's answers to the messages
   * before it (PeerClose); the returned promise then holds the read loop.
   */
  #onCloseFrame(
    event: { code: number; reason: string },
    messagesBefore: boolean,
  ): Promise<void> | undefined {
    if (this.#state !== "open") {
      this.#closeHandshakeDone();
      return undefined;
    }
    this.#closeCode = event.code;
    this.#closeReason = event.reason;
    this.#pings?.fail(this.#closedError());
    // The messages before the close stay readable; sends stay allowed until our reply.
    this.#endStream(true);
    const peerClose = this.#peerClose ??= new PeerClose({
      closed: () => this.#state === "closed",
      unread: () => this.#inbox.bytes > 0,
      pending: () => this.#sender.pending,
      timeout: this.#settings.closeTimeout,
      reply: () => this.#replyToClose(),
    });
    // Pongs owed for pings earlier in the read go out now.
    this.#flushOwed();
    // It bounds the whole close, reply window included (its callback replies first).
    this.#startCloseTimer();
    const waiting = peerClose.received(messagesBefore);
    // The application already closed the sink: only its sends under way are waited for.
    if (this.#closeRequested) peerClose.taken(true);
    return waiting;
  }

  /** Queues our reply to the peer's close (RFC 6455 §5.5.1) and goes on closing. */
  #replyToClose(): void {
    if (this.#state !== "open") return;
    this.#state = "closing";
    this.#protocol!.replyClose();
    this.#errorSink(this.#closedError());
    this.#closeHandshakeDone();
  }

  /**
   * The application's answers during a reply window are bounded in bytes too:
   * once the bytes not yet written pass `writableHighWaterMark`, our close
   * goes out after them, so a peer that does not read cannot grow them further.
   */
  #boundReplies(): void {
    if (this.#sender.backlog <= this.#settings.writableHighWaterMark) return;
    this.#peerClose?.replyNow();
    this.#failure?.end();
  }

  /** Both close frames were exchanged (ours may still be being written). */
  #closeHandshakeDone(): void {
    this.#handshakeDone = true;
    this.#pump.drain();
    this.#endStream(true);
    this.#flushOwed();
    // RFC 6455 §7.1.1: "the server SHOULD close the underlying TCP connection
    // first"; the client waits for it (until the close timeout).
    if (this.#settings.role === "server") this.#teardown(true);
  }

  #close(code: number | undefined, reason: string | undefined): Promise<void> {
    const done = this.#closed.promise.then(() => {});
    if (this.#state === "connecting") {
      // Nothing was sent yet: wait for the handshake, then close.
      return handled(this.#ready.promise).then(() => this.#close(code, reason), () => {});
    }
    if (this.#state !== "open" || this.#closeRequested) return done;
    this.#closeRequested = true;
    // A failure is already under way: its close goes out once what was sent so far is queued.
    if (this.#failure?.active) {
      this.#failure.taken(true);
      return done;
    }
    // The peer's close is being answered: our reply goes out once what was sent so far is queued.
    if (this.#peerClose?.active) {
      this.#peerClose.taken(true);
      return done;
    }
    const tail = this.#sender.pending;
    // Messages still being prepared (Blob, compression) go out first.
    if (tail) tail.then(() => this.#sendClose(code, reason)).catch((e) => this.#abrupt(e));
    else {
      try {
        this.#sendClose(code, reason);
      } catch (error) {
        // Only an engine in an unexpected state gets here; end rather than hang.
        this.#abrupt(error);
      }
    }
    return done;
  }

  #sendClose(code: number | undefined, reason: string | undefined): void {
    // After the peer's close, our close is the reply (PeerClose), not a new one.
    if (this.#state !== "open" || this.#peerClose !== undefined) return;
    this.#closeCode = code ?? 1005;
    this.#closeReason = reason ?? "";
    this.#state = "closing";
    this.#protocol!.sendClose(code, code === undefined ? undefined : reason);
    this.#errorSink(this.#closedError());
    this.#pings?.fail(this.#closedError());
    // StreamChannel contract: closing the sink closes the stream before more messages.
    this.#endStream(true);
    this.#batches!.flush();
    this.#startCloseTimer();
  }

  #startCloseTimer(): void {
    if (this.#closeTimer !== undefined) return;
    this.#closeTimer = setTimeout(() => {
      this.#closeTimer = undefined;
      this.#peerClose?.replyNow();
      if (this.#handshakeDone) this.#teardown(true);
      else this.#abrupt(undefined);
    }, this.#settings.closeTimeout);
  }

  #onEof(): void {
    this.#peerClose?.replyNow();
    if (this.#handshakeDone) this.#teardown(true);
    else this.#abrupt(undefined);
  }

  #onTransportError(error: unknown): void {
    this.#transportError ??= error;
    if (this.#state === "closed") return;
    // The peer's close was received: the handshake completes as far as we can still write.
    this.#peerClose?.replyNow();
    if (this.#handshakeDone) this.#teardown(true);
    else this.#abrupt(error);
  }

  /** The transport ended before the close handshake: 1006. */
  #abrupt(cause: unknown): void {
    if (this.#state === "closed") return;
    this.#closeCode = 1006;
    this.#closeReason = "";
    const error = new ConnectionClosedError(1006, "", { cause });
    this.#shutDown({ code: 1006, reason: "", wasClean: false }, error, false);
  }

  /** We failed the connection (the engine queued the close frame). */
  #onProtocolError(error: unknown, code: number, reason = ""): void {
    if (this.#state === "closed") return;
    this.#closeCode = code;
    this.#closeReason = reason;
    const failure = error ?? new ConnectionClosedError(code, reason);
    this.#shutDown({ code, reason, wasClean: false }, failure, true);
  }

  /** Clean end after the close handshake. */
  #teardown(flush: boolean): void {
    if (this.#state === "closed") return;
    const code = this.#closeCode ?? 1005;
    const reason = this.#closeReason ?? "";
    this.#shutDown({ code, reason, wasClean: true }, undefined, flush);
  }

  #shutDown(info: CloseInfo, error: unknown, flush: boolean): void {
    this.#state = "closed";
    this.#failure?.end();
    // Ends a reply window without replying (the channel is closed).
    this.#peerClose?.replyNow();
    clearTimeout(this.#closeTimer);
    this.#closeTimer = undefined;
    const closedError = error ?? this.#closedError();
    this.#endStream(info.wasClean, closedError);
    this.#errorSink(error ?? this.#closedError());
    this.#pings?.fail(closedError);
    this.#pump.wake();
    if (flush) {
      closeTransport(this.#writer!, this.#reader!, this.#batches!.flush(), {
        timeout: this.#settings.closeTimeout,
        close: this.#dropConnection,
      }).then(() => this.#finish(info, error));
    } else {
      dropTransport(this.#writer!, this.#reader!, this.#dropConnection);
      queueMicrotask(() => this.#finish(info, error));
    }
  }

  #finish(info: CloseInfo, error: unknown): void {
    this.#deflate?.close?.();
    this.#endStream(info.wasClean, error ?? this.#closedError());
    this.#errorSink(error ?? this.#closedError());
    this.#closed.resolve(info);
  }

  /** Ends `stream` after the messages already received (an error never discards them). */
  #endStream(clean = true, error?: unknown): void {
    if (clean) this.#inbox.close();
    else this.#inbox.error(error);
    this.#pump.drain();
  }

  #send(message: Sendable): Promise<void> {
    if (this.#closeRequested || this.#state === "closing" || this.#state === "closed") {
      return Promise.reject(this.#closedError());
    }
    const sent = this.#sender.send(message);
    if (this.#peerClose?.active || this.#failure?.active) this.#boundReplies();
    return sent;
  }

  #closedError(): ConnectionClosedError {
    return new ConnectionClosedError(this.#closeCode ?? 1006, this.#closeReason ?? "", {
      message: this.#state === "closing" ? "Cannot send: the connection is closing" : undefined,
      cause: this.#transportError,
    });
  }
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
