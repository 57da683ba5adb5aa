/**
 * Counters of a {@linkcode WebSocketClient}, read as a plain JSON-able
 * snapshot with `client.metrics()`.
 *
 * @module
 */

/**
 * A point-in-time view of the client. Sizes are payload bytes on the wire
 * (UTF-8 bytes for text, not UTF-16 code units); times are epoch ms from the
 * client's clock; `null` means "never".
 */
export interface ClientMetrics {
  /** When the snapshot was taken. */
  timestamp: number;
  /** The current state's `type`, and since when / for how long. */
  state: "connecting" | "open" | "disconnecting" | "closed";
  /** When the current state began. */
  stateSince: number;
  /** Milliseconds spent in the current state. */
  timeInState: number;
  /** The URL of the current or last connection. */
  url: string | null;
  /** Messages and bytes handed to an open connection (after send interceptors; `afterConnect` sends included). */
  messagesSent: number;
  /** Payload bytes handed to an open connection. */
  bytesSent: number;
  /** Messages and bytes received from the transport (before receive interceptors; heartbeat pongs excluded). */
  messagesReceived: number;
  /** Payload bytes received. */
  bytesReceived: number;
  /** Connection attempts started, and how many failed before reaching `open`. */
  attempts: number;
  /** Attempts that never reached `open`. */
  failedAttempts: number;
  /** Times the client reached `open`, and how many of those were re-connections. */
  connects: number;
  /** Times `open` was reached again after a connection ended. */
  reconnects: number;
  /** Attempts since the last connection that stayed open for `stableAfter` (drives the backoff). */
  attemptStreak: number;
  /** When the next reconnect attempt is scheduled. */
  nextReconnectAt: number | null;
  /** When `open` was last reached. */
  lastConnectedAt: number | null;
  /** When a connection last ended or an attempt last failed. */
  lastDisconnectedAt: number | null;
  /** The close code of that end. */
  lastDisconnectCode: number | null;
  /** The close reason of that end. */
  lastDisconnectReason: string | null;
  /** The last error (failed attempt, heartbeat timeout, listener error). */
  lastError: { code: string; message: string } | null;
  /**
   * Messages whose `send()` resolved and which the client gave up on without
   * a confirmation (a connection died before one came): possibly lost. With
   * `resendUnconfirmed`, only those that could not be resent.
   */
  unconfirmedMessages: number;
  /** Unconfirmed messages put back in the offline queue by `resendUnconfirmed`. */
  resentMessages: number;
  /** Messages written on the current connection and not confirmed yet. */
  awaitingConfirmation: number;
  /** Offline queue depth and losses. */
  queuedMessages: number;
  /** Payload bytes waiting in the offline queue. */
  queuedBytes: number;
  /** Messages evicted by the overflow policy. */
  droppedMessages: number;
  /** Messages whose TTL passed in the queue. */
  expiredMessages: number;
  /** Heartbeat round-trip times in ms. */
  rttLast: number | null;
  /** Mean round-trip time. */
  rttAverage: number | null;
  /** Round trips measured. */
  rttSamples: number;
  /** Connections dropped for a missed pong. */
  heartbeatTimeouts: number;
  /** Messages reported as invalid JSON by `json()` streams. */
  invalidJson: number;
  /** Unread messages discarded by message readers with `overflow: "drop-oldest"`. */
  readerDroppedMessages: number;
  /** Message readers ended by `overflow: "error"` (`WS_READER_OVERFLOW`). */
  readerOverflows: number;
}

/**
 * The mutable counters behind {@linkcode ClientMetrics}; the client updates
 * them, `snapshot` copies them.
 *
 * @example
 * ```ts
 * import { MetricsRecorder } from "./metrics.ts";
 *
 * const recorder = new MetricsRecorder();
 * recorder.recordRtt(10);
 * recorder.recordRtt(20);
 * console.assert(recorder.rttAverage === 15);
 * ```
 */
export class MetricsRecorder {
  messagesSent = 0;
  bytesSent = 0;
  messagesReceived = 0;
  bytesReceived = 0;
  attempts = 0;
  failedAttempts = 0;
  connects = 0;
  reconnects = 0;
  lastConnectedAt: number | null = null;
  lastDisconnectedAt: number | null = null;
  lastDisconnectCode: number | null = null;
  lastDisconnectReason: string | null = null;
  lastError: { code: string; message: string } | null = null;
  rttLast: number | null = null;
  rttSum = 0;
  rttSamples = 0;
  heartbeatTimeouts = 0;
  invalidJson = 0;
  readerDroppedMessages = 0;
  readerOverflows = 0;

