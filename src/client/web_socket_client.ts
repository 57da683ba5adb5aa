/**
 * The reconnecting WebSocket client: the public facade over the reconnect
 * loop (`reconnect_loop.ts`), the send path (`outbound.ts`), the message
 * readers (`message_streams.ts`) and the shared state (`client_core.ts`).
 *
 * @module
 */
import { ClientCore, type ClientEvents, rejected } from "./client_core.ts";
import { systemClock } from "../_util/clock.ts";
import { ClientError, type InvalidJsonError } from "./errors.ts";
import { DROP, type Interceptor, runReceiveInterceptors } from "./interceptors.ts";
import {
  BoundedReader,
  type JsonStream,
  MessageFanout,
  type ReaderOptions,
} from "./message_streams.ts";
import { type ClientMetrics, snapshotMetrics } from "./metrics.ts";
import { OfflineQueue } from "./offline_queue.ts";
import { resolveReconnect, type UrlSource, type WebSocketClientOptions } from "./options.ts";
import { Outbound } from "./outbound.ts";
import { ReconnectLoop } from "./reconnect_loop.ts";
import type { ClientState } from "./state.ts";
import { type Message, messageSize, type SendData, toMessage } from "./types.ts";
import { createDefaultConnector } from "./default_connector.ts";
import { checkClientOptions, checkClientUrl } from "./check_options.ts";
import { validateCloseArguments } from "../engine/close_payload.ts";

export type { ClientEvents } from "./client_core.ts";

/**
 * A WebSocket client that reconnects with full-jitter backoff, checks
 * liveness with a heartbeat, queues messages while offline, and exposes its
 * state, metrics, interceptors and JSON helpers. The transport is injected
 * (`connector`), so it runs over the engine, a native WebSocket, or a fake.
 *
 * @example
 * ```ts
 * import { WebSocketClient } from "@wsc/websocket-channel/client";
 *
 * const client = new WebSocketClient("wss://example.com/feed", {
 *   reconnect: { base: 500, max: 10_000 },
 *   afterConnect: (c) => c.sendJson({ type: "subscribe", topic: "prices" }),
 * });
 * client.on("state", (state) => console.log(state.type));
 * if (false) {
 *   await client.connect();
 *   await client.sendJson({ hello: "world" });
 *   for await (const value of client.json()) console.log(value);
 * }
 * await client.close();
 * ```
 */
export class WebSocketClient {
  #core: ClientCore;
  #loop: ReconnectLoop;
  #outbound: Outbound;
  #hasConnector: boolean;
  #interceptors: readonly Interceptor[];
  #fanout: MessageFanout;
  #jsonErrorBuffers = new Set<BoundedReader<InvalidJsonError>>();
  /** Set once `close()` has ended every stream. */
  #ended = false;

