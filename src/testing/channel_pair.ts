/**
 * A connected client/server pair of engine channels in memory, for tests of
 * code that uses {@linkcode WebSocketChannel}.
 *
 * @module
 */
import {
  fromStreams,
  type StreamChannel,
  type StreamChannelSettings,
} from "../channel/stream_channel.ts";
import { createByteStreamPair } from "./byte_stream_pair.ts";

/** Options of {@linkcode createChannelPair}. */
export interface ChannelPairOptions extends Omit<StreamChannelSettings, "role"> {
  /** The subprotocol both channels report. @default {""} */
  protocol?: string;
  /**
   * Bytes buffered in each direction of the in-memory connection before
   * writes wait.
   * @default {65536}
   */
  bufferSize?: number;
}

/** A client and a server channel, plus a way to cut the connection. */
export type ChannelPair = [client: StreamChannel, server: StreamChannel] & {
  /** Drops the in-memory connection without a close handshake (both ends see 1006). */
  destroy(): void;
};

/**
 * Creates two engine channels talking to each other over an in-memory
 * connection: the full protocol (framing, masking, close handshake,
 * backpressure) without sockets.
 *
 * @example
 * ```ts
 * import { createChannelPair } from "@wsc/websocket-channel/testing";
 *
 * const [client, server] = createChannelPair();
 * await client.sink.add("ping");
 * const reader = server.stream.getReader();
 * console.assert((await reader.read()).value === "ping");
 * await server.sink.close(1000, "done");
 * console.assert((await client.closed).code === 1000);
 * ```
 */
export function createChannelPair(options: ChannelPairOptions = {}): ChannelPair {
  const { bufferSize, protocol, ...settings } = options;
  const [a, b] = createByteStreamPair({ bufferSize });
  const client = fromStreams(a, { ...settings, protocol, role: "client" });
  const server = fromStreams(b, { ...settings, protocol, role: "server" });
  return Object.assign([client, server] as [StreamChannel, StreamChannel], {
    destroy: () => a.destroy(),
  });
}
