/**
 * One connection attempt: connector → `ready` → `afterConnect`, bounded by
 * `connectTimeout` and the session's signal. Whatever happens, the attempt
 * ends: a timeout aborts the connector's signal and closes a channel that
 * arrives late, so the client never stays stuck in `connecting`.
 *
 * @module
 */
import type { Clock } from "../_util/clock.ts";
import { closeQuietly, Connection, type ConnectionHost, type EndInfo } from "./connection.ts";
import { ClientError } from "./errors.ts";
import type { AfterConnectContext } from "./options.ts";
import type { ClientChannel, Connector, Message, SendData } from "./types.ts";
import { toMessage } from "./types.ts";

/** Inputs of {@linkcode attemptConnection}. */
export interface AttemptOptions {
  connector: Connector;
  protocols: string[] | undefined;
  timeout: number;
  signal: AbortSignal;
  clock: Clock;
  host: ConnectionHost;
  /** The previous connection's read loop; messages stay in connection order. */
  previousReadDone: Promise<void>;
  /** Called as soon as the connection object exists (before `afterConnect`). */
  onConnection(connection: Connection): void;
  afterConnect?: (context: AfterConnectContext) => void | Promise<void>;
  /** Sends on the fresh connection through interceptors and metrics. */
  sendOn(connection: Connection, message: Message): Promise<void>;
}

/** The result of an attempt; a failure may carry the close code the server sent. */
export type AttemptOutcome =
  | { ok: true; connection: Connection }
  | { ok: false; error: Error; code?: number; reason?: string };

const ABORTED = Symbol("aborted");

/**
 * Runs one attempt (see the module doc). Never rejects.
 *
 * @example
 * ```ts
 * import { attemptConnection } from "./attempt.ts";
 *
 * console.assert(typeof attemptConnection === "function");
 * ```
 */
export async function attemptConnection(
  url: string,
  options: AttemptOptions,
): Promise<AttemptOutcome> {
  const { clock, signal } = options;
  const control = new AbortController();
  const forward = () => control.abort(signal.reason);
  if (signal.aborted) forward();
  else signal.addEventListener("abort", forward, { once: true });
  const timer = clock.setTimeout(() => {
    control.abort(
      new ClientError(
        "WS_CONNECT_TIMEOUT",
        `Connecting to ${url} took longer than ${options.timeout} ms`,
      ),
    );
  }, options.timeout);
  const abortedPromise = new Promise<typeof ABORTED>((resolve) => {
    if (control.signal.aborted) resolve(ABORTED);
    else control.signal.addEventListener("abort", () => resolve(ABORTED), { once: true });
  });
  const abortError = () => asError(control.signal.reason);
  let channel: ClientChannel | undefined;
  try {
    const produced = Promise.resolve().then(() =>
      options.connector(url, { signal: control.signal, protocols: options.protocols })
    );
    const first = await Promise.race([produced, abortedPromise]);
    if (first === ABORTED) {
      // The connector may still deliver a channel; it must not live on unseen.
      produced.then((late) => void closeQuietly(late, 1000, "connect aborted"), () => {});
      return { ok: false, error: abortError() };
    }
    channel = first;
    const ready = await Promise.race([channel.ready.then(() => true as const), abortedPromise]);
    if (ready === ABORTED) {
      void closeQuietly(channel, 1000, "connect aborted");
      return { ok: false, error: abortError() };
    }
    const connection = new Connection(channel, {
      url,
      host: options.host,
      after: options.previousReadDone,
    });
    options.onConnection(connection);
    if (options.afterConnect) {
      const failed = await runAfterConnect(connection, control.signal, abortedPromise, options);
      if (failed) return failed;
    }
    const end = connection.endInfo;
    if (end) return closedDuring(end, "the handshake");
    return { ok: true, connection };
  } catch (error) {
    if (channel) void closeQuietly(channel, 1000, "connect failed");
    return { ok: false, error: asError(error) };
  } finally {
    clock.clearTimeout(timer);
    signal.removeEventListener("abort", forward);
  }
}

async function runAfterConnect(
  connection: Connection,
  signal: AbortSignal,
  abortedPromise: Promise<typeof ABORTED>,
  options: AttemptOptions,
): Promise<AttemptOutcome | undefined> {
  const send = (data: SendData) => options.sendOn(connection, toMessage(data, "afterConnect send"));
  const context: AfterConnectContext = {
    url: connection.url,
    protocol: connection.channel.protocol,
    channel: connection.channel,
    signal,
    send,
    sendJson: (value) => send(JSON.stringify(value)),
  };
  const hook = Promise.resolve().then(() => options.afterConnect!(context)).then(
    () => ({ done: true as const }),
    (error: unknown) => ({ done: false as const, error }),
  );
  const result = await Promise.race([hook, abortedPromise, connection.ended]);
  if (result === ABORTED) {
    connection.abandon({ code: 1006, reason: "connect aborted" }, 1000, "connect aborted");
    return { ok: false, error: asError(signal.reason) };
  }
  if ("done" in result) {
    if (result.done) return undefined;
    const error = new ClientError("WS_AFTER_CONNECT_FAILED", "afterConnect threw", {
      cause: result.error,
    });
    connection.abandon(
      { code: 1006, reason: "afterConnect failed", error },
      1011,
      "afterConnect failed",
    );
    return { ok: false, error };
  }
  return closedDuring(result, "afterConnect");
}

function closedDuring(end: EndInfo, phase: string): AttemptOutcome {
  const error = end.error ??
    new ClientError(
      "WS_AFTER_CONNECT_FAILED",
      `The connection closed during ${phase} (${end.code})`,
      {
        closeCode: end.code,
      },
    );
  return { ok: false, error, code: end.code, reason: end.reason };
}

function asError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}
