/**
 * Comparison peer: an echo server on the `ws` package (Node), run under `wstest -m fuzzingclient`.
 *
 * Started by conformance/run.ts as `node <bundle of this file> --port N`; prints `listening <port>` once
 * it accepts connections, so the runner knows when to start the fuzzer.
 *
 * @example
 * ```sh
 * node .cache/bundles/ws_server.mjs --port 9001
 * ```
 * @module
 */
import { WebSocketServer } from "ws";
import { parseArgs } from "./args.ts";

const args = parseArgs(process.argv.slice(2));

// Section 9 sends up to 16 MiB messages (ws's default maxPayload, 100 MiB, covers it) and up to 65,536
// fragments per message. ws 8.23's DoS limits (maxFragments 16,384, maxBufferedChunks 262,144) fail
// 9.3.1/9.3.2/9.4.1/9.4.2 with 1008 by policy; like python-websockets' compliance server raising
// max_size, the peer lifts them so section 9 measures speed. Compression stays off (ws's server
// default) unless WS_DEFLATE=1: with it, 12.*/13.* take ~15 minutes per role on 2 cores (the Python
// fuzzer compresses 1000 messages per case), so by default they score UNIMPLEMENTED for the peer.
const server = new WebSocketServer({
  host: "127.0.0.1",
  port: args.port,
  perMessageDeflate: process.env.WS_DEFLATE === "1",
  maxFragments: 0,
  maxBufferedChunks: 0,
});

/** The part of a ws socket used here (the package ships no types of its own). */
interface WsSocket {
  on(event: "message", listener: (data: Uint8Array, isBinary: boolean) => void): void;
  on(event: "error", listener: () => void): void;
  send(data: Uint8Array, options: { binary: boolean }): void;
  terminate(): void;
}

server.on("connection", (socket: WsSocket) => {
  socket.on("message", (data, isBinary) => socket.send(data, { binary: isBinary }));
  socket.on("error", () => socket.terminate());
});
server.on("listening", () => {
  const address = server.address();
  console.log(`listening ${typeof address === "object" && address ? address.port : args.port}`);
});

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
