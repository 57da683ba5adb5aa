/**
 * Topics for WebSocket channels: subscribe channels to named topics and
 * publish a message to every subscriber, in this process and, through a
 * {@linkcode Backplane}, in every process that shares the bus.
 *
 * @module
 */
import { asBytes } from "../_util/bytes.ts";
import { handled } from "../_util/deferred.ts";
import { checkTypeOption } from "../_util/option_checks.ts";
import { checkSendable } from "../_util/sendable.ts";
import type { WebSocketChannel } from "../channel/web_socket_channel.ts";
import type { OfferResult } from "../channel/channel_internals.ts";
import { PerMessageDeflate } from "../deflate/permessage_deflate.ts";
import type { Backplane, BackplaneMessage } from "./backplane.ts";
import { BackplaneError } from "./backplane.ts";
import { PreparedMessage } from "./prepared_message.ts";
import { type DeliveryPort, deliveryPort } from "./delivery_port.ts";
import type {
  PublishOptions,
  SlowSubscriberPolicy,
  TopicHubOptions,
  TopicHubStats,
} from "./topic_hub_options.ts";

export type {
  PublishOptions,
  SlowSubscriberPolicy,
  TopicHubOptions,
  TopicHubStats,
} from "./topic_hub_options.ts";

interface Subscriber {
  readonly channel: WebSocketChannel;
  readonly port: DeliveryPort;
  readonly topics: Set<string>;
  /** Frames were queued this turn; a flush is scheduled. */
  flushing: boolean;
}

interface Topic {
  /** Every local subscriber, native or not (for counts and `topicsOf`). */
  readonly all: Set<Subscriber>;
  /** Subscribers we write to ourselves. */
  readonly direct: Set<Subscriber>;
  /** Subscribers on a platform's own topics, by server: one native publish each. */
  readonly native: Map<object, Set<Subscriber>>;
  /** Settles when the backplane subscription for the topic is in place. */
  readonly subscribed: Promise<void>;
}

const DEFAULT_MAX_BUFFERED = 1024 * 1024;
/** Messages waiting for compression before the hub sends further ones uncompressed. */
const MAX_COMPRESSING_BYTES = 8 * 1024 * 1024;
const SLOW_CLOSE_CODE = 1013;
const SLOW_CLOSE_REASON = "Subscriber too slow";

/**
 * Subscribes channels to topics and publishes to them. Works with channels
 * from every server entry point (`serve()`, Deno `upgrade()`, Bun handlers,
 * Node `attach()`), mixed. A publish encodes the frame once (and compresses
 * once for subscribers that negotiated permessage-deflate) and writes the
 * same bytes to every subscriber, without a promise per subscriber; on Bun's
 * native sockets it is one native `publish` per server. A closed channel
 * leaves its topics by itself.
 *
 * @example A two-member room, in memory
 * ```ts
 * import { TopicHub } from "@wsc/websocket-channel/fanout";
 * import { createChannelPair } from "@wsc/websocket-channel/testing";
 *
 * const hub = new TopicHub();
 * const [aliceClient, alice] = createChannelPair();
 * const [bobClient, bob] = createChannelPair();
 * hub.subscribe(alice, "room:lobby");
 * hub.subscribe(bob, "room:lobby");
 * hub.publish("room:lobby", "hello from alice", { except: alice });
 * const reader = bobClient.stream.getReader();
 * console.assert((await reader.read()).value === "hello from alice");
 * console.assert(hub.subscriberCount("room:lobby") === 2);
 * reader.releaseLock();
 * await Promise.all([aliceClient.sink.close(), bobClient.sink.close()]);
 * await hub.close();
 * ```
 */
export class TopicHub {
  /** This hub's id on the backplane. */
  readonly id: string;
  /**
   * Resolves once the backplane is connected (at once without one); rejects
   * with a `BackplaneError` if it could not start. Never an unhandled rejection.
   */
  readonly ready: Promise<void>;

