// Echo server on the `ws` package (Node), the reference point of the echo benchmark.
// Usage: node bench/peers/server_ws.mjs [--port N] [--deflate [--threshold 1024]
//        [--no-context-takeover]]; prints "PORT <n>" once listening.
// --deflate: permessage-deflate with ws's defaults (zlib level/memLevel/windowBits defaults,
// concurrencyLimit 10, context takeover allowed both ways); --no-context-takeover also sets
// serverNoContextTakeover and clientNoContextTakeover (what our engine server does).
import { WebSocketServer } from "ws";

const argValue = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const port = Number(argValue("port", "0"));
const noContext = process.argv.includes("--no-context-takeover");
const perMessageDeflate = process.argv.includes("--deflate")
  ? {
    threshold: Number(argValue("threshold", "1024")),
    serverNoContextTakeover: noContext,
    clientNoContextTakeover: noContext,
  }
  : false;
const server = new WebSocketServer({
  host: "127.0.0.1",
  port,
  perMessageDeflate,
  clientTracking: false,
  maxPayload: 64 * 1024 * 1024,
});
server.on("connection", (socket) => {
  socket.on("message", (data, isBinary) => socket.send(data, { binary: isBinary }));
  socket.on("error", () => {});
});
server.on("listening", () => console.log(`PORT ${server.address().port}`));
