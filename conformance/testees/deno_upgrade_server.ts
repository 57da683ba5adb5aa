/**
 * Native integration on Deno: `Deno.serve` + `upgrade()` from `./server/deno`, which wraps
 * `Deno.upgradeWebSocket` (so this run grades Deno's own WebSocket implementation plus our
 * wrapper). No permessage-deflate: `Deno.upgradeWebSocket` cannot negotiate it.
 *
 * @example
 * ```sh
 * deno run -A conformance/testees/deno_upgrade_server.ts --port 9001
 * ```
 * @module
 */
import { upgrade } from "../../src/adapters/deno.ts";
import { parseArgs } from "./args.ts";
import { echo } from "./echo.ts";

const args = parseArgs(Deno.args);
const controller = new AbortController();
const server = Deno.serve({
  port: args.port,
  hostname: "127.0.0.1",
  signal: controller.signal,
  onListen: ({ port }) => console.log(`listening ${port}`),
}, async (request) => {
  const { response, channel } = await upgrade(request, {
    maxMessageSize: args.maxMessageSize,
    idleTimeout: 0,
  });
  echo(channel).catch(() => {});
  return response;
});

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(signal, () => {
    controller.abort();
    server.finished.finally(() => Deno.exit(0));
  });
}
