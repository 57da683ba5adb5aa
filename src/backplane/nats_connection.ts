/**
 * The NATS connection of a `NatsBackplane`: the part of a client
 * connection it uses (declared here so that the package's types do not
 * depend on the client's), how it opens one, and the errors of a link that
 * is unreachable or closed. Part of `./backplane/nats`, which re-exports
 * {@linkcode NatsConnectionLike} and {@linkcode NatsSubscriptionLike}.
 *
 * @example
 * ```ts
 * import { natsUnavailable } from "./nats_connection.ts";
 *
 * const error = natsUnavailable("the NATS connection was closed");
 * console.assert(error.code === "WS_BACKPLANE_UNAVAILABLE");
 * ```
 *
 * @module
 */
import { BackplaneError } from "../fanout/backplane.ts";

/**
 * The part of a NATS client connection that `NatsBackplane` uses:
 * a `NatsConnection` of `@nats-io/transport-node` (or of another
 * `@nats-io` transport) fits. Declared here so that the package's types do
 * not depend on the client's.
 */
export interface NatsConnectionLike {
  /** Sends one message (queued by the client, written in call order). */
  publish(subject: string, payload: Uint8Array): void;
  /** Registers a subscription that the client renews after each reconnect. */
  subscribe(
    subject: string,
    options: { callback: (error: Error | null, message: { data: Uint8Array }) => void },
  ): NatsSubscriptionLike;
  /** A PING/PONG round trip: resolves once the server handled everything sent before. */
  flush(): Promise<void>;
  /** Connection events: `disconnect`, `reconnect`, `close`, `error`, …. */
  status(): AsyncIterable<{ type: string; error?: unknown }>;
  /** Whether the connection closed for good. */
  isClosed(): boolean;
  /** Closes the connection. */
  close(): Promise<void>;
  /** The server's INFO, while connected. */
  readonly info?: { max_payload: number } | undefined;
}

/** The part of a NATS subscription that `NatsBackplane` uses. */
export interface NatsSubscriptionLike {
  /** Stops the subscription; the client drops later messages for it. */
  unsubscribe(): void;
}

/** Options of {@linkcode openNatsConnection}. */
export interface OpenNatsConnectionOptions {
  /** A connection to adopt (checked, never created); else one is created. */
  connection?: NatsConnectionLike | undefined;
  /** The server URL(s) to connect to when no `connection` is given. */
  servers: string | string[];
  /** Milliseconds to reach NATS (per server), or for `connection` to answer. */
  connectTimeout: number;
  /** Milliseconds between reconnect attempts to one server. */
  reconnectWait: number;
}

/**
 * Adopts `connection` once it answers a PING, or connects to `servers` with
 * `@nats-io/transport-node` (loaded here, so that with a `connection` of
 * another transport the peer dependency need not be installed): failing fast
 * on a wrong address, reconnecting forever once connected.
 *
 * @param options The connection to adopt, or where to connect and how.
 * @returns The connection, open and answering.
 * @throws {BackplaneError} `WS_BACKPLANE_UNAVAILABLE` if NATS cannot be
 * reached (or the client cannot be loaded) within `connectTimeout`.
 *
 * @example
 * ```ts
 * import { openNatsConnection } from "./nats_connection.ts";
 * import type { BackplaneError } from "@wsc/websocket-channel/fanout";
 *
 * try {
 *   await openNatsConnection({
 *     servers: "nats://127.0.0.1:1",
 *     connectTimeout: 1000,
 *     reconnectWait: 1000,
 *   });
 * } catch (error) {
 *   console.assert((error as BackplaneError).code === "WS_BACKPLANE_UNAVAILABLE");
 * }
 * ```
 */
