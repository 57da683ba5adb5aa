/**
 * The server side of the session layer: topics with positions and history,
 * resume after a reconnect, and acknowledged, de-duplicated client sends.
 *
 * @module
 */
import { type Clock, systemClock } from "../_util/clock.ts";
import type { WebSocketChannel } from "../channel/web_socket_channel.ts";
import { SessionError } from "./errors.ts";
import type { ClientFrame } from "./frames.ts";
import { MemorySessionStore } from "./memory_store.ts";
import { type PeerConnection, PeerConnection as Peer, type SessionPeer } from "./session_peer.ts";
import type { SessionStore } from "./store.ts";
import { TopicFeeds } from "./topic_feeds.ts";

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A client send, as the application's `onMessage` sees it. */
export interface SessionMessage {
  /** The payload: a `string` was sent as text, bytes as binary. */
  readonly data: string | Uint8Array;
  /** Who sent it. */
  readonly peer: SessionPeer;
  /** Its place in the session's sends (1, 2, 3, …). */
  readonly seq: number;
}

/**
 * Thrown by `onMessage` to refuse a message: the client's `send()` rejects
 * with `WS_SESSION_REJECTED` and this reason. Any other throw refuses it too,
 * with the reason `"server error"` (details stay on the server, in `onError`).
 *
 * @example
 * ```ts
 * import { SessionRejection } from "@wsc/websocket-channel/session";
 *
 * const refuse = (text: string) => { if (text.length > 280) throw new SessionRejection("too long"); };
 * try { refuse("x".repeat(300)); } catch (error) { console.assert(error instanceof SessionRejection); }
 * ```
 */
export class SessionRejection extends Error {
  /**
   * Creates the refusal.
   *
   * @param reason Sent to the client (at most 200 characters are kept).
   */
  constructor(reason: string) {
    super(reason.slice(0, 200));
    this.name = "SessionRejection";
  }
}

/** Options of {@linkcode SessionHub}. */
export interface SessionHubOptions {
  /** History and de-duplication record. @default {new MemorySessionStore()} */
  store?: SessionStore;
  /**
   * Receives each client send once, in the session's order. The client's
   * `send()` resolves once this returns (or its promise resolves); a throw
   * refuses the message (see {@linkcode SessionRejection}). The next send of
   * the same session waits for it.
   */
  onMessage?(message: SessionMessage): void | Promise<void>;
  /** Decides whether `peer` may subscribe to `topic`. @default {() => true} */
  authorize?(peer: SessionPeer, topic: string): boolean | Promise<boolean>;
  /** Errors nobody awaits: peers breaking the protocol (`SessionError`), a failing store or handler. */
  onError?(error: unknown): void;
  /** Bytes a subscriber may have waiting before it is closed with 1013. @default {1048576} */
  maxBufferedBytes?: number;
  /** Topics one connection may subscribe to. @default {256} */
  maxTopics?: number;
  /** `SUBSCRIBE`s one connection may send per `subscribeWindow`. @default {512} */
  maxSubscribes?: number;
  /** The window of `maxSubscribes`, in milliseconds. @default {10000} */
  subscribeWindow?: number;
  /** Milliseconds a client has to send `HELLO`. @default {10000} */
  helloTimeout?: number;
  /**
   * Milliseconds of the lease a connection takes on a send before its
   * handler runs. The process renews it every third of this while the
   * handler runs and while the acceptance is being recorded (retried while
   * the store is away), so another connection of the same session (after a
   * reconnect) waits until it is recorded. It runs out only when the
   * process died, or could not reach the store for this long: then another
   * process delivers the send again (see `WS_SESSION_UNRECORDED`). @default {30000}
   */
  leaseTime?: number;
  /** The time source of the leases and the timer that renews them. @default {systemClock} */
  clock?: Clock;
}

/** A send this process is delivering: its lease is renewed until the acceptance is recorded. */
interface Hold {
  readonly peer: PeerConnection;
  readonly seq: number;
  /** When the lease ends unless renewed (clock time). */
  until: number;
  renewing: boolean;
}

/** Counters of a {@linkcode SessionHub}. */
export interface SessionHubStats {
  /** `publish()` calls that reached the store. */
  published: number;
  /** Publish frames written to subscribers, live. */
  delivered: number;
  /** Publish frames written from history, on resume. */
  replayed: number;
  /** Client sends handed to `onMessage`. */
  received: number;
  /** Client sends acknowledged again without delivery (already accepted). */
  duplicates: number;
  /** Gaps reported to subscribers (history no longer had the messages). */
  gaps: number;
}

