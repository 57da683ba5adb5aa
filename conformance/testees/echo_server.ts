/**
 * Engine echo server on Deno, Bun or Node through the public `serve()` of `./server/deno`,
 * `./server/bun` or `./server/node` (the same options everywhere), run under
 * `wstest -m fuzzingclient`:
 *
 *   deno run -A conformance/testees/echo_server.ts --port 9001
 *   bun conformance/testees/echo_server.ts --port 9001
 *   node <bundle of this file> --port 9001          (conformance/run.ts bundles it with esbuild)
 *
 * @example
 * ```sh
 * deno run -A conformance/testees/echo_server.ts --port 9001
 * ```
 * @module
 */
import type { ServeOptions, WebSocketServer } from "../../src/adapters/serve_options.ts";
import { parseArgs, runtimeArgs } from "./args.ts";
import { echo } from "./echo.ts";

const g = globalThis as { Deno?: unknown; Bun?: unknown };
// The subpath modules per runtime: ./server/deno, ./server/bun, ./server/node.
const { serve }: { serve(options: ServeOptions): Promise<WebSocketServer> } = g.Deno
  ? await import("../../src/adapters/deno.ts")
  : g.Bun
  ? await import("../../src/adapters/bun.ts")
  : await import("../../src/adapters/node.ts");

const args = parseArgs(runtimeArgs());
const server = await serve({
  port: args.port,
  hostname: "127.0.0.1",
  // Section 9 needs 16 MiB messages; 12.*/13.* need permessage-deflate.
  maxMessageSize: args.maxMessageSize,
  compression: true,
  // No heartbeat pings: the fuzzer would count them as unexpected frames in slow cases.
  idleTimeout: 0,
  onChannel: (channel) => echo(channel),
});
console.log(`listening ${server.port}`);

let closing = false;
const stop = () => {
  if (closing) return;
  closing = true;
  server.close().finally(() =>
    (globalThis as { Deno?: { exit(c: number): void } }).Deno?.exit(0) ?? process.exit(0)
  );
};
if (g.Deno) {
  for (const signal of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(signal, stop);
} else {
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, stop);
}
