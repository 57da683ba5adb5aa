/**
 * Native integration on Bun: `Bun.serve` with the handler pair of `createBunHandler()` from
 * `./server/bun` (Bun's own WebSocket protocol implementation, with its permessage-deflate, plus
 * our wrapper).
 *
 * @example
 * ```sh
 * bun conformance/testees/bun_handlers_server.ts --port 9001
 * ```
 * @module
 */
import { createBunHandler } from "../../src/adapters/bun.ts";
import { parseArgs } from "./args.ts";
import { echo } from "./echo.ts";

interface BunServer {
  port: number;
  stop(closeActive?: boolean): void;
}
declare const Bun: { serve(options: Record<string, unknown>): BunServer };

const args = parseArgs(process.argv.slice(2));
const handler = createBunHandler({
  maxMessageSize: args.maxMessageSize,
  compression: true,
  idleTimeout: 0,
  onChannel: (channel) => echo(channel),
});
const server = Bun.serve({
  port: args.port,
  hostname: "127.0.0.1",
  fetch: (request: Request, bunServer: Parameters<typeof handler.upgrade>[1]) =>
    handler.upgrade(request, bunServer),
  websocket: handler.websocket,
});
console.log(`listening ${server.port}`);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    server.stop(true);
    process.exit(0);
  });
}
