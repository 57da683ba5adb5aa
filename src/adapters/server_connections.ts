/**
 * The open connections of one engine server: each accepted
 * server-role channel joins the server's {@linkcode ChannelSet}, gets a
 * heartbeat, is handed to `onChannel`, and is closed (1001 unless the caller
 * says otherwise) when the server shuts down.
 *
 * @module
 */
import type { StreamChannel } from "../channel/stream_channel.ts";
import { ChannelSet } from "../channel/channel_set.ts";
import { startHeartbeat } from "./heartbeat.ts";
import {
  DEFAULT_IDLE_TIMEOUT,
  type LazyRequest,
  reportServerError,
  type ServeOptions,
} from "./serve_options.ts";

/** What `onChannel` may be given of an accepted upgrade, read only when it is. */
export interface AcceptedUpgrade extends LazyRequest {
  /** The `data` that `onUpgrade` gave. */
  readonly data?: unknown;
}

/** The server options that {@linkcode ServerConnections} uses. */
type ConnectionOptions = Pick<
  ServeOptions<unknown>,
  "onChannel" | "onError" | "maxMessageSize" | "idleTimeout" | "channels"
>;

/**
 * Tracks channels so that `close()` can end them all.
 *
 * @example
 * ```ts ignore
 * import { ServerConnections } from "./server_connections.ts";
 *
 * const connections = new ServerConnections({ onChannel: (channel) => channel.stream.pipeTo(channel.sink) });
 * connections.track(channel, { request, url: request.url, data: undefined });
 * await connections.closeAll();
 * ```
 */
export class ServerConnections {
  readonly #options: ConnectionOptions;
  #closing = false;
  /** The server's live channels (the caller's set when the `channels` option gave one). */
  readonly channels: ChannelSet;

  /**
   * @param options `onChannel`, `onError`, `idleTimeout` and `channels` of the
   * server, as `checkServerOptions` returns them (its handlers bound).
   */
  // deno-lint-ignore no-explicit-any
  constructor(options: Pick<ServeOptions<any>, keyof ConnectionOptions>) {
    this.#options = options;
    this.channels = options.channels ?? new ChannelSet();
  }

  /** Number of open connections. */
  get size(): number {
    return this.channels.size;
  }

  /**
   * Tracks an open server channel, starts its heartbeat and calls
   * `onChannel` with the request and `data` (what `onUpgrade` gave), both
   * read from `upgrade` only when used: a handler that declares one
   * parameter, `(channel) => …`, is called with the channel alone, and its
   * request is then built only if `onError` needs it.
   */
  track(channel: StreamChannel, upgrade: AcceptedUpgrade): StreamChannel {
    this.channels.add(channel);
    // It stops by itself when the channel closes.
    startHeartbeat(channel, this.#options.idleTimeout ?? DEFAULT_IDLE_TIMEOUT);
    const options = this.#options;
    const fail = (error: unknown) => {
      reportServerError(options.onError, error, upgrade);
      channel.closeWithCode(1011, "Internal error").catch(() => {});
    };
    try {
      // Checked options: bound to the caller's object (optionValues).
      const result = options.onChannel.length === 1
        ? (options.onChannel as (channel: StreamChannel) => unknown)(channel)
        : options.onChannel(channel, upgrade.request, upgrade.data);
      if (result && typeof (result as Promise<void>).then === "function") {
        (result as Promise<void>).then(undefined, fail);
      }
    } catch (error) {
      fail(error);
    }
    return channel;
  }

  /** Whether {@linkcode closeAll} was called: upgrades decided since get no channel. */
  get closing(): boolean {
    return this.#closing;
  }

  /** Closes every open connection (1001 by default) and waits until all have ended. */
  closeAll(code?: number, reason?: string): Promise<void> {
    this.#closing = true;
    return this.channels.closeAll(code, reason);
  }
}
