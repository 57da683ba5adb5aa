/**
 * The server heartbeat of the engine paths: `idleTimeout` seconds, as in
 * `Deno.upgradeWebSocket` and `Bun.serve`.
 *
 * Every `idleTimeout / 2` seconds the connection gets a ping; a ping still
 * unanswered at the next tick (so after another `idleTimeout / 2`) closes the
 * connection with 1001 ("going away"), which also ends the close handshake
 * after the channel's close timeout when the peer is gone. A dead peer is
 * therefore detected within `idleTimeout` to `1.5 × idleTimeout` seconds.
 *
 * Pongs are read by the channel's read loop, which follows the application's
 * reads (real backpressure): a connection whose application stops reading
 * for longer than `idleTimeout` also looks unresponsive and is closed.
 *
 * @module
 */
import type { CloseInfo } from "../channel/web_socket_channel.ts";

/** What the heartbeat needs from a channel (a `StreamChannel` fits). */
export interface HeartbeatTarget {
  /** Resolves with the round-trip time once the pong arrives. */
  ping(): Promise<number>;
  /** Closes with a wire close code such as 1001. */
  closeWithCode(code: number, reason?: string): Promise<void>;
  /** Resolves once the connection ended. */
  readonly closed: Promise<CloseInfo>;
}

/**
 * Starts pinging `channel`; returns a function that stops the heartbeat. It
 * also stops by itself when the channel closes. `idleTimeout` ≤ 0 disables it.
 *
 * @example
 * ```ts ignore
 * import { startHeartbeat } from "./heartbeat.ts";
 *
 * const stop = startHeartbeat(channel, 30); // ping every 15 s, close 1001 after a missed pong
 * stop();
 * ```
 */
export function startHeartbeat(channel: HeartbeatTarget, idleTimeout: number): () => void {
  if (!(idleTimeout > 0)) return () => {};
  let waiting = false;
  let stopped = false;
  const tick = () => {
    if (stopped) return;
    if (waiting) {
      stop();
      channel.closeWithCode(1001, "No response from ping frame").catch(() => {});
      return;
    }
    waiting = true;
    channel.ping().then(() => {
      waiting = false;
    }, () => {
      // The connection ended: `closed` stops the timer.
    });
  };
  const timer = setInterval(tick, (idleTimeout * 1000) / 2);
  const stop = () => {
    stopped = true;
    clearInterval(timer);
  };
  channel.closed.then(stop, stop);
  return stop;
}
