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

/**
 * The part of a NATS client connection that {@linkcode NatsBackplane} uses:
 * a `NatsConnection` of `@nats-io/transport-node` (or of another
 * `@nats-io` transport) fits. Declared here so that the package's types do
 * not depend on the client's.
 */
export interface NatsConnectionLike {
  /** Sends one message (queued by the client, written in call order). */
  publish(subject: string, payload: Uint8Array): void;
  /** Registers a subscription that the client renews after each reconnect. */
  subscribe(
    subject: string,
    options: { callback: (error: Error | null, message: { data: Uint8Array }) => void },
  ): NatsSubscriptionLike;
  /** A PING/PONG round trip: resolves once the server handled everything sent before. */
  flush(): Promise<void>;
  /** Connection events: `disconnect`, `reconnect`, `close`, `error`, …. */
  status(): AsyncIterable<{ type: string; error?: unknown }>;
  /** Whether the connection closed for good. */
  isClosed(): boolean;
  /** Closes the connection. */
  close(): Promise<void>;
  /** The server's INFO, while connected. */
  readonly info?: { max_payload: number } | undefined;
}

/** The part of a NATS subscription that {@linkcode NatsBackplane} uses. */
export interface NatsSubscriptionLike {
  /** Stops the subscription; the client drops later messages for it. */
  unsubscribe(): void;
}

/** Options of {@linkcode NatsBackplane}. */
export interface NatsBackplaneOptions {
  /**
   * The NATS server URL, or several (the client picks one and fails over).
   * Ignored when `connection` is given. Default: `"nats://127.0.0.1:4222"`.
   */
  servers?: string | string[];
  /**
   * A connection you created (for authentication, TLS or other client
   * settings). The backplane uses it but never closes it; its reconnect
   * settings are yours. Default: the backplane connects to `servers` itself.
   */
  connection?: NatsConnectionLike;
  /**
   * Prepended to every subject: empty, or dot-separated tokens ending in a
   * dot, without spaces, `*` or `>`. Default: `"wsc."`.
   */
  prefix?: string;
  /**
   * Bytes of publishes (payload and subject) that may wait while NATS is
   * unreachable; a publish that does not fit rejects with
   * `WS_BACKPLANE_BUFFER_FULL`. `0` fails every publish made during an
   * outage. Default: 16 MiB.
   */
  maxBufferedBytes?: number;
  /**
   * Milliseconds a publish may wait in that buffer; after that it is dropped
   * and rejects with `WS_BACKPLANE_UNAVAILABLE` (old real-time messages are
   * rarely worth delivering). `Infinity` waits as long as there is room.
   * Default: 30,000.
   */
  bufferTimeout?: number;
  /**
   * Milliseconds `start()` may take to reach NATS (per server in the list)
   * before it rejects with `WS_BACKPLANE_UNAVAILABLE`. Default: 10,000.
   */
  connectTimeout?: number;
  /**
   * Milliseconds between reconnect attempts to one server (the client adds
   * up to 100 ms of jitter). Ignored when `connection` is given. Default: 1,000.
   */
  reconnectWait?: number;
  /**
   * Told about what the backplane drops instead of throwing: a message that
   * does not decode (`BackplaneError` `WS_BACKPLANE_BAD_MESSAGE`), an error
   * thrown by the receiver, an error reported by the server. Default: ignore.
   */
  onError?: (error: Error) => void;
}

const DEFAULT_SERVERS = "nats://127.0.0.1:4222";
const DEFAULT_PREFIX = "wsc.";
const DEFAULT_MAX_BUFFERED_BYTES = 16 * 1024 * 1024;
const DEFAULT_BUFFER_TIMEOUT = 30_000;
const DEFAULT_CONNECT_TIMEOUT = 10_000;
const DEFAULT_RECONNECT_WAIT = 1_000;
// nats-server refuses a protocol line longer than max_control_line (4096 bytes
// by default) and then drops the whole connection: "PUB <subject> <size>\r\n"
// must stay below it, so a longer subject is refused before it is sent.
const MAX_SUBJECT_BYTES = 4000;
// Bounds the final flush of close() when NATS stops answering.
const CLOSE_FLUSH_TIMEOUT = 2_000;

