/**
 * The sans-I/O WebSocket connection (RFC 6455 §5–§7): bytes from the peer in,
 * events out; messages from the application in, bytes owed to the peer out.
 * Synchronous: no timers, no sockets, no promises. The caller moves the bytes.
 * Failures the peer causes are `ProtocolError`s (their stable codes and
 * close codes are listed there).
 *
 * @module
 */

import { encodeClosePayload, failureClose, parseClosePayload } from "./close_payload.ts";
import { CloseRecord } from "./close_record.ts";
import { isValidWireCloseCode } from "./close_code.ts";
import { ProtocolError, WebSocketError } from "./errors.ts";
import type { Frame, Role } from "./frame.ts";
import { IncomingFrames } from "./incoming_frames.ts";
import { Opcode } from "./opcode.ts";
import { OutgoingFrames } from "./outgoing_frames.ts";
import {
  checkProtocolOptions,
  type ProtocolEvent,
  type ProtocolOptions,
  type ProtocolState,
  type SendOptions,
} from "./protocol_options.ts";

export { MAX_PENDING_PONGS } from "./outgoing_frames.ts";
export type {
  ProtocolEvent,
  ProtocolOptions,
  ProtocolState,
  SendOptions,
} from "./protocol_options.ts";

const EMPTY = new Uint8Array(0);
const encoder = new TextEncoder();

/**
 * One WebSocket connection after the opening handshake, without I/O.
 *
 * Feed the peer's bytes to {@linkcode receive} and act on the returned events;
 * call the `send*` methods to queue frames; after either, write
 * {@linkcode takeOutgoing}'s bytes to the peer, in order. When `state` is
 * `closed` and the outgoing bytes are written, close the transport.
 *
 * After we sent a close, only the peer's close is reported: its data frames,
 * pings and pongs are discarded (RFC 6455 §7.1.4; no pong is sent then).
 *
 * Every protocol violation of the peer becomes an `error` event carrying a
 * {@linkcode ProtocolError} (close code and stable `WS_*` code), with the
 * close frame queued (with `deferFailure`: once {@linkcode failNow} is
 * called): {@linkcode receive} never throws on peer input.
 * Sending after our close throws a {@linkcode WebSocketError} `WS_INVALID_STATE`.
 *
 * @example Echo a masked client text frame on the server side
 * ```ts
 * import { Protocol } from "@wsc/websocket-channel/engine";
 *
 * const server = new Protocol({ role: "server" });
 * const client = new Protocol({ role: "client" });
 * client.sendText("Hello");
 * for (const chunk of client.takeOutgoing()) {
 *   for (const event of server.receive(chunk)) {
 *     if (event.type === "text") server.sendText(event.data);
 *   }
 * }
 * const [reply] = server.takeOutgoing();
 * console.assert(reply[0] === 0x81 && reply[1] === 5);
 * ```
 */
export class Protocol {
  /** Which end of the connection this is. */
  readonly role: Role;
  readonly #allowRsv1: boolean;
  readonly #deferFailure: boolean;
  readonly #deferCloseReply: boolean;
  readonly #maxMessageSize: number | undefined;
  readonly #maxFragments: number | undefined;
  readonly #fillMask: ((key: Uint8Array) => void) | undefined;
  readonly #copyPayloadsUpTo: number | undefined;
  readonly #copyReceivedUpTo: number | undefined;
  // The parts below are created on first use: an idle connection (most of a server's) has
  // received and sent nothing and needs none of them.
  #incoming: IncomingFrames | undefined;
  #outgoing: OutgoingFrames | undefined;
  /** Both sides' close frames, our failure, a lost transport: the close code comes from here. */
  #close: CloseRecord | undefined;
  #failed = false;
  // A peer failure whose close frame waits for failNow() (deferFailure); input is ignored meanwhile.
  #pendingFailure: ProtocolError | undefined;
  // The body of our reply to the peer's close, waiting for replyClose() (deferCloseReply).
  #owedCloseReply: { body: Uint8Array; code: number } | undefined;

