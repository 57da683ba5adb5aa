// Echo server on the `ws` package (Node), the reference point of the echo benchmark.
// Usage: node scripts/bench/server_ws.mjs [--port N]; prints "PORT <n>" once listening.
import { WebSocketServer } from "ws";

const portArg = process.argv.indexOf("--port");
const port = portArg > 0 ? Number(process.argv[portArg + 1]) : 0;
const server = new WebSocketServer({
  host: "127.0.0.1",
  port,
  perMessageDeflate: false,
  clientTracking: false,
  maxPayload: 64 * 1024 * 1024,
});
server.on("connection", (socket) => {
  socket.on("message", (data, isBinary) => socket.send(data, { binary: isBinary }));
  socket.on("error", () => {});
});
server.on("listening", () => console.log(`PORT ${server.address().port}`));
