/**
 * Comparison peer: the `ws` package as a client (Node), run against `wstest -m fuzzingserver`.
 *
 * Follows the fuzzing server's protocol: `/getCaseCount`, then `/runCase?case=i&agent=A` for each
 * case (echoing every message until the server closes), then `/updateReports?agent=A`.
 *
 * @example
 * ```sh
 * node .cache/bundles/ws_client.mjs --port 9001 --agent ws-node20
 * ```
 * @module
 */
import WebSocket from "ws";
import { parseArgs } from "./args.ts";

const args = parseArgs(process.argv.slice(2));
const base = `ws://${args.host}:${args.port}`;

/** Opens one connection, echoes until it closes; resolves with the last text message received. */
function session(path: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    let last: string | undefined;
    // Same settings as ws_server.ts: deflate only with WS_DEFLATE=1, ws 8.23's fragment/chunk DoS limits lifted for section 9.
    const socket = new WebSocket(base + path, {
      perMessageDeflate: process.env.WS_DEFLATE === "1",
      maxPayload: args.maxMessageSize,
      maxFragments: 0,
      maxBufferedChunks: 0,
    });
    socket.on("message", (data: Uint8Array, isBinary: boolean) => {
      if (path === "/getCaseCount") last = data.toString();
      else socket.send(data, { binary: isBinary });
    });
    socket.on("error", () => {}); // the fuzzer provokes errors on purpose; close follows
    socket.on("close", () => resolve(last));
  });
}

const count = Number(await session("/getCaseCount"));
if (!Number.isInteger(count) || count <= 0) throw new Error(`bad case count ${count}`);
const agent = encodeURIComponent(args.agent);
for (let i = 1; i <= count; i++) {
  await session(`/runCase?case=${i}&agent=${agent}`);
}
await session(`/updateReports?agent=${agent}`);
console.log(`done ${count}`);
