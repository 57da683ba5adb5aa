/**
 * A {@linkcode WebSocketChannel} over any WHATWG `WebSocket`: browsers, the
 * global `WebSocket` of Deno, Bun and Node ≥ 22, and the server sockets a
 * runtime's own upgrade hands out (see the Deno adapter's `upgrade()`).
 *
 * @module
 */
import { WebSocketError } from "../engine/errors.ts";
import { type Deferred, deferred, handled } from "../_util/deferred.ts";
import {
  CHANNEL_INTERNALS,
  type ChannelInternals,
  NATIVE_TOPICS,
  type NativeTopics,
  offerAllowed,
} from "./channel_internals.ts";
import { createSink, type SinkHandle } from "./channel_sink.ts";
import { Inbox, type ListenOptions, messageCost, type MessageSubscription } from "./inbox.ts";
import { type AnswerPingMessages, type PingAnswerer, pingAnswerer } from "./ping_messages.ts";
import {
  ConnectError,
  ConnectionClosedError,
  InvalidStateError,
  UnsupportedError,
} from "./errors.ts";
import type { CloseInfo, Message, Sendable, WebSocketSink } from "./channel_types.ts";

/** The part of the WHATWG `WebSocket` interface the wrapper uses. */
export interface WebSocketLike {
  /** 0 connecting, 1 open, 2 closing, 3 closed. */
  readonly readyState: number;
  /** Bytes accepted by `send()` and not yet sent. */
  readonly bufferedAmount: number;
  /** The negotiated subprotocol. */
  readonly protocol: string;
  /** The negotiated extensions. */
  readonly extensions: string;
  /** The URL, when known (used in error messages). */
  readonly url?: string;
  /** Set to `"arraybuffer"` by the wrapper. */
  binaryType: string;
  /** Sends a message. */
  send(data: string | ArrayBufferLike | ArrayBufferView | Blob): void;
  /** Starts the closing handshake. */
  close(code?: number, reason?: string): void;
  /** Adds an `open`, `message`, `error` or `close` listener. */
  // deno-lint-ignore no-explicit-any
  addEventListener(type: string, listener: (event: any) => void): void;
  /** Removes a listener. */
  // deno-lint-ignore no-explicit-any
  removeEventListener(type: string, listener: (event: any) => void): void;
}

/** Options of {@linkcode fromWebSocket}. */
export interface FromWebSocketOptions {
  /**
   * Largest accepted message in bytes (UTF-16 units for text). The native
   * socket has already received it, so a larger message closes the connection
   * (1009 where the platform allows that code, else 1000) and `stream` errors
   * with `WS_MESSAGE_TOO_BIG`.
   * @default {67108864}
   */
  maxMessageSize?: number;
  /**
   * Bound of the inbound queue in bytes. A native `WebSocket` cannot stop
   * reading, so messages the application has not read yet pile up here; past
   * this bound (with more than one message queued) the connection is closed
   * (1008 where allowed, else 1000) and `stream` errors with
   * `WS_INBOUND_QUEUE_FULL`. Never unbounded.
   * @default {16777216}
   */
  maxQueuedBytes?: number;
  /**
   * `bufferedAmount` above which `sink.add()` and sink writes wait; checked
   * every `pollInterval` ms (the WHATWG API has no drain event).
   * @default {1048576}
   */
  writableHighWaterMark?: number;
  /** Milliseconds between `bufferedAmount` checks while waiting. @default {5} */
  pollInterval?: number;
  /**
   * Answer application-level ping messages: each received message equal to
   * `ping` is answered with `pong` and not delivered to `stream`. `true`
   * means `{ ping: "ping", pong: "pong" }`.
   * @default {false}
   */
  answerPingMessages?: AnswerPingMessages;
}

const CONNECTING = 0;
const OPEN = 1;

/**
 * Wraps a WHATWG `WebSocket` (connecting or open) as a channel. Binary
 * messages arrive as `Uint8Array` (`binaryType` is set to `"arraybuffer"`).
 * `ping()` rejects with `WS_PING_UNSUPPORTED`: the WHATWG API has no pings.
 *
 * @example
 * ```ts ignore
 * import { fromWebSocket } from "./native_channel.ts";
 *
 * const channel = fromWebSocket(new WebSocket("wss://echo.example"));
 * await channel.ready;
 * await channel.sink.add("hello");
 * ```
 */
