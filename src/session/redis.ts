/**
 * A {@linkcode SessionStore} in Redis, so that a client can resume on any
 * process: topic history in Redis Streams (one stream per topic, `XADD` with
 * `MAXLEN` and trimming by age, `XRANGE` to replay), positions from a counter
 * incremented in the same script as the `XADD` (so positions are gap-free and
 * in history before anyone hears of them), live delivery through Redis
 * pub/sub (`RedisBackplane`), and the de-duplication record of each session
 * in a hash that expires after the window. With the npm package `redis` (v6),
 * an optional peer dependency.
 *
 * History survives a restart of the server processes, and of Redis when
 * Redis persists its data (AOF); a Redis that lost its data starts a new
 * epoch, which clients are told about.
 *
 * @example
 * ```ts ignore
 * import { SessionHub } from "@wsc/websocket-channel/session";
 * import { RedisSessionStore } from "@wsc/websocket-channel/session/redis";
 *
 * const hub = new SessionHub({ store: new RedisSessionStore({ url: "redis://127.0.0.1:6379" }) });
 * await hub.ready;
 * ```
 *
 * @module
 */
import { RedisBackplane } from "../backplane/redis.ts";
import type { RedisClientLike } from "../backplane/redis.ts";
import { decodeFrame, encodePublish } from "./frames.ts";
import type {
  ClaimResult,
  HistoryEntry,
  HistoryPage,
  SessionStore,
  SessionStoreReceiver,
  TopicHead,
} from "./store.ts";

/** Options of {@linkcode RedisSessionStore}. Give `url` or `client`. */
export interface RedisSessionStoreOptions {
  /** Where Redis is. @default {"redis://localhost:6379"} */
  url?: string;
  /** Your own node-redis client (not closed by the store); pub/sub uses duplicates of it. */
  client?: RedisClientLike;
  /** Prepended to every key and channel. @default {"wsc:session:"} */
  prefix?: string;
  /** Messages kept per topic (exact `MAXLEN`). @default {1000} */
  maxEntries?: number;
  /** Milliseconds a message is kept. @default {300000} */
  maxAge?: number;
  /** Milliseconds a session's accepted seq is kept after its last send. @default {600000} */
  dedupWindow?: number;
  /** Upper bound of the reconnect backoff, in ms (clients created from `url`). @default {2000} */
  maxReconnectDelay?: number;
  /** Errors nobody awaits: a live publish that failed (history has it; readers catch up). */
  onError?(error: unknown): void;
  /** Time source of message ages and send leases. @default {Date.now} */
  now?: () => number;
}

/** The calls made on a node-redis client; narrow, like the backplane's. */
interface Commands {
  readonly isOpen: boolean;
  connect(): Promise<unknown>;
  evalSha(
    sha: string,
    options: { keys: string[]; arguments: (string | Uint8Array)[] },
  ): Promise<unknown>;
  scriptLoad(script: string): Promise<unknown>;
  hGet(key: string, field: string): Promise<unknown>;
  withTypeMapping(mapping: Record<number, unknown>): Commands;
  close(): Promise<void>;
  destroy(): void;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
}

const TRIM = `
local function trim(key, cutoff)
  local old = redis.call('XRANGE', key, '-', '+', 'COUNT', 64)
  local keep = nil
  for i = 1, #old do
    local fields = old[i][2]
    for j = 1, #fields, 2 do
      if fields[j] == 't' and tonumber(fields[j + 1]) > cutoff then keep = old[i][1] end
    end
    if keep then break end
  end
  if keep then
    redis.call('XTRIM', key, 'MINID', keep)
  elseif #old > 0 then
    local seq = tonumber(string.match(old[#old][1], '%-(%d+)$'))
    redis.call('XTRIM', key, 'MINID', '0-' .. string.format('%d', seq + 1))
  end
end
local function epoch(key, candidate)
  local value = redis.call('GET', key)
  if not value then
    value = candidate
    redis.call('SET', key, value)
  end
  return value
end
-- A topic nobody published to (a SUBSCRIBE of any name reads it) keeps its epoch for ttl
-- milliseconds after the last read, not forever; the first append makes it permanent.
local function unpublishedEpoch(key, counter, candidate, ttl)
  if redis.call('EXISTS', counter) == 1 then return epoch(key, candidate) end
  local value = epoch(key, candidate)
  redis.call('PEXPIRE', key, ttl)
  return value
end
`;