  readonly #backplane: Backplane | undefined;
  readonly #maxBuffered: number;
  readonly #policy: SlowSubscriberPolicy;
  readonly #onError: (error: unknown) => void;
  readonly #subscribers = new Map<WebSocketChannel, Subscriber>();
  readonly #topics = new Map<string, Topic>();
  readonly #stats: TopicHubStats = {
    published: 0,
    received: 0,
    delivered: 0,
    dropped: 0,
    closedSlow: 0,
    backplaneFailures: 0,
  };
  /** Deliveries to permessage-deflate subscribers, in publish order. */
  #deflateTail: Promise<void> | undefined;
  /** Subscribers with frames queued this turn, flushed in one microtask. */
  #flushing: Subscriber[] = [];
  #compressingBytes = 0;
  #closed = false;

  /**
   * Creates a hub; with a backplane, starts connecting it (see `ready`).
   *
   * @param options Backplane, slow-subscriber bound and policy.
   * @throws {RangeError} For a negative or non-numeric `maxBufferedBytes`.
   * @throws {TypeError} For an unknown `slowSubscriber` policy.
   */
  constructor(options: TopicHubOptions = {}) {
    const maxBuffered = options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED;
    if (!(maxBuffered >= 0)) throw new RangeError(`Invalid maxBufferedBytes ${maxBuffered}`);
    const policy = options.slowSubscriber ?? "close";
    if (policy !== "drop" && policy !== "close") {
      throw new TypeError(`Invalid slowSubscriber policy ${String(policy)}`);
    }
    this.#maxBuffered = maxBuffered;
    this.#policy = policy;
    this.#onError = options.onError ?? (() => {});
    this.id = options.id ?? crypto.randomUUID();
    this.#backplane = options.backplane;
    this.ready = handled(
      this.#backplane
        ? this.#backplane.start({
          message: (message) => this.#fromBackplane(message),
          status: (status) => options.onBackplaneStatus?.(status),
        })
        : Promise.resolve(),
    );
    this.ready.catch((error) => this.#onError(error));
  }

  /**
   * Subscribes `channel` to `topic` (again: no effect). The channel leaves
   * all its topics when it closes. Local publishes reach it at once.
   *
   * @returns Resolves once the backplane receives the topic too, so that
   * publishes from other processes reach the channel from then on (at once
   * without a backplane, or when this process already had the topic).
   * Rejects with the backplane's error; ignoring it is safe (it also goes to
   * `onError`).
   * @throws {TypeError} When the hub is closed or `topic` is not a string.
   */
  subscribe(channel: WebSocketChannel, topic: string): Promise<void> {
    checkTypeOption("hub.subscribe topic", topic, "string");
    if (this.#closed) throw new TypeError("Cannot subscribe: the hub is closed");
    let subscriber = this.#subscribers.get(channel);
    if (subscriber === undefined) {
      subscriber = { channel, port: deliveryPort(channel), topics: new Set(), flushing: false };
      this.#subscribers.set(channel, subscriber);
      const added = subscriber;
      channel.closed.then(() => this.#remove(added));
    }
    let entry = this.#topics.get(topic);
    if (subscriber.topics.has(topic)) return entry!.subscribed;
    subscriber.topics.add(topic);
    if (entry === undefined) {
      entry = {
        all: new Set(),
        direct: new Set(),
        native: new Map(),
        subscribed: this.#backplane
          ? this.#whenReady((b) => b.subscribe(topic))
          : Promise.resolve(),
      };
      this.#topics.set(topic, entry);
    }
    entry.all.add(subscriber);
    const native = subscriber.port.nativeTopics;
    if (native) {
      native.subscribe(this.#nativeName(topic));
      let group = entry.native.get(native.server);
      if (group === undefined) entry.native.set(native.server, group = new Set());
      group.add(subscriber);
    } else {
      entry.direct.add(subscriber);
    }
    return entry.subscribed;
  }

  /** Unsubscribes `channel` from `topic`; `false` if it was not subscribed. */
  unsubscribe(channel: WebSocketChannel, topic: string): boolean {
    const subscriber = this.#subscribers.get(channel);
    if (subscriber === undefined || !subscriber.topics.has(topic)) return false;
    this.#leave(subscriber, topic, true);
    if (subscriber.topics.size === 0) this.#subscribers.delete(channel);
    return true;
  }

  /**
   * Publishes to every subscriber of `topic`, here (synchronously, before
   * this returns) and, with a backplane, in every other process. A string
   * goes out as a text message, bytes (an `ArrayBuffer` or any view) as a
   * binary message; the hub keeps no reference to them once this returns
   * (one copy per publish, shared by every subscriber and the backplane), so
   * the buffer may be refilled at once. Anything
   * else (a number, an object, a `Blob`, a view over a `SharedArrayBuffer`)
   * throws a `TypeError` naming it, at the call.
   *
   * @returns Resolves once the backplane accepted the message (at once
   * without one); rejects with a `BackplaneError` when it could not (local
   * subscribers got it all the same). Ignoring it is safe: the rejection is
   * also counted in `stats().backplaneFailures` and never unhandled.
   */
  publish(
    topic: string,
    data: string | Uint8Array | ArrayBuffer | ArrayBufferView,
    options?: PublishOptions,
  ): Promise<void> {
    // A programming error, thrown at the call as by sink.add().
    checkTypeOption("hub.publish topic", topic, "string");
    checkSendable(data, "hub.publish", { blob: false });
    const payload = typeof data === "string" ? data : asBytes(data);
    if (this.#closed) {
      return handled(
        Promise.reject(new BackplaneError("WS_BACKPLANE_CLOSED", "The hub is closed")),
      );
    }
    this.#stats.published++;
    const prepared = new PreparedMessage(payload);
    const entry = this.#topics.get(topic);
    if (entry !== undefined) this.#deliver(entry, topic, prepared, options?.except);
    if (!this.#backplane) return Promise.resolve();
    // The backplane encodes it once started: with bytes of its own (the local frame's, if any).
    const message: BackplaneMessage = { topic, data: prepared.own(), origin: this.id };
    const sent = this.#whenReady((backplane) => backplane.publish(message));
    sent.catch(() => this.#stats.backplaneFailures++);
    return sent;
  }

  /** The topics `channel` is subscribed to here. */
  topicsOf(channel: WebSocketChannel): string[] {
    return [...(this.#subscribers.get(channel)?.topics ?? [])];
  }

  /** Number of subscribers of `topic` in this process. */
  subscriberCount(topic: string): number {
    return this.#topics.get(topic)?.all.size ?? 0;
  }

  /** The topics with at least one subscriber in this process. */
  topics(): string[] {
    return [...this.#topics.keys()];
  }

  /** A snapshot of the counters. */
  stats(): TopicHubStats {
    return { ...this.#stats };
  }

  /**
   * Forgets every subscription (channels stay open) and closes the
   * backplane. Publishing afterwards rejects with `WS_BACKPLANE_CLOSED`.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const subscriber of [...this.#subscribers.values()]) this.#remove(subscriber);
    if (this.#backplane) {
      await this.ready.catch(() => {});
      await this.#backplane.close();
    }
  }

  // ── delivery ───────────────────────────────────────────────────────────

  /**
   * Writes `message` to the topic's subscribers. Native publishes and frames are copies made
   * before this returns; what is written later (compressed, or through a sink) is `own()`ed
   * first, so the publisher may refill its buffer once `publish()` returned.
   */
  #deliver(entry: Topic, topic: string, message: PreparedMessage, except?: WebSocketChannel) {
    for (const group of entry.native.values()) {
      this.#publishNative(group, topic, message.data, except);
    }
    if (entry.direct.size === 0) return;
    const limit = this.#maxBuffered;
    let compressing: Subscriber[] | undefined;
    let frame: Uint8Array | undefined;
    for (const subscriber of entry.direct) {
      if (subscriber.channel === except) continue;
      const port = subscriber.port;
      if (!port.acceptsFrames) {
        this.#settle(subscriber, port.offerMessage(message.own(), limit));
        continue;
      }
      const deflate = port.deflate;
      if (
        deflate !== undefined &&
        (this.#deflateTail !== undefined || deflate.shouldCompress(message.bytes.byteLength))
      ) {
        // Behind earlier compressed deliveries, so each subscriber keeps publish order.
        (compressing ??= []).push(subscriber);
        continue;
      }
      // One offer per subscriber: the open check, the bound and the write in one call.
      this.#settle(subscriber, port.offerFrames(frame ??= message.frame, limit));
    }
    if (compressing !== undefined) this.#deliverCompressed(message, compressing);
  }

  #deliverCompressed(message: PreparedMessage, subscribers: Subscriber[]): void {
    // Compressed (and written) after publish() returned: from a copy, not the publisher's buffer.
    message.own();
    const size = message.bytes.byteLength;
    const wanted = this.#compressingBytes < MAX_COMPRESSING_BYTES &&
      subscribers.some((s) => s.port.deflate!.shouldCompress(size));
    let compressed: Promise<unknown> | undefined;
    if (wanted) {
      // Starts now, while earlier messages may still be compressing.
      this.#compressingBytes += size;
      // Sync-flushed by the connections' codec where there is one, never in the final-block
      // form that CompressionStream ends each message in.
      const codec = subscribers.map((s) => s.port.deflate)
        .find((d): d is PerMessageDeflate => d instanceof PerMessageDeflate && !!d.codec)?.codec;
      compressed = message.compressed(codec).finally(() => this.#compressingBytes -= size);
      handled(compressed);
    }
    const previous = this.#deflateTail ?? Promise.resolve();
    const done: Promise<void> = previous.then(async () => {
      const form = compressed ? await message.compressed().catch(() => undefined) : undefined;
      for (const subscriber of subscribers) {
        const shared = form !== undefined && subscriber.port.deflate!.usesShared?.(size, form);
        const frame = shared ? form!.frame : message.frame;
        this.#settle(subscriber, subscriber.port.offerFrames(frame, this.#maxBuffered));
      }
    }).catch((error) => this.#onError(error));
    this.#deflateTail = done;
    done.then(() => {
      if (this.#deflateTail === done) this.#deflateTail = undefined;
    });
  }

  /** Counts a delivery, or applies the slow-subscriber policy to a refused one. */
  #settle(subscriber: Subscriber, result: OfferResult): void {
    if (result === 0) {
      this.#stats.delivered++;
      if (subscriber.port.acceptsFrames && !subscriber.flushing) {
        // Written once this turn's publishes are queued: one write per subscriber, not per message.
        subscriber.flushing = true;
        this.#flushing.push(subscriber);
        if (this.#flushing.length === 1) queueMicrotask(this.#flushAll);
      }
      return;
    }
    // 2: closed or closing; it leaves its topics when `closed` resolves.
    if (result !== 1) return;
    if (this.#policy === "drop") {
      this.#stats.dropped++;
      return;
    }
    this.#stats.closedSlow++;
    this.#remove(subscriber);
    subscriber.port.close(SLOW_CLOSE_CODE, SLOW_CLOSE_REASON).catch(() => {});
  }

  readonly #flushAll = (): void => {
    const list = this.#flushing;
    this.#flushing = [];
    for (let i = 0; i < list.length; i++) {
      list[i].flushing = false;
      list[i].port.flush();
    }
  };

  #publishNative(
    group: Set<Subscriber>,
    topic: string,
    data: string | Uint8Array,
    except: WebSocketChannel | undefined,
  ): void {
    const name = this.#nativeName(topic);
    // A lookup, not a walk over the group: the platform does the per-socket work.
    const found = except === undefined ? undefined : this.#subscribers.get(except);
    const sender = found !== undefined && group.has(found) ? found : undefined;
    try {
      if (sender) sender.port.nativeTopics!.publishFromHere(name, data);
      else group.values().next().value!.port.nativeTopics!.publishToAll(name, data);
      this.#stats.delivered += group.size - (sender ? 1 : 0);
    } catch (error) {
      this.#onError(error);
    }
  }

  /** Names on a platform's topics are per server: ours carry the hub id, so two hubs never mix. */
  #nativeName(topic: string): string {
    return `${this.id}\u0000${topic}`;
  }

  // ── membership ─────────────────────────────────────────────────────────

  #remove(subscriber: Subscriber): void {
    if (this.#subscribers.get(subscriber.channel) !== subscriber) return;
    this.#subscribers.delete(subscriber.channel);
    // A closed socket is already off the platform's topics.
    const open = subscriber.port.isOpen();
    for (const topic of [...subscriber.topics]) this.#leave(subscriber, topic, open);
  }

  #leave(subscriber: Subscriber, topic: string, unsubscribeNative: boolean): void {
    subscriber.topics.delete(topic);
    const entry = this.#topics.get(topic);
    if (entry === undefined) return;
    entry.all.delete(subscriber);
    entry.direct.delete(subscriber);
    const native = subscriber.port.nativeTopics;
    if (native) {
      const group = entry.native.get(native.server);
      group?.delete(subscriber);
      if (group?.size === 0) entry.native.delete(native.server);
      if (unsubscribeNative) {
        try {
          native.unsubscribe(this.#nativeName(topic));
        } catch { /* the socket closed meanwhile */ }
      }
    }
    if (entry.all.size === 0) {
      this.#topics.delete(topic);
      if (this.#backplane && !this.#closed) this.#whenReady((b) => b.unsubscribe(topic));
    }
  }

  // ── backplane ──────────────────────────────────────────────────────────

  #fromBackplane(message: BackplaneMessage): void {
    if (message.origin === this.id || this.#closed) return;
    this.#stats.received++;
    const entry = this.#topics.get(message.topic);
    if (entry !== undefined) {
      this.#deliver(entry, message.topic, new PreparedMessage(message.data), undefined);
    }
  }

  /** Runs a backplane call once it started; failures of calls nobody awaits go to `onError`. */
  #whenReady(call: (backplane: Backplane) => Promise<void>): Promise<void> {
    const result = handled(this.ready.then(() => call(this.#backplane!)));
    result.catch((error) => this.#onError(error));
    return result;
  }
}
