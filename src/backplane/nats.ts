/**
 * A {@linkcode Backplane} over NATS core publish/subscribe, with the
 * `@nats-io/transport-node` client (an optional peer dependency: install it
 * to use this subpath; it runs on Node, Bun and Deno), or any connection of
 * the `@nats-io` clients that you pass in.
 *
 * Each topic is one NATS subject, `prefix` + the topic escaped into a single
 * subject token (see {@linkcode topicToSubject}); each message is one NATS
 * message in the shared backplane format (version, kind, origin, payload).
 *
 * While NATS is unreachable the client reconnects forever, and publishes wait
 * in a buffer bounded in bytes (`maxBufferedBytes`) and in time
 * (`bufferTimeout`); they go out in order once the link is back. The client
 * library's own outbound buffer cannot do this job: it is emptied on every
 * reconnect attempt, so a publish handed to it during an outage is lost.
 *
 * @example Start a hub's backplane
 * ```ts ignore
 * import { NatsBackplane } from "@wsc/websocket-channel/backplane/nats";
 *
 * const backplane = new NatsBackplane({ servers: "nats://127.0.0.1:4222" });
 * await backplane.start({
 *   message: ({ topic, data, origin }) => console.log(topic, data, origin),
 *   status: (status) => console.log("NATS is", status),
 * });
 * await backplane.subscribe("chat");
 * await backplane.publish({ topic: "chat", data: "hello", origin: "hub-1" });
 * await backplane.close();
 * ```
 *
 * @example Where a topic goes
 * ```ts
 * import { topicToSubject } from "@wsc/websocket-channel/backplane/nats";
 *
 * console.assert(topicToSubject("room 1") === "wsc.room_201");
 * ```
 *
 * @module
 */
import {
  type Backplane,
  BackplaneError,
  type BackplaneMessage,
  type BackplaneReceiver,
  type BackplaneStatus,
} from "../fanout/backplane.ts";
import { decodeBackplaneMessage, encodeBackplaneMessage } from "../fanout/backplane_codec.ts";
import {
  natsClientError,
  natsClosed,
  type NatsConnectionLike,
  type NatsSubscriptionLike,
  natsUnavailable,
  openNatsConnection,
  withTimeout,
} from "./nats_connection.ts";
import { NatsOutageBuffer } from "./nats_outage_buffer.ts";
import {
  type NatsBackplaneOptions,
  type ResolvedNatsOptions,
  resolveNatsOptions,
} from "./nats_options.ts";
import { DEFAULT_SUBJECT_PREFIX, NatsSubjectMapper } from "./nats_subject.ts";

export type { NatsConnectionLike, NatsSubscriptionLike } from "./nats_connection.ts";
export type { NatsBackplaneOptions } from "./nats_options.ts";
export { subjectToTopic, topicToSubject } from "./nats_subject.ts";

// Bounds the final flush of close() when NATS stops answering.
const CLOSE_FLUSH_TIMEOUT = 2_000;

