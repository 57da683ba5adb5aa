/**
 * The state of one {@linkcode StreamChannel} and its close lifecycle: the
 * close handshake with its timeout, the reply windows that let the
 * application answer what came before a peer's close or violation, and the
 * teardown of the transport. The close code and reason come from the engine
 * ({@linkcode Protocol.closeCode}), which records both sides' close frames;
 * the core adds only what the engine cannot know (a close the application
 * asked for that waits behind its sends, a connection that never opened).
 *
 * The core is the host of the parts it drives (read pump, inbox, sender,
 * reply windows): they call its methods, so a connection costs no closure
 * per hook. It is internal; `StreamChannel` is the public face.
 *
 * @module
 */
import type { Protocol } from "../engine/protocol.ts";
import type { ProtocolError } from "../engine/errors.ts";
import { type BatchSource, BatchWriter } from "./batch_writer.ts";
import type { SinkHandle } from "./channel_sink.ts";
import type { CloseInfo, MessageDeflate, Sendable } from "./channel_types.ts";
import { ChannelLifecycle } from "./channel_lifecycle.ts";
import { closeTransport, dropTransport } from "./close_transport.ts";
import { ConnectionClosedError } from "./errors.ts";
import { Inbox, type InboxHooks } from "./inbox.ts";
import { MessageSender, type SenderHost, type SenderTarget } from "./message_sender.ts";
import { PeerClose, type PeerCloseHost } from "./peer_close.ts";
import { PeerFailure, type PeerFailureHost } from "./peer_failure.ts";
import type { PingTracker } from "./ping_tracker.ts";
import { ReadPump, type ReadPumpHooks } from "./read_pump.ts";
import type {
  ByteReader,
  ByteStreams,
  ByteWriter,
  ResolvedSettings,
} from "./stream_channel_options.ts";

/** The receiving side the core hands transport bytes to (see `channel_receiver.ts`). */
export interface Receiver {
  /** Feeds one chunk to the engine; a promise when reading must wait for it. */
  receive(chunk: Uint8Array): Promise<void> | undefined;
  /** Feeds bytes read into the engine's read target; a promise when reading must wait. */
  receiveInTarget?(length: number): Promise<void> | undefined;
}

/**
 * Smallest read target worth reading into: a read into it ends at the
 * payload's end, so what follows the payload takes a read of its own.
 */
const READ_TARGET_MIN = 64 * 1024;

/**
 * One connection's state and close lifecycle.
 *
 * @example The state before the opening handshake
 * ```ts
 * import { ChannelCore } from "./channel_core.ts";
 * import { STREAM_CHANNEL_DEFAULTS } from "./stream_channel_options.ts";
 *
 * const core = new ChannelCore({ ...STREAM_CHANNEL_DEFAULTS, role: "server" }, {
 *   receive: () => undefined,
 * });
 * console.assert(core.state === "connecting" && core.closeCode === undefined);
 * ```
 */
