/**
 * `serve()` of the runtime running the test (`./server/deno`, `./server/bun`
 * or `./server/node`): the same options everywhere, so one test file checks
 * every runtime's server.
 *
 * @module
 */
import type { ServeOptions, WebSocketServer } from "../../src/adapters/serve_options.ts";
import { currentRuntime } from "./runtimes.ts";

/** The running runtime's `serve` function (its adapter is imported lazily). */
export async function serveFunction(): Promise<
  <Data = undefined>(options: ServeOptions<Data>) => Promise<WebSocketServer>
> {
  const module = currentRuntime === "deno"
    ? await import("../../src/adapters/deno.ts")
    : currentRuntime === "bun"
    ? await import("../../src/adapters/bun.ts")
    : await import("../../src/adapters/node.ts");
  return module.serve;
}

/**
 * Starts the running runtime's `serve()` on 127.0.0.1, port 0, with an
 * `onChannel` that does nothing unless `options` gives one.
 */
export async function serveHere<Data = undefined>(
  options: Partial<ServeOptions<Data>> = {},
): Promise<WebSocketServer> {
  const serve = await serveFunction();
  return serve<Data>({ hostname: "127.0.0.1", port: 0, onChannel: () => {}, ...options });
}
