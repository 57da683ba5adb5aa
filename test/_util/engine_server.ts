/**
 * An engine WebSocket server on loopback for tests: `node:net` sockets as Web
 * Streams, `serverOverStreams` for the handshake. Runs on Deno, Bun and Node.
 *
 * @module
 */
import type { Socket } from "node:net";
import {
  serverOverStreams,
  type ServerOverStreamsOptions,
} from "../../src/channel/server_over_streams.ts";
import type { StreamChannel } from "../../src/channel/stream_channel.ts";
import { deferred } from "../../src/_util/deferred.ts";
import { deadline } from "./async.ts";
import { listenTcp } from "./tcp.ts";

/** A server that accepts exactly the connections the test makes. */
export interface EngineServer {
  /** `ws://127.0.0.1:<port>/` */
  url: string;
  port: number;
  /** Resolves with the next accepted channel and its socket. */
  accept(): Promise<{ channel: StreamChannel; socket: Socket }>;
  close(): Promise<void>;
}

/** Starts an engine server on 127.0.0.1, port 0. */
export async function startEngineServer(
  options: ServerOverStreamsOptions = {},
): Promise<EngineServer> {
  const waiting: ReturnType<typeof deferred<{ channel: StreamChannel; socket: Socket }>>[] = [];
  const ready: { channel: StreamChannel; socket: Socket }[] = [];
  const tcp = await listenTcp((streams, socket) => {
    serverOverStreams(streams, options).then(
      ({ channel }) => {
        const next = waiting.shift();
        if (next) next.resolve({ channel, socket });
        else ready.push({ channel, socket });
      },
      () => socket.destroy(),
    );
  });
  return {
    url: `ws://127.0.0.1:${tcp.port}/`,
    port: tcp.port,
    accept() {
      const early = ready.shift();
      if (early) return Promise.resolve(early);
      const next = deferred<{ channel: StreamChannel; socket: Socket }>();
      waiting.push(next);
      return deadline(next.promise, 10_000, "an accepted WebSocket connection");
    },
    close: () => tcp.close(),
  };
}
