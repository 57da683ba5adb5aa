/**
 * The open connections of one engine server: each accepted byte-stream pair
 * becomes a server-role channel with a heartbeat, is handed to `onChannel`,
 * and is closed with 1001 when the server shuts down.
 *
 * @module
 */
import { StreamChannel } from "../channel/stream_channel.ts";
import type { ByteStreams } from "../channel/stream_channel.ts";
import type { WebSocketChannel } from "../channel/web_socket_channel.ts";
import { startHeartbeat } from "./heartbeat.ts";
import { DEFAULT_IDLE_TIMEOUT, type ServeOptions } from "./serve_options.ts";

/** An upgrade the handshake accepted. */
export interface AcceptedUpgrade {
  /** The upgrade request, for `onChannel`. */
  request: Request;
  /** The selected subprotocol, `""` for none. */
  protocol: string;
  /** Bytes already read past the request head (the start of the frame stream). */
  head?: Uint8Array;
}

/**
 * Tracks channels so that `close()` can end them all.
 *
 * @example
 * ```ts ignore
 * import { ServerConnections } from "./server_connections.ts";
 *
 * const connections = new ServerConnections({ onChannel: (channel) => channel.stream.pipeTo(channel.sink) });
 * connections.open(streams, { request, protocol: "" });
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

  /** Opens a channel over `streams`, starts its heartbeat and calls `onChannel`. */
  open(streams: ByteStreams, upgrade: AcceptedUpgrade): WebSocketChannel {
    const channel = new StreamChannel({ role: "server", maxMessageSize: this.#options.maxMessageSize });
    channel.open(streams, { protocol: upgrade.protocol, head: upgrade.head });
    this.#channels.add(channel);
    const stop = startHeartbeat(channel, this.#options.idleTimeout ?? DEFAULT_IDLE_TIMEOUT);
    channel.closed.then(() => {
      stop();
      this.#channels.delete(channel);
    });
    const fail = () => channel.closeWithCode(1011, "Internal error").catch(() => {});
    try {
      const result = this.#options.onChannel(channel, upgrade.request);
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