/**
 * A {@linkcode Backplane} over NATS: one connection per backplane, one
 * subject per topic, messages in publish order.
 *
 * Delivery is at most once, as NATS core pub/sub is: `publish` resolves when
 * the message was handed to the connection (NATS core has no
 * acknowledgement), and a message written just before the link broke can be
 * lost. Publishes made while the link is known to be down wait in the
 * bounded buffer and are sent, in order, when it is back. Messages published
 * by other hubs while this one is disconnected are lost (its `status` says
 * `"down"` meanwhile). The server does not echo a backplane's own publishes
 * back to it (on a connection it created), since its hub already delivered
 * them locally.
 *
 * A topic whose subject would exceed 4,000 bytes, or a message larger
 * than the server's `max_payload` (1 MiB by default), is refused with a
 * `RangeError`: the server would otherwise drop the whole connection.
 *
 * @example Start against a server that is not there
 * ```ts
 * import { NatsBackplane } from "@wsc/websocket-channel/backplane/nats";
 * import type { BackplaneError } from "@wsc/websocket-channel/fanout";
 *
 * const backplane = new NatsBackplane({ servers: "nats://127.0.0.1:1", connectTimeout: 1000 });
 * try {
 *   await backplane.start({ message() {} });
 * } catch (error) {
 *   console.assert((error as BackplaneError).code === "WS_BACKPLANE_UNAVAILABLE");
 * }
 * await backplane.close();
 * ```
 *
 * @example Two hubs on one server
 * ```ts ignore
 * import { NatsBackplane } from "@wsc/websocket-channel/backplane/nats";
 *
 * const a = new NatsBackplane({ servers: "nats://127.0.0.1:4222" });
 * const b = new NatsBackplane({ servers: "nats://127.0.0.1:4222" });
 * await a.start({ message() {} });
 * await b.start({ message: (m) => console.log(m.topic, m.data) }); // "news", "hi"
 * await b.subscribe("news");
 * await a.publish({ topic: "news", data: "hi", origin: "hub-a" });
 * ```
 */
export class NatsBackplane implements Backplane {
  readonly #options: ResolvedNatsOptions;
  readonly #subjects: NatsSubjectMapper;
  readonly #buffer: NatsOutageBuffer;

  #connection: NatsConnectionLike | undefined;
  #receiver: BackplaneReceiver | undefined;
  #starting: Promise<void> | undefined;
  #closing: Promise<void> | undefined;
  #closed = false;
  /** The link is known to be up: publish straight to the connection. */
  #up = false;
  /** The connection closed for good without close() (a `connection` closed by its owner). */
  #gone = false;
  #statusIterator: AsyncIterable<{ type: string; error?: unknown }> | undefined;
  readonly #subscriptions = new Map<
    string,
    { subscription: NatsSubscriptionLike | undefined; ready: Promise<void> }
  >();
  /** The server's `max_payload`, remembered across reconnects (unknown while dialing). */
  #maxPayload = Infinity;