  /**
   * Creates the engine for one connection whose opening handshake is done.
   *
   * @param options Role, limits and extension flags.
   * @throws {TypeError} {RangeError} As {@linkcode checkProtocolOptions}.
   */
  constructor(options: ProtocolOptions) {
    checkProtocolOptions(options);
    this.role = options.role;
    this.#allowRsv1 = options.allowRsv1 ?? false;
    this.#fillMask = options.fillMask;
    this.#copyPayloadsUpTo = options.copyPayloadsUpTo;
    this.#copyReceivedUpTo = options.copyReceivedUpTo;
    this.#deferFailure = options.deferFailure ?? false;
    this.#deferCloseReply = options.deferCloseReply ?? false;
    this.#maxMessageSize = options.maxMessageSize;
    this.#maxFragments = options.maxFragments;
  }

  /** The receive side (frame decoder and message assembler), created with the first bytes. */
  #received(): IncomingFrames {
    return this.#incoming ??= new IncomingFrames({
      role: this.role,
      allowRsv1: this.#allowRsv1,
      maxMessageSize: this.#maxMessageSize,
      maxFragments: this.#maxFragments,
      copyPayloadsUpTo: this.#copyReceivedUpTo,
      closeSent: () => this.#close?.isSent === true,
    });
  }

  /** The outgoing byte queue, created with the first frame queued. */
  #frames(): OutgoingFrames {
    return this.#outgoing ??= new OutgoingFrames(
      this.role === "client",
      this.#fillMask,
      this.#copyPayloadsUpTo,
    );
  }

  /** The close record, created with the first close event (sent, received, failed, lost). */
  #record(): CloseRecord {
    return this.#close ??= new CloseRecord();
  }

  /** `open`, `closing` (one side sent close) or `closed` (both did, or failed; a failure held
   * back by `deferFailure` counts from {@linkcode failNow}). */
  get state(): ProtocolState {
    if (this.#failed || this.#close?.complete) return "closed";
    return this.#close?.isSent || this.#close?.isReceived ? "closing" : "open";
  }

  /** The code this connection closes with once a close started: see {@linkcode CloseRecord.code}
   * (the first close of either side, our failure's, or 1006 once the connection was lost). */
  get closeCode(): number | undefined {
    return this.#close?.code;
  }

  /** The reason that goes with {@linkcode closeCode} (`""` when none). */
  get closeReason(): string | undefined {
    return this.#close?.reason;
  }

  /** The transport ended or was given up: unless the close handshake completed, the code is 1006
   * (RFC 6455 §7.1.5: closed without a close frame). */
  connectionLost(): void {
    this.#record().lost();
  }

  /** Bytes queued for the peer and not taken yet. */
  get outgoingBytes(): number {
    return this.#outgoing?.bytes ?? 0;
  }

  /**
   * Processes bytes from the peer, in any chunking.
   *
   * @param chunk The next bytes; the protocol takes ownership (it may unmask
   * them in place, and events may hold views into them).
   * @returns The events these bytes completed, in order. Empty once the peer's
   * close arrived or the connection failed.
   * @throws {TypeError} Only for a `chunk` that is not a `Uint8Array` (caller
   * misuse); nothing the peer sends makes it throw.
   */
  receive(chunk: Uint8Array): ProtocolEvent[] {
    if (!(chunk instanceof Uint8Array)) {
      throw new TypeError("Cannot receive: chunk must be a Uint8Array");
    }
    return this.#decode(chunk, chunk.length);
  }

  /**
   * Where the next bytes from the peer may be read straight into: the rest
   * of a large payload under way, in its own buffer (see
   * `FrameDecoder.readTarget`); `null` when there is none or the
   * connection takes no more bytes. Hand the bytes read there over with
   * {@linkcode receiveInTarget}.
   */
  readTarget(): Uint8Array | null {
    if (this.#failed || this.#pendingFailure !== undefined || this.#close?.isReceived) return null;
    return this.#incoming?.decoder.readTarget() ?? null;
  }

  /**
   * Processes `length` bytes that were read to the start of
   * {@linkcode readTarget}'s view, as {@linkcode receive} does a chunk.
   *
   * @param length Bytes read there.
   * @returns The events these bytes completed.
   * @throws {Error} When there is no read target of that length (caller misuse).
   */
  receiveInTarget(length: number): ProtocolEvent[] {
    if (length > 0) this.#received().decoder.pushTarget(length);
    return this.#decode(null, length);
  }

  #decode(chunk: Uint8Array | null, length: number): ProtocolEvent[] {
    const events: ProtocolEvent[] = [];
    // RFC 6455 §7.1.7: after failing, "MUST NOT continue to attempt to process data";
    // §5.5.1: nothing follows a close frame.
    if (
      this.#failed || this.#pendingFailure !== undefined || this.#close?.isReceived ||
      length === 0
    ) return events;
    try {
      const incoming = this.#received();
      const decoder = incoming.decoder;
      if (chunk !== null) decoder.push(chunk);
      for (let frame = decoder.next(); frame !== null; frame = decoder.next()) {
        this.#handleFrame(frame, incoming, events);
        if (this.#close?.isReceived) break;
      }
    } catch (error) {
      events.push({ type: "error", error: this.#failWith(error) });
    }
    return events;
  }

  /**
   * Queues a text message.
   *
   * @param data A string (UTF-8 encoded here) or bytes that are already UTF-8,
   * or a deflated payload when `compressed`.
   * @param options Whether `data` is compressed.
   */
  sendText(data: string | Uint8Array, options?: SendOptions): void {
    this.#assertOpen("send message");
    const bytes = typeof data === "string" ? encoder.encode(data) : data;
    if (!(bytes instanceof Uint8Array)) {
      throw new TypeError("Cannot send message: text must be a string or Uint8Array");
    }
    this.#frames().frame(Opcode.text, bytes, this.#compressFlag(options));
  }

  /**
   * Queues a binary message. Large unmasked payloads are queued by reference:
   * do not modify `data` until the outgoing bytes were written.
   *
   * @param data The message, or a deflated payload when `compressed`.
   * @param options Whether `data` is compressed.
   */
  sendBinary(data: Uint8Array, options?: SendOptions): void {
    this.#assertOpen("send message");
    if (!(data instanceof Uint8Array)) {
      throw new TypeError("Cannot send message: data must be a Uint8Array");
    }
    this.#frames().frame(Opcode.binary, data, this.#compressFlag(options));
  }

  /**
   * Queues frames encoded elsewhere, as they are: a fan-out encodes one
   * message once and queues the same bytes on many server connections. The
   * bytes must be complete, unmasked data frames (and RSV1 only where
   * permessage-deflate was negotiated); the engine does not look inside.
   * The bytes are queued by reference and may be shared: never modify them.
   *
   * @param frames One or more complete frames.
   * @throws {TypeError} On a client connection (its frames must be masked,
   * each with a fresh key: RFC 6455 §5.3).
   *
   * @example
   * ```ts
   * import { encodeFrame } from "@wsc/websocket-channel/engine";
   * import { Protocol } from "@wsc/websocket-channel/engine";
   *
   * const { header, payload } = encodeFrame({ fin: true, rsv1: false, opcode: 0x1, payload: new Uint8Array([0x68, 0x69]) });
   * const frame = new Uint8Array([...header, ...payload]);
   * const a = new Protocol({ role: "server" });
   * const b = new Protocol({ role: "server" });
   * a.sendEncoded(frame);
   * b.sendEncoded(frame);
   * console.assert(a.takeOutgoing()[0] === b.takeOutgoing()[0]);
   * ```
   */
  sendEncoded(frames: Uint8Array): void {
    this.#assertOpen("send message");
    this.#frames().encoded(frames);
  }

  /**
   * Queues a ping.
   *
   * @param data Application data, at most 125 bytes (RFC 6455 §5.5).
   */
  sendPing(data: Uint8Array = EMPTY): void {
    this.#assertOpen("send ping");
    this.#frames().control(Opcode.ping, data);
  }

  /**
   * Queues an unsolicited pong (pings are answered automatically).
   *
   * @param data Application data, at most 125 bytes (RFC 6455 §5.5).
   */
  sendPong(data: Uint8Array = EMPTY): void {
    this.#assertOpen("send pong");
    this.#frames().control(Opcode.pong, data);
  }

  /**
   * Starts (or completes) the closing handshake. No data frames may be sent
   * afterwards; data frames from the peer are discarded until its close.
   *
   * @param code A code valid on the wire (1000–1003, 1007–1014, 3000–4999),
   * or none for an empty close body.
   * @param reason At most 123 UTF-8 bytes; only with a code.
   * @throws {RangeError} For an invalid code or a reason over 123 bytes.
   * @throws {TypeError} For a reason that is not a string, or without a code.
   */
  sendClose(code?: number, reason?: string): void {
    this.#assertOpen("close");
    const body = encodeClosePayload(code, reason);
    this.#sendCloseFrame(body, code ?? 1005, code === undefined ? "" : reason ?? "");
  }

  /**
   * Fails the connection from above (inflate error 1007, inflated message too
   * big 1009, …): queues a close with `code` unless one was sent, and ignores
   * all further input. Does nothing if already failed; replaces a failure
   * held back by `deferFailure`.
   *
   * @param code A code valid on the wire.
   * @param reason At most 123 UTF-8 bytes.
   */
  fail(code: number, reason = ""): void {
    if (!isValidWireCloseCode(code)) {
      throw new RangeError(`Cannot fail: invalid close code ${code}`);
    }
    if (this.#failed) return;
    const body = encodeClosePayload(code, reason);
    this.#failed = true;
    // An upper-layer failure during a deferred one closes with its own code instead.
    this.#pendingFailure = undefined;
    this.#record().failed({ code, reason });
    if (!this.#close?.isSent) this.#sendCloseFrame(body, code, reason);
  }

  /**
   * Completes a failure held back by `deferFailure`: queues the close with the
   * error's close code (unless a close was sent meanwhile) and moves to
   * `closed`. Does nothing when no failure is pending.
   *
   * @example
   * ```ts
   * import { Protocol } from "@wsc/websocket-channel/engine";
   *
   * const server = new Protocol({ role: "server", deferFailure: true });
   * const [error] = server.receive(new Uint8Array([0x83, 0x80, 0, 0, 0, 0])); // reserved opcode
   * console.assert(error.type === "error" && server.outgoingBytes === 0);
   * server.sendText("still answering"); // replies owed before the failure may go first
   * server.failNow();
   * console.assert(server.state === "closed");
   * ```
   */
  failNow(): void {
    const failure = this.#pendingFailure;
    if (failure === undefined) return;
    this.#pendingFailure = undefined;
    this.#failed = true;
    this.#queueFailureClose(failure);
  }

  /**
   * Queues the reply to the peer's close that `deferCloseReply` held back
   * (echoing its code) and moves to `closed`. Does nothing when no reply is
   * owed (none was held back, or a close was sent meanwhile).
   *
   * @example
   * ```ts
   * import { Protocol } from "@wsc/websocket-channel/engine";
   *
   * const server = new Protocol({ role: "server", deferCloseReply: true });
   * const text = [0x81, 0x82, 0, 0, 0, 0, 0x68, 0x69]; // "hi"
   * const close = [0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8]; // close 1000
   * const events = server.receive(new Uint8Array([...text, ...close]));
   * console.assert(events[1].type === "close" && server.outgoingBytes === 0);
   * server.sendText("hi"); // the answer goes out before the close
   * server.replyClose();
   * console.assert(server.state === "closed");
   * ```
   */
  replyClose(): void {
    const owed = this.#owedCloseReply;
    if (owed === undefined) return;
    this.#owedCloseReply = undefined;
    if (this.#close?.isSent) return;
    this.#sendCloseFrame(owed.body, owed.code, "");
  }

  /**
   * Takes the bytes owed to the peer, in order. Header and payload of a large
   * frame may be separate arrays; write them all, in order.
   *
   * @returns The queued buffers (empty when none).
   */
  takeOutgoing(): Uint8Array[] {
    return this.#outgoing?.take() ?? [];
  }

  #handleFrame(frame: Frame, incoming: IncomingFrames, events: ProtocolEvent[]): void {
    const opcode = frame.opcode;
    if (opcode < 0x8) {
      // RFC 6455 §7.1.4: after sending close, data from the peer is discarded until its close.
      const message = incoming.endDataFrame(frame);
      if (message !== null) events.push(message);
      return;
    }
    if (opcode === Opcode.close) {
      const { code, reason } = parseClosePayload(frame.payload);
      this.#record().received({ code, reason });
      incoming.closeReceived();
      events.push({ type: "close", code, reason });
      if (!this.#close?.isSent) {
        // RFC 6455 §5.5.1: "the endpoint MUST send a Close frame in response ... typically echos
        // the status code it received".
        const body = encodeClosePayload(code === 1005 ? undefined : code);
        if (this.#deferCloseReply) {
          // "An endpoint MAY delay sending a Close frame until its current message is sent."
          this.#owedCloseReply = { body, code };
          return;
        }
        this.#sendCloseFrame(body, code, "");
      }
      return;
    }
    if (this.#close?.isSent) return;
    if (opcode === Opcode.ping) {
      // RFC 6455 §5.5.2: "Upon receipt of a Ping frame, an endpoint MUST send a Pong frame in
      // response ... The Pong frame MUST have identical Application data".
      this.#frames().pong(frame.payload);
      events.push({ type: "ping", data: frame.payload });
    } else {
      events.push({ type: "pong", data: frame.payload });
    }
  }

  /** Queues our close frame and records it. RFC 6455 §5.5.1: "The application MUST NOT send any
   * more data frames after sending a Close frame." */
  #sendCloseFrame(body: Uint8Array, code: number, reason: string): void {
    this.#frames().frame(Opcode.close, body, false);
    this.#record().sent({ code, reason });
  }

  // The one place where a peer failure (decoder, UTF-8, close payload, limits: all
  // throw inside receive()) becomes "stop reading, queue close N".
  #failWith(error: unknown): ProtocolError {
    const protocolError = ProtocolError.from(error);
    if (this.#deferFailure && !this.#close?.isSent) {
      // Input stops now (receive() checks #pendingFailure); the close waits for failNow().
      this.#pendingFailure = protocolError;
      this.#record().failed(failureClose(protocolError));
      return protocolError;
    }
    this.#failed = true;
    this.#queueFailureClose(protocolError);
    return protocolError;
  }

  #queueFailureClose(protocolError: ProtocolError): void {
    const close = failureClose(protocolError);
    this.#record().failed(close);
    if (!this.#close?.isSent) {
      this.#record().sent(close);
      // RFC 6455 §7.1.7: "the endpoint SHOULD send a Close frame with an appropriate status code
      // (Section 7.4) before proceeding to _Close the WebSocket Connection_".
      try {
        this.#frames().frame(Opcode.close, encodeClosePayload(close.code, close.reason), false);
      } catch {
        // Only an injected fillMask can throw here; the caller still learns the failure from the
        // error event and closes the transport, so receive() keeps its never-throws promise.
      }
    }
  }

  #assertOpen(action: string): void {
    if (!this.#close?.isSent) return;
    throw new WebSocketError("WS_INVALID_STATE", `Cannot ${action}: connection is ${this.state}`);
  }

  #compressFlag(options: SendOptions | undefined): boolean {
    if (options?.compressed !== true) return false;
    if (!this.#allowRsv1) {
      throw new TypeError("Cannot send compressed message: permessage-deflate was not negotiated");
    }
    return true;
  }
}
