// One process of the multi-process fan-out benchmark, the peer: socket.io with
// @socket.io/redis-adapter (node-redis clients), WebSocket transport only, no compression.
// Usage: node bench/peers/fanout_redis_server_sio.mjs --redis redis://127.0.0.1:PORT
// — prints "PORT <n>" once both Redis clients are connected. Sockets connecting with
// query role=sub join the room; an "m" event from any other socket is emitted to the room
// (here and, through Redis, in every other process).
import { createServer } from "node:http";
import { Server } from "socket.io";
import { createAdapter } from "@socket.io/redis-adapter";
import { createClient } from "redis";

const i = process.argv.indexOf("--redis");
const url = i > 0 ? process.argv[i + 1] : "redis://127.0.0.1:6379";
const pub = createClient({ url });
const sub = pub.duplicate();
pub.on("error", (error) => console.error("redis:", error));
sub.on("error", (error) => console.error("redis:", error));
await Promise.all([pub.connect(), sub.connect()]);

const http = createServer();
const io = new Server(http, {
  adapter: createAdapter(pub, sub),
  transports: ["websocket"],
  perMessageDeflate: false,
  serveClient: false,
});
io.on("connection", (socket) => {
  if (socket.handshake.query.role === "sub") socket.join("room");
  else socket.on("m", (data) => io.to("room").emit("m", data));
});
http.listen(0, "127.0.0.1", () => console.log(`PORT ${http.address().port}`));
process.on("SIGTERM", () => process.exit(0));
