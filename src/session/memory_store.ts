/**
 * A {@linkcode SessionStore} in this process's memory: a ring of recent
 * messages per topic, bounded by count and age, and the accepted seq of each
 * session for a window of time. Its epoch is new in every process, so a
 * client resuming after a restart is told what it lost.
 *
 * @module
 */
import type {
  ClaimResult,
  HistoryEntry,
  HistoryPage,
  SessionStore,
  SessionStoreReceiver,
  TopicHead,
} from "./store.ts";

/** Options of {@linkcode MemorySessionStore}. */
export interface MemorySessionStoreOptions {
  /** Messages kept per topic. @default {1000} */
  maxEntries?: number;
  /** Milliseconds a message is kept. @default {300000} */
  maxAge?: number;
  /**
   * Milliseconds a session's accepted seq is remembered after its last
   * send; a client offline for longer may have a resent message delivered
   * twice. @default {600000}
   */
  dedupWindow?: number;
  /** Time source. @default {Date.now} */
  now?: () => number;
}

interface Stored extends HistoryEntry {
  readonly at: number;
}

interface TopicRecord {
  head: number;
  /** Ring of the newest entries: `entries[start..]` oldest first. */
  entries: Stored[];
  start: number;
}

interface SessionRecord {
  accepted: number;
  touched: number;
  lease?: { seq: number; owner: string; until: number };
}

/**
 * The in-process store: the default of a `SessionHub`. Several hubs may
 * share one instance (each sees the others' publishes).
 *
 * @example
 * ```ts
 * import { MemorySessionStore } from "@wsc/websocket-channel/session";
 *
 * const store = new MemorySessionStore({ maxEntries: 2 });
 * for (const text of ["a", "b", "c"]) await store.append("news", text);
 * const page = await store.read("news", 0, 10);
 * console.assert(page.oldest === 2 && page.head === 3 && page.entries.length === 2);
 * ```
 */
export class MemorySessionStore implements SessionStore {
  /** This store's epoch: positions restart, with a new epoch, in a new process. */
  readonly epoch: string = crypto.randomUUID().slice(0, 8);
  readonly #maxEntries: number;
  readonly #maxAge: number;
  readonly #window: number;
  readonly #now: () => number;
  readonly #topics = new Map<string, TopicRecord>();
  readonly #sessions = new Map<string, SessionRecord>();
  readonly #receivers = new Set<SessionStoreReceiver>();
  #sweepAt = 0;

