/**
 * A scriptable in-memory `WebSocketChannel` and the server-side handle that
 * drives it: no engine, no sockets, no timers of its own, so tests with a
 * fake clock stay deterministic.
 *
 * @module
 */
import { asBytes } from "../_util/bytes.ts";
import { checkSendable } from "../_util/sendable.ts";
import { validateCloseArguments } from "../engine/close_payload.ts";
import { ConnectionClosedError, UnsupportedError } from "../channel/errors.ts";
import { Inbox, type ListenOptions, type MessageSubscription } from "../channel/inbox.ts";
import type {
  CloseInfo,
  Message,
  Sendable,
  WebSocketChannel,
  WebSocketSink,
} from "../channel/web_socket_channel.ts";

/** Behaviour of one fake connection. */
export interface FakeChannelOptions {
  /** The subprotocol the channel reports. Default `""`. */
  protocol?: string;
  /** Whether `ping()` is supported (false behaves like a browser WebSocket). Default true. */
  pingSupported?: boolean;
  /** Whether the server answers pings (false simulates a dead peer). Default true. */
  answerPings?: boolean;
  /** Round-trip time `ping()` reports. Default 1. */
  pingRtt?: number;
  /** Whether the server answers a close frame (false: the close handshake never completes). Default true. */
  echoClose?: boolean;
}

/**
 * The server's side of a fake connection: see what the client sent, push
 * messages, close cleanly, or drop the connection.
 *
 * @example
 * ```ts
 * import { FakePeer } from "@wsc/websocket-channel/testing";
 *
 * const peer = new FakePeer("ws://fake/", {});
 * peer.send("hello");
 * const { value } = await peer.channel.stream.getReader().read();
 * console.assert(value === "hello");
 * ```
 */
export class FakePeer {
  /** The URL the client connected to. */
  readonly url: string;
  /** Every message the client sent on this connection, in order. */
  readonly received: Message[] = [];
  /** The client-side channel. */
  readonly channel: FakeChannel;
  /** Toggle at any time: whether pings get answered. */
  answerPings: boolean;
  /** Toggle at any time: whether a client close frame gets answered. */
  echoClose: boolean;
  /**
   * Toggle at any time: client messages and pings are still accepted by the
   * transport (`sink.add` resolves) but never reach the server, like bytes
   * in flight when a server crashes. Pings stay unanswered meanwhile.
   */
  loseMessages = false;
  /** Messages the client's transport accepted while `loseMessages` was on. */
  readonly lost: Message[] = [];
  /** Pings the client sent. */
  pings = 0;
  #waiters: ((message: Message) => void)[] = [];
  #listeners: ((message: Message) => void)[] = [];

  /**
   * Creates a connection; its client side is `channel`.
   * @param url The URL of the connection.
   * @param options Its behaviour.
   */
  constructor(url: string, options: FakeChannelOptions) {
    this.url = url;
    this.answerPings = options.answerPings ?? true;
    this.echoClose = options.echoClose ?? true;
    this.channel = new FakeChannel(this, options);
  }

  /** Whether the connection ended. */
  get isClosed(): boolean {
    return this.channel.closeInfo !== undefined;
  }

  /** Resolves with how the connection ended. */
  get closed(): Promise<CloseInfo> {
    return this.channel.closed;
  }

  /**
   * Delivers a message to the client (an `ArrayBuffer` or view arrives as a
   * `Uint8Array`). Ignored once closed. Anything else throws a `TypeError`.
   */
  send(message: Message | ArrayBuffer | ArrayBufferView): void {
    checkSendable(message, "peer.send", { blob: false });
    this.channel.deliver(typeof message === "string" ? message : asBytes(message));
  }

  /** Closes from the server side with a clean close handshake. */
  close(code = 1000, reason = ""): void {
    this.channel.finish({ code, reason, wasClean: true });
  }

  /** Drops the connection without a close frame (the client sees 1006). */
  drop(): void {
    this.channel.finish({ code: 1006, reason: "", wasClean: false });
  }

  /** Resolves with the next message the client sends. */
  nextMessage(): Promise<Message> {
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Calls `listener` for every later message from the client (e.g. an echo server). */
  onMessage(listener: (message: Message) => void): void {
    this.#listeners.push(listener);
  }

  /** @internal Called by the channel's sink. */
  accept(message: Message): void {
    this.received.push(message);
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) waiter(message);
    for (const listener of this.#listeners) listener(message);
  }
}

/**
 * The client side of a {@linkcode FakePeer}: a complete `WebSocketChannel`.
 *
 * @example
 * ```ts
 * import { FakePeer } from "@wsc/websocket-channel/testing";
 *
 * const { channel } = new FakePeer("ws://fake/", { protocol: "chat" });
 * await channel.ready;
 * console.assert(channel.protocol === "chat");
 * ```
 */
export class FakeChannel implements WebSocketChannel {
  /** Messages go to the fake server's `received`. */
  readonly sink: WebSocketSink;
  /** Already open. */
  readonly ready: Promise<void> = Promise.resolve();
  /** Resolves when either side ended the connection. */
  readonly closed: Promise<CloseInfo>;
  /** The configured subprotocol. */
  readonly protocol: string;
  /** Always `""`. */
  readonly extensions = "";
  /** The close code once a close started. */
  closeCode: number | undefined;
  /** The close reason once a close started. */
  closeReason: string | undefined;
  /** How the connection ended, once it has. */
  closeInfo: CloseInfo | undefined;
  #peer: FakePeer;
  readonly #inbox = new Inbox();
  #resolveClosed!: (info: CloseInfo) => void;
  #pingSupported: boolean;
  #pingRtt: number;
  #pendingPings: { resolve(rtt: number): void; reject(error: unknown): void }[] = [];
  #closing = false;

