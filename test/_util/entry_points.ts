/**
 * The server entry points of each runtime, each started with an options
 * object passed on as it is (with `hostname` and `port` for `serve()`; the
 * others listen on 127.0.0.1, port 0): `serve()` everywhere, `upgrade()` on
 * Deno (the test's `Deno.serve` handler calls `onChannel` once the channel
 * is open), `createBunHandler()` on Bun, `attach()` and `handleUpgrade()` on
 * Node.
 *
 * @module
 */
import { createServer as createHttpServer, type IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { ServeOptions } from "../../src/adapters/serve_options.ts";
import type { BunHandler } from "../../src/adapters/bun.ts";
import { closeWithWireCode } from "../../src/channel/channel_internals.ts";
import type { WebSocketChannel } from "../../src/channel/web_socket_channel.ts";
import { currentRuntime } from "./runtimes.ts";
import { serveFunction } from "./serve_here.ts";

/** A started server: its port, and `close()` that ends its connections and stops it. */
export interface StartedServer {
  port: number;
  close(): Promise<void>;
}

/** One entry point: the runtime it needs and how to start it. */
export interface EntryPoint {
  runtime: string;
  /** Whether the library itself calls `onChannel` (not the test's glue, as for Deno's `upgrade()`). */
  callsOnChannel: boolean;
  // deno-lint-ignore no-explicit-any
  start(options: ServeOptions<any>): Promise<StartedServer>;
}

/** Every entry point, by name; each one runs only on its `runtime`. */
export const entryPoints: Record<string, EntryPoint> = {
  serve: {
    runtime: currentRuntime,
    callsOnChannel: true,
    async start(options) {
      const server = await (await serveFunction())(options);
      return { port: server.port, close: () => server.close() };
    },
  },
  "deno upgrade()": {
    runtime: "deno",
    callsOnChannel: false,
    async start(options) {
      const { upgrade } = await import("../../src/adapters/deno.ts");
      const deno = (globalThis as { Deno: typeof Deno }).Deno;
      const channels: WebSocketChannel[] = [];
      const server = deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
        const { response, channel, request, data } = await upgrade(req, options);
        channels.push(channel);
        channel.ready.then(() => options.onChannel(channel, request, data), () => {});
        return response;
      });
      return {
        port: server.addr.port,
        close: async () => {
          await closeAll(channels);
          await server.shutdown();
        },
      };
    },
  },
  "bun createBunHandler()": {
    runtime: "bun",
    callsOnChannel: true,
    async start(options) {
      const { createBunHandler } = await import("../../src/adapters/bun.ts");
      const handler = createBunHandler(options);
      const server = bunServe(handler);
      return {
        port: server.port,
        close: async () => {
          await handler.close();
          server.stop(true);
        },
      };
    },
  },
  "node attach()": {
    runtime: "node",
    callsOnChannel: true,
    async start(options) {
      const { attach } = await import("../../src/adapters/node.ts");
      const server = createHttpServer();
      const handler = attach(server, options);
      return await listen(server, () => handler.close());
    },
  },
  "node handleUpgrade()": {
    runtime: "node",
    callsOnChannel: true,
    async start(options) {
      const { handleUpgrade } = await import("../../src/adapters/node.ts");
      const server = createHttpServer();
      const channels: WebSocketChannel[] = [];
      server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Uint8Array) => {
        handleUpgrade(req, socket, head, options)
          .then((channel) => channel && channels.push(channel), () => {});
      });
      return await listen(server, () => closeAll(channels));
    },
  },
};

/** `Bun.serve` on 127.0.0.1, port 0, upgrading every request with `handler`. */
export function bunServe(
  handler: BunHandler,
): { port: number; stop(closeActiveConnections?: boolean): void } {
  // deno-lint-ignore no-explicit-any
  return (globalThis as any).Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    // deno-lint-ignore no-explicit-any
    fetch: (request: Request, server: any) => handler.upgrade(request, server),
    websocket: handler.websocket,
  });
}

/** Closes `channels` with 1001 (going away) and waits for each. */
async function closeAll(channels: WebSocketChannel[]): Promise<void> {
  await Promise.all(
    channels.map((channel) => closeWithWireCode(channel, 1001, "").catch(() => {})),
  );
}

async function listen(
  server: ReturnType<typeof createHttpServer>,
  before: () => Promise<void>,
): Promise<StartedServer> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as { port: number }).port,
    close: async () => {
      await before();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