  /** Records one heartbeat round trip. */
  recordRtt(ms: number): void {
    this.rttLast = ms;
    this.rttSum += ms;
    this.rttSamples++;
  }

  /** Mean of the recorded round trips, or `null`. */
  get rttAverage(): number | null {
    return this.rttSamples === 0 ? null : this.rttSum / this.rttSamples;
  }

  /** Records a message handed to the transport. */
  recordSent(bytes: number): void {
    this.messagesSent++;
    this.bytesSent += bytes;
  }

  /** Records a message read from the transport. */
  recordReceived(bytes: number): void {
    this.messagesReceived++;
    this.bytesReceived += bytes;
  }
}

/** Where a {@linkcode ClientMetrics} snapshot reads from besides the counters. */
export interface MetricsSources {
  /** The counters. */
  readonly recorder: MetricsRecorder;
  /** The current state. */
  readonly state: { readonly type: ClientMetrics["state"] };
  /** When the current state began. */
  readonly stateSince: number;
  /** The URL of the current or last connection. */
  readonly url: string | null;
  /** Attempts since the last stable connection. */
  readonly attemptStreak: number;
  /** When the next reconnect attempt is scheduled. */
  readonly nextReconnectAt: number | null;
  /** Messages written on the current connection and not confirmed yet. */
  readonly awaitingConfirmation: number;
  /** The delivery counters. */
  readonly unconfirmed: { readonly unconfirmedMessages: number; readonly resentMessages: number };
  /** The offline queue, if any. */
  readonly queue:
    | {
      readonly length: number;
      readonly bytes: number;
      readonly dropped: number;
      readonly expired: number;
    }
    | undefined;
}

/**
 * A JSON-able snapshot of the client taken at `now`.
 *
 * @example
 * ```ts
 * import { MetricsRecorder, snapshotMetrics } from "./metrics.ts";
 *
 * const recorder = new MetricsRecorder();
 * recorder.recordSent(3);
 * const metrics = snapshotMetrics({
 *   recorder,
 *   state: { type: "open" },
 *   stateSince: 1000,
 *   url: "ws://x",
 *   attemptStreak: 1,
 *   nextReconnectAt: null,
 *   awaitingConfirmation: 1,
 *   unconfirmed: { unconfirmedMessages: 0, resentMessages: 0 },
 *   queue: undefined,
 * }, 1500);
 * console.assert(metrics.timeInState === 500 && metrics.bytesSent === 3 && metrics.queuedMessages === 0);
 * ```
 */
export function snapshotMetrics(sources: MetricsSources, now: number): ClientMetrics {
  const m = sources.recorder;
  const queue = sources.queue;
  return {
    timestamp: now,
    state: sources.state.type,
    stateSince: sources.stateSince,
    timeInState: now - sources.stateSince,
    url: sources.url,
    messagesSent: m.messagesSent,
    bytesSent: m.bytesSent,
    messagesReceived: m.messagesReceived,
    bytesReceived: m.bytesReceived,
    attempts: m.attempts,
    failedAttempts: m.failedAttempts,
    connects: m.connects,
    reconnects: m.reconnects,
    attemptStreak: sources.attemptStreak,
    nextReconnectAt: sources.nextReconnectAt,
    lastConnectedAt: m.lastConnectedAt,
    lastDisconnectedAt: m.lastDisconnectedAt,
    lastDisconnectCode: m.lastDisconnectCode,
    lastDisconnectReason: m.lastDisconnectReason,
    lastError: m.lastError,
    unconfirmedMessages: sources.unconfirmed.unconfirmedMessages,
    resentMessages: sources.unconfirmed.resentMessages,
    awaitingConfirmation: sources.awaitingConfirmation,
    queuedMessages: queue?.length ?? 0,
    queuedBytes: queue?.bytes ?? 0,
    droppedMessages: queue?.dropped ?? 0,
    expiredMessages: queue?.expired ?? 0,
    rttLast: m.rttLast,
    rttAverage: m.rttAverage,
    rttSamples: m.rttSamples,
    heartbeatTimeouts: m.heartbeatTimeouts,
    invalidJson: m.invalidJson,
    readerDroppedMessages: m.readerDroppedMessages,
    readerOverflows: m.readerOverflows,
  };
}