// KEYS: stream, counter, epoch. ARGV: now, maxlen, maxage, epoch candidate, kind, data.
const APPEND = TRIM + `
local e = epoch(KEYS[3], ARGV[4])
redis.call('PERSIST', KEYS[3])
local n = redis.call('INCR', KEYS[2])
redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[2], '0-' .. string.format('%d', n),
  'k', ARGV[5], 't', ARGV[1], 'd', ARGV[6])
trim(KEYS[1], tonumber(ARGV[1]) - tonumber(ARGV[3]))
return {e, n}
`;

// KEYS: stream, counter, epoch. ARGV: now, maxage, epoch candidate, after, limit.
const READ = TRIM + `
local e = unpublishedEpoch(KEYS[3], KEYS[2], ARGV[3], ARGV[2])
trim(KEYS[1], tonumber(ARGV[1]) - tonumber(ARGV[2]))
local head = tonumber(redis.call('GET', KEYS[2]) or '0')
local first = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)
local oldest = head + 1
if #first > 0 then oldest = tonumber(string.match(first[1][1], '%-(%d+)$')) end
local entries = {}
if tonumber(ARGV[5]) > 0 then
  entries = redis.call('XRANGE', KEYS[1], '0-' .. string.format('%d', tonumber(ARGV[4]) + 1), '+',
    'COUNT', ARGV[5])
end
return {e, head, oldest, entries}
`;

// KEYS: session hash. ARGV: seq, owner, now, lease, window.
const CLAIM = `
local a = tonumber(redis.call('HGET', KEYS[1], 'a') or '0')
local seq = tonumber(ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
if seq <= a then return 'duplicate' end
local owner = redis.call('HGET', KEYS[1], 'o')
local untilAt = tonumber(redis.call('HGET', KEYS[1], 'u') or '0')
if owner and owner ~= ARGV[2] and untilAt > tonumber(ARGV[3]) then return 'busy' end
redis.call('HSET', KEYS[1], 'o', ARGV[2], 'u', tonumber(ARGV[3]) + tonumber(ARGV[4]))
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 'ok'
`;

// KEYS: session hash. ARGV: seq, owner, window.
const COMMIT = `
local a = tonumber(redis.call('HGET', KEYS[1], 'a') or '0')
if tonumber(ARGV[1]) > a then redis.call('HSET', KEYS[1], 'a', ARGV[1]) end
if redis.call('HGET', KEYS[1], 'o') == ARGV[2] then redis.call('HDEL', KEYS[1], 'o', 'u') end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
`;

const BLOB_STRING = 36; // RESP '$': bulk strings come back as bytes, not text.
const text = new TextDecoder();
const toBuffer = (bytes: Uint8Array): Uint8Array =>
  (globalThis as unknown as {
    Buffer: { from(buffer: ArrayBufferLike, offset: number, length: number): Uint8Array };
  }).Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
const str = (value: unknown) =>
  typeof value === "string" ? value : text.decode(value as Uint8Array);

/**
 * The Redis implementation of {@linkcode SessionStore}; give it to a
 * `SessionHub` in every process.
 *
 * @example
 * ```ts ignore
 * import { RedisSessionStore } from "@wsc/websocket-channel/session/redis";
 *
 * const store = new RedisSessionStore({ url: "redis://127.0.0.1:6379", maxEntries: 10_000, maxAge: 600_000 });
 * await store.start({ entry: (topic, epoch, entry) => console.log(topic, epoch, entry.position) });
 * const { position } = await store.append("news", "hello");
 * console.log(position, await store.read("news", 0, 10));
 * await store.close();
 * ```
 */
