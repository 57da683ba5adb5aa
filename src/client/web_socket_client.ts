/**
 * The reconnecting WebSocket client.
 *
 * @module
 */
import { backoffDelay } from "./backoff.ts";
import { type Clock, sleep, systemClock } from "./clock.ts";
import type { Connection, EndInfo } from "./connection.ts";
import { type UnconfirmedMessages, UnconfirmedReporter } from "./delivery.ts";
import { attemptConnection } from "./attempt.ts";
import { ClientError, describeError, errorStatus, type InvalidJsonError } from "./errors.ts";
import {
  DROP,
  type Interceptor,
  runReceiveInterceptors,
  runSendInterceptors,
} from "./interceptors.ts";
import {
  BoundedReader,
  type JsonStream,
  MessageFanout,
  type ReaderOptions,
} from "./message_streams.ts";
import { type ClientMetrics, MetricsRecorder } from "./metrics.ts";
import { OfflineQueue } from "./offline_queue.ts";
import {
  type ResolvedReconnect,
  resolveReconnect,
  type UrlSource,
  type WebSocketClientOptions,
} from "./options.ts";
import { defaultReconnectPolicy, normalizeDecision } from "./retry_policy.ts";
import { type ClientState, Emitter, sameState } from "./state.ts";
import { type Connector, type Message, messageSize, type SendData, toMessage } from "./types.ts";
import { createDefaultConnector } from "./default_connector.ts";
import { checkClientOptions, checkClientUrl } from "./check_options.ts";
import { validateCloseArguments } from "../engine/close_payload.ts";

/** Events of {@linkcode WebSocketClient.on}. */
export interface ClientEvents {
  /** Every state change (no two equal states in a row). */
  state: ClientState;
  /** Every received message, after the receive interceptors. */
  message: Message;
  /** Problems that do not end the client: heartbeat unsupported, a failing listener, a failed attempt. */
  error: Error;
  /**
   * Messages whose `send()` resolved but that were not confirmed when their
   * connection ended, so the peer may never have received them; see
   * {@linkcode UnconfirmedMessages} and the `delivery` option.
   */
  unconfirmed: UnconfirmedMessages;
}

interface Waiter {
  resolve(): void;
  reject(error: unknown): void;
}

interface Session {
  readonly controller: AbortController;
  readonly source: UrlSource;
  /** Resolves (to undefined) when the session is aborted. */
  readonly aborted: Promise<undefined>;
  /** `connect()` calls waiting for the next `open`. */
  waiters: Waiter[];
  done: Promise<void>;
}

