/**
 * The open connections of one engine server: each accepted
 * server-role channel gets a heartbeat, is handed to `onChannel`,
 * and is closed with 1001 when the server shuts down.
 *
 * @module
 */
import type { StreamChannel } from "../channel/stream_channel.ts";
import { startHeartbeat } from "./heartbeat.ts";
import { DEFAULT_IDLE_TIMEOUT, type ServeOptions } from "./serve_options.ts";

/**
 * Tracks channels so that `close()` can end them all.
 *
 * @example
 * ```ts ignore
 * import { ServerConnections } from "./server_connections.ts";
 *
 * const connections = new ServerConnections({ onChannel: (channel) => channel.stream.pipeTo(channel.sink) });
 * connections.track(channel, request);
 * await connections.closeAll();
 * ```
 */
export class ServerConnections {
  readonly #options: Pick<ServeOptions, "onChannel" | "maxMessageSize" | "idleTimeout">;
  readonly #channels = new Set<StreamChannel>();

  /** @param options `onChannel`, `maxMessageSize` and `idleTimeout` of the server. */
  constructor(options: Pick<ServeOptions, "onChannel" | "maxMessageSize" | "idleTimeout">) {
    this.#options = options;
  }

  /** Number of open connections. */
  get size(): number {
    return this.#channels.size;
  }

  /** Tracks an open server channel, starts its heartbeat and calls `onChannel`. */
  track(channel: StreamChannel, request: Request): StreamChannel {
    this.#channels.add(channel);
    const stop = startHeartbeat(channel, this.#options.idleTimeout ?? DEFAULT_IDLE_TIMEOUT);
    channel.closed.then(() => {
      stop();
      this.#channels.delete(channel);
    });
    const fail = () => channel.closeWithCode(1011, "Internal error").catch(() => {});
    try {
      const result = this.#options.onChannel(channel, request);
      if (result && typeof (result as Promise<void>).then === "function") {
        (result as Promise<void>).then(undefined, fail);
      }
    } catch {
      fail();
    }
    return channel;
  }

  /** Closes every open connection with 1001 and waits until all have ended. */
  async closeAll(): Promise<void> {
    const closing = [...this.#channels].map((channel) => {
      channel.closeWithCode(1001, "Server shutting down").catch(() => {});
      return channel.closed;
    });
    await Promise.all(closing);
  }
}
