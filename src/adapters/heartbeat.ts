/**
 * The server idle timeout of the engine paths: `idleTimeout` seconds, as in
 * `Deno.upgradeWebSocket` and `Bun.serve`, run by the library's one
 * {@linkcode Heartbeat} with protocol pings on the real clock.
 *
 * A connection gets a ping `idleTimeout / 2` seconds after it opened and
 * `idleTimeout / 2` seconds after each answer; a ping still unanswered
 * `idleTimeout / 2` seconds after it was sent closes the connection with 1001
 * ("No response from ping frame"), which also ends the close handshake after
 * the channel's close timeout when the peer is gone. So a connection is closed
 * exactly `idleTimeout` seconds (plus timer lateness) after its last answered
 * ping, or after it opened when it never answered: between `idleTimeout / 2`
 * and `idleTimeout` after its peer fell silent. A peer that answers stays
 * open indefinitely.
 *
 * Pongs are read by the channel's read loop, which follows the application's
 * reads (real backpressure): a connection whose application stops reading
 * for longer than `idleTimeout` also looks unresponsive and is closed.
 *
 * @module
 */
import { type Clock, systemClock } from "../_util/clock.ts";
import { Heartbeat, type HeartbeatHost, type HeartbeatOptions } from "../channel/heartbeat.ts";
import { type CloseWatcher, watchClose } from "../channel/channel_internals.ts";
import type { CloseInfo, Message } from "../channel/channel_types.ts";

/** What the idle timeout needs from a channel (a `StreamChannel` fits). */
export interface HeartbeatTarget {
  /** Resolves with the round-trip time once the pong arrives. */
  ping(): Promise<number>;
  /** Closes with a wire close code such as 1001. */
  closeWithCode(code: number, reason?: string): Promise<void>;
  /** Resolves once the connection ended. */
  readonly closed: Promise<CloseInfo>;
}

/**
 * One server connection's heartbeat: the heartbeat is its own host (methods on
 * the prototype), so a connection costs this object, its timer callback, its
 * one pending timer and the close hook.
 */
class IdleHeartbeat extends Heartbeat implements HeartbeatHost, CloseWatcher {
  readonly #channel: HeartbeatTarget;
  readonly clock: Clock;

  constructor(options: HeartbeatOptions, channel: HeartbeatTarget, clock: Clock) {
    super(options);
    this.#channel = channel;
    this.clock = clock;
  }

  ping(): Promise<number> {
    return this.#channel.ping();
  }

  send(_message: Message): Promise<void> {
    // Mode "protocol" never sends ping messages.
    return Promise.resolve();
  }

  onRtt(_ms: number): void {}

  /** {@linkcode CloseWatcher.channelClosed}: the timer stops with the channel. */
  channelClosed(): void {
    this.stop();
  }

  onTimeout(): void {
    this.#channel.closeWithCode(1001, "No response from ping frame").catch(() => {});
  }

  // A ping rejects only once the channel is closing: nothing is left to check,
  // and closing again (a no-op on a closing channel) keeps any other cause from
  // leaving an unchecked connection open.
  onUnsupported(_error: unknown): void {
    this.onTimeout();
  }
}

// The settings of the last idleTimeout used, shared by its connections.
let shared: { idleTimeout: number; options: HeartbeatOptions } | undefined;

/**
 * Starts the idle timeout of `channel`; returns its heartbeat (call `stop()`
 * to end it early), or `undefined` when `idleTimeout` ≤ 0 disables it. It
 * stops by itself, clearing its timer, when the channel closes. `clock` is
 * for tests.
 *
 * @example
 * ```ts ignore
 * import { startHeartbeat } from "./heartbeat.ts";
 *
 * const heartbeat = startHeartbeat(channel, 30); // ping 15 s after each answer, close 1001 after a missed pong
 * heartbeat?.stop();
 * ```
 */
export function startHeartbeat(
  channel: HeartbeatTarget,
  idleTimeout: number,
  clock: Clock = systemClock,
): Heartbeat | undefined {
  if (!(idleTimeout > 0)) return undefined;
  if (shared?.idleTimeout !== idleTimeout) {
    const half = (idleTimeout * 1000) / 2;
    shared = {
      idleTimeout,
      options: Object.freeze({ interval: half, timeout: half, mode: "protocol" }),
    };
  }
  const heartbeat = new IdleHeartbeat(shared.options, channel, clock);
  heartbeat.start();
  watchClose(channel, heartbeat);
  return heartbeat;
}
