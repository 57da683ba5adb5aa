/**
 * The server side of the session layer: topics with positions and history,
 * resume after a reconnect, and acknowledged, de-duplicated client sends.
 *
 * @module
 */
import type { WebSocketChannel } from "../channel/web_socket_channel.ts";
import { PreparedMessage } from "../fanout/prepared_message.ts";
import { SessionError } from "./errors.ts";
import { type ClientFrame, encodePublish } from "./frames.ts";
import { MemorySessionStore } from "./memory_store.ts";
import { type PeerConnection, PeerConnection as Peer, type SessionPeer } from "./session_peer.ts";
import type { HistoryEntry, SessionStore } from "./store.ts";

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
 * import { SessionRejection } from "./session_hub.ts";
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
   * Milliseconds a connection holds a send while its handler runs; another
   * connection of the same session waits that long at most. @default {30000}
   */
  leaseTime?: number;
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

interface Subscription {
  readonly peer: PeerConnection;
  last: number;
  live: boolean;
}

interface TopicState {
  readonly name: string;
  readonly bytes: Uint8Array;
  epoch: string;
  /** The last position delivered here. */
  last: number;
  known: boolean;
  ready: Promise<void>;
  /** Entries that arrived ahead of a missing one, by position. */
  readonly pending: Map<number, HistoryEntry>;
  repairing: boolean;
  readonly subscribers: Set<Subscription>;
}

