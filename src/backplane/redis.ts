/**
 * A {@linkcode Backplane} over Redis pub/sub, with the node-redis client
 * (npm `redis` v6, an optional peer dependency of the npm package).
 *
 * One connection subscribes, another publishes. Sharded pub/sub
 * (`SPUBLISH`/`SSUBSCRIBE`, Redis 7+) is used when the server has it. The
 * channel of a topic is `prefix + topic`; a message travels as a small
 * versioned binary frame (the layout of `fanout/backplane_codec.ts`, shared by
 * every backplane), so text stays text and bytes stay bytes.
 *
 * While Redis is unreachable, publishes wait in a bounded buffer and go out
 * in order once it is back; the receiver hears `status("down")` and
 * `status("up")`. Messages that other processes publish meanwhile are lost:
 * that is Redis pub/sub.
 *
 * @example
 * ```ts ignore
 * import { RedisBackplane } from "@wsc/websocket-channel/backplane/redis";
 *
 * const backplane = new RedisBackplane({ url: "redis://127.0.0.1:6379" });
 * await backplane.start({ message: ({ topic, data }) => console.log(topic, data) });
 * await backplane.subscribe("chat");
 * await backplane.publish({ topic: "chat", data: "hello", origin: "hub-1" });
 * await backplane.close();
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
import { type RedisConnection, RedisLink } from "./redis_link.ts";

/** Options of {@linkcode RedisBackplane}. Give `url` or `client`. */
export interface RedisBackplaneOptions {
  /** Where Redis is, e.g. `redis://127.0.0.1:6379`. Default: `redis://localhost:6379`. */
  url?: string;
  /**
   * Your own node-redis client (from `createClient()`), used for publishing; a
   * `duplicate()` of it subscribes. It is connected if it is not yet, and
   * never closed by the backplane: you close it after the backplane. Its
   * reconnect strategy applies to both connections.
   */
  client?: RedisClientLike;
  /** Prepended to every topic to make its channel name, so apps can share a Redis. Default: `"wsc:"`. */
  prefix?: string;
  /** Sharded pub/sub: `"auto"` uses it when the server is Redis 7 or newer. Default: `"auto"`. */
  sharded?: boolean | "auto";
  /** Publishes that may wait while Redis is unreachable. Default: 10 000. */
  maxBufferedMessages?: number;
  /** Encoded bytes that may wait while Redis is unreachable. Default: 16 MiB. */
  maxBufferedBytes?: number;
  /** How long `start()` tries to reach Redis, in ms. Default: 10 000. */
  connectTimeout?: number;
  /** Upper bound of the reconnect backoff, in ms (clients created from `url` only). Default: 2 000. */
  maxReconnectDelay?: number;
  /** Hears messages that were dropped because they do not decode (`WS_BACKPLANE_BAD_MESSAGE`). */
  onError?: (error: BackplaneError) => void;
}

/**
 * A node-redis client, as `createClient()` of the npm package `redis` (v6)
 * returns it, whatever its modules and RESP version. Only its outline is
 * checked here: node-redis's own types are generic over both.
 */
export interface RedisClientLike {
  /** Connected or reconnecting. */
  readonly isOpen: boolean;
  /** Connected and usable. */
  readonly isReady: boolean;
  /** Connects. */
  connect(): Promise<unknown>;
  /** A new client with the same options. */
  duplicate(...args: never[]): unknown;
}

/** Counters of a {@linkcode RedisBackplane}. */
export interface RedisBackplaneStats {
  /** Messages received that did not decode and were dropped. */
  badMessages: number;
  /** Publishes waiting for Redis. */
  bufferedMessages: number;
  /** Encoded bytes of the publishes waiting for Redis. */
  bufferedBytes: number;
  /** Whether sharded pub/sub is in use (known after `start()`). */
  sharded: boolean;
}

interface Pending {
  channel: string;
  payload: Uint8Array;
  resolve(): void;
  reject(error: unknown): void;
}

const closedError = (cause?: unknown) =>
  new BackplaneError("WS_BACKPLANE_CLOSED", "The Redis backplane is closed", { cause });
const channelDecoder = new TextDecoder();

// node-redis writes strings and Buffers only. Buffer is a global on Node, Bun
// and Deno 2; importing node:buffer instead would tie this module to one
// loader's idea of built-in modules.
const toBuffer = (bytes: Uint8Array): Uint8Array =>
  (globalThis as unknown as {
    Buffer: { from(buffer: ArrayBufferLike, offset: number, length: number): Uint8Array };
  }).Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

/**
 * The Redis implementation of {@linkcode Backplane}: give it to a topic hub.
 *
 * @example
 * ```ts ignore
 * import { RedisBackplane } from "@wsc/websocket-channel/backplane/redis";
 *
 * const backplane = new RedisBackplane({ url: "redis://127.0.0.1:6379", prefix: "chat-app:" });
 * await backplane.start({
 *   message: (message) => console.log(message.topic, message.data, message.origin),
 *   status: (status) => console.log("redis is", status),
 * });
 * await backplane.subscribe("room-1");
 * await backplane.publish({ topic: "room-1", data: new Uint8Array([1, 2, 3]), origin: "hub-a" });
 * await backplane.close();
 * ```
 */
