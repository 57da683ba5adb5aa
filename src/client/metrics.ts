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
