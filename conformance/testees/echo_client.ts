/**
 * Client testee on Deno, Bun or Node: `WebSocketChannel.connect` from mod.ts with
 * `transport: "engine"` (our engine over TCP, with permessage-deflate offered) or `"native"` (the
 * runtime's global WebSocket), run against `wstest -m fuzzingserver`.
 *
 *   deno run -A conformance/testees/echo_client.ts --port 9001 --agent engine-deno --transport engine
 *
 * @example
 * ```sh
 * bun conformance/testees/echo_client.ts --port 9001 --agent native-bun --transport native
 * ```
 * @module
 */
import { WebSocketChannel } from "../../mod.ts";
import { exit, parseArgs, runtimeArgs } from "./args.ts";
import { runFuzzingClient } from "./fuzzing_client.ts";

const args = parseArgs(runtimeArgs());
const count = await runFuzzingClient({
  base: `ws://${args.host}:${args.port}`,
  agent: args.agent,
  connect: (url) =>
    WebSocketChannel.connect(url, {
      transport: args.transport,
      maxMessageSize: args.maxMessageSize,
      // Native sockets negotiate compression themselves; the engine offers it when asked.
      ...(args.transport === "engine" ? { compression: true } : {}),
    }),
  onCase: (i, n) => {
    if (i % 50 === 0 || i === n) console.log(`case ${i}/${n}`);
  },
});
console.log(`done ${count}`);
exit(0);