/**
 * Serves `wsc.session.1` connections: hand it every channel whose
 * `protocol` is `SESSION_PROTOCOL`, publish to topics, and receive client
 * sends in `onMessage`. Positions, replay, acknowledgements and
 * de-duplication happen here; the application sees plain messages.
 *
 * @example
 * ```ts
 * import { SessionHub } from "@wsc/websocket-channel/session";
 * import { SessionClient } from "@wsc/websocket-channel/session";
 * import { createChannelPair } from "@wsc/websocket-channel/testing";
 *
 * const hub = new SessionHub({ onMessage: ({ data, peer }) => console.log(peer.id, data) });
 * const client = new SessionClient("memory://", {
 *   connector: () => {
 *     const [near, far] = createChannelPair({ protocol: "wsc.session.1" });
 *     hub.accept(far);
 *     return near;
 *   },
 * });
 * client.subscribe("news");
 * await client.connect();
 * await client.send("hello"); // resolves once onMessage returned
 * await client.close();
 * await hub.close();
 * ```
 */
export class SessionHub {
  /** Resolves once the store is started. */
  readonly ready: Promise<void>;
  readonly #store: SessionStore;
  readonly #options: SessionHubOptions;
  readonly #feeds: TopicFeeds;
  readonly #peers = new Set<PeerConnection>();
  readonly #stats: SessionHubStats = {
    published: 0,
    delivered: 0,
    replayed: 0,
    received: 0,
    duplicates: 0,
    gaps: 0,
  };
  readonly #host;
  readonly #clock: Clock;
  readonly #lease: number;
  readonly #holds = new Set<Hold>();
  #renewal: unknown;
  #closed = false;

  /**
   * Creates a hub and starts its store (see `ready`).
   *
   * @param options Store, handler, authorization and limits.
   */
  constructor(options: SessionHubOptions = {}) {
    this.#options = options;
    this.#store = options.store ?? new MemorySessionStore();
    this.#clock = options.clock ?? systemClock;
    this.#lease = options.leaseTime ?? 30_000;
    this.#feeds = new TopicFeeds({
      store: this.#store,
      stats: this.#stats,
      maxBufferedBytes: options.maxBufferedBytes ?? 1024 * 1024,
      authorize: options.authorize,
      onError: (error) => this.#error(error),
    });
    this.ready = this.#store.start({
      entry: (topic, epoch, entry) => this.#feeds.arrive(topic, epoch, entry),
      // Back on the bus: what other processes published meanwhile is read from history.
      status: (status) => {
        if (status !== "up") return;
        this.#feeds.catchUp();
      },
    });
    this.ready.catch((error) => this.#error(error));
    this.#host = {
      limits: {
        maxTopics: options.maxTopics ?? 256,
        maxSubscribes: options.maxSubscribes ?? 512,
        subscribeWindow: options.subscribeWindow ?? 10_000,
        helloTimeout: options.helloTimeout ?? 10_000,
        maxBufferedBytes: options.maxBufferedBytes ?? 1024 * 1024,
      },
      hello: (peer: PeerConnection) => this.#hello(peer),
      receive: (peer: PeerConnection, seq: number, data: string | Uint8Array) =>
        this.#receive(peer, seq, data),
      subscribe: (peer: PeerConnection, frame: ClientFrame & { kind: "subscribe" }) =>
        void this.#feeds.subscribe(peer, frame.topic, frame.from).catch((error) => {
          this.#feeds.leave(peer, frame.topic);
          peer.unavailable(error);
        }),
      unsubscribe: (peer: PeerConnection, topic: string) => this.#feeds.leave(peer, topic),
      closed: (peer: PeerConnection) => {
        this.#peers.delete(peer);
        for (const topic of peer.topics()) this.#feeds.leave(peer, topic);
      },
      error: (error: unknown) => this.#error(error),
    };
  }

  /**
   * Runs the session protocol on `channel` (one that negotiated
   * `SESSION_PROTOCOL`) and returns its peer.
   *
   * @param channel The connection.
   * @param options `data`: anything the application wants to find on the peer (e.g. its user).
   * @throws {TypeError} When the hub is closed.
   */
  accept(channel: WebSocketChannel, options: { data?: unknown } = {}): SessionPeer {
    if (this.#closed) throw new TypeError("Cannot accept: the session hub is closed");
    const peer = new Peer(this.#host, channel, options.data);
    this.#peers.add(peer);
    return peer;
  }

  /**
   * Publishes to a topic: appended to its history, then written to every
   * subscriber, here and in every process sharing the store. Bytes are
   * copied once at the call (history and replays keep that copy), so the
   * buffer may be refilled as soon as this returns.
   *
   * @returns The message's position.
   */
  async publish(topic: string, data: string | Uint8Array): Promise<number> {
    if (this.#closed) throw new TypeError("Cannot publish: the session hub is closed");
    if (typeof data !== "string" && !(data instanceof Uint8Array)) {
      throw new TypeError("Can only publish a string or a Uint8Array");
    }
    const entry = await this.#store.append(
      String(topic),
      typeof data === "string" ? data : data.slice(),
    );
    this.#stats.published++;
    this.#feeds.arrive(String(topic), entry.epoch, entry);
    return entry.position;
  }

  /** A snapshot of the counters. */
  stats(): SessionHubStats {
    return { ...this.#stats };
  }

  /** Closes every session connection (1001) and the store. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#renewal !== undefined) this.#clock.clearTimeout(this.#renewal);
    this.#renewal = undefined;
    await Promise.all(
      [...this.#peers].map((peer) => peer.close(1001, "server closing")),
    );
    await this.#store.close();
  }

  #error(error: unknown): void {
    try {
      this.#options.onError?.(error);
    } catch { /* a failing error handler must not break delivery */ }
  }

  // ── sends ──────────────────────────────────────────────────────────────

  async #hello(peer: PeerConnection): Promise<void> {
    const accepted = await this.#store.accepted(peer.id);
    peer.send({ kind: "welcome", accepted, known: accepted > 0 });
  }

  async #receive(peer: PeerConnection, seq: number, data: string | Uint8Array): Promise<void> {
    let hold: Hold;
    for (;;) {
      const at = this.#clock.now();
      const claim = await this.#store.claim(peer.id, seq, peer.owner, this.#lease);
      if (!peer.open) return;
      if (claim === "duplicate") {
        this.#stats.duplicates++;
        peer.send({ kind: "ack", seq });
        return;
      }
      if (claim === "ok") {
        hold = { peer, seq, until: at + this.#lease, renewing: false };
        break;
      }
      await delay(20); // another connection of this session is handling it
    }
    this.#holds.add(hold);
    this.#renewal ??= this.#clock.setTimeout(() => this.#renew(), this.#lease / 3);
    let reason: string | undefined;
    try {
      this.#stats.received++;
      try {
        await this.#options.onMessage?.({ data, peer, seq });
      } catch (error) {
        reason = error instanceof SessionRejection ? error.message : "server error";
        if (!(error instanceof SessionRejection)) this.#error(error);
      }
      await this.#commit(hold);
    } finally {
      this.#holds.delete(hold);
    }
    peer.send(reason === undefined ? { kind: "ack", seq } : { kind: "reject", seq, reason });
  }

  /**
   * Renews the lease of every send being delivered, so that a resend on
   * another connection (the client reconnected elsewhere) waits for the
   * record however long the handler takes. A renewal the store refuses
   * (another connection took over after the lease ran out) changes nothing.
   */
  #renew(): void {
    this.#renewal = undefined;
    if (this.#closed || this.#holds.size === 0) return;
    for (const hold of this.#holds) {
      if (hold.renewing) continue;
      hold.renewing = true;
      const at = this.#clock.now();
      this.#store.claim(hold.peer.id, hold.seq, hold.peer.owner, this.#lease).then(
        (claim) => {
          if (claim === "ok") hold.until = Math.max(hold.until, at + this.#lease);
        },
        () => {}, // the store is away: the record is retried until the lease ends
      ).finally(() => hold.renewing = false);
    }
    this.#renewal = this.#clock.setTimeout(() => this.#renew(), this.#lease / 3);
  }

  /**
   * Records an accepted seq, retrying while the lease holds: a store that is
   * back within it (a Redis restart) gets the record, so the resend that
   * waits on the lease elsewhere is a duplicate instead of a second delivery.
   * Past the lease another process may deliver it again: reported as
   * `WS_SESSION_UNRECORDED`, and the connection is closed with 1011.
   */
  async #commit(hold: Hold): Promise<void> {
    const { peer, seq } = hold;
    for (;;) {
      try {
        return await this.#store.commit(peer.id, seq, peer.owner);
      } catch (error) {
        if (this.#closed || this.#clock.now() + 50 >= hold.until) {
          const unrecorded = new SessionError(
            "WS_SESSION_UNRECORDED",
            `The application accepted seq ${seq} of a session, but the store failed to record it ` +
              `before its lease ran out: another process may deliver it again`,
            { closeCode: 1011, cause: error },
          );
          this.#error(unrecorded);
          throw unrecorded;
        }
        await delay(50);
      }
    }
  }
}