export class ChannelCore extends ChannelLifecycle
  implements ReadPumpHooks, InboxHooks, SenderHost, PeerCloseHost, PeerFailureHost, BatchSource {
  readonly settings: ResolvedSettings;
  readonly inbox: Inbox;
  readonly pump: ReadPump;
  readonly #receiver: Receiver;
  protocol: Protocol | undefined;
  reader: ByteReader | undefined;
  writer: ByteWriter | undefined;
  // Created on first use: an idle connection sends nothing.
  #sender: MessageSender | undefined;
  #batches: BatchWriter | undefined;
  /** The transport, for its `close()` (ends the connection at once). */
  transport: ByteStreams | undefined;
  deflate: MessageDeflate | undefined;
  /** Created on first use of `sink`. */
  sinkHandle: SinkHandle | undefined;
  /** Why the sink refuses writes, once the connection stopped taking them. */
  sinkError: unknown;
  /** Created on the first `ping()`. */
  pings: PingTracker | undefined;
  /** `sink.close()` was called; messages already accepted still go out first. */
  closeRequested = false;
  /** The transport's own error once reading or writing failed: the cause of our errors after it. */
  transportError: unknown;
  /**
   * A close this channel decided on whose frame is not in the engine yet
   * (`sink.close()` waiting behind sends, a failure waiting for answers).
   */
  #pendingClose: { code: number; reason: string } | undefined;
  #closeTimer: ReturnType<typeof setTimeout> | undefined;
  /** Both close frames were exchanged. */
  #handshakeDone = false;
  /** The peer broke the protocol; our close may wait until the application answered what came before. */
  #failure: PeerFailure | undefined;
  /** The peer sent a close; our reply may wait until the application answered what came before. */
  #peerClose: PeerClose | undefined;

  /**
   * @param settings The channel's settings with their defaults.
   * @param receiver Takes the transport's bytes.
   */
  constructor(settings: ResolvedSettings, receiver: Receiver) {
    super();
    this.settings = settings;
    this.#receiver = receiver;
    this.inbox = new Inbox(this);
    this.pump = new ReadPump(this);
  }

  /** Turns the application's messages into frames, in order; created with the first send. */
  get sender(): MessageSender {
    return this.#sender ??= new MessageSender(this);
  }

  /** Writes the engine's bytes to the transport; created with the first write once open. */
  get batches(): BatchWriter | undefined {
    const writer = this.writer;
    if (this.#batches === undefined && writer !== undefined) {
      this.#batches = new BatchWriter(writer, this);
    }
    return this.#batches;
  }

  /** Bytes handed to the transport whose write has not completed yet. */
  get inFlight(): number {
    return this.#batches?.inFlight ?? 0;
  }

  /**
   * {@linkcode SenderHost.target}: the core itself once open (its
   * `protocol`, `batches` and `deflate`), so that no object per connection
   * holds them again.
   */
  get target(): SenderTarget | undefined {
    return this.writer === undefined ? undefined : this as unknown as SenderTarget;
  }

  /** The close code: see {@linkcode WebSocketChannel.closeCode}. */
  get closeCode(): number | undefined {
    return this.protocol?.closeCode ?? this.#pendingClose?.code ??
      (this.state === "closed" ? 1006 : undefined);
  }

  /** The close reason: see {@linkcode WebSocketChannel.closeReason}. */
  get closeReason(): string | undefined {
    return this.protocol?.closeReason ?? this.#pendingClose?.reason ??
      (this.state === "closed" ? "" : undefined);
  }

  /** The connection never opened: `ready` rejects with `error`. */
  override markOpeningFailed(error: unknown): void {
    // A close asked for while connecting never went out: the connection ends with 1006.
    this.#pendingClose = undefined;
    super.markOpeningFailed(error);
  }

  /** A failure or a reply to the peer's close waits for the application's answers. */
  get replying(): boolean {
    return (this.#peerClose?.active ?? false) || (this.#failure?.active ?? false);
  }

  // ── hooks of the parts the core drives ─────────────────────────────────

  /** {@linkcode ReadPumpHooks.receive} */
  receive(chunk: Uint8Array): Promise<void> | undefined {
    return this.#receiver.receive(chunk);
  }

  /** {@linkcode ReadPumpHooks.readTarget}: the rest of a large payload under way. */
  readTarget(): Uint8Array | undefined {
    const target = this.#receiver.receiveInTarget && this.protocol?.readTarget();
    return target && target.length >= READ_TARGET_MIN ? target : undefined;
  }

  /** {@linkcode ReadPumpHooks.receiveInTarget} */
  receiveInTarget(length: number): Promise<void> | undefined {
    return this.#receiver.receiveInTarget!(length);
  }

  /** {@linkcode ReadPumpHooks.full} */
  full(): boolean {
    return this.inbox.bytes >= this.settings.readableHighWaterMark;
  }

  /**
   * {@linkcode ReadPumpHooks.writing}: while the bytes we owe the peer
   * (engine queue and writes in flight: answers, pongs) pass
   * readableHighWaterMark, the transport is not read: a peer that sends
   * without reading cannot grow them without bound.
   */
  writing(): Promise<void> | undefined {
    const owed = this.protocol!.outgoingBytes + this.inFlight;
    if (owed <= this.settings.readableHighWaterMark || this.state === "closed") return undefined;
    return this.batches!.flush();
  }

  /** {@linkcode ReadPumpHooks.closed}, {@linkcode PeerCloseHost.closed} */
  closed(): boolean {
    return this.state === "closed";
  }

  /** {@linkcode ReadPumpHooks.onEnd}: the transport ended (EOF). */
  onEnd(): void {
    this.#peerClose?.replyNow();
    if (this.#handshakeDone) this.#teardown(true);
    else this.abrupt(undefined);
  }

  /** {@linkcode BatchSource.takeOutgoing}: the engine's bytes owed to the peer. */
  takeOutgoing(): Uint8Array[] {
    return this.protocol!.takeOutgoing();
  }

  /** {@linkcode BatchSource.writeFailed}: the failed send and every later one reject with our
   * error, never the runtime's. */
  writeFailed(error: unknown): Error {
    this.onError(error);
    return this.closedError();
  }

  /** {@linkcode ReadPumpHooks.onError}: reading or writing failed. */
  onError(error: unknown): void {
    this.transportError ??= error;
    if (this.state === "closed") return;
    // The peer's close was received: the handshake completes as far as we can still write.
    this.#peerClose?.replyNow();
    if (this.#handshakeDone) this.#teardown(true);
    else this.abrupt(error);
  }

  /** {@linkcode InboxHooks.onSpace}: the application took messages. */
  onSpace(): void {
    this.pump.wake();
    this.#failure?.taken();
    this.#peerClose?.taken();
  }

  /**
   * {@linkcode InboxHooks.onCancel}: Dart's StreamChannel contract:
   * cancelling the stream does not close the connection; messages are
   * dropped from now on.
   */
  onCancel(): void {
    this.pump.drain();
    this.#failure?.taken();
    this.#peerClose?.taken();
  }

  /** {@linkcode SenderHost.isOpen}: data frames may still be sent. */
  isOpen(): boolean {
    return this.state === "open";
  }

  /** {@linkcode PeerCloseHost.unread} */
  unread(): boolean {
    return this.inbox.bytes > 0;
  }

  /** {@linkcode PeerCloseHost.pending} */
  pending(): Promise<unknown> | undefined {
    return this.#sender?.pending;
  }

  /** Sends one message (`sink.add`, answers to ping messages). */
  send(message: Sendable): Promise<void> {
    if (this.closeRequested || this.state === "closing" || this.state === "closed") {
      return Promise.reject(this.closedError());
    }
    const sent = this.sender.send(message);
    if (this.replying) this.boundReplies();
    return sent;
  }

  /** Writes pongs and close replies the engine queued. */
  flushOwed(): void {
    if (this.protocol!.outgoingBytes > 0) this.batches!.flush();
  }

  // ── the peer's close and failures ──────────────────────────────────────

  /** The reply window of a peer failure, created on the first one. */
  peerFailure(): PeerFailure {
    return this.#failure ??= new PeerFailure(this);
  }

  /** {@linkcode PeerFailureHost.ending}: `stream` ends with the error after its messages. */
  ending(error: ProtocolError, code: number, reason: string): void {
    // The failure's close replaces one of ours still waiting behind sends (the
    // engine knows an engine error already; an inflate failure only from here).
    this.#pendingClose = { code, reason };
    this.endStream(false, error);
  }

  /** {@linkcode PeerFailureHost.shutDown}: we failed the connection (the engine queued the close). */
  shutDown(error: unknown, code: number, reason = ""): void {
    if (this.state === "closed") return;
    const failure = error ?? new ConnectionClosedError(code, reason);
    this.#shutDown({ code, reason, wasClean: false }, failure, true);
  }

  /**
   * The peer's close arrived (the last event of its read). If it started the
   * close, our reply may wait for the application's answers to the messages
   * before it (PeerClose); the returned promise then holds the read loop.
   */
  onCloseFrame(messagesBefore: boolean): Promise<void> | undefined {
    if (this.state !== "open") {
      this.#closeHandshakeDone();
      return undefined;
    }
    this.pings?.fail(this.closedError());
    // The messages before the close stay readable; sends stay allowed until our reply.
    this.endStream(true);
    const peerClose = this.#peerClose ??= new PeerClose(this);
    // Pongs owed for pings earlier in the read go out now.
    this.flushOwed();
    // It bounds the whole close, reply window included (its callback replies first).
    this.#startCloseTimer();
    const waiting = peerClose.received(messagesBefore);
    // The application already closed the sink: only its sends under way are waited for.
    if (this.closeRequested) peerClose.taken(true);
    return waiting;
  }

  /** {@linkcode PeerCloseHost.reply}: queues our reply (RFC 6455 §5.5.1) and goes on closing. */
  reply(): void {
    if (this.state !== "open") return;
    this.state = "closing";
    this.protocol!.replyClose();
    this.errorSink(this.closedError());
    this.#closeHandshakeDone();
  }

  /**
   * The application's answers during a reply window are bounded in bytes too:
   * once the bytes not yet written pass `writableHighWaterMark`, our close
   * goes out after them, so a peer that does not read cannot grow them further.
   */
  boundReplies(): void {
    if (this.sender.backlog <= this.settings.writableHighWaterMark) return;
    this.#peerClose?.replyNow();
    this.#failure?.end();
  }

  // ── our close ──────────────────────────────────────────────────────────

  /** `sink.close()` validated its arguments: `closeCode` is known at once. */
  closing(code: number | undefined, reason: string | undefined): void {
    if (this.closeCode !== undefined || this.state === "closed") return;
    this.#pendingClose = { code: code ?? 1005, reason: reason ?? "" };
    // The close timeout also bounds draining messages queued in the sink
    // (a peer that stopped reading must not make close() hang).
    if (this.state === "open") this.#startCloseTimer();
  }

  /** Runs our close handshake after the messages accepted so far. */
  close(code: number | undefined, reason: string | undefined): Promise<void> {
    const done = this.closedPromise.then(() => {});
    if (this.state === "connecting") {
      // Nothing was sent yet: wait for the handshake, then close.
      return this.opened.then(() => this.close(code, reason), () => {});
    }
    if (this.state !== "open" || this.closeRequested) return done;
    this.closeRequested = true;
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
    const tail = this.#sender?.pending;
    // Messages still being prepared (Blob, compression) go out first.
    if (tail) tail.then(() => this.#sendClose(code, reason)).catch((e) => this.abrupt(e));
    else {
      try {
        this.#sendClose(code, reason);
      } catch (error) {
        // Only an engine in an unexpected state gets here; end rather than hang.
        this.abrupt(error);
      }
    }
    return done;
  }

  #sendClose(code: number | undefined, reason: string | undefined): void {
    // After the peer's close, our close is the reply (PeerClose), not a new one.
    if (this.state !== "open" || this.#peerClose !== undefined) return;
    this.state = "closing";
    this.protocol!.sendClose(code, code === undefined ? undefined : reason);
    this.#pendingClose = undefined;
    this.errorSink(this.closedError());
    this.pings?.fail(this.closedError());
    // StreamChannel contract: closing the sink closes the stream before more messages.
    this.endStream(true);
    this.batches!.flush();
    this.#startCloseTimer();
  }

  // ── the end ────────────────────────────────────────────────────────────

  /** Both close frames were exchanged (ours may still be being written). */
  #closeHandshakeDone(): void {
    this.#handshakeDone = true;
    this.pump.drain();
    this.endStream(true);
    this.flushOwed();
    // RFC 6455 §7.1.1: "the server SHOULD close the underlying TCP connection
    // first"; the client waits for it (until the close timeout).
    if (this.settings.role === "server") this.#teardown(true);
  }

  #startCloseTimer(): void {
    if (this.#closeTimer !== undefined) return;
    this.#closeTimer = setTimeout(() => {
      this.#closeTimer = undefined;
      this.#peerClose?.replyNow();
      if (this.#handshakeDone) this.#teardown(true);
      else this.abrupt(undefined);
    }, this.settings.closeTimeout);
  }

  /** The transport ended before the close handshake: 1006. */
  abrupt(cause: unknown): void {
    if (this.state === "closed") return;
    this.protocol?.connectionLost();
    const error = new ConnectionClosedError(1006, "", { cause });
    this.#shutDown({ code: 1006, reason: "", wasClean: false }, error, false);
  }

  /** Clean end after the close handshake. */
  #teardown(flush: boolean): void {
    if (this.state === "closed") return;
    const code = this.closeCode ?? 1005;
    const reason = this.closeReason ?? "";
    this.#shutDown({ code, reason, wasClean: true }, undefined, flush);
  }

  #shutDown(info: CloseInfo, error: unknown, flush: boolean): void {
    this.state = "closed";
    this.#failure?.end();
    // Ends a reply window without replying (the channel is closed).
    this.#peerClose?.replyNow();
    clearTimeout(this.#closeTimer);
    this.#closeTimer = undefined;
    const closedError = error ?? this.closedError();
    this.endStream(info.wasClean, closedError);
    this.errorSink(closedError);
    this.pings?.fail(closedError);
    this.pump.wake();
    const transport = this.transport!;
    const drop = transport.close === undefined ? undefined : () => transport.close!();
    if (flush) {
      closeTransport(this.writer!, this.reader!, this.batches!.flush(), {
        timeout: this.settings.closeTimeout,
        close: drop,
      }).then((sent) => this.finish(sent ? info : { ...info, wasClean: false }, error));
    } else {
      dropTransport(this.writer!, this.reader!, drop);
      queueMicrotask(() => this.finish(info, error));
    }
  }

  /** Settles `closed` (and everything still open) once the transport is released. */
  finish(info: CloseInfo, error: unknown): void {
    this.deflate?.close?.();
    this.endStream(info.wasClean, error ?? this.closedError());
    this.errorSink(error ?? this.closedError());
    this.notifyClosed(info);
  }

  /** Ends `stream` after the messages already received (an error never discards them). */
  endStream(clean = true, error?: unknown): void {
    if (clean) this.inbox.close();
    else this.inbox.error(error);
    this.pump.drain();
  }

  /** The sink refuses writes from now on (now, or when it is created). */
  errorSink(error: unknown): void {
    this.sinkError ??= error;
    this.sinkHandle?.error(error);
  }

  /** {@linkcode SenderHost.closedError}: what sends and reads reject with once closed. */
  closedError(): ConnectionClosedError {
    return new ConnectionClosedError(this.closeCode ?? 1006, this.closeReason ?? "", {
      message: this.state === "closing" ? "Cannot send: the connection is closing" : undefined,
      cause: this.transportError,
    });
  }
}
