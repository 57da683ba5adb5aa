/**
 * The two node-redis connections of a Redis backplane (a publisher and a
 * subscriber, as pub/sub requires), their events, and the choice between
 * sharded and plain pub/sub. Policy (buffering, status) stays in
 * `redis.ts`.
 *
 * @module
 */

/** Receives a message in buffer mode: both arguments arrive as bytes (Buffers). */
export type RedisListener = (message: Uint8Array, channel: Uint8Array | string) => void;

/**
 * The calls made on a node-redis client (v6). Narrow on purpose: the
 * library's own types are generic over modules, scripts and RESP versions,
 * and any client flavour has these.
 */
export interface RedisConnection {
  /** Connected or reconnecting. */
  readonly isOpen: boolean;
  /** Connected, handshake done, (re)subscribed. */
  readonly isReady: boolean;
  /** Connects, retrying per the reconnect strategy. */
  connect(): Promise<unknown>;
  /** A new client with the same options plus `overrides`. */
  duplicate(overrides?: Record<string, unknown>): RedisConnection;
  /** Quits after the replies of commands already sent. */
  close(): Promise<void>;
  /** Drops the socket and rejects every pending command. */
  destroy(): void;
  /** EventEmitter. */
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  /** EventEmitter. */
  off(event: string, listener: (...args: unknown[]) => void): unknown;
  /** `INFO section`. */
  info(section: string): Promise<unknown>;
  /** `PUBLISH`. */
  publish(channel: string, message: Uint8Array): Promise<unknown>;
  /** `SPUBLISH`. */
  sPublish(channel: string, message: Uint8Array): Promise<unknown>;
  /** `SUBSCRIBE`. */
  subscribe(channel: string, listener: RedisListener, bufferMode: true): Promise<void>;
  /** `UNSUBSCRIBE`. */
  unsubscribe(channel: string): Promise<void>;
  /** `SSUBSCRIBE`. */
  sSubscribe(channel: string, listener: RedisListener, bufferMode: true): Promise<void>;
  /** `SUNSUBSCRIBE`. */
  sUnsubscribe(channel: string): Promise<void>;
  /** The channels node-redis holds listeners for (and resubscribes on reconnect). */
  getPubSubListeners(type: "CHANNELS" | "SHARDED"): Map<string, unknown>;
}

/** Options of {@linkcode RedisLink}. */
export interface RedisLinkOptions {
  /** Whether the publisher was created by us (then we close it). */
  owned: boolean;
  /** Any connection event: lost, reconnecting, ready. */
  onChange(): void;
  /** A message on a subscribed channel. */
  onMessage: RedisListener;
}

const EVENTS = ["ready", "end", "reconnecting"] as const;

/**
 * A publisher and a subscriber connection to one Redis.
 *
 * @example
 * ```ts ignore
 * import { createClient } from "redis";
 * import { type RedisConnection, RedisLink } from "./redis_link.ts";
 *
 * const client = createClient({ url: "redis://127.0.0.1:6379" }) as unknown as RedisConnection;
 * const link = new RedisLink(client, { owned: true, onChange() {}, onMessage: console.log });
 * await link.connect(5000, "auto");
 * await link.close();
 * ```
 */
export class RedisLink {
  /** Whether SPUBLISH/SSUBSCRIBE are in use (set by `connect`). */
  sharded = false;
  readonly #pub: RedisConnection;
  readonly #sub: RedisConnection;
  readonly #options: RedisLinkOptions;
  readonly #onChange = () => this.#options.onChange();
  readonly #onMessage: RedisListener;

  /**
   * @param publisher The publishing client; the subscriber is its `duplicate()`.
   * @param options Ownership and callbacks.
   */
  constructor(publisher: RedisConnection, options: RedisLinkOptions) {
    this.#options = options;
    this.#pub = publisher;
    this.#sub = publisher.duplicate({ disableOfflineQueue: true });
    this.#onMessage = (message, channel) => options.onMessage(message, channel);
    // 'error' is emitted on every failed (re)connect; without a listener it would kill the process.
    for (const client of [this.#pub, this.#sub]) {
      client.on("error", this.#onChange);
      for (const event of EVENTS) client.on(event, this.#onChange);
    }
  }

  /** Both connections are usable. */
  get ready(): boolean {
    return this.#pub.isReady && this.#sub.isReady;
  }

  /** The publisher is usable. */
  get publisherReady(): boolean {
    return this.#pub.isReady;
  }

  /** Connects both within `timeout` ms and picks the pub/sub flavour. */
  async connect(timeout: number, sharded: boolean | "auto"): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${timeout} ms`)), timeout);
    });
    const connected = (async () => {
      await Promise.all([whenReady(this.#pub), this.#sub.connect()]);
      this.sharded = sharded === "auto" ? await supportsSharded(this.#pub) : sharded;
    })();
    try {
      await Promise.race([connected, expired]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Subscribes the subscriber connection to `channel`. */
  subscribe(channel: string): Promise<void> {
    return this.sharded
      ? this.#sub.sSubscribe(channel, this.#onMessage, true)
      : this.#sub.subscribe(channel, this.#onMessage, true);
  }

  /** Unsubscribes the subscriber connection from `channel`. */
  unsubscribe(channel: string): Promise<void> {
    return this.sharded ? this.#sub.sUnsubscribe(channel) : this.#sub.unsubscribe(channel);
  }

  /** Publishes through the one publisher connection, so call order is wire order. */
  publish(channel: string, payload: Uint8Array): Promise<unknown> {
    return this.sharded
      ? this.#pub.sPublish(channel, payload)
      : this.#pub.publish(channel, payload);
  }

  /** Makes the subscriber's channels exactly `wanted`. */
  async reconcile(wanted: Set<string>): Promise<void> {
    const active = this.#sub.getPubSubListeners(this.sharded ? "SHARDED" : "CHANNELS");
    const changes: Promise<void>[] = [];
    for (const channel of wanted) if (!active.has(channel)) changes.push(this.subscribe(channel));
    for (const channel of [...active.keys()]) {
      if (!wanted.has(channel)) changes.push(this.unsubscribe(channel));
    }
    await Promise.all(changes);
  }

  /** Closes what we own, detaches from what we do not; idempotent. */
  async close(): Promise<void> {
    for (const event of EVENTS) {
      this.#pub.off(event, this.#onChange);
      this.#sub.off(event, this.#onChange);
    }
    // Owned clients keep an 'error' listener: a late socket error must not become an uncaught one.
    if (!this.#options.owned) this.#pub.off("error", this.#onChange);
    this.#sub.destroy();
    if (!this.#options.owned) return;
    if (this.#pub.isReady) {
      // Lets publishes already on the wire get their replies, for a bounded time.
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        this.#pub.close().catch(() => {}),
        new Promise((resolve) => timer = setTimeout(resolve, 1000)),
      ]);
      clearTimeout(timer);
    }
    this.#pub.destroy();
  }
}

/** Resolves once `client` is ready, connecting it if nobody did. */
function whenReady(client: RedisConnection): Promise<unknown> {
  if (!client.isOpen) return client.connect();
  if (client.isReady) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const onReady = () => {
      client.off("ready", onReady);
      resolve();
    };
    client.on("ready", onReady);
  });
}

/** Sharded pub/sub exists from Redis 7.0 on (Valkey reports a compatible redis_version). */
async function supportsSharded(client: RedisConnection): Promise<boolean> {
  const info = String(await client.info("server"));
  return Number(/redis_version:(\d+)/.exec(info)?.[1] ?? 0) >= 7;
}