export function fromWebSocket(
  ws: WebSocketLike,
  options: FromWebSocketOptions = {},
): NativeChannel {
  return new NativeChannel(ws, options);
}

/**
 * The channel behind {@linkcode fromWebSocket}; exported for `connect()`,
 * which needs {@linkcode NativeChannel.abortOpening}.
 *
 * @example
 * ```ts ignore
 * import { NativeChannel } from "./native_channel.ts";
 *
 * const channel = new NativeChannel(new WebSocket("ws://localhost:8080"), {});
 * channel.abortOpening(new Error("gave up"));
 * ```
 */
export class NativeChannel {
  readonly sink: WebSocketSink;
  readonly ready: Promise<void>;
  readonly closed: Promise<CloseInfo>;

  readonly #ws: WebSocketLike;
  readonly #ready = deferred<void>();
  readonly #closed = deferred<CloseInfo>();
  readonly #sinkHandle: SinkHandle;
  readonly #maxMessageSize: number;
  readonly #maxQueuedBytes: number;
  readonly #highWaterMark: number;
  readonly #pollInterval: number;
  readonly #queue: Inbox;
  #closeCode: number | undefined;
  #closeReason: string | undefined;
  /** Set when we closed; the close event's code is the echo, we report ours. */
  #local: { code: number; reason: string } | undefined;
  #failure: WebSocketError | undefined;
  /** Received Blobs are read asynchronously; later messages wait for them, in order. */
  #blobTail: Promise<void> | undefined;
  #drain: Deferred<void> | undefined;
  #internals: ChannelInternals | undefined;
  readonly #answerPing: PingAnswerer | undefined;

