/**
 * The end of a connection, told to whoever asks: the `closed` promise,
 * created only when asked for, and {@linkcode CloseWatcher}s (a server's
 * registry, its heartbeat), called without a promise or a closure per
 * connection.
 *
 * @module
 */
import { type Deferred, deferred } from "../_util/deferred.ts";
import type { CloseWatcher } from "./channel_internals.ts";
import type { CloseInfo } from "./channel_types.ts";

/**
 * Base of a channel's core: holds how the connection ended and tells it.
 *
 * @example
 * ```ts
 * import { CloseNotifier } from "./close_notifier.ts";
 *
 * class Connection extends CloseNotifier {
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
export class CloseNotifier {
  /** Settles `closed`; created when `closed` is first asked for. */
  #whenClosed: Deferred<CloseInfo> | undefined;
  /** How the connection ended, once it has. */
  #closeInfo: CloseInfo | undefined;
  /** Told when the connection has ended; one watcher needs no array. */
  #watchers: CloseWatcher | CloseWatcher[] | undefined;
  /** The channel the watchers are told about (the public facade). */
  #watched: object | undefined;

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