export class RedisSessionStore implements SessionStore {
  readonly #options: RedisSessionStoreOptions;
  readonly #prefix: string;
  readonly #maxEntries: number;
  readonly #maxAge: number;
  readonly #window: number;
  readonly #now: () => number;
  readonly #live: RedisBackplane;
  readonly #origin = crypto.randomUUID();
  #client?: Commands;
  #raw?: Commands;
  readonly #shas = new Map<string, string>();

  /**
   * Creates the store; `start()` connects.
   *
   * @param options Where Redis is, key prefix, history bounds, de-duplication window.
   */
  constructor(options: RedisSessionStoreOptions = {}) {
    this.#options = options;
    this.#prefix = options.prefix ?? "wsc:session:";
    this.#maxEntries = options.maxEntries ?? 1000;
    this.#maxAge = options.maxAge ?? 300_000;
    this.#window = options.dedupWindow ?? 600_000;
    this.#now = options.now ?? Date.now;
    if (!(this.#maxEntries >= 1)) throw new RangeError(`Invalid maxEntries ${this.#maxEntries}`);
    if (!(this.#maxAge > 0)) throw new RangeError(`Invalid maxAge ${this.#maxAge}`);
    this.#live = new RedisBackplane({
      url: options.url,
      client: options.client,
      prefix: `${this.#prefix}live:`,
      maxReconnectDelay: options.maxReconnectDelay,
    });
  }

  /** Connects the command client and the pub/sub link. */
  async start(receiver: SessionStoreReceiver): Promise<void> {
    const { createClient } = await import("redis");
    const own = this.#options.client === undefined;
    const maxDelay = this.#options.maxReconnectDelay ?? 2_000;
    const raw = (this.#options.client ?? createClient({
      url: this.#options.url ?? "redis://localhost:6379",
      // Fail fast while Redis is away: the hub closes the connection and the client resumes later.
      disableOfflineQueue: true,
      socket: {
        reconnectStrategy: (retries: number) =>
          Math.min(50 * 2 ** Math.min(retries, 20), maxDelay) * (0.5 + Math.random() / 2),
      },
    })) as unknown as Commands;
    if (own) {
      raw.on("error", () => {}); // reconnects by itself; failures reach the callers
      this.#raw = raw;
    }
    if (!raw.isOpen) await raw.connect();
    this.#client = raw.withTypeMapping({
      [BLOB_STRING]: (globalThis as { Buffer?: unknown }).Buffer,
    });
    await this.#live.start({
      message: ({ topic, data }) => {
        if (typeof data === "string") return;
        let frame;
        try {
          frame = decodeFrame(data, "server");
        } catch (error) {
          return this.#options.onError?.(error);
        }
        if (frame.kind !== "publish") return;
        receiver.entry(topic, frame.topic, { position: frame.position, data: frame.data });
      },
      status: (status) => receiver.status?.(status),
    });
  }

  /** See {@linkcode SessionStore.watch}. */
  watch(topic: string): Promise<void> {
    return this.#live.subscribe(topic);
  }

  /** See {@linkcode SessionStore.unwatch}. */
  unwatch(topic: string): Promise<void> {
    return this.#live.unsubscribe(topic);
  }

  /** Appends with one script (`INCR` + `XADD MAXLEN` + age trim), then announces it on pub/sub. */
  async append(
    topic: string,
    data: string | Uint8Array,
  ): Promise<HistoryEntry & { epoch: string }> {
    const kind = typeof data === "string" ? "t" : "b";
    const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
    const [epoch, position] = await this.#eval(APPEND, this.#keys(topic), [
      String(this.#now()),
      String(this.#maxEntries),
      String(this.#maxAge),
      newEpoch(),
      kind,
      toBuffer(bytes),
    ]) as [unknown, number];
    const e = str(epoch);
    this.#live.publish({ topic, data: encodePublish(e, position, data), origin: this.#origin })
      .catch((error) => this.#options.onError?.(error));
    return { epoch: e, position, data };
  }

  /** See {@linkcode SessionStore.read}. */
  async read(topic: string, after: number, limit: number): Promise<HistoryPage> {
    const [epoch, head, oldest, raw] = await this.#eval(READ, this.#keys(topic), [
      String(this.#now()),
      String(this.#maxAge),
      newEpoch(),
      String(after),
      String(Math.max(0, Math.floor(limit))),
    ]) as [unknown, number, number, [unknown, unknown[]][]];
    const entries = raw.map(([id, fields]) => {
      const position = Number(str(id).split("-")[1]);
      let kind = "b";
      let payload: Uint8Array = new Uint8Array(0);
      for (let i = 0; i < fields.length; i += 2) {
        const name = str(fields[i]);
        if (name === "k") kind = str(fields[i + 1]);
        else if (name === "d") payload = new Uint8Array(fields[i + 1] as Uint8Array);
      }
      return { position, data: kind === "t" ? text.decode(payload) : payload };
    });
    return { epoch: str(epoch), head, oldest, entries };
  }

  /** See {@linkcode SessionStore.head}. */
  async head(topic: string): Promise<TopicHead> {
    const { epoch, head } = await this.read(topic, Number.MAX_SAFE_INTEGER - 1, 0);
    return { epoch, head };
  }

  /** See {@linkcode SessionStore.accepted}. */
  async accepted(session: string): Promise<number> {
    const value = await this.#commands().hGet(this.#sessionKey(session), "a");
    return value == null ? 0 : Number(str(value));
  }

  /** See {@linkcode SessionStore.claim}. */
  async claim(session: string, seq: number, owner: string, leaseMs: number): Promise<ClaimResult> {
    const result = await this.#eval(CLAIM, [this.#sessionKey(session)], [
      String(seq),
      owner,
      String(this.#now()),
      String(leaseMs),
      String(this.#window),
    ]);
    return str(result) as ClaimResult;
  }

  /** See {@linkcode SessionStore.commit}. */
  async commit(session: string, seq: number, owner: string): Promise<void> {
    await this.#eval(COMMIT, [this.#sessionKey(session)], [
      String(seq),
      owner,
      String(this.#window),
    ]);
  }

  /** Disconnects what the store created. */
  async close(): Promise<void> {
    await this.#live.close();
    const raw = this.#raw;
    this.#raw = undefined;
    if (raw) await raw.close().catch(() => raw.destroy());
  }

  #commands(): Commands {
    if (this.#client === undefined) throw new Error("RedisSessionStore.start() was not called");
    return this.#client;
  }

  /**
   * Runs a script by its SHA (`EVAL` recompiles every time: 30 times slower
   * here), loading it first, and again after a Redis restart emptied the cache.
   */
  async #eval(script: string, keys: string[], args: (string | Uint8Array)[]): Promise<unknown> {
    const commands = this.#commands();
    let sha = this.#shas.get(script);
    for (let attempt = 0;; attempt++) {
      if (sha === undefined) {
        sha = str(await commands.scriptLoad(script));
        this.#shas.set(script, sha);
      }
      try {
        return await commands.evalSha(sha, { keys, arguments: args });
      } catch (error) {
        if (attempt > 0 || !/NOSCRIPT/.test(String((error as Error)?.message))) throw error;
        sha = undefined;
      }
    }
  }

  /** The keys of a topic share one hash tag, so a Redis Cluster keeps them on one shard. */
  #keys(topic: string): string[] {
    const base = `${this.#prefix}{${topic}}`;
    return [`${base}:h`, `${base}:n`, `${base}:e`];
  }

  #sessionKey(session: string): string {
    return `${this.#prefix}s:${session}`;
  }
}

function newEpoch(): string {
  return crypto.randomUUID().slice(0, 8);
}