const INITIAL: ClientState = Object.freeze({
  type: "closed",
  code: 1005,
  reason: "",
  willReconnect: false,
});

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
  #source: UrlSource | undefined;
  #connector: Connector;
  #protocols: string[] | undefined;
  #reconnect: ResolvedReconnect;
  #connectTimeout: number;
  #closeTimeout: number;
  #options: WebSocketClientOptions;
  #interceptors: readonly Interceptor[];
  #clock: Clock;
  #random: () => number;
  #queue: OfflineQueue | undefined;
  #metrics = new MetricsRecorder();
  #events: Emitter<ClientEvents>;
  #fanout: MessageFanout;
  #stateStreams = new Set<ReadableStreamDefaultController<ClientState>>();
  #jsonErrorBuffers = new Set<BoundedReader<InvalidJsonError>>();

  #state: ClientState = INITIAL;
  #stateSince: number;
  #url: string | null = null;
  #conn: Connection | undefined;
  #lastReadDone: Promise<void> = Promise.resolve();
  #session: Session | undefined;
  #lock: Promise<unknown> = Promise.resolve();
  #final = false;
  #ended = false;
  #finalError: ClientError | undefined;
  #pumping = false;
  #sendChain: Promise<unknown> = Promise.resolve();
  #streak = 0;
  #stableTimer: unknown = undefined;
  #nextReconnectAt: number | null = null;
  #seq = 0;
  #resendUnconfirmed: boolean;
  #unconfirmed: UnconfirmedReporter;
  /** While `#stop` switches URLs: a resend still goes out (on the new URL). */
  #switching = false;

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
    this.#source = url;
    this.#options = { ...options, heartbeat };
    this.#connector = options.connector ?? createDefaultConnector(options.connectOptions);
    this.#protocols = options.protocols;
    this.#reconnect = resolveReconnect(options.reconnect);
    this.#connectTimeout = options.connectTimeout ?? 15_000;
    this.#closeTimeout = options.closeTimeout ?? 5000;
    this.#interceptors = Object.freeze([...(options.interceptors ?? [])]);
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? Math.random;
    this.#queue = options.queue === false
      ? undefined
      : new OfflineQueue(this.#clock, options.queue);
    this.#resendUnconfirmed = options.delivery?.resendUnconfirmed ?? false;
    this.#events = new Emitter((error) => console.error(error));
    this.#unconfirmed = new UnconfirmedReporter((event) => this.#events.emit("unconfirmed", event));
    this.#fanout = new MessageFanout(options.readers, {
      dropped: (count) => void (this.#metrics.readerDroppedMessages += count),
      overflowed: () => void this.#metrics.readerOverflows++,
    });
    this.#stateSince = this.#clock.now();
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
    return this.#state;
  }

  /** Whether `close()` was called (or the signal aborted): the client is final. */
  get isClosed(): boolean {
    return this.#final;
  }

  /**
   * A new stream of the state changes from now on (each access gives its own
   * stream); it ends after the final `closed` state of `close()`.
   */
  get stateChanges(): ReadableStream<ClientState> {
    let controller!: ReadableStreamDefaultController<ClientState>;
    const stream = new ReadableStream<ClientState>({
      start: (c) => void (controller = c),
      cancel: () => void this.#stateStreams.delete(controller),
    });
    if (this.#ended) controller.close();
    else this.#stateStreams.add(controller);
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
    return this.#events.on(type, listener);
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
    if (this.#options.connector === undefined) checkClientUrl(url);
    // The locked part only starts the session; waiting for `open` happens
    // outside the lock so that disconnect()/close() can interrupt it.
    const result = this.#serialize(() => this.#connectLocked(url)).then(({ wait }) => wait);
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
    if (this.#final) return rejected(this.#closedError());
    const cancel = new ClientError("WS_CONNECT_CANCELLED", "disconnect() was called");
    const result = this.#serialize(async () => {
      if (this.#final) throw this.#closedError();
      await this.#stop(code, reason, cancel, false);
      this.#queue?.clear(new ClientError("WS_MESSAGE_DROPPED", "Discarded by disconnect()"));
    });
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
    if (this.#final) return rejected(this.#closedError());
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
    const message = toMessage(data, "client.send");
    if (this.#final) return rejected(this.#closedError());
    let result: Promise<void>;
    if (this.#interceptors.length === 0) {
      result = this.#dispatch(message, this.#seq++);
    } else {
      const seq = this.#seq++;
      // Interceptors may be async; chaining keeps the send order.
      const transformed = this.#sendChain.then(() =>
        runSendInterceptors(this.#interceptors, message, { url: this.#url ?? "" })
      );
      this.#sendChain = transformed.catch(() => {});
      result = transformed.then((out) => out === DROP ? undefined : this.#dispatch(out, seq));
    }
    result.catch(ignore);
    return result;
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
    if (this.#final) errors.end();
    else this.#jsonErrorBuffers.add(errors);
    const stream = this.#fanout.json<T>((error) => {
      this.#metrics.invalidJson++;
      errors.push(error, 0);
    }, options);
    Object.defineProperty(stream, "errors", { value: errors.stream, enumerable: true });
    return stream as JsonStream<T>;
  }

  /** A JSON-able snapshot of the counters; see {@linkcode ClientMetrics}. */
  metrics(): ClientMetrics {
    const m = this.#metrics;
    const now = this.#clock.now();
    return {
      timestamp: now,
      state: this.#state.type,
      stateSince: this.#stateSince,
      timeInState: now - this.#stateSince,
      url: this.#url,
      messagesSent: m.messagesSent,
      bytesSent: m.bytesSent,
      messagesReceived: m.messagesReceived,
      bytesReceived: m.bytesReceived,
      attempts: m.attempts,
      failedAttempts: m.failedAttempts,
      connects: m.connects,
      reconnects: m.reconnects,
      attemptStreak: this.#streak,
      nextReconnectAt: this.#nextReconnectAt,
      lastConnectedAt: m.lastConnectedAt,
      lastDisconnectedAt: m.lastDisconnectedAt,
      lastDisconnectCode: m.lastDisconnectCode,
      lastDisconnectReason: m.lastDisconnectReason,
      lastError: m.lastError,
      unconfirmedMessages: this.#unconfirmed.unconfirmedMessages,
      resentMessages: this.#unconfirmed.resentMessages,
      awaitingConfirmation: this.#conn?.pendingConfirmation ?? 0,
      queuedMessages: this.#queue?.length ?? 0,
      queuedBytes: this.#queue?.bytes ?? 0,
      droppedMessages: this.#queue?.dropped ?? 0,
      expiredMessages: this.#queue?.expired ?? 0,
      rttLast: m.rttLast,
      rttAverage: m.rttAverage,
      rttSamples: m.rttSamples,
      heartbeatTimeouts: m.heartbeatTimeouts,
      invalidJson: m.invalidJson,
      readerDroppedMessages: m.readerDroppedMessages,
      readerOverflows: m.readerOverflows,
    };
  }

  // ---------------------------------------------------------------- lifecycle

  #serialize<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#lock.then(task, task);
    this.#lock = run.catch(() => {});
    return run;
  }

  async #connectLocked(url: string | URL | undefined): Promise<{ wait: Promise<void> }> {
    if (this.#final) throw this.#closedError();
    const session = this.#session;
    const wanted = url === undefined ? undefined : String(url);
    if (session && (wanted === undefined || wanted === this.#sourceKey(session.source))) {
      // Already connecting, open or between attempts on this URL: wait for open.
      if (this.#state.type === "open") return { wait: Promise.resolve() };
      return { wait: this.#waitForOpen(session) };
    }
    if (wanted !== undefined) this.#source = wanted;
    if (this.#source === undefined) {
      throw new TypeError(
        "connect() needs a URL: none was given to the constructor or to connect()",
      );
    }
    if (session || this.#conn) {
      const cancel = new ClientError("WS_CONNECT_CANCELLED", "connect() to another URL");
      await this.#stop(1001, "switching URL", cancel, true);
    }
    return { wait: this.#waitForOpen(this.#startSession(this.#source)) };
  }

  #waitForOpen(session: Session): Promise<void> {
    return new Promise((resolve, reject) => session.waiters.push({ resolve, reject }));
  }

  #settleWaiters(session: Session, error?: unknown): void {
    const waiters = session.waiters;
    session.waiters = [];
    for (const waiter of waiters) error === undefined ? waiter.resolve() : waiter.reject(error);
  }

  #sourceKey(source: UrlSource): string | undefined {
    return typeof source === "function" ? undefined : String(source);
  }

  async #shutdown(code: number, reason: string, error: ClientError): Promise<void> {
    if (this.#final) return;
    this.#final = true;
    this.#finalError = error;
    await this.#serialize(() => this.#stop(code, reason, error, false));
    this.#queue?.clear(error);
    this.#fanout.close();
    for (const buffer of this.#jsonErrorBuffers) buffer.end();
    this.#jsonErrorBuffers.clear();
    for (const controller of this.#stateStreams) {
      try {
        controller.close();
      } catch { /* cancelled */ }
    }
    this.#stateStreams.clear();
    this.#clearStableTimer();
    this.#ended = true;
  }

  /** Stops the session and the connection: disconnecting → closed(code, reason). */
  async #stop(
    code: number,
    reason: string,
    error: ClientError,
    willReconnect: boolean,
  ): Promise<void> {
    const session = this.#session;
    this.#session = undefined;
    if (session) {
      session.controller.abort(error);
      this.#settleWaiters(session, error);
    }
    this.#nextReconnectAt = null;
    this.#clearStableTimer();
    const conn = this.#conn;
    this.#conn = undefined;
    if (conn) {
      this.#setState({ type: "disconnecting", code, reason });
      this.#switching = willReconnect;
      try {
        await conn.close(code, reason, this.#closeTimeout);
      } finally {
        this.#switching = false;
      }
      this.#recordDisconnect(code, reason);
    }
    if (session) await session.done;
    const wasIdle = !conn && !session;
    if (!wasIdle || this.#final) {
      this.#setState(
        willReconnect
          ? { type: "closed", code, reason, willReconnect: true, nextDelay: 0 }
          : { type: "closed", code, reason, willReconnect: false },
      );
    }
  }

  #startSession(source: UrlSource): Session {
    const controller = new AbortController();
    const session: Session = {
      controller,
      source,
      aborted: new Promise((resolve) =>
        controller.signal.addEventListener("abort", () => resolve(undefined), { once: true })
      ),
      waiters: [],
      done: Promise.resolve(),
    };
    this.#session = session;
    this.#streak = 0;
    session.done = this.#runSession(session).catch((error) => {
      // A bug in the loop must still settle everything.
      this.#emitError(error);
      this.#settleWaiters(session, error);
      if (this.#session === session) this.#session = undefined;
    });
    return session;
  }

  async #runSession(session: Session): Promise<void> {
    const signal = session.controller.signal;
    for (;;) {
      if (signal.aborted) return;
      this.#streak++;
      this.#metrics.attempts++;
      this.#nextReconnectAt = null;
      let url: string;
      let end: EndInfo & { status?: number; wasOpen: boolean };
      try {
        url = String(
          typeof session.source === "function" ? await session.source() : session.source,
        );
      } catch (error) {
        url = this.#url ?? "";
        end = failure(error, false);
        if (signal.aborted) return;
        if (!(await this.#afterEnd(session, end))) return;
        continue;
      }
      this.#url = url;
      this.#setState({ type: "connecting", url, attempt: this.#streak });
      const outcome = await attemptConnection(url, {
        connector: this.#connector,
        protocols: this.#protocols,
        timeout: this.#connectTimeout,
        signal,
        clock: this.#clock,
        previousReadDone: this.#lastReadDone,
        onConnection: (conn) => void (this.#lastReadDone = conn.readDone),
        host: {
          clock: this.#clock,
          heartbeat: this.#options.heartbeat ?? {},
          deliver: (message) => this.#deliver(message),
          onRtt: (ms) => this.#metrics.recordRtt(ms),
          onHeartbeatTimeout: () => this.#onHeartbeatTimeout(),
          onError: (error) => this.#emitError(error),
          confirmWithPing: this.#options.delivery?.confirmWithPing ?? this.#resendUnconfirmed,
          maxUnconfirmedBytes: this.#options.delivery?.maxBytes,
          onUnconfirmed: (conn, { messages, omitted }, end) =>
            this.#unconfirmed.report(messages, {
              omitted,
              url: conn.url,
              code: end.code,
              // Resent while the client goes on: not after disconnect() or close().
              requeueInto: this.#resendUnconfirmed && !this.#final &&
                  (this.#session !== undefined || this.#switching)
                ? this.#queue
                : undefined,
            }),
        },
        afterConnect: this.#options.afterConnect,
        sendOn: (conn, message) => this.#sendThrough(conn, message),
      });
      if (signal.aborted) {
        // The stopper owns the states from here; a connection that made it
        // through just as we were stopped must not live on.
        if (outcome.ok) {
          outcome.connection.abandon({ code: 1006, reason: "cancelled" }, 1000, "cancelled");
        }
        return;
      }
      if (!outcome.ok) {
        this.#metrics.failedAttempts++;
        end = failure(outcome.error, false);
        if (outcome.code !== undefined) {
          end = { ...end, code: outcome.code, reason: outcome.reason ?? "" };
        }
      } else {
        const conn = outcome.connection;
        this.#conn = conn;
        this.#metrics.connects++;
        if (this.#metrics.connects > 1) this.#metrics.reconnects++;
        this.#metrics.lastConnectedAt = this.#clock.now();
        this.#armStableTimer();
        this.#setState({
          type: "open",
          url,
          protocol: conn.channel.protocol,
          extensions: conn.channel.extensions,
        });
        this.#settleWaiters(session);
        void this.#pump();
        const info = await Promise.race([conn.ended, session.aborted]);
        if (signal.aborted || info === undefined) return;
        this.#conn = undefined;
        this.#clearStableTimer();
        end = { ...info, wasOpen: true };
      }
      this.#recordDisconnect(end.code, end.reason, end.error);
      if (!(await this.#afterEnd(session, end))) return;
    }
  }

  /** Decides and waits for the next attempt; false when the session is over. */
  async #afterEnd(
    session: Session,
    end: EndInfo & { status?: number; wasOpen: boolean },
  ): Promise<boolean> {
    const signal = session.controller.signal;
    const policy = this.#reconnect.policy ?? defaultReconnectPolicy;
    let decision = { reconnect: false, minDelay: 0 };
    if (this.#reconnect.enabled && this.#streak < this.#reconnect.maxAttempts) {
      try {
        decision = normalizeDecision(policy({
          code: end.code,
          reason: end.reason,
          status: end.status,
          error: end.error,
          wasOpen: end.wasOpen,
          attempt: this.#streak,
        }));
      } catch (error) {
        this.#emitError(error);
      }
    }
    if (end.error && !end.wasOpen) this.#emitError(end.error);
    if (!decision.reconnect) {
      this.#session = undefined;
      const stopped = new ClientError(
        "WS_RECONNECT_STOPPED",
        `Not reconnecting after ${end.code}${end.status ? ` (HTTP ${end.status})` : ""}`,
        { cause: end.error, closeCode: end.code },
      );
      this.#setState({
        type: "closed",
        code: end.code,
        reason: end.reason,
        willReconnect: false,
        ...(end.error ? { error: end.error } : {}),
      });
      this.#settleWaiters(session, end.error ?? stopped);
      this.#queue?.clear(stopped);
      return false;
    }
    const delay = backoffDelay(this.#streak - 1, {
      base: this.#reconnect.base,
      max: this.#reconnect.max,
      floor: Math.max(this.#reconnect.floor ?? 0, decision.minDelay),
      random: this.#random,
    });
    this.#nextReconnectAt = this.#clock.now() + delay;
    this.#setState({
      type: "closed",
      code: end.code,
      reason: end.reason,
      willReconnect: true,
      nextDelay: delay,
      ...(end.error ? { error: end.error } : {}),
    });
    try {
      await sleep(this.#clock, delay, signal);
    } catch {
      return false;
    }
    return !signal.aborted;
  }

  #armStableTimer(): void {
    this.#clearStableTimer();
    this.#stableTimer = this.#clock.setTimeout(() => {
      this.#stableTimer = undefined;
      this.#streak = 0;
    }, this.#reconnect.stableAfter);
  }

  #clearStableTimer(): void {
    if (this.#stableTimer !== undefined) this.#clock.clearTimeout(this.#stableTimer);
    this.#stableTimer = undefined;
  }

  #onHeartbeatTimeout(): void {
    this.#metrics.heartbeatTimeouts++;
  }

  #recordDisconnect(code: number, reason: string, error?: Error): void {
    this.#metrics.lastDisconnectedAt = this.#clock.now();
    this.#metrics.lastDisconnectCode = code;
    this.#metrics.lastDisconnectReason = reason;
    if (error) this.#metrics.lastError = describeError(error);
  }

  #setState(state: ClientState): void {
    if (sameState(this.#state, state)) return;
    this.#state = state;
    this.#stateSince = this.#clock.now();
    for (const controller of this.#stateStreams) controller.enqueue(state);
    this.#events.emit("state", state);
  }

  #emitError(error: unknown): void {
    const value = error instanceof Error ? error : new Error(String(error));
    this.#metrics.lastError = describeError(value);
    this.#events.emit("error", value);
  }

  #closedError(): ClientError {
    return this.#finalError ?? new ClientError("WS_CLIENT_CLOSED", "The client was closed");
  }

  // ---------------------------------------------------------------- messages

  #dispatch(message: Message, seq: number): Promise<void> {
    if (this.#final) return rejected(this.#closedError());
    const conn = this.#conn;
    const queue = this.#queue;
    if (conn && this.#state.type === "open" && !this.#pumping && (!queue || queue.length === 0)) {
      // The hot path: straight to the open connection, one promise per message.
      const size = messageSize(message);
      return conn.write(message).then(
        () => {
          this.#metrics.recordSent(size);
          conn.written({ message, seq, size });
        },
        (error) => {
          // Not accepted by a dying connection: it goes out on the next one.
          if (!queue || this.#final) {
            throw new ClientError(
              "WS_NOT_CONNECTED",
              "The connection closed before the message was accepted",
              {
                cause: error,
              },
            );
          }
          return queue.push(message, seq);
        },
      );
    }
    if (!queue) {
      return rejected(new ClientError("WS_NOT_CONNECTED", `Cannot send while ${this.#state.type}`));
    }
    const queued = queue.push(message, seq);
    if (conn && this.#state.type === "open") void this.#pump();
    return queued;
  }

  async #sendThrough(conn: Connection, message: Message): Promise<void> {
    const out = this.#interceptors.length === 0
      ? message
      : await runSendInterceptors(this.#interceptors, message, { url: conn.url });
    if (out !== DROP) await this.#sendDirect(conn, out);
  }

  async #sendDirect(conn: Connection, message: Message): Promise<void> {
    await conn.write(message);
    this.#metrics.recordSent(messageSize(message));
  }

  async #pump(): Promise<void> {
    if (this.#pumping || !this.#queue) return;
    this.#pumping = true;
    try {
      for (;;) {
        const conn = this.#conn;
        if (!conn || this.#state.type !== "open" || conn.endInfo) return;
        const item = this.#queue.shift();
        if (!item) return;
        try {
          await conn.write(item.message);
          this.#metrics.recordSent(item.size);
          conn.written({ message: item.message, seq: item.seq, size: item.size });
          item.resolve();
        } catch {
          this.#queue.requeue(item);
          return;
        }
      }
    } finally {
      this.#pumping = false;
    }
  }

  // Synchronous unless a reader is full or an interceptor is async, so the
  // read loop does not pay a promise per message.
  #deliver(raw: Message): Promise<void> | undefined {
    const size = messageSize(raw);
    this.#metrics.recordReceived(size);
    if (this.#interceptors.length > 0) return this.#deliverIntercepted(raw);
    if (this.#events.has("message")) this.#events.emit("message", raw);
    return this.#fanout.deliver(raw, size);
  }

  async #deliverIntercepted(raw: Message): Promise<void> {
    let message: Message | typeof DROP;
    try {
      message = await runReceiveInterceptors(this.#interceptors, raw, { url: this.#url ?? "" });
    } catch (error) {
      this.#emitError(error);
      return;
    }
    if (message === DROP) return;
    this.#events.emit("message", message);
    await this.#fanout.deliver(message);
  }
}

function failure(
  error: unknown,
  wasOpen: boolean,
): EndInfo & { status?: number; wasOpen: boolean } {
  const err = error instanceof Error ? error : new Error(String(error));
  return {
    code: 1006,
    reason: err.message,
    wasClean: false,
    local: true,
    error: err,
    status: errorStatus(err),
    wasOpen,
  };
}

function abortError(signal: AbortSignal): ClientError {
  return new ClientError("WS_ABORTED", "The client's signal aborted", { cause: signal.reason });
}

function ignore(): void {}

function rejected(error: unknown): Promise<never> {
  const promise = Promise.reject(error);
  promise.catch(ignore);
  return promise;
}