/** One publish waiting for the link to come back. */
interface Pending {
  readonly subject: string;
  readonly payload: Uint8Array;
  readonly size: number;
  readonly expires: number;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

/**
 * The NATS subject a topic is carried on: `prefix` plus the topic as one
 * token in which ASCII letters, digits and `-` stand for themselves and
 * every other UTF-16 code unit is escaped (`_XX` up to U+00FF, `__XXXX`
 * above, upper-case hex); the empty topic is `_`. So any string, with
 * spaces, dots, `*`, `>`, emoji or lone surrogates, gives a valid subject,
 * and two topics never share one.
 *
 * @param topic Any string.
 * @param prefix Prepended as is. Default: `"wsc."`.
 * @returns The subject.
 *
 * @example
 * ```ts
 * import { topicToSubject } from "@wsc/websocket-channel/backplane/nats";
 *
 * console.assert(topicToSubject("a.b*") === "wsc.a_2Eb_2A");
 * console.assert(topicToSubject("é", "app.") === "app._E9");
 * console.assert(topicToSubject("") === "wsc._");
 * ```
 */
export function topicToSubject(topic: string, prefix: string = DEFAULT_PREFIX): string {
  if (topic === "") return `${prefix}_`;
  let token = "";
  for (let i = 0; i < topic.length; i++) {
    const unit = topic.charCodeAt(i);
    if (isLiteral(unit)) token += topic[i];
    else if (unit <= 0xff) token += `_${hex(unit, 2)}`;
    else token += `__${hex(unit, 4)}`;
  }
  return prefix + token;
}

/**
 * The topic carried on a subject made by {@linkcode topicToSubject}, or
 * `undefined` if the subject is not one (other prefix, or not in the
 * canonical escaped form).
 *
 * @param subject A NATS subject.
 * @param prefix The prefix it was made with. Default: `"wsc."`.
 * @returns The topic, or `undefined`.
 *
 * @example
 * ```ts
 * import { subjectToTopic } from "@wsc/websocket-channel/backplane/nats";
 *
 * console.assert(subjectToTopic("wsc.room_201") === "room 1");
 * console.assert(subjectToTopic("other.room") === undefined);
 * ```
 */
export function subjectToTopic(
  subject: string,
  prefix: string = DEFAULT_PREFIX,
): string | undefined {
  if (!subject.startsWith(prefix)) return undefined;
  const token = subject.slice(prefix.length);
  if (token === "_") return "";
  let topic = "";
  for (let i = 0; i < token.length;) {
    const unit = token.charCodeAt(i);
    if (isLiteral(unit)) {
      topic += token[i++];
      continue;
    }
    if (unit !== 0x5f /* _ */) return undefined;
    const wide = token.charCodeAt(i + 1) === 0x5f;
    const digits = token.slice(wide ? i + 2 : i + 1, wide ? i + 6 : i + 3);
    const value = parseHex(digits, wide ? 4 : 2);
    // Only the form topicToSubject writes is accepted, so each topic has
    // exactly one subject (no `_41` for "A", no `__00E9` for "é").
    if (value === undefined || isLiteral(value) || (wide && value <= 0xff)) return undefined;
    topic += String.fromCharCode(value);
    i += wide ? 6 : 3;
  }
  return topic === "" ? undefined : topic;
}

function isLiteral(unit: number): boolean {
  return (unit >= 0x30 && unit <= 0x39) || (unit >= 0x41 && unit <= 0x5a) ||
    (unit >= 0x61 && unit <= 0x7a) || unit === 0x2d;
}

function hex(value: number, width: number): string {
  return value.toString(16).toUpperCase().padStart(width, "0");
}

function parseHex(digits: string, width: number): number | undefined {
  if (digits.length !== width) return undefined;
  let value = 0;
  for (let i = 0; i < width; i++) {
    const c = digits.charCodeAt(i);
    const nibble = c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x41 && c <= 0x46 ? c - 0x37 : -1;
    if (nibble < 0) return undefined;
    value = value * 16 + nibble;
  }
  return value;
}

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
 * import type { BackplaneError } from "@wsc/websocket-channel";
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
  readonly #servers: string | string[];
  readonly #given: NatsConnectionLike | undefined;
  readonly #prefix: string;
  readonly #prefixBytes: number;
  readonly #maxBufferedBytes: number;
  readonly #bufferTimeout: number;
  readonly #connectTimeout: number;
  readonly #reconnectWait: number;
  readonly #onError: (error: Error) => void;

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
  // A queue with a moving head: publishes leave in order, without O(n) shifts.
  #pending: Pending[] = [];
  #head = 0;
  #pendingBytes = 0;
  #expiryTimer: ReturnType<typeof setTimeout> | undefined;
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
    this.#servers = options.servers ?? DEFAULT_SERVERS;
    this.#given = options.connection;
    this.#prefix = options.prefix ?? DEFAULT_PREFIX;
    if (!/^(?:[^\s.*>]+\.)*$/.test(this.#prefix)) {
      throw new TypeError(
        `Invalid NATS subject prefix ${
          JSON.stringify(this.#prefix)
        }: use "" or tokens ending in "." without spaces, "*" or ">"`,
      );
    }
    this.#prefixBytes = new TextEncoder().encode(this.#prefix).byteLength;
    this.#maxBufferedBytes = nonNegative(
      "maxBufferedBytes",
      options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES,
    );
    this.#bufferTimeout = nonNegative(
      "bufferTimeout",
      options.bufferTimeout ?? DEFAULT_BUFFER_TIMEOUT,
    );
    this.#connectTimeout = positive(
      "connectTimeout",
      options.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT,
    );
    this.#reconnectWait = nonNegative(
      "reconnectWait",
      options.reconnectWait ?? DEFAULT_RECONNECT_WAIT,
    );
    this.#onError = options.onError ?? (() => {});
  }

  /**
   * Connects (or adopts `connection`) and starts reporting to `receiver`.
   *
   * @param receiver Gets messages of subscribed topics and link status changes.
   * @returns Resolves once NATS answered; rejects with `WS_BACKPLANE_UNAVAILABLE`
   * if it cannot be reached within `connectTimeout`, `WS_BACKPLANE_CLOSED` after `close()`.
   */
  start(receiver: BackplaneReceiver): Promise<void> {
    if (this.#closed) return Promise.reject(closedError());
    if (this.#starting) {
      return Promise.reject(new Error("NatsBackplane.start() was already called"));
    }
    this.#starting = this.#start(receiver);
    return this.#starting;
  }

  async #start(receiver: BackplaneReceiver): Promise<void> {
    let connection: NatsConnectionLike;
    if (this.#given) {
      connection = this.#given;
      if (connection.isClosed()) throw unavailable("the given NATS connection is closed");
      try {
        await withTimeout(connection.flush(), this.#connectTimeout);
      } catch (cause) {
        throw unavailable("the given NATS connection does not answer", cause);
      }
    } else {
      // Loaded here, not imported at the top: with a `connection` of another
      // NATS transport (Deno's, say) the peer dependency need not be installed.
      let client: typeof import("@nats-io/transport-node");
      try {
        client = await import("@nats-io/transport-node");
      } catch (cause) {
        throw unavailable(
          "cannot load @nats-io/transport-node (install it, or pass `connection`)",
          cause,
        );
      }
      try {
        connection = await client.connect({
          servers: this.#servers,
          timeout: this.#connectTimeout,
          // Fail start() fast on a wrong address; once connected, retry forever.
          waitOnFirstConnect: false,
          maxReconnectAttempts: -1,
          reconnectTimeWait: this.#reconnectWait,
          // The hub delivers its own publishes locally and ignores their echo.
          noEcho: true,
          // Notice a silently dead link (no FIN, e.g. a partition) within about
          // a minute instead of the client's default 4 to 6 minutes.
          pingInterval: 15_000,
          maxPingOut: 3,
          name: "websocket-channel backplane",
        });
      } catch (cause) {
        throw unavailable(`cannot reach NATS at ${String(this.#servers)}`, cause);
      }
    }
    if (this.#closed) {
      if (!this.#given) await connection.close().catch(() => {});
      throw closedError();
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
            this.#failPending(unavailable("the NATS connection was closed"));
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
    if (up) this.#flushPending();
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
      subject = this.#subject(topic);
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
      return Promise.reject(this.#clientError(error));
    }
    this.#subscriptions.set(topic, entry);
    if (this.#up) {
      // A PING/PONG round trip: the server handled our SUB once it answers. If
      // the link breaks meanwhile, the client subscribes again after reconnecting.
      entry.ready = withTimeout(connection.flush(), this.#connectTimeout).catch(() => {});
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
    if (this.#closed) return Promise.reject(closedError());
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
      subject = this.#subject(message.topic);
      payload = encodeBackplaneMessage(message.data, message.origin);
      if (payload.byteLength > this.#maxPayload) {
        throw tooLarge(payload.byteLength, this.#maxPayload);
      }
    } catch (error) {
      return Promise.reject(error);
    }
    // Straight to the connection only when nothing waits: order is kept.
    if (this.#up && this.#head === this.#pending.length) {
      try {
        connection.publish(subject, payload);
        return Promise.resolve();
      } catch (error) {
        return Promise.reject(this.#clientError(error));
      }
    }
    const size = subject.length + payload.byteLength;
    if (this.#pendingBytes + size > this.#maxBufferedBytes) {
      return Promise.reject(
        new BackplaneError(
          "WS_BACKPLANE_BUFFER_FULL",
          `NATS is unreachable and ${this.#pendingBytes} bytes of publishes already wait (maxBufferedBytes ${this.#maxBufferedBytes})`,
        ),
      );
    }
    return new Promise<void>((resolve, reject) => {
      this.#pending.push({
        subject,
        payload,
        size,
        expires: Date.now() + this.#bufferTimeout,
        resolve,
        reject,
      });
      this.#pendingBytes += size;
      // A new entry is never the oldest unless the queue was empty.
      if (this.#expiryTimer === undefined) this.#armExpiry();
    });
  }

  #flushPending(): void {
    const connection = this.#connection!;
    while (this.#up && this.#head < this.#pending.length) {
      const entry = this.#take();
      try {
        if (entry.payload.byteLength > this.#maxPayload) {
          throw tooLarge(entry.payload.byteLength, this.#maxPayload);
        }
        connection.publish(entry.subject, entry.payload);
        entry.resolve();
      } catch (error) {
        entry.reject(this.#clientError(error));
      }
    }
    this.#armExpiry();
  }

  #take(): Pending {
    const entry = this.#pending[this.#head];
    // Drop the reference so a sent payload can be collected before the queue empties.
    (this.#pending as (Pending | undefined)[])[this.#head] = undefined;
    this.#head++;
    this.#pendingBytes -= entry.size;
    if (this.#head === this.#pending.length) {
      this.#pending = [];
      this.#head = 0;
    } else if (this.#head >= 1024 && this.#head * 2 >= this.#pending.length) {
      this.#pending = this.#pending.slice(this.#head);
      this.#head = 0;
    }
    return entry;
  }

  /** One timer for the oldest waiting publish: entries expire in queue order. */
  #armExpiry(): void {
    clearTimeout(this.#expiryTimer);
    this.#expiryTimer = undefined;
    if (this.#head === this.#pending.length || !Number.isFinite(this.#bufferTimeout)) return;
    // Capped: a longer delay overflows the timer, which then fires at once,
    // again and again; capped, the callback just re-arms until the entry is due.
    const wait = Math.min(0x7fffffff, Math.max(0, this.#pending[this.#head].expires - Date.now()));
    this.#expiryTimer = setTimeout(() => {
      this.#expiryTimer = undefined;
      const now = Date.now();
      while (this.#head < this.#pending.length && this.#pending[this.#head].expires <= now) {
        this.#take().reject(
          unavailable(`NATS stayed unreachable for bufferTimeout (${this.#bufferTimeout} ms)`),
        );
      }
      this.#armExpiry();
    }, wait);
  }

  #failPending(error: BackplaneError): void {
    clearTimeout(this.#expiryTimer);
    this.#expiryTimer = undefined;
    const pending = this.#pending.slice(this.#head);
    this.#pending = [];
    this.#head = 0;
    this.#pendingBytes = 0;
    for (const entry of pending) entry.reject(error);
  }

  #clientError(error: unknown): Error {
    const name = (error as Error)?.name;
    if (name === "ClosedConnectionError" || name === "DrainingConnectionError") {
      return unavailable("the NATS connection is closed", error);
    }
    if (name === "InvalidArgumentError") {
      return new RangeError(`NATS refused the message: ${(error as Error).message}`, {
        cause: error,
      });
    }
    return error instanceof Error ? error : new Error(String(error));
  }

  #usable(): NatsConnectionLike {
    if (this.#closed) throw closedError();
    if (!this.#connection) throw unavailable("start() has not connected yet");
    if (this.#gone) throw unavailable("the NATS connection was closed");
    return this.#connection;
  }

  #subject(topic: string): string {
    const subject = topicToSubject(topic, this.#prefix);
    // The escaped token is ASCII: only the prefix may need more bytes than characters.
    const bytes = subject.length - this.#prefix.length + this.#prefixBytes;
    if (bytes > MAX_SUBJECT_BYTES) {
      throw new RangeError(
        `Topic too long for NATS: its subject has ${bytes} bytes, the limit is ${MAX_SUBJECT_BYTES}`,
      );
    }
    return subject;
  }

  #report(error: unknown): void {
    try {
      this.#onError(error instanceof Error ? error : new Error(String(error)));
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
    this.#failPending(closedError());
    (this.#statusIterator as { stop?: () => void } | undefined)?.stop?.();
    for (const { subscription } of this.#subscriptions.values()) {
      try {
        subscription?.unsubscribe();
      } catch { /* already closed */ }
    }
    this.#subscriptions.clear();
    const connection = this.#connection;
    this.#connection = undefined;
    if (!connection || this.#given) return;
    if (this.#up && !connection.isClosed()) {
      await withTimeout(connection.flush(), CLOSE_FLUSH_TIMEOUT).catch(() => {});
    }
    await connection.close().catch(() => {});
  }
}

function closedError(): BackplaneError {
  return new BackplaneError("WS_BACKPLANE_CLOSED", "The NATS backplane is closed");
}

function unavailable(why: string, cause?: unknown): BackplaneError {
  return new BackplaneError(
    "WS_BACKPLANE_UNAVAILABLE",
    `NATS backplane unavailable: ${why}`,
    cause === undefined ? undefined : { cause },
  );
}

function tooLarge(size: number, limit: number): RangeError {
  return new RangeError(
    `Message too large for NATS: ${size} bytes encoded, the server's max_payload is ${limit}`,
  );
}

function nonNegative(name: string, value: number): number {
  if (!(value >= 0)) throw new RangeError(`${name} must be a number ≥ 0, got ${value}`);
  return value;
}

function positive(name: string, value: number): number {
  if (!(value > 0)) throw new RangeError(`${name} must be a number > 0, got ${value}`);
  return value;
}

/** Settles like `promise`, or rejects after `ms`; the timer never outlives it. */
function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`No answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
