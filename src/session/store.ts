/**
 * What a {@linkcode SessionHub} keeps where other processes can see it:
 * topic history (positions, bounded by count and age) and the
 * de-duplication record of client sends. `MemorySessionStore` keeps both in
 * this process; `RedisSessionStore` (`./session/redis`) keeps them in Redis,
 * so a client can resume on any process.
 *
 * @module
 */

/** One message of a topic's history. */
export interface HistoryEntry {
  /** Its position: 1, 2, 3, … in publish order within the epoch. */
  readonly position: number;
  /** The payload: a `string` is a text message, bytes a binary one. */
  readonly data: string | Uint8Array;
}

/** Where a topic stands. */
export interface TopicHead {
  /** The numbering the positions belong to; it changes when history starts over. */
  readonly epoch: string;
  /** The last position published (0: none yet). */
  readonly head: number;
}

/** What {@linkcode SessionStore.read} returns. */
export interface HistoryPage extends TopicHead {
  /** Entries after the requested position, oldest first, at most `limit`. */
  readonly entries: readonly HistoryEntry[];
  /** The oldest position still kept (`head + 1` when nothing is kept). */
  readonly oldest: number;
}

/** What a store reports to its hub. */
export interface SessionStoreReceiver {
  /** An entry appended by another hub (another process, or another hub on the same store). */
  entry(topic: string, epoch: string, entry: HistoryEntry): void;
  /** The link to a shared store broke (`"down"`) or came back (`"up"`). */
  status?(status: "up" | "down"): void;
}

/** The outcome of {@linkcode SessionStore.claim}. */
export type ClaimResult =
  /** Deliver it: nobody accepted this seq and nobody else holds a lease on the session. */
  | "ok"
  /** Already accepted: acknowledge again, do not deliver. */
  | "duplicate"
  /** Another connection of the session holds a lease: wait and claim again. */
  | "busy";

/**
 * Storage of a session hub. Implementations: `MemorySessionStore` (one
 * process), `RedisSessionStore` (`./session/redis`, shared).
 */
export interface SessionStore {
  /** Starts reporting other hubs' entries of watched topics to `receiver`. */
  start(receiver: SessionStoreReceiver): Promise<void>;
  /** Starts receiving entries of `topic` from other hubs (idempotent). */
  watch(topic: string): Promise<void>;
  /** Stops receiving entries of `topic` (idempotent). */
  unwatch(topic: string): Promise<void>;
  /**
   * Appends a message to the topic's history, giving it the next position,
   * and carries it to the other hubs watching the topic.
   */
  append(topic: string, data: string | Uint8Array): Promise<HistoryEntry & { epoch: string }>;
  /** Up to `limit` entries with positions above `after`, oldest first. */
  read(topic: string, after: number, limit: number): Promise<HistoryPage>;
  /** The topic's epoch and last position. */
  head(topic: string): Promise<TopicHead>;
  /** The highest seq accepted for `session` (0: none, or forgotten after the window). */
  accepted(session: string): Promise<number>;
  /**
   * Claims `seq` of `session` for delivery by `owner` (one connection) for
   * `leaseMs` milliseconds; see {@linkcode ClaimResult}.
   */
  claim(session: string, seq: number, owner: string, leaseMs: number): Promise<ClaimResult>;
  /** Records `seq` as accepted (after the application accepted it) and ends the lease. */
  commit(session: string, seq: number, owner: string): Promise<void>;
  /** Disconnects. */
  close(): Promise<void>;
}
