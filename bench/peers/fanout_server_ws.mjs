// Fan-out server on the `ws` package (Node), the reference point: the broadcast recipe of ws's
// README, a loop over `wss.clients` calling `client.send(data)` for every open client.
// Usage: node bench/peers/fanout_server_ws.mjs — prints "PORT <n>".
// /sub connections are the subscribers (wss.clients); /ctl drives the publisher (fanout_control.mjs).
import { createServer } from "node:http";
import WebSocket, { WebSocketServer } from "ws";
import { Publisher } from "./fanout_control.mjs";

const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
const control = new WebSocketServer({
  noServer: true,
  perMessageDeflate: false,
  clientTracking: false,
});
const publisher = new Publisher({
  publish(data) {
    for (const client of wss.clients) {
      if (client.readyState === WebSocket.OPEN) client.send(data);
    }
  },
  subscribers: () => wss.clients.size,
  payload: (size) => Buffer.alloc(size, 0x61),
});

wss.on("connection", (socket) => socket.on("error", () => {}));
control.on("connection", (socket) => {
  socket.on("error", () => {});
  socket.on("message", async (data) => {
    const reply = await publisher.command(String(data));
    if (reply !== undefined) socket.send(reply);
  });
});
const server = createServer((_request, response) => response.writeHead(426).end());
server.on("upgrade", (request, socket, head) => {
  const target = request.url === "/ctl" ? control : wss;
  target.handleUpgrade(request, socket, head, (ws) => target.emit("connection", ws, request));
});
server.listen(0, "127.0.0.1", () => console.log(`PORT ${server.address().port}`));
process.on("SIGTERM", () => process.exit(0));
