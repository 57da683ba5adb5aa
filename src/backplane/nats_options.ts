/**
 * The options of a NATS backplane, their defaults and their checks. Part of
 * `./backplane/nats`, which re-exports {@linkcode NatsBackplaneOptions}.
 *
 * @example
 * ```ts
 * import { resolveNatsOptions } from "./nats_options.ts";
 *
 * const options = resolveNatsOptions({ bufferTimeout: 5000 });
 * console.assert(options.bufferTimeout === 5000 && options.connectTimeout === 10_000);
 * ```
 *
 * @module
 */
import type { NatsConnectionLike } from "./nats_connection.ts";

/** Options of `NatsBackplane`. */
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
/** {@linkcode NatsBackplaneOptions} with every default applied and checked (but `prefix`). */
export interface ResolvedNatsOptions {
  /** The server URL(s). */
  readonly servers: string | string[];
  /** The connection to adopt, if any. */
  readonly connection: NatsConnectionLike | undefined;
  /** Bytes of publishes that may wait during an outage. */
  readonly maxBufferedBytes: number;
  /** Milliseconds a publish may wait during an outage. */
  readonly bufferTimeout: number;
  /** Milliseconds to reach NATS. */
  readonly connectTimeout: number;
  /** Milliseconds between reconnect attempts. */
  readonly reconnectWait: number;
  /** Told about what the backplane drops. */
  readonly onError: (error: Error) => void;
}

const DEFAULT_SERVERS = "nats://127.0.0.1:4222";
const DEFAULT_MAX_BUFFERED_BYTES = 16 * 1024 * 1024;
const DEFAULT_BUFFER_TIMEOUT = 30_000;
const DEFAULT_CONNECT_TIMEOUT = 10_000;
const DEFAULT_RECONNECT_WAIT = 1_000;

/**
 * Applies the defaults of {@linkcode NatsBackplaneOptions} and checks the
 * numbers. `prefix` is left to `NatsSubjectMapper`, which checks it.
 *
 * @param options The options as given.
 * @returns Every option but `prefix`, with its default where not given.
 * @throws {RangeError} If a number option is out of range.
 *
 * @example
 * ```ts
 * import { resolveNatsOptions } from "./nats_options.ts";
 *
 * console.assert(resolveNatsOptions({}).servers === "nats://127.0.0.1:4222");
 * let refused = false;
 * try {
 *   resolveNatsOptions({ connectTimeout: 0 });
 * } catch (error) {
 *   refused = error instanceof RangeError;
 * }
 * console.assert(refused);
 * ```
 */
export function resolveNatsOptions(options: NatsBackplaneOptions): ResolvedNatsOptions {
  return {
    servers: options.servers ?? DEFAULT_SERVERS,
    connection: options.connection,
    maxBufferedBytes: nonNegative(
      "maxBufferedBytes",
      options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES,
    ),
    bufferTimeout: nonNegative("bufferTimeout", options.bufferTimeout ?? DEFAULT_BUFFER_TIMEOUT),
    connectTimeout: positive("connectTimeout", options.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT),
    reconnectWait: nonNegative("reconnectWait", options.reconnectWait ?? DEFAULT_RECONNECT_WAIT),
    onError: options.onError ?? (() => {}),
  };
}

function nonNegative(name: string, value: number): number {
  if (!(value >= 0)) throw new RangeError(`${name} must be a number ≥ 0, got ${value}`);
  return value;
}

function positive(name: string, value: number): number {
  if (!(value > 0)) throw new RangeError(`${name} must be a number > 0, got ${value}`);
  return value;
}
