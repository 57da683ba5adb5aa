/**
 * The topics of a session hub in one process: each topic's position and
 * history cursor, delivery in position order (holding what arrives early,
 * reading what is missing from history), and subscribers resuming from a
 * position (replay from history, gap when history lacks it, then live).
 *
 * @module
 */
import { PreparedMessage } from "../fanout/prepared_message.ts";
import { SessionError } from "./errors.ts";
import { encodePublish } from "./frames.ts";
import type { PeerConnection, SessionPeer } from "./session_peer.ts";
import type { HistoryEntry, SessionStore } from "./store.ts";

/** Counters a {@linkcode TopicFeeds} keeps (part of the hub's stats). */
export interface FeedStats {
  delivered: number;
  replayed: number;
  gaps: number;
}

/** What {@linkcode TopicFeeds} needs from its hub. */
export interface FeedOptions {
  store: SessionStore;
  stats: FeedStats;
  maxBufferedBytes: number;
  authorize?(peer: SessionPeer, topic: string): boolean | Promise<boolean>;
  onError(error: unknown): void;
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
  /** A catch-up was asked for while a repair ran. */
  catchUp: boolean;
  readonly subscribers: Set<Subscription>;
}

const PAGE = 256;
const MAX_PENDING = 10_000;
const encoder = new TextEncoder();
const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The topics with subscribers in this process.
 *
 * @example
 * ```ts
 * import { TopicFeeds } from "./topic_feeds.ts";
 * import { MemorySessionStore } from "@wsc/websocket-channel/session";
 *
 * const feeds = new TopicFeeds({
 *   store: new MemorySessionStore(),
 *   stats: { delivered: 0, replayed: 0, gaps: 0 },
 *   maxBufferedBytes: 1 << 20,
 *   onError: console.error,
 * });
 * feeds.arrive("nobody-listens", "e", { position: 1, data: "x" }); // no subscriber: nothing to do
 * ```
 */
export class TopicFeeds {
  readonly #store: SessionStore;
  readonly #stats: FeedStats;
  readonly #maxBuffered: number;
  readonly #authorize: FeedOptions["authorize"];
  readonly #error: (error: unknown) => void;
  readonly #topics = new Map<string, TopicState>();

  /** @param options The store, counters, the subscriber bound and the hooks. */
  constructor(options: FeedOptions) {
    this.#store = options.store;
    this.#stats = options.stats;
    this.#maxBuffered = options.maxBufferedBytes;
    this.#authorize = options.authorize;
    this.#error = options.onError;
  }

  /** Reads what other processes published while the link to a shared store was down. */
  catchUp(): void {
    for (const state of this.#topics.values()) if (state.known) void this.#repair(state, true);
  }

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
      catchUp: false,
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

  async subscribe(
    peer: PeerConnection,
    topic: string,
    from: { epoch: string; position: number } | undefined,
  ): Promise<void> {
    const sub: Subscription = { peer, last: 0, live: false };
    peer.subscriptions.set(topic, sub);
    const allowed = await (this.#authorize?.(peer, topic) ?? true);
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
    const limit = this.#maxBuffered;
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
        // Each entry waits for the backlog (not each page): a client resuming its maxTopics
        // topics at once, reading nothing, would otherwise have a page of each buffered.
        while (peer.open && peer.backlog > limit) await delay(10);
        if (!peer.open || peer.subscriptions.get(state.name) !== sub) return;
        if (page.epoch !== state.epoch) break;
        peer.write(
          new PreparedMessage(encodePublish(state.bytes, entry.position, entry.data)),
          Infinity,
        );
        sub.last = entry.position;
        this.#stats.replayed++;
      }
      if (page.epoch !== state.epoch) break;
      // Nothing new although positions are missing: trimmed meanwhile.
      if (sub.last === before && sub.last < end) this.#gap(sub, state, end);
    }
    if (peer.open && peer.subscriptions.get(state.name) === sub) sub.live = true;
  }

  #gap(sub: Subscription, state: TopicState, to: number): void {
    if (to <= sub.last) return;
    this.#stats.gaps++;
    sub.peer.send({ kind: "gap", topic: state.name, from: sub.last + 1, to });
    sub.last = to;
  }

  leave(peer: PeerConnection, topic: string): void {
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
  arrive(topic: string, epoch: string, entry: HistoryEntry): void {
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

  /**
   * Fills a hole in what arrived live (another process's publish overtaken,
   * a lost pub/sub message); with `catchUp`, reads to the end of history
   * (after the link to a shared store came back).
   */
  async #repair(state: TopicState, catchUp = false): Promise<void> {
    if (state.repairing) {
      if (catchUp) state.catchUp = true;
      return;
    }
    state.repairing = true;
    let more = catchUp;
    try {
      while ((state.pending.size > 0 || more) && this.#topics.get(state.name) === state) {
        more = state.catchUp;
        state.catchUp = false;
        const page = await this.#store.read(state.name, state.last, PAGE);
        if (page.entries.length === PAGE) more = true;
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