  constructor(ws: WebSocketLike, options: FromWebSocketOptions) {
    this.#answerPing = pingAnswerer(options.answerPingMessages);
    this.#ws = ws;
    this.#maxMessageSize = options.maxMessageSize ?? 64 * 1024 * 1024;
    this.#maxQueuedBytes = options.maxQueuedBytes ?? 16 * 1024 * 1024;
    this.#highWaterMark = options.writableHighWaterMark ?? 1024 * 1024;
    this.#pollInterval = options.pollInterval ?? 5;
    this.ready = handled(this.#ready.promise);
    this.closed = this.#closed.promise;
    ws.binaryType = "arraybuffer";
    // The native socket cannot pause, so nothing is woken on space; the bound is checked on arrival.
    this.#queue = new Inbox();
    this.#sinkHandle = createSink({
      add: (message) => this.#send(message),
      write: (message) => this.#send(message),
      close: (code, reason) => this.#close(code, reason),
      abort: () => this.#close(undefined, undefined),
      closing: (code, reason) => {
        if (this.#closeCode !== undefined || this.#closed.settled) return;
        this.#closeCode = code ?? 1005;
        this.#closeReason = reason ?? "";
      },
    });
    this.sink = this.#sinkHandle.sink;

    if (ws.readyState === OPEN) this.#ready.resolve();
    else if (ws.readyState !== CONNECTING) {
      const error = new InvalidStateError(
        `Cannot wrap a WebSocket in state ${ws.readyState} (closing or closed)`,
      );
      this.#ready.reject(error);
      this.#end({ code: 1006, reason: "", wasClean: false }, error);
      return;
    }
    ws.addEventListener("open", this.#onOpen);
    ws.addEventListener("message", this.#onMessage);
    ws.addEventListener("error", this.#onError);
    ws.addEventListener("close", this.#onClose);
  }

  /** Received messages, created on first use; see {@linkcode WebSocketChannel.stream}. */
  get stream(): ReadableStream<Message> {
    return this.#queue.stream;
  }

  /** Hands each message to `listener` as it arrives; see {@linkcode WebSocketChannel.listen}. */
  listen(listener: (message: Message) => void, options?: ListenOptions): MessageSubscription {
    return this.#queue.listen(listener, options);
  }

  /** Sends one message, as `sink.add()`; see {@linkcode WebSocketChannel.send}. */
  send(message: Sendable): Promise<void> {
    return this.sink.add(message);
  }

  /** The negotiated subprotocol; see {@linkcode WebSocketChannel.protocol}. */
  get protocol(): string {
    return this.#ws.protocol ?? "";
  }

  /** The negotiated extensions; see {@linkcode WebSocketChannel.extensions}. */
  get extensions(): string {
    return this.#ws.extensions ?? "";
  }

  /** The close code once a close started; see {@linkcode WebSocketChannel.closeCode}. */
  get closeCode(): number | undefined {
    return this.#closeCode;
  }

  /** The close reason once a close started; see {@linkcode WebSocketChannel.closeReason}. */
  get closeReason(): string | undefined {
    return this.#closeReason;
  }

  /** Gives up a connection that is not open yet: `ready` rejects with `error`. */
  abortOpening(error: WebSocketError): void {
    if (this.#ready.settled) return;
    this.#failure = error;
    this.#ready.reject(error);
    this.#ws.close();
  }

  /** Rejects with `WS_PING_UNSUPPORTED`; see {@linkcode WebSocketChannel.ping}. */
  ping(): Promise<number> {
    return Promise.reject(
      new UnsupportedError(
        "WS_PING_UNSUPPORTED",
        "Cannot ping: the WHATWG WebSocket API has no ping; use an application-level heartbeat or the engine transport",
      ),
    );
  }

  #onOpen = () => this.#ready.resolve();

  #onError = () => {
    if (this.#ready.settled) return;
    const url = this.#ws.url ? ` to ${this.#ws.url}` : "";
    this.#failure = new ConnectError("WS_CONNECT_FAILED", `WebSocket connection${url} failed`);
    this.#ready.reject(this.#failure);
  };

  #onMessage = (event: { data: unknown }) => {
    const data = event.data;
    if (this.#blobTail || (typeof Blob !== "undefined" && data instanceof Blob)) {
      const previous = this.#blobTail ?? Promise.resolve();
      const tail: Promise<void> = previous.then(async () => {
        const message = data instanceof Blob
          ? new Uint8Array(await data.arrayBuffer())
          : toMessage(data);
        this.#deliver(message);
      }).finally(() => {
        if (this.#blobTail === tail) this.#blobTail = undefined;
      });
      this.#blobTail = tail;
      return;
    }
    this.#deliver(toMessage(data));
  };

  #deliver(message: Message): void {
    if (this.#queue.ended || this.#local || this.#failure) return;
    const pong = this.#answerPing?.(message);
    if (pong !== undefined) {
      try {
        if (this.#ws.readyState === OPEN) this.#ws.send(pong);
      } catch { /* closing: the close event ends the channel */ }
      return;
    }
    const size = messageCost(message);
    if (size - 32 > this.#maxMessageSize) {
      return this.#fail(
        1009,
        "WS_MESSAGE_TOO_BIG",
        `Message of ${size - 32} bytes exceeds maxMessageSize`,
      );
    }
    const queued = this.#queue.bytes;
    // One message always fits (it is bounded by maxMessageSize); a backlog past the bound does not.
    if (queued > 0 && queued + size > this.#maxQueuedBytes) {
      return this.#fail(
        1008,
        "WS_INBOUND_QUEUE_FULL",
        `More than ${this.#maxQueuedBytes} bytes of unread messages; the native WebSocket cannot pause`,
      );
    }
    this.#queue.push(message);
  }

  /** Our own limit was hit: close with `code` where the platform allows it. */
  #fail(code: number, errorCode: string, message: string): void {
    this.#failure = new WebSocketError(errorCode, message, { closeCode: code });
    this.#closeCode = code;
    this.#closeReason = "";
    this.#local = { code, reason: "" };
    this.#endStream(this.#failure);
    try {
      this.#ws.close(code);
    } catch {
      // WHATWG close() only takes 1000 and 3000–4999.
      this.#ws.close(1000);
    }
  }

  #onClose = (event: { code: number; reason: string; wasClean: boolean }) => {
    const ws = this.#ws;
    ws.removeEventListener("open", this.#onOpen);
    ws.removeEventListener("message", this.#onMessage);
    ws.removeEventListener("error", this.#onError);
    ws.removeEventListener("close", this.#onClose);
    const wasClean = Boolean(event.wasClean);
    let info: CloseInfo;
    if (!wasClean) info = { code: 1006, reason: "", wasClean };
    else if (this.#local) info = { ...this.#local, wasClean };
    else info = { code: event.code ?? 1005, reason: event.reason ?? "", wasClean };
    if (!this.#ready.settled) {
      this.#failure ??= new ConnectError("WS_CONNECT_FAILED", "WebSocket closed before it opened");
      this.#ready.reject(this.#failure);
    }
    this.#closeCode = this.#failure && this.#local ? this.#closeCode : info.code;
    this.#closeReason = this.#failure && this.#local ? this.#closeReason : info.reason;
    const error = this.#failure ??
      (wasClean ? undefined : new ConnectionClosedError(info.code, info.reason));
    const finish = () =>
      this.#end(this.#failure && this.#local ? { ...info, code: this.#closeCode! } : info, error);
    if (this.#blobTail) this.#blobTail.then(finish, finish);
    else finish();
  };

  #end(info: CloseInfo, error: unknown): void {
    this.#endStream(error);
    this.#sinkHandle.error(error ?? new ConnectionClosedError(info.code, info.reason));
    this.#drain?.resolve();
    this.#closed.resolve(info);
  }

  /** Ends `stream` after the messages already received. */
  #endStream(error?: unknown): void {
    if (error) this.#queue.error(error);
    else this.#queue.close();
  }

  async #send(message: Sendable): Promise<void> {
    if (this.#ws.readyState === CONNECTING && !this.#local) await this.ready;
    if (this.#local || this.#ws.readyState !== OPEN) {
      throw new ConnectionClosedError(this.#closeCode ?? 1006, this.#closeReason ?? "", {
        message: "Cannot send: the connection is closing or closed",
      });
    }
    this.#ws.send(message as string);
    await this.#waitForDrain();
  }

  /** WHATWG WebSocket has no drain event: poll `bufferedAmount`. */
  async #waitForDrain(): Promise<void> {
    while (this.#ws.bufferedAmount > this.#highWaterMark && this.#ws.readyState === OPEN) {
      const drain = deferred<void>();
      this.#drain = drain;
      const timer = setTimeout(() => drain.resolve(), this.#pollInterval);
      await drain.promise;
      clearTimeout(timer);
    }
  }

  #close(code: number | undefined, reason: string | undefined): Promise<void> {
    const done = this.#closed.promise.then(() => {});
    if (this.#local || this.#closed.settled) return done;
    this.#local = { code: code ?? 1005, reason: reason ?? "" };
    if (this.#closeCode === undefined) {
      this.#closeCode = this.#local.code;
      this.#closeReason = this.#local.reason;
    }
    // StreamChannel contract: closing the sink closes the stream before more messages.
    this.#endStream();
    this.#sinkHandle.error(new ConnectionClosedError(this.#local.code, this.#local.reason));
    // Exact arity: some browsers refuse `undefined` for either argument.
    try {
      if (code === undefined) this.#ws.close();
      else if (reason === undefined) this.#ws.close(code);
      else this.#ws.close(code, reason);
    } catch (error) {
      // A server's 1001/1008/1013 on a socket with WHATWG rules (1000 and 3000–4999 only).
      if (code === undefined || code === 1000) throw error;
      this.#ws.close(1000, reason ?? "");
    }
    return done;
  }

  /**
   * For servers and the topic hub; see {@linkcode ChannelInternals}.
   *
   * @ignore
   */
  get [CHANNEL_INTERNALS](): ChannelInternals {
    return this.#internals ??= {
      acceptsFrames: false,
      deflate: undefined,
      nativeTopics: (this.#ws as { [NATIVE_TOPICS]?: NativeTopics })[NATIVE_TOPICS],
      isOpen: () => this.#ws.readyState === OPEN && !this.#local,
      backlog: () => this.#ws.bufferedAmount,
      offerMessage: (message, limit) => {
        if (this.#ws.readyState !== OPEN || this.#local) return 2;
        const size = typeof message === "string" ? message.length : message.byteLength;
        if (!offerAllowed(this.#ws.bufferedAmount, size, limit)) return 1;
        try {
          this.#ws.send(message);
        } catch {
          // Bun reports a message it dropped by throwing from the shim: not written.
          return 1;
        }
        return 0;
      },
      offerFrames: () => 2,
      flush: () => {},
      close: (code, reason) => this.#close(code, reason),
    };
  }
}

function toMessage(data: unknown): Message {
  if (typeof data === "string") return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) {
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  }
  return String(data);
}