const PAGE = 256;
const MAX_PENDING = 10_000;
const encoder = new TextEncoder();
const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Serves `wsc.session.1` connections: hand it every channel whose
 * `protocol` is `SESSION_PROTOCOL`, publish to topics, and receive client
 * sends in `onMessage`. Positions, replay, acknowledgements and
 * de-duplication happen here; the application sees plain messages.
 *
 * @example
 * ```ts
 * import { SessionHub } from "./session_hub.ts";
 * import { SessionClient } from "./session_client.ts";
 * import { createChannelPair } from "../testing/channel_pair.ts";
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
  readonly #topics = new Map<string, TopicState>();
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
  #closed = false;

  /**
   * Creates a hub and starts its store (see `ready`).
   *
   * @param options Store, handler, authorization and limits.
   */
  constructor(options: SessionHubOptions = {}) {
    this.#options = options;
    this.#store = options.store ?? new MemorySessionStore();
    this.ready = this.#store.start({
      entry: (topic, epoch, entry) => this.#arrive(topic, epoch, entry),
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
        void this.#subscribe(peer, frame.topic, frame.from).catch((error) => {
          this.#error(error);
          peer.send({ kind: "denied", topic: frame.topic, reason: "unavailable" });
          this.#leave(peer, frame.topic);
        }),
      unsubscribe: (peer: PeerConnection, topic: string) => this.#leave(peer, topic),
      closed: (peer: PeerConnection) => {
        this.#peers.delete(peer);
        for (const topic of peer.topics()) this.#leave(peer, topic);
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
   * subscriber, here and in every process sharing the store.
   *
   * @returns The message's position.
   */
  async publish(topic: string, data: string | Uint8Array): Promise<number> {
    if (this.#closed) throw new TypeError("Cannot publish: the session hub is closed");
    if (typeof data !== "string" && !(data instanceof Uint8Array)) {
      throw new TypeError("Can only publish a string or a Uint8Array");
    }
    const entry = await this.#store.append(String(topic), data);
    this.#stats.published++;
    this.#arrive(String(topic), entry.epoch, entry);
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
    await Promise.all(
      [...this.#peers].map((peer) =>
        peer.channel.sink.close(1001, "server closing").catch(() => {})
      ),
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
    const lease = this.#options.leaseTime ?? 30_000;
    for (;;) {
      const claim = await this.#store.claim(peer.id, seq, peer.owner, lease);
      if (!peer.open) return;
      if (claim === "duplicate") {
        this.#stats.duplicates++;
        peer.send({ kind: "ack", seq });
        return;
      }
      if (claim === "ok") break;
      await delay(20); // another connection of this session is handling it
    }
    this.#stats.received++;
    let reason: string | undefined;
    try {
      await this.#options.onMessage?.({ data, peer, seq });
    } catch (error) {
      reason = error instanceof SessionRejection ? error.message : "server error";
      if (!(error instanceof SessionRejection)) this.#error(error);
    }
    await this.#store.commit(peer.id, seq, peer.owner);
    peer.send(reason === undefined ? { kind: "ack", seq } : { kind: "reject", seq, reason });
  }

  // ── topics ─────────────────────────────────────────────────────────────

  #topic(name: string): TopicState {
    let state = this.#topics.get(name);
    if (state !== undefined) return state;
    const created: TopicState = {
      name,
      bytes: encoder.encode(name),
      epoch: "",
      last: 0,
      known: false,
      ready: Promise.resolve(),
      pending: new Map(),
      repairing: false,
      subscribers: new Set(),
    };
    created.ready = (async () => {
      await this.#store.watch(name);
      const head = await this.#store.head(name);
      created.epoch = head.epoch;
      created.last = head.head;
      created.known = true;
      this.#drain(created);
    })();
    created.ready.catch(() => {
      if (this.#topics.get(name) === created) this.#topics.delete(name);
    });
    this.#topics.set(name, state = created);
    return state;
  }

  async #subscribe(
    peer: PeerConnection,
    topic: string,
    from: { epoch: string; position: number } | undefined,
  ): Promise<void> {
    const sub: Subscription = { peer, last: 0, live: false };
    peer.subscriptions.set(topic, sub);
    const allowed = await (this.#options.authorize?.(peer, topic) ?? true);
    if (peer.subscriptions.get(topic) !== sub) return;
    if (!allowed) {
      peer.subscriptions.delete(topic);
      peer.send({ kind: "denied", topic, reason: "not allowed" });
      return;
    }
    const state = this.#topic(topic);
    state.subscribers.add(sub);
    await state.ready;
    if (peer.subscriptions.get(topic) !== sub) return;
    if (from === undefined) {
      sub.last = state.last;
      sub.live = true;
      peer.send({ kind: "subscribed", topic, epoch: state.epoch, position: sub.last });
      return;
    }
    let after = from.position;
    if (from.epoch !== state.epoch) after = 0;
    else if (after > state.last) {
      const head = await this.#store.head(topic);
      if (head.epoch === state.epoch && after > head.head) {
        peer.fail(
          new SessionError(
            "WS_SESSION_BAD_POSITION",
            `Resume position ${after} is beyond the end (${head.head}) of a topic`,
            { closeCode: 1008 },
          ),
        );
        return;
      }
    }
    sub.last = after;
    peer.send({ kind: "subscribed", topic, epoch: state.epoch, position: after });
    await this.#replay(state, sub);
  }

  /** Writes what `sub` missed from history, then makes it live; in pages, waiting for a slow reader. */
  async #replay(state: TopicState, sub: Subscription): Promise<void> {
    const { peer } = sub;
    const limit = this.#host.limits.maxBufferedBytes;
    while (sub.last < state.last) {
      const page = await this.#store.read(state.name, sub.last, PAGE);
      if (!peer.open || peer.subscriptions.get(state.name) !== sub) return;
      if (page.epoch !== state.epoch) break; // the store started over: the live path resets it
      const before = sub.last;
      const end = state.last;
      if (page.oldest > sub.last + 1) this.#gap(sub, state, Math.min(page.oldest - 1, end));
      for (const entry of page.entries) {
        if (entry.position > end) break;
        if (entry.position !== sub.last + 1) continue;
        peer.write(
          new PreparedMessage(encodePublish(state.bytes, entry.position, entry.data)),
          Infinity,
        );
        sub.last = entry.position;
        this.#stats.replayed++;
      }
      // Nothing new although positions are missing: trimmed meanwhile.
      if (sub.last === before && sub.last < end) this.#gap(sub, state, end);
      while (peer.open && peer.backlog > limit) await delay(10);
    }
    if (peer.open && peer.subscriptions.get(state.name) === sub) sub.live = true;
  }

  #gap(sub: Subscription, state: TopicState, to: number): void {
    if (to <= sub.last) return;
    this.#stats.gaps++;
    sub.peer.send({ kind: "gap", topic: state.name, from: sub.last + 1, to });
    sub.last = to;
  }

  #leave(peer: PeerConnection, topic: string): void {
    const sub = peer.subscriptions.get(topic);
    if (sub === undefined) return;
    peer.subscriptions.delete(topic);
    const state = this.#topics.get(topic);
    if (state === undefined) return;
    state.subscribers.delete(sub as Subscription);
    if (state.subscribers.size === 0) {
      this.#topics.delete(topic);
      state.ready.then(() => this.#store.unwatch(topic)).catch(() => {});
    }
  }

  // ── ordered delivery ───────────────────────────────────────────────────

  /** An entry from this process's publish or from the store: delivered in position order. */
  #arrive(topic: string, epoch: string, entry: HistoryEntry): void {
    const state = this.#topics.get(topic);
    if (state === undefined) return;
    if (state.known && epoch !== state.epoch) this.#reset(state, epoch);
    if (state.known && entry.position <= state.last) return;
    if (state.known && entry.position === state.last + 1) {
      this.#emit(state, entry);
      this.#drain(state);
      return;
    }
    if (state.pending.size < MAX_PENDING) state.pending.set(entry.position, entry);
    if (state.known) void this.#repair(state);
  }

  #emit(state: TopicState, entry: HistoryEntry): void {
    state.last = entry.position;
    if (state.subscribers.size === 0) return;
    let message: PreparedMessage | undefined;
    for (const sub of state.subscribers) {
      if (!sub.live || entry.position <= sub.last) continue;
      message ??= new PreparedMessage(encodePublish(state.bytes, entry.position, entry.data));
      sub.last = entry.position;
      if (sub.peer.write(message)) this.#stats.delivered++;
    }
  }

  #drain(state: TopicState): void {
    for (;;) {
      const next = state.pending.get(state.last + 1);
      for (const position of state.pending.keys()) {
        if (position <= state.last) state.pending.delete(position);
      }
      if (next === undefined) break;
      state.pending.delete(next.position);
      this.#emit(state, next);
    }
    if (state.pending.size > 0) void this.#repair(state);
  }

  /** Fills a hole in what arrived live (another process's publish overtaken, a lost pub/sub message). */
  async #repair(state: TopicState): Promise<void> {
    if (state.repairing) return;
    state.repairing = true;
    try {
      while (state.pending.size > 0 && this.#topics.get(state.name) === state) {
        const page = await this.#store.read(state.name, state.last, PAGE);
        if (page.epoch !== state.epoch) {
          this.#reset(state, page.epoch);
          continue;
        }
        const before = state.last;
        if (page.oldest > state.last + 1) this.#lost(state, page.oldest - 1);
        for (const entry of page.entries) {
          if (entry.position === state.last + 1) this.#emit(state, entry);
        }
        this.#drain(state);
        if (state.last === before && state.pending.size > 0) {
          // History lacks them (trimmed): skip to the first we hold.
          this.#lost(state, Math.min(...state.pending.keys()) - 1);
          this.#drain(state);
        }
      }
    } catch (error) {
      this.#error(error);
    } finally {
      state.repairing = false;
    }
  }

  /** Positions up to `to` are gone for this process: its live subscribers are told. */
  #lost(state: TopicState, to: number): void {
    for (const sub of state.subscribers) if (sub.live) this.#gap(sub, state, to);
    state.last = Math.max(state.last, to);
  }

  /** The store started a new numbering: subscribers hear it as a new epoch from position 0. */
  #reset(state: TopicState, epoch: string): void {
    state.epoch = epoch;
    state.last = 0;
    state.pending.clear();
    for (const sub of state.subscribers) {
      if (!sub.live) continue;
      sub.last = 0;
      sub.peer.send({ kind: "subscribed", topic: state.name, epoch, position: 0 });
    }
  }
}
