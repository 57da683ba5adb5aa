/**
 * What the parts of the reconnecting client share: its state and whoever
 * watches it change, the counters, the offline queue, the live connection,
 * and whether the client is final. The facade (`web_socket_client.ts`), the
 * reconnect loop (`reconnect_loop.ts`) and the send path (`outbound.ts`)
 * hold the same instance; each changes only its own part of it.
 *
 * @module
 */
import type { Clock } from "../_util/clock.ts";
import type { Connection } from "./connection.ts";
import { type UnconfirmedMessages, UnconfirmedReporter } from "./delivery.ts";
import { ClientError, describeError } from "./errors.ts";
import { MetricsRecorder, type MetricsSources } from "./metrics.ts";
import type { OfflineQueue } from "./offline_queue.ts";
import { type ClientState, Emitter, sameState } from "./state.ts";
import type { Message } from "./types.ts";

/** Events of `WebSocketClient.on()`. */
export interface ClientEvents {
  /** Every state change (no two equal states in a row). */
  state: ClientState;
  /** Every received message, after the receive interceptors. */
  message: Message;
  /** Problems that do not end the client: heartbeat unsupported, a failing listener, a failed attempt. */
  error: Error;
  /**
   * Messages whose `send()` resolved but that were not confirmed when their
   * connection ended, so the peer may never have received them; see
   * {@linkcode UnconfirmedMessages} and the `delivery` option.
   */
  unconfirmed: UnconfirmedMessages;
}

const INITIAL: ClientState = Object.freeze({
  type: "closed",
  code: 1005,
  reason: "",
  willReconnect: false,
});

/**
 * The shared state of one client (see the module doc).
 *
 * @example
 * ```ts
 * import { ClientCore } from "./client_core.ts";
 * import { systemClock } from "@wsc/websocket-channel/client";
 *
 * const core = new ClientCore(systemClock, undefined);
 * const seen: string[] = [];
 * core.events.on("state", (state) => seen.push(state.type));
 * core.setState({ type: "connecting", url: "ws://x", attempt: 1 });
 * core.setState({ type: "connecting", url: "ws://x", attempt: 1 }); // same state: not repeated
 * console.assert(seen.join() === "connecting" && core.openConnection === undefined);
 * ```
 */
export class ClientCore implements MetricsSources {
  /** The client's time source. */
  readonly clock: Clock;
  /** Listeners of `client.on()`. */
  readonly events: Emitter<ClientEvents> = new Emitter((error) => console.error(error));
  /** The counters behind `client.metrics()`. */
  readonly recorder: MetricsRecorder = new MetricsRecorder();
  /** The offline queue, unless `queue: false`. */
  readonly queue: OfflineQueue | undefined;
  /** Reports (and counts) what dead connections leave unconfirmed. */
  readonly unconfirmed: UnconfirmedReporter;
  /** The `stateChanges` streams still read. */
  readonly stateStreams: Set<ReadableStreamDefaultController<ClientState>> = new Set();
  /** The current state; change it with {@linkcode ClientCore.setState}. */
  state: ClientState = INITIAL;
  /** When the current state began. */
  stateSince: number;
  /** The URL of the current or last connection. */
  url: string | null = null;
  /** The current connection, from the moment it is up until it ends or is stopped. */
  conn: Connection | undefined;
  /** Set by `close()` (or the signal): every later call rejects. */
  final = false;
  /** What later calls reject with once the client is final. */
  finalError: ClientError | undefined;
  /** Attempts since the last stable connection (drives the backoff). */
  attemptStreak = 0;
  /** When the next reconnect attempt is scheduled. */
  nextReconnectAt: number | null = null;
  /** The connection while the state is `open`: where messages go straight out. */
  #open: Connection | undefined;

  /**
   * @param clock The client's time source.
   * @param queue The offline queue, or `undefined` without one.
   */
  constructor(clock: Clock, queue: OfflineQueue | undefined) {
    this.clock = clock;
    this.queue = queue;
    this.stateSince = clock.now();
    this.unconfirmed = new UnconfirmedReporter((event) => this.events.emit("unconfirmed", event));
  }

  /** The connection if the state is `open` and it is the current one, else `undefined`. */
  get openConnection(): Connection | undefined {
    return this.#open;
  }

  /** Messages written on the current connection and not confirmed yet. */
  get awaitingConfirmation(): number {
    return this.conn?.pendingConfirmation ?? 0;
  }

  /** Sets the current connection (`undefined` once it ended or was stopped). */
  setConnection(conn: Connection | undefined): void {
    this.conn = conn;
    this.#open = conn !== undefined && this.state.type === "open" ? conn : undefined;
  }

  /** Moves to `state` and tells the streams and listeners, unless it equals the current one. */
  setState(state: ClientState): void {
    if (sameState(this.state, state)) return;
    this.state = state;
    this.#open = state.type === "open" ? this.conn : undefined;
    this.stateSince = this.clock.now();
    for (const controller of this.stateStreams) controller.enqueue(state);
    this.events.emit("state", state);
  }

  /** Reports a problem that does not end the client (`error` event, `metrics().lastError`). */
  emitError(error: unknown): void {
    const value = error instanceof Error ? error : new Error(String(error));
    this.recorder.lastError = describeError(value);
    this.events.emit("error", value);
  }

  /** Records how a connection or an attempt ended. */
  recordDisconnect(code: number, reason: string, error?: Error): void {
    const recorder = this.recorder;
    recorder.lastDisconnectedAt = this.clock.now();
    recorder.lastDisconnectCode = code;
    recorder.lastDisconnectReason = reason;
    if (error) recorder.lastError = describeError(error);
  }

  /** The error of a call made once the client is final. */
  closedError(): ClientError {
    return this.finalError ?? new ClientError("WS_CLIENT_CLOSED", "The client was closed");
  }
}

function ignore(): void {}

/**
 * A rejected promise that does not count as unhandled when nobody observes it.
 *
 * @example
 * ```ts
 * import { rejected } from "./client_core.ts";
 *
 * await rejected(new Error("no")).catch((error) => console.assert(error.message === "no"));
 * ```
 */
export function rejected(error: unknown): Promise<never> {
  const promise = Promise.reject(error);
  promise.catch(ignore);
  return promise;
}
