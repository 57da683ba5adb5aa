// Node 20: the other entry points from the packed package: the sans-I/O engine, the in-memory
// channel pair of ./testing, and the reconnecting client of ./client (default connector, which
// picks the engine on a Node without a global WebSocket) against serve() from server/node.
import { Protocol } from "websocket-channel/engine";
import { createChannelPair } from "websocket-channel/testing";
import { WebSocketClient } from "websocket-channel/client";
import { serve } from "websocket-channel/server/node";

const deadline = setTimeout(() => {
  console.error("timed out after 15 s");
  process.exit(1);
}, 15_000);
deadline.unref();

function assert(condition, message) {
  if (!condition) throw new Error(message);
}

// engine: client → server bytes, decoded as one text event
const client = new Protocol({ role: "client" });
const server = new Protocol({ role: "server" });
client.sendText("engine");
const events = client.takeOutgoing().flatMap((chunk) => server.receive(chunk));
assert(
  events.length === 1 && events[0].type === "text" && events[0].data === "engine",
  "engine round trip",
);

// testing: an in-memory pair
const [a, b] = createChannelPair();
await a.sink.add("pair");
const { value } = await b.stream.getReader().read();
assert(value === "pair", `channel pair: got ${String(value)}`);

// client: one echo through the reconnecting client, then a final close
const echo = await serve({
  port: 0,
  hostname: "127.0.0.1",
  async onChannel(channel) {
    for await (const message of channel.stream) await channel.sink.add(message);
  },
});
try {
  const ws = new WebSocketClient(`ws://127.0.0.1:${echo.port}/`, { heartbeat: false });
  await ws.connect();
  assert(ws.state.type === "open", `client state ${ws.state.type}`);
  await ws.sendJson({ n: 1 });
  const reader = ws.json().getReader();
  const received = await reader.read();
  assert(received.value?.n === 1, `client JSON echo: got ${JSON.stringify(received.value)}`);
  reader.releaseLock();
  await ws.close();
  assert(ws.state.type === "closed", `client state after close: ${ws.state.type}`);
} finally {
  await echo.close();
}
console.log(`node ${process.version} engine, testing and client subpaths: ok`);