export async function openNatsConnection(
  options: OpenNatsConnectionOptions,
): Promise<NatsConnectionLike> {
  const { connection, servers, connectTimeout, reconnectWait } = options;
  if (connection) {
    if (connection.isClosed()) throw natsUnavailable("the given NATS connection is closed");
    try {
      await withTimeout(connection.flush(), connectTimeout);
    } catch (cause) {
      throw natsUnavailable("the given NATS connection does not answer", cause);
    }
    return connection;
  }
  let client: typeof import("@nats-io/transport-node");
  try {
    client = await import("@nats-io/transport-node");
  } catch (cause) {
    throw natsUnavailable(
      "cannot load @nats-io/transport-node (install it, or pass `connection`)",
      cause,
    );
  }
  try {
    return await client.connect({
      servers,
      timeout: connectTimeout,
      // Fail start() fast on a wrong address; once connected, retry forever.
      waitOnFirstConnect: false,
      maxReconnectAttempts: -1,
      reconnectTimeWait: reconnectWait,
      // The hub delivers its own publishes locally and ignores their echo.
      noEcho: true,
      // Notice a silently dead link (no FIN, e.g. a partition) within about
      // a minute instead of the client's default 4 to 6 minutes.
      pingInterval: 15_000,
      maxPingOut: 3,
      name: "websocket-channel backplane",
    });
  } catch (cause) {
    throw natsUnavailable(`cannot reach NATS at ${String(servers)}`, cause);
  }
}

/**
 * The error of a call made after the backplane was closed.
 *
 * @returns A `WS_BACKPLANE_CLOSED` error.
 *
 * @example
 * ```ts
 * import { natsClosed } from "./nats_connection.ts";
 *
 * console.assert(natsClosed().code === "WS_BACKPLANE_CLOSED");
 * ```
 */
export function natsClosed(): BackplaneError {
  return new BackplaneError("WS_BACKPLANE_CLOSED", "The NATS backplane is closed");
}

/**
 * The error of a call that needs NATS while it cannot be reached.
 *
 * @param why What is wrong, completing "NATS backplane unavailable: …".
 * @param cause The underlying error, if any.
 * @returns A `WS_BACKPLANE_UNAVAILABLE` error.
 *
 * @example
 * ```ts
 * import { natsUnavailable } from "./nats_connection.ts";
 *
 * const error = natsUnavailable("start() has not connected yet");
 * console.assert(error.message === "NATS backplane unavailable: start() has not connected yet");
 * ```
 */
export function natsUnavailable(why: string, cause?: unknown): BackplaneError {
  return new BackplaneError(
    "WS_BACKPLANE_UNAVAILABLE",
    `NATS backplane unavailable: ${why}`,
    cause === undefined ? undefined : { cause },
  );
}

/**
 * Maps an error thrown by the client to ours: a closed or draining
 * connection is `WS_BACKPLANE_UNAVAILABLE`, an argument the client refuses
 * a `RangeError`; any other error passes through.
 *
 * @param error What the client threw.
 * @returns The error to reject with.
 *
 * @example
 * ```ts
 * import { natsClientError } from "./nats_connection.ts";
 *
 * const closed = Object.assign(new Error("closed"), { name: "ClosedConnectionError" });
 * console.assert((natsClientError(closed) as { code?: string }).code === "WS_BACKPLANE_UNAVAILABLE");
 * const refused = Object.assign(new Error("bad subject"), { name: "InvalidArgumentError" });
 * console.assert(natsClientError(refused) instanceof RangeError);
 * ```
 */
export function natsClientError(error: unknown): Error {
  const name = (error as Error)?.name;
  if (name === "ClosedConnectionError" || name === "DrainingConnectionError") {
    return natsUnavailable("the NATS connection is closed", error);
  }
  if (name === "InvalidArgumentError") {
    return new RangeError(`NATS refused the message: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return error instanceof Error ? error : new Error(String(error));
}

/**
 * Settles like `promise`, or rejects after `ms`; the timer never outlives it.
 *
 * @param promise What to wait for.
 * @param ms Milliseconds to wait at most.
 * @returns `promise`'s outcome, or a rejection after `ms`.
 *
 * @example
 * ```ts
 * import { withTimeout } from "./nats_connection.ts";
 *
 * console.assert((await withTimeout(Promise.resolve(1), 100)) === 1);
 * const never = new Promise<void>(() => {});
 * console.assert(await withTimeout(never, 10).then(() => false, () => true));
 * ```
 */
export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`No answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
