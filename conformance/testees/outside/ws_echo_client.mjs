// The smallest client `conformance/run.ts --client` can test: connect to the URL given as the only
// argument, echo every message, exit when the server closes. Written for plain Node and the `ws`
// package, to stand for "a client written by someone else".
//
//   npm run conformance -- --client "node conformance/testees/outside/ws_echo_client.mjs {url}"
import WebSocket from "ws";

// ws 8.23's DoS limits (16,384 fragments, 262,144 buffered chunks per message) fail 9.3.1, 9.3.2,
// 9.4.1 and 9.4.2 with 1008 by policy; lifted here, as in conformance/testees/ws_client.ts.
const socket = new WebSocket(process.argv[2], {
  maxPayload: 0,
  maxFragments: 0,
  maxBufferedChunks: 0,
});
socket.on("message", (data, isBinary) => socket.send(data, { binary: isBinary }));
socket.on("error", () => {}); // the fuzzer provokes protocol errors on purpose; close follows
socket.on("close", () => process.exit(0));