  /**
   * Creates an empty store with a new epoch.
   *
   * @param options Bounds of history and of the de-duplication window.
   * @throws {RangeError} For a `maxEntries` below 1 or a `maxAge` not above 0.
   */
  constructor(options: MemorySessionStoreOptions = {}) {
    this.#maxEntries = options.maxEntries ?? 1000;
    this.#maxAge = options.maxAge ?? 300_000;
    this.#window = options.dedupWindow ?? 600_000;
    this.#now = options.now ?? Date.now;
    if (!(this.#maxEntries >= 1)) throw new RangeError(`Invalid maxEntries ${this.#maxEntries}`);
    if (!(this.#maxAge > 0)) throw new RangeError(`Invalid maxAge ${this.#maxAge}`);
  }

  /**
   * Registers a hub: it hears every entry appended to this store (its own
   * too, which it recognises by position), so hubs sharing one store see
   * each other's publishes.
   */
  start(receiver: SessionStoreReceiver): Promise<void> {
    this.#receivers.add(receiver);
    return Promise.resolve();
  }

  /** Nothing to do: every receiver hears every topic. */
  watch(_topic: string): Promise<void> {
    return Promise.resolve();
  }

  /** Nothing to do: every receiver hears every topic. */
  unwatch(_topic: string): Promise<void> {
    return Promise.resolve();
  }

  /** Appends and tells the receivers, synchronously (the promise is settled when it returns). */
  append(topic: string, data: string | Uint8Array): Promise<HistoryEntry & { epoch: string }> {
    const record = this.#record(topic);
    const entry: Stored = { position: ++record.head, data, at: this.#now() };
    record.entries.push(entry);
    this.#trim(record);
    const plain = { position: entry.position, data };
    for (const receiver of this.#receivers) receiver.entry(topic, this.epoch, plain);
    return Promise.resolve({ ...plain, epoch: this.epoch });
  }

  /** See {@linkcode SessionStore.read}. */
  read(topic: string, after: number, limit: number): Promise<HistoryPage> {
    const record = this.#record(topic);
    this.#trim(record);
    const kept = record.entries.length - record.start;
    const oldest = kept > 0 ? record.entries[record.start].position : record.head + 1;
    const first = Math.max(record.start, record.start + (after + 1 - oldest));
    const entries = record.entries.slice(first, first + Math.max(0, limit))
      .map(({ position, data }) => ({ position, data }));
    return Promise.resolve({ epoch: this.epoch, head: record.head, oldest, entries });
  }

  /** See {@linkcode SessionStore.head}. */
  head(topic: string): Promise<TopicHead> {
    return Promise.resolve({ epoch: this.epoch, head: this.#topics.get(topic)?.head ?? 0 });
  }

  /** See {@linkcode SessionStore.accepted}. */
  accepted(session: string): Promise<number> {
    return Promise.resolve(this.#session(session)?.accepted ?? 0);
  }

  /** See {@linkcode SessionStore.claim}. */
  claim(session: string, seq: number, owner: string, leaseMs: number): Promise<ClaimResult> {
    const now = this.#now();
    let record = this.#session(session);
    if (record === undefined) this.#sessions.set(session, record = { accepted: 0, touched: now });
    record.touched = now;
    if (seq <= record.accepted) return Promise.resolve("duplicate");
    const lease = record.lease;
    if (lease && lease.owner !== owner && lease.until > now) return Promise.resolve("busy");
    record.lease = { seq, owner, until: now + leaseMs };
    return Promise.resolve("ok");
  }

  /** See {@linkcode SessionStore.commit}. */
  commit(session: string, seq: number, owner: string): Promise<void> {
    const now = this.#now();
    let record = this.#session(session);
    if (record === undefined) this.#sessions.set(session, record = { accepted: 0, touched: now });
    record.touched = now;
    record.accepted = Math.max(record.accepted, seq);
    if (record.lease?.owner === owner) record.lease = undefined;
    return Promise.resolve();
  }

  /** Forgets the registered hubs. */
  close(): Promise<void> {
    this.#receivers.clear();
    return Promise.resolve();
  }

  #record(topic: string): TopicRecord {
    let record = this.#topics.get(topic);
    if (record === undefined) this.#topics.set(topic, record = { head: 0, entries: [], start: 0 });
    return record;
  }

  #trim(record: TopicRecord): void {
    const oldestAllowed = this.#now() - this.#maxAge;
    const entries = record.entries;
    while (
      record.start < entries.length &&
      (entries.length - record.start > this.#maxEntries ||
        entries[record.start].at <= oldestAllowed)
    ) {
      entries[record.start++] = undefined as unknown as Stored;
    }
    if (record.start > 64 && record.start * 2 > entries.length) {
      record.entries = entries.slice(record.start);
      record.start = 0;
    }
  }

  /** The session's record unless its window passed; sweeps expired ones now and then. */
  #session(session: string): SessionRecord | undefined {
    const now = this.#now();
    if (now >= this.#sweepAt) {
      this.#sweepAt = now + Math.min(this.#window, 60_000);
      for (const [id, record] of this.#sessions) {
        if (record.touched + this.#window <= now) this.#sessions.delete(id);
      }
    }
    const record = this.#sessions.get(session);
    if (record && record.touched + this.#window <= now) {
      this.#sessions.delete(session);
      return undefined;
    }
    return record;
  }
}