  /**
   * Creates a backplane; nothing connects before {@linkcode NatsBackplane.start}.
   *
   * @param options Where NATS is and how to behave while it is unreachable.
   * @throws {TypeError} If `prefix` is not empty or dot-terminated tokens.
   * @throws {RangeError} If a number option is out of range.
   */
  constructor(options: NatsBackplaneOptions = {}) {
    this.#subjects = new NatsSubjectMapper(options.prefix ?? DEFAULT_SUBJECT_PREFIX);
    this.#options = resolveNatsOptions(options);
    this.#buffer = new NatsOutageBuffer({
      maxBytes: this.#options.maxBufferedBytes,
      timeout: this.#options.bufferTimeout,
    });
  }

  /**
   * Connects (or adopts `connection`) and starts reporting to `receiver`.
   *
   * @param receiver Gets messages of subscribed topics and link status changes.
   * @returns Resolves once NATS answered; rejects with `WS_BACKPLANE_UNAVAILABLE`
   * if it cannot be reached within `connectTimeout`, `WS_BACKPLANE_CLOSED` after `close()`.
   */
  start(receiver: BackplaneReceiver): Promise<void> {
    if (this.#closed) return Promise.reject(natsClosed());
    if (this.#starting) {
      return Promise.reject(new Error("NatsBackplane.start() was already called"));
    }
    this.#starting = this.#start(receiver);
    return this.#starting;
  }

  async #start(receiver: BackplaneReceiver): Promise<void> {
    const connection = await openNatsConnection(this.#options);
    if (this.#closed) {
      if (!this.#options.connection) await connection.close().catch(() => {});
      throw natsClosed();
    }
    this.#connection = connection;
    this.#receiver = receiver;
    this.#maxPayload = connection.info?.max_payload ?? Infinity;
    this.#up = true;
    this.#watch(connection);
  }

  /** Follows the client's status events: down, up (then flush the buffer), gone. */
  #watch(connection: NatsConnectionLike): void {
    const iterator = connection.status();
    this.#statusIterator = iterator;
    (async () => {
      for await (const status of iterator) {
        if (this.#closed) break;
        switch (status.type) {
          case "disconnect":
            this.#setUp(false);
            break;
          case "reconnect":
            this.#maxPayload = connection.info?.max_payload ?? this.#maxPayload;
            this.#setUp(true);
            break;
          case "close":
            this.#gone = true;
            this.#setUp(false);
            this.#buffer.failAll(natsUnavailable("the NATS connection was closed"));
            break;
          case "error":
            this.#report(status.error);
            break;
        }
      }
    })().catch((error) => this.#report(error));
  }

  #setUp(up: boolean): void {
    if (this.#up === up || this.#closed) return;
    this.#up = up;
    // Send what waited before saying "up", so publishes made after the hub
    // hears "up" cannot overtake them.
    if (up) this.#sendBuffered();
    this.#tellStatus(up ? "up" : "down");
  }

  #tellStatus(status: BackplaneStatus): void {
    try {
      this.#receiver?.status?.(status);
    } catch (error) {
      this.#report(error);
    }
  }

  /**
   * Starts receiving `topic` (idempotent). Resolves once the server has the
   * subscription, or at once while NATS is down (the client subscribes again
   * when the link is back).
   *
   * @param topic Any string.
   * @returns Resolves when subscribed; rejects with `WS_BACKPLANE_CLOSED`
   * after `close()`, or a `RangeError` for a topic too long for a subject.
   */
  subscribe(topic: string): Promise<void> {
    let connection: NatsConnectionLike;
    let subject: string;
    try {
      connection = this.#usable();
      const known = this.#subscriptions.get(topic);
      if (known) return known.ready;
      subject = this.#subjects.toSubject(topic);
    } catch (error) {
      return Promise.reject(error);
    }
    const entry = {
      subscription: undefined as NatsSubscriptionLike | undefined,
      ready: Promise.resolve(),
    };
    try {
      entry.subscription = connection.subscribe(subject, {
        callback: (error, message) => {
          if (this.#closed || this.#subscriptions.get(topic) !== entry) return;
          if (error) {
            // The server ended this subscription (a permissions error, say):
            // forget it, so that subscribing again retries.
            this.#subscriptions.delete(topic);
            return this.#report(error);
          }
          this.#deliver(topic, subject, message.data);
        },
      });
    } catch (error) {
      return Promise.reject(natsClientError(error));
    }
    this.#subscriptions.set(topic, entry);
    if (this.#up) {
      // A PING/PONG round trip: the server handled our SUB once it answers. If
      // the link breaks meanwhile, the client subscribes again after reconnecting.
      entry.ready = withTimeout(connection.flush(), this.#options.connectTimeout).catch(() => {});
    }
    return entry.ready;
  }

  /**
   * Stops receiving `topic` (idempotent); no message of it is delivered after
   * this returns.
   *
   * @param topic A topic given to {@linkcode NatsBackplane.subscribe}.
   * @returns Resolves at once; rejects with `WS_BACKPLANE_CLOSED` after `close()`.
   */
  unsubscribe(topic: string): Promise<void> {
    if (this.#closed) return Promise.reject(natsClosed());
    const entry = this.#subscriptions.get(topic);
    if (!entry) return Promise.resolve();
    this.#subscriptions.delete(topic);
    try {
      entry.subscription?.unsubscribe();
    } catch { /* the connection is closed: nothing more will arrive anyway */ }
    return Promise.resolve();
  }

  #deliver(topic: string, subject: string, bytes: Uint8Array): void {
    let decoded;
    try {
      decoded = decodeBackplaneMessage(bytes);
    } catch (cause) {
      this.#report(
        new BackplaneError(
          "WS_BACKPLANE_BAD_MESSAGE",
          `Dropped a message on NATS subject ${subject}: ${(cause as Error).message}`,
          { cause },
        ),
      );
      return;
    }
    // The bytes are a view into the client's read buffer: give the hub its own copy.
    const data = typeof decoded.data === "string" ? decoded.data : new Uint8Array(decoded.data);
    try {
      this.#receiver?.message({ topic, data, origin: decoded.origin });
    } catch (error) {
      this.#report(error);
    }
  }

  /**
   * Sends one message to every hub subscribed to its topic.
   *
   * @param message The topic, payload and publishing hub's id.
   * @returns Resolves when the message was handed to the NATS connection
   * (at once while connected, after the reconnect during an outage).
   * Rejects with `WS_BACKPLANE_BUFFER_FULL` when NATS is down and the buffer
   * is full, `WS_BACKPLANE_UNAVAILABLE` after waiting `bufferTimeout` or if
   * the connection closed for good, `WS_BACKPLANE_CLOSED` after `close()`,
   * and a `RangeError` for a topic or message too large for NATS.
   */
  publish(message: BackplaneMessage): Promise<void> {
    let connection: NatsConnectionLike;
    let subject: string;
    let payload: Uint8Array;
    try {
      connection = this.#usable();
      subject = this.#subjects.toSubject(message.topic);
      payload = encodeBackplaneMessage(message.data, message.origin);
      if (payload.byteLength > this.#maxPayload) {
        throw tooLarge(payload.byteLength, this.#maxPayload);
      }
    } catch (error) {
      return Promise.reject(error);
    }
    // Straight to the connection only when nothing waits: order is kept.
    if (this.#up && this.#buffer.isEmpty) {
      try {
        connection.publish(subject, payload);
        return Promise.resolve();
      } catch (error) {
        return Promise.reject(natsClientError(error));
      }
    }
    return this.#buffer.add(subject, payload);
  }

  /** Sends what waited in the buffer, in order, now that the link is back. */
  #sendBuffered(): void {
    const connection = this.#connection!;
    this.#buffer.drain((subject, payload) => {
      try {
        if (payload.byteLength > this.#maxPayload) {
          throw tooLarge(payload.byteLength, this.#maxPayload);
        }
        connection.publish(subject, payload);
      } catch (error) {
        throw natsClientError(error);
      }
    });
  }

  #usable(): NatsConnectionLike {
    if (this.#closed) throw natsClosed();
    if (!this.#connection) throw natsUnavailable("start() has not connected yet");
    if (this.#gone) throw natsUnavailable("the NATS connection was closed");
    return this.#connection;
  }

  #report(error: unknown): void {
    try {
      this.#options.onError(error instanceof Error ? error : new Error(String(error)));
    } catch { /* the error handler itself failed: nothing left to tell */ }
  }

  /**
   * Disconnects (idempotent). Waiting publishes reject with
   * `WS_BACKPLANE_CLOSED`; those already handed to the connection are flushed
   * first (for up to 2 s). A `connection` given in the options is left open,
   * with this backplane's subscriptions removed.
   *
   * @returns Resolves when everything this backplane opened is closed.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#closed = true;
    await this.#starting?.catch(() => {});
    this.#buffer.failAll(natsClosed());
    (this.#statusIterator as { stop?: () => void } | undefined)?.stop?.();
    for (const { subscription } of this.#subscriptions.values()) {
      try {
        subscription?.unsubscribe();
      } catch { /* already closed */ }
    }
    this.#subscriptions.clear();
    const connection = this.#connection;
    this.#connection = undefined;
    if (!connection || this.#options.connection) return;
    if (this.#up && !connection.isClosed()) {
      await withTimeout(connection.flush(), CLOSE_FLUSH_TIMEOUT).catch(() => {});
    }
    await connection.close().catch(() => {});
  }
}

function tooLarge(size: number, limit: number): RangeError {
  return new RangeError(
    `Message too large for NATS: ${size} bytes encoded, the server's max_payload is ${limit}`,
  );
}