export class RedisBackplane implements Backplane {
  readonly #prefix: string;
  readonly #maxMessages: number;
  readonly #maxBytes: number;
  readonly #options: RedisBackplaneOptions;
  readonly #topics = new Set<string>();
  readonly #buffer: Pending[] = [];
  #bufferedBytes = 0;
  #badMessages = 0;
  #link?: RedisLink;
  #receiver?: BackplaneReceiver;
  #state: "new" | "starting" | "running" | "closed" = "new";
  #up = false;
  #recovering = false;
  #closing?: Promise<void>;

  /**
   * Creates the backplane; `start()` connects.
   *
   * @param options Where Redis is, and the limits; see {@linkcode RedisBackplaneOptions}.
   */
  constructor(options: RedisBackplaneOptions = {}) {
    this.#options = options;
    this.#prefix = options.prefix ?? "wsc:";
    this.#maxMessages = options.maxBufferedMessages ?? 10_000;
    this.#maxBytes = options.maxBufferedBytes ?? 16 * 1024 * 1024;
  }

  /** Counters: dropped bad messages, waiting publishes, the pub/sub flavour in use. */
  get stats(): RedisBackplaneStats {
    return {
      badMessages: this.#badMessages,
      bufferedMessages: this.#buffer.length,
      bufferedBytes: this.#bufferedBytes,
      sharded: this.#link?.sharded ?? false,
    };
  }