  /**
   * Creates an idle client; nothing happens before `connect()`.
   * @param url Where to connect, or a function returning the URL for each attempt.
   *   May be omitted when every `connect(url)` call passes one.
   * @param options Transport, reconnect, heartbeat, queue and hooks.
   * @throws {SyntaxError} A URL or subprotocol the WHATWG `WebSocket` would refuse.
   * @throws {TypeError} An option of the wrong type (`RangeError`: out of range).
   * @throws {UnsupportedError} `WS_OPTION_UNSUPPORTED`: an option this runtime
   *   cannot honour (`connectOptions.headers` in a browser), or a `heartbeat`
   *   where protocol pings cannot be sent and no `heartbeat.pingMessage` is given.
   */
  constructor(url?: UrlSource, options: WebSocketClientOptions = {}) {
    // Programming errors (a bad URL or option, a heartbeat that cannot run here) throw now.
    const heartbeat = checkClientOptions(url, options);
    const clock = options.clock ?? systemClock;
    const core = new ClientCore(
      clock,
      options.queue === false ? undefined : new OfflineQueue(clock, options.queue),
    );
    this.#core = core;
    this.#hasConnector = options.connector !== undefined;
    this.#interceptors = Object.freeze([...(options.interceptors ?? [])]);
    this.#outbound = new Outbound(core, this.#interceptors);
    this.#fanout = new MessageFanout(options.readers, {
      dropped: (count) => void (core.recorder.readerDroppedMessages += count),
      overflowed: () => void core.recorder.readerOverflows++,
    });
    this.#loop = new ReconnectLoop(core, {
      source: url,
      // The channel gives up its close handshake when the client does, so the socket goes then too.
      connector: options.connector ??
        createDefaultConnector({ closeTimeout: options.closeTimeout, ...options.connectOptions }),
      protocols: options.protocols,
      reconnect: resolveReconnect(options.reconnect),
      connectTimeout: options.connectTimeout ?? 15_000,
      closeTimeout: options.closeTimeout ?? 5000,
      random: options.random ?? Math.random,
      heartbeat,
      delivery: options.delivery,
      afterConnect: options.afterConnect,
      outbound: this.#outbound,
      deliver: (message) => this.#deliver(message),
    });
    const signal = options.signal;
    if (signal) {
      const onAbort = () =>
        void this.#shutdown(1001, "aborted", abortError(signal)).catch(() => {});
      if (signal.aborted) onAbort();
      else signal.addEventListener("abort", onAbort, { once: true });
    }
  }

  /** The current state. */
  get state(): ClientState {
    return this.#core.state;
  }

  /** Whether `close()` was called (or the signal aborted): the client is final. */
  get isClosed(): boolean {
    return this.#core.final;
  }

  /**
   * A new stream of the state changes from now on (each access gives its own
   * stream); it ends after the final `closed` state of `close()`.
   */
  get stateChanges(): ReadableStream<ClientState> {
    let controller!: ReadableStreamDefaultController<ClientState>;
    const stream = new ReadableStream<ClientState>({
      start: (c) => void (controller = c),
      cancel: () => void this.#core.stateStreams.delete(controller),
    });
    if (this.#ended) controller.close();
    else this.#core.stateStreams.add(controller);
    return stream;
  }

  /**
   * A new reader of the messages of every connection from now on, in order:
   * each access subscribes again (like Dart's broadcast streams), so two
   * `for await (… of client.stream)` loops each see every message. Same as
   * `messages()` with the client's `readers` options; keep the stream in a
   * variable to read it in several places. An access that is never read nor
   * cancelled is a subscriber too: bounded, it ends itself at its limit with
   * the default `overflow: "error"`, but with `"wait"` it holds the socket.
   */
  get stream(): ReadableStream<Message> {
    return this.#fanout.messages();
  }

  /**
   * A new, independent reader of the messages of every connection from now
   * on, in order; it survives reconnects and ends (after what it buffered)
   * on `close()`. Each reader has its own bounded buffer: a slow reader
   * never grows memory without bound, and with the default
   * `overflow: "error"` it never holds back the others (see
   * {@linkcode ReaderOptions}). Cancelling the stream unsubscribes it. With
   * no reader, messages are not kept (subscribe before `connect()` to see
   * the first ones).
   *
   * @example Two readers, each at its own pace
   * ```ts
   * import { WebSocketClient } from "@wsc/websocket-channel/client";
   *
   * const client = new WebSocketClient("ws://localhost:1");
   * const log = client.messages({ limit: 10_000, overflow: "drop-oldest" });
   * const work = client.messages({ overflow: "wait" }); // the socket waits for this one
   * void log.cancel();
   * void work.cancel();
   * await client.close();
   * ```
   */
  messages(options?: ReaderOptions): ReadableStream<Message> {
    return this.#fanout.messages(options);
  }

  /**
   * Adds a typed listener; returns a function that removes it.
   *
   * @example
   * ```ts
   * import { WebSocketClient } from "@wsc/websocket-channel/client";
   *
   * const client = new WebSocketClient("ws://localhost:1");
   * const off = client.on("state", (s) => console.log(s.type));
   * off();
   * await client.close();
   * ```
   */
  on<K extends keyof ClientEvents>(
    type: K,
    listener: (value: ClientEvents[K]) => void,
  ): () => void {
    return this.#core.events.on(type, listener);
  }

  /**
   * Connects (or, with a different `url` while connected, switches: the old
   * connection closes with 1001). Resolves when the client is open; rejects
   * when reconnecting gives up (with the last attempt's error, e.g. an HTTP
   * 403 handshake error), or with `WS_CONNECT_CANCELLED` when `disconnect()`
   * or another `connect(url)` interrupts it. Calling it while connecting or
   * open on the same URL just waits for that. A `url` the WHATWG `WebSocket`
   * would refuse throws a `SyntaxError` at the call.
   */
  connect(url?: string | URL): Promise<void> {
    if (!this.#hasConnector) checkClientUrl(url);
    const result = this.#loop.connect(url);
    result.catch(() => {}); // an unobserved failed connect must not crash the process
    return result;
  }

  /**
   * Closes the connection (close code `code`: 1000 or 3000–4999, default
   * 1000; a reason of at most 123 UTF-8 bytes; else a `RangeError` is
   * thrown at the call) and stops
   * reconnecting; messages still queued are rejected with
   * `WS_MESSAGE_DROPPED`. The client can `connect()` again.
   */
  disconnect(code = 1000, reason = ""): Promise<void> {
    // Invalid arguments are programming errors: thrown at the call.
    validateCloseArguments(code, reason);
    if (this.#core.final) return rejected(this.#core.closedError());
    const result = this.#loop.disconnect(code, reason);
    result.catch(() => {});
    return result;
  }

  /**
   * Closes for good: the connection closes with `code` (default 1000),
   * pending and queued sends reject with `WS_CLIENT_CLOSED`, `stream`,
   * `json()` and `stateChanges` end. Every later call rejects with
   * `WS_CLIENT_CLOSED`.
   */
  close(code = 1000, reason = ""): Promise<void> {
    validateCloseArguments(code, reason);
    if (this.#core.final) return rejected(this.#core.closedError());
    return this.#shutdown(
      code,
      reason,
      new ClientError("WS_CLIENT_CLOSED", "The client was closed"),
    );
  }

  /**
   * Sends a message: immediately when open, otherwise through the offline
   * queue. Messages go out in `send()` order.
   *
   * Resolves when the transport of an open connection accepted the message
   * (written to the socket, or to a browser WebSocket's buffer). That is not
   * delivery: if the connection dies before the message is confirmed (a
   * later ping answered, or the peer answering our close), it is reported
   * in an `unconfirmed` event and counted in `metrics().unconfirmedMessages`
   * (or resent, with `delivery.resendUnconfirmed`), never lost silently.
   * A message the dying connection did not accept stays queued for the next
   * one, and its `send()` resolves only then.
   *
   * Rejects with a {@linkcode ClientError} when the message is dropped,
   * expires, does not fit, or the client is closed. A value that is not a
   * string, `ArrayBuffer` or `ArrayBufferView` is a programming error:
   * `send` **throws** a `TypeError` naming it at the call.
   */
  send(data: SendData): Promise<void> {
    return this.#outbound.send(toMessage(data, "client.send"));
  }

  /** `send(JSON.stringify(value))`; a value that cannot be serialised rejects with its `TypeError`. */
  sendJson(value: unknown): Promise<void> {
    let text: string;
    try {
      text = JSON.stringify(value);
    } catch (error) {
      return rejected(error);
    }
    if (text === undefined) return rejected(new TypeError("Value is not serialisable as JSON"));
    return this.send(text);
  }

  /**
   * A new stream of received messages parsed as JSON (binary as UTF-8). A
   * message that is not JSON never errors the stream: it appears as an
   * `InvalidJsonError` on the `errors` side stream (and is counted in the
   * metrics).
   *
   * @example
   * ```ts
   * import { WebSocketClient } from "@wsc/websocket-channel/client";
   *
   * const client = new WebSocketClient("ws://localhost:1");
   * const values = client.json<{ price: number }>();
   * values.errors.cancel(); // not interested in malformed messages
   * await client.close();
   * ```
   */
  json<T = unknown>(options?: ReaderOptions): JsonStream<T> {
    const errors: BoundedReader<InvalidJsonError> = new BoundedReader(
      { limit: 100, overflow: "drop-oldest" },
      () => this.#jsonErrorBuffers.delete(errors),
    );
    if (this.#core.final) errors.end();
    else this.#jsonErrorBuffers.add(errors);
    const stream = this.#fanout.json<T>((error) => {
      this.#core.recorder.invalidJson++;
      errors.push(error, 0);
    }, options);
    Object.defineProperty(stream, "errors", { value: errors.stream, enumerable: true });
    return stream as JsonStream<T>;
  }

  /** A JSON-able snapshot of the counters; see {@linkcode ClientMetrics}. */
  metrics(): ClientMetrics {
    return snapshotMetrics(this.#core, this.#core.clock.now());
  }

  async #shutdown(code: number, reason: string, error: ClientError): Promise<void> {
    const core = this.#core;
    if (core.final) return;
    core.final = true;
    core.finalError = error;
    await this.#loop.shutdown(code, reason, error);
    core.queue?.clear(error);
    this.#fanout.close();
    for (const buffer of this.#jsonErrorBuffers) buffer.end();
    this.#jsonErrorBuffers.clear();
    for (const controller of core.stateStreams) {
      try {
        controller.close();
      } catch { /* cancelled */ }
    }
    core.stateStreams.clear();
    this.#ended = true;
  }

  // Synchronous unless a reader is full or an interceptor is async, so the
  // read loop does not pay a promise per message.
  #deliver(raw: Message): Promise<void> | undefined {
    const size = messageSize(raw);
    this.#core.recorder.recordReceived(size);
    if (this.#interceptors.length > 0) return this.#deliverIntercepted(raw);
    const events = this.#core.events;
    if (events.has("message")) events.emit("message", raw);
    // A reader that did not take the message at once gets a turn to catch up
    // before the next one: a burst of messages that arrived together is not
    // handed over faster than a prompt reader reads it.
    return this.#fanout.deliver(raw, size, A_TURN);
  }

  async #deliverIntercepted(raw: Message): Promise<void> {
    const core = this.#core;
    let message: Message | typeof DROP;
    try {
      message = await runReceiveInterceptors(this.#interceptors, raw, { url: core.url ?? "" });
    } catch (error) {
      core.emitError(error);
      return;
    }
    if (message === DROP) return;
    core.events.emit("message", message);
    await this.#fanout.deliver(message);
  }
}

/** What `#deliver` waits for to give readers a turn: one microtask. */
const A_TURN: Promise<void> = Promise.resolve();

function abortError(signal: AbortSignal): ClientError {
  return new ClientError("WS_ABORTED", "The client's signal aborted", { cause: signal.reason });
}