  /**
   * Creates the client side of `peer` (use `new FakePeer(...)` instead).
   * @param peer The server side.
   * @param options Behaviour.
   */
  constructor(peer: FakePeer, options: FakeChannelOptions) {
    this.#peer = peer;
    this.protocol = options.protocol ?? "";
    this.#pingSupported = options.pingSupported ?? true;
    this.#pingRtt = options.pingRtt ?? 1;
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
    const writable = new WritableStream<Sendable>({
      write: (chunk) => {
        checkSendable(chunk, "A write to the sink");
        return this.#write(chunk);
      },
    });
    this.sink = Object.assign(writable, {
      add: (message: Sendable) => {
        // As the real sinks: a value that is not a message throws at the call.
        checkSendable(message, "sink.add");
        return this.#write(message);
      },
      close: (code?: number, reason?: string) => this.#close(code, reason),
    }) as WebSocketSink;
  }

  /** Messages the fake server sent. */
  get stream(): ReadableStream<Message> {
    return this.#inbox.stream;
  }

  /** Hands each message the fake server sends to `listener`; see {@linkcode WebSocketChannel.listen}. */
  listen(listener: (message: Message) => void, options?: ListenOptions): MessageSubscription {
    return this.#inbox.listen(listener, options);
  }

  /** Sends one message to the fake server, as `sink.add()`; see {@linkcode WebSocketChannel.send}. */
  send(message: Sendable): Promise<void> {
    return this.sink.add(message);
  }

  /** Sends a ping; see {@linkcode FakeChannelOptions}. */
  ping(): Promise<number> {
    if (!this.#pingSupported) {
      return Promise.reject(
        new UnsupportedError("WS_PING_UNSUPPORTED", "This fake channel has no pings"),
      );
    }
    if (this.closeInfo || this.#closing) {
      return Promise.reject(new ConnectionClosedError(this.closeCode ?? 1006));
    }
    if (this.#peer.loseMessages) {
      return new Promise((resolve, reject) => this.#pendingPings.push({ resolve, reject }));
    }
    this.#peer.pings++;
    if (this.#peer.answerPings) return Promise.resolve(this.#pingRtt);
    return new Promise((resolve, reject) => this.#pendingPings.push({ resolve, reject }));
  }

  /** @internal Server → client message. */
  deliver(message: Message): void {
    if (this.closeInfo) return;
    this.#inbox.push(message);
  }

  /** @internal Ends the connection once. */
  finish(info: CloseInfo): void {
    if (this.closeInfo) return;
    this.closeInfo = info;
    this.closeCode ??= info.code;
    this.closeReason ??= info.reason;
    if (info.wasClean) this.#inbox.close();
    else this.#inbox.error(new ConnectionClosedError(info.code));
    for (const ping of this.#pendingPings.splice(0)) {
      ping.reject(new ConnectionClosedError(info.code));
    }
    this.#resolveClosed(info);
  }

  #write(data: Sendable): Promise<void> {
    if (this.closeInfo || this.#closing) {
      return Promise.reject(new ConnectionClosedError(this.closeCode ?? 1006));
    }
    let message: Message;
    if (typeof data === "string" || data instanceof Uint8Array) message = data;
    else if (data instanceof ArrayBuffer) message = new Uint8Array(data.slice(0));
    else if (ArrayBuffer.isView(data)) {
      message = new Uint8Array(
        data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength),
      );
    } else return Promise.reject(new TypeError("The fake channel does not send Blobs"));
    if (this.#peer.loseMessages) this.#peer.lost.push(message);
    else this.#peer.accept(message);
    return Promise.resolve();
  }

  #close(code?: number, reason = ""): Promise<void> {
    // The real sink's validation, thrown at the call as there.
    code = validateCloseArguments(code, reason);
    if (this.closeInfo) return Promise.resolve();
    this.#closing = true;
    this.closeCode ??= code ?? 1005;
    this.closeReason ??= reason;
    if (this.#peer.echoClose) this.finish({ code: code ?? 1005, reason, wasClean: true });
    return this.closed.then(() => {});
  }
}