  /**
   * Connects both connections; rejects with `WS_BACKPLANE_UNAVAILABLE` if
   * Redis cannot be reached within `connectTimeout` (the backplane is then
   * closed).
   */
  async start(receiver: BackplaneReceiver): Promise<void> {
    if (this.#state === "closed") throw closedError();
    if (this.#state !== "new") throw new Error("RedisBackplane.start() was called already");
    this.#state = "starting";
    this.#receiver = receiver;
    const options = this.#options;
    const user = options.client as RedisConnection | undefined;
    let publisher: RedisConnection;
    try {
      publisher = user ?? await createOwnClient(options);
    } catch (error) {
      this.#state = "closed";
      this.#rejectBuffered(error);
      throw error;
    }
    if (this.#state !== "starting") throw closedError(); // close() came first; nothing is open
    this.#link = new RedisLink(publisher, {
      owned: !user,
      onChange: () => this.#refresh(),
      onMessage: (message, channel) => this.#deliver(message, channel),
    });
    try {
      await this.#link.connect(options.connectTimeout ?? 10_000, options.sharded ?? "auto");
      await this.#link.reconcile(this.#wantedChannels());
    } catch (cause) {
      if (this.#state !== "starting") throw closedError(cause);
      this.#state = "closed";
      this.#rejectBuffered(cause);
      await this.#link.close();
      throw new BackplaneError(
        "WS_BACKPLANE_UNAVAILABLE",
        `Cannot reach Redis: ${message(cause)}`,
        {
          cause,
        },
      );
    }
    if (this.#state !== "starting") throw closedError();
    this.#state = "running";
    this.#up = true;
    this.#flush();
    this.#refresh();
  }

  /** Starts receiving `topic` (idempotent); while Redis is down it takes effect on reconnect. */
  async subscribe(topic: string): Promise<void> {
    if (this.#state === "closed") throw closedError();
    if (this.#topics.has(topic)) return;
    this.#topics.add(topic);
    if (this.#state !== "running" || !this.#link!.ready) return;
    try {
      await this.#link!.subscribe(this.#prefix + topic);
    } catch (cause) {
      if (!this.#link!.ready) return; // lost the link meanwhile: the reconnect subscribes
      this.#topics.delete(topic);
      throw new BackplaneError("WS_BACKPLANE_UNAVAILABLE", `Cannot subscribe to ${topic}`, {
        cause,
      });
    }
  }

  /** Stops receiving `topic` (idempotent); nothing of it is delivered after this resolves. */
  async unsubscribe(topic: string): Promise<void> {
    if (this.#state === "closed") throw closedError();
    if (!this.#topics.delete(topic)) return;
    if (this.#state !== "running" || !this.#link!.ready) return;
    // A failure leaves a stray subscription whose messages #deliver ignores.
    await this.#link!.unsubscribe(this.#prefix + topic).catch(() => {});
  }

  /**
   * Publishes to `prefix + topic`. Resolves when Redis took it. While Redis is
   * unreachable the publish waits; it rejects with `WS_BACKPLANE_BUFFER_FULL`
   * at once if the buffer is full, with `WS_BACKPLANE_UNAVAILABLE` if the
   * connection broke while it was on the wire (it may or may not have been
   * delivered: it is not sent twice), with `WS_BACKPLANE_CLOSED` after close.
   */
  publish(message: BackplaneMessage): Promise<void> {
    if (this.#state === "closed") return Promise.reject(closedError());
    let payload: Uint8Array;
    try {
      payload = toBuffer(encodeBackplaneMessage(message.data, message.origin));
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise((resolve, reject) => {
      const item: Pending = { channel: this.#prefix + message.topic, payload, resolve, reject };
      if (this.#up && this.#buffer.length === 0 && this.#link!.publisherReady) {
        this.#send(item);
      } else if (
        this.#buffer.length >= this.#maxMessages ||
        this.#bufferedBytes + payload.length > this.#maxBytes
      ) {
        reject(
          new BackplaneError(
            "WS_BACKPLANE_BUFFER_FULL",
            `Redis is unreachable and ${this.#buffer.length} publishes (${this.#bufferedBytes} bytes) wait`,
          ),
        );
      } else {
        this.#buffer.push(item);
        this.#bufferedBytes += payload.length;
      }
    });
  }

  /** Disconnects (idempotent); waiting publishes reject with `WS_BACKPLANE_CLOSED`. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#state = "closed";
      this.#up = false;
      this.#rejectBuffered();
      await this.#link?.close();
    })();
    return this.#closing;
  }

  #wantedChannels(): Set<string> {
    return new Set([...this.#topics].map((topic) => this.#prefix + topic));
  }

  #send(item: Pending): void {
    this.#link!.publish(item.channel, item.payload).then(() => item.resolve(), (cause) => {
      item.reject(
        this.#state === "closed" ? closedError(cause) : new BackplaneError(
          "WS_BACKPLANE_UNAVAILABLE",
          "The connection to Redis broke before Redis confirmed the publish",
          { cause },
        ),
      );
    });
  }

  #flush(): void {
    // One synchronous loop: node-redis writes commands in call order, so order holds.
    while (this.#buffer.length > 0 && this.#up && this.#link!.publisherReady) {
      const item = this.#buffer.shift()!;
      this.#bufferedBytes -= item.payload.length;
      this.#send(item);
    }
  }

  #rejectBuffered(cause?: unknown): void {
    const error = closedError(cause);
    for (const item of this.#buffer.splice(0)) item.reject(error);
    this.#bufferedBytes = 0;
  }

  /** Follows the link: down as soon as a connection is lost, up once both are back and resubscribed. */
  #refresh(): void {
    if (this.#state !== "running") return;
    const link = this.#link!;
    if (!link.ready) {
      if (this.#up) {
        this.#up = false;
        this.#report("down");
      }
      return;
    }
    if (this.#up || this.#recovering) return;
    this.#recovering = true;
    // node-redis resubscribes by itself; this covers topics changed while down.
    link.reconcile(this.#wantedChannels()).catch(() => {}).finally(() => {
      this.#recovering = false;
      if (this.#state !== "running" || !link.ready) return; // the next "ready" retries
      this.#up = true;
      this.#flush();
      this.#report("up");
    });
  }

  #report(status: BackplaneStatus): void {
    try {
      this.#receiver?.status?.(status);
    } catch { /* a failing receiver must not break the connection's event handling */ }
  }

  #deliver(message: Uint8Array, channel: Uint8Array | string): void {
    const name = typeof channel === "string" ? channel : channelDecoder.decode(channel);
    const topic = name.slice(this.#prefix.length);
    // Unsubscribed topics may still have messages in flight: they are not wanted.
    if (!name.startsWith(this.#prefix) || !this.#topics.has(topic)) return;
    let decoded;
    try {
      decoded = decodeBackplaneMessage(message);
    } catch (error) {
      this.#badMessages++;
      try {
        this.#options.onError?.(error as BackplaneError);
      } catch { /* called from node-redis's reply parser, which must never see a throw */ }
      return;
    }
    // A plain copy: the bytes are a node-redis Buffer, maybe a view into pooled memory.
    const { data, origin } = decoded;
    try {
      this.#receiver?.message({
        topic,
        data: typeof data === "string" ? data : new Uint8Array(data),
        origin,
      });
    } catch { /* as above: a failing receiver must not break the reply parser */ }
  }
}

/** A client for `options.url`, with our reconnect policy and without node-redis's offline queue. */
async function createOwnClient(options: RedisBackplaneOptions): Promise<RedisConnection> {
  // Loaded here, not imported at the top: the module loads without the optional
  // peer dependency, and documentation tools need not walk node-redis's types.
  const { createClient } = await import("redis");
  const maxDelay = options.maxReconnectDelay ?? 2_000;
  return createClient({
    url: options.url ?? "redis://localhost:6379",
    // Our buffer is the bounded offline queue; node-redis's own one has no bound.
    disableOfflineQueue: true,
    socket: { reconnectStrategy: (retries: number) => backoff(retries, maxDelay) },
  }) as unknown as RedisConnection;
}

const message = (error: unknown) => error instanceof Error ? error.message : String(error);

/** Exponential backoff with jitter, capped: 50 ms, 100 ms, … `max`. */
function backoff(retries: number, max: number): number {
  const cap = Math.min(50 * 2 ** Math.min(retries, 20), max);
  return Math.round(cap / 2 + (Math.random() * cap) / 2);
}
