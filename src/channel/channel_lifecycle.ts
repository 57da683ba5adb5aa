/**
 * A connection's life, told to whoever asks: its state, `ready` and
 * `closed` (each promise created only when asked for), and
 * {@linkcode CloseWatcher}s (a server's registry, its heartbeat), called
 * without a promise or a closure per connection.
 *
 * @module
 */
import { type Deferred, deferred, handled } from "../_util/deferred.ts";
import type { CloseWatcher } from "./channel_internals.ts";
import type { CloseInfo } from "./channel_types.ts";

/** Where a channel is in its life. */
export type ChannelState = "connecting" | "open" | "closing" | "closed";

const OPENED: Promise<void> = Promise.resolve();

/**
 * Base of a channel's core: where the connection is in its life, and how it
 * ended, told to whoever asks.
 *
 * @example
 * ```ts
 * import { ChannelLifecycle } from "./channel_lifecycle.ts";
 *
 * class Connection extends ChannelLifecycle {
 *   end() {
 *     this.notifyClosed({ code: 1000, reason: "", wasClean: true });
 *   }
 * }
 * const connection = new Connection();
 * const told: object[] = [];
 * connection.watchClose({ channelClosed: (channel) => void told.push(channel) }, connection);
 * connection.end();
 * console.assert(told[0] === connection && (await connection.closedPromise).code === 1000);
 * ```
 */
export class ChannelLifecycle {
  state: ChannelState = "connecting";
  /** Settles `ready` once asked for before the opening handshake ended (see `opened`). */
  #whenOpen: Deferred<void> | undefined;
  /** Why the connection never opened. */
  #openingError: { error: unknown } | undefined;
  /** Settles `closed`; created when `closed` is first asked for. */
  #whenClosed: Deferred<CloseInfo> | undefined;
  /** How the connection ended, once it has. */
  #closeInfo: CloseInfo | undefined;
  /** Told when the connection has ended; one watcher needs no array. */
  #watchers: CloseWatcher | CloseWatcher[] | undefined;
  /** The channel the watchers are told about (the public facade). */
  #watched: object | undefined;

  /**
   * `ready`, and {@linkcode SenderHost.opened}: settles with the opening
   * handshake; never an unhandled rejection. Created only when asked for
   * while connecting: a server channel opens at once and shares one
   * resolved promise.
   */
  get opened(): Promise<void> {
    if (this.#whenOpen !== undefined) return this.#whenOpen.promise;
    if (this.state !== "connecting" && this.#openingError === undefined) return OPENED;
    const whenOpen = this.#whenOpen = deferred<void>();
    handled(whenOpen.promise);
    if (this.#openingError !== undefined) whenOpen.reject(this.#openingError.error);
    return whenOpen.promise;
  }

  /** The opening handshake is done: `ready` resolves. */
  markOpen(): void {
    this.state = "open";
    this.#whenOpen?.resolve();
  }

  /** The connection never opened: `ready` rejects with `error`. */
  markOpeningFailed(error: unknown): void {
    this.state = "closed";
    this.#openingError = { error };
    this.#whenOpen?.reject(error);
  }

  /** `closed`: resolves once the connection has ended, never rejects. */
  get closedPromise(): Promise<CloseInfo> {
    let whenClosed = this.#whenClosed;
    if (whenClosed === undefined) {
      whenClosed = this.#whenClosed = deferred<CloseInfo>();
      if (this.#closeInfo !== undefined) whenClosed.resolve(this.#closeInfo);
    }
    return whenClosed.promise;
  }

  /**
   * Calls `watcher.channelClosed(channel)` once the connection has ended (in
   * a microtask when it already has).
   */
  watchClose(watcher: CloseWatcher, channel: object): void {
    this.#watched = channel;
    if (this.#closeInfo !== undefined) {
      queueMicrotask(() => watcher.channelClosed(channel));
    } else if (this.#watchers === undefined) {
      this.#watchers = watcher;
    } else if (Array.isArray(this.#watchers)) {
      this.#watchers.push(watcher);
    } else {
      this.#watchers = [this.#watchers, watcher];
    }
  }

  /** The connection has ended: resolves `closed` and tells every watcher, once. */
  protected notifyClosed(info: CloseInfo): void {
    if (this.#closeInfo !== undefined) return;
    this.#closeInfo = info;
    this.#whenClosed?.resolve(info);
    const watchers = this.#watchers;
    if (watchers === undefined) return;
    this.#watchers = undefined;
    for (const watcher of Array.isArray(watchers) ? watchers : [watchers]) {
      try {
        watcher.channelClosed(this.#watched!);
      } catch (error) {
        // As a throwing `closed.then` callback's would be: reported, and the others still told.
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }
}
