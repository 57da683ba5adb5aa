// Opens N idle WebSocket connections with raw TCP upgrade requests (no client library state),
// prints "READY <n>" once every 101 arrived, then idles until killed.
// Usage: node bench/peers/client_idle.mjs --port PORT --connections 5000
import net from "node:net";

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const port = Number(arg("port"));
const total = Number(arg("connections", "5000"));
const request = (i) =>
  `GET /idle/${i} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
  `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`;

const sockets = [];
let upgraded = 0;
function open(i) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port }, () => socket.write(request(i)));
    let head = "";
    const onData = (chunk) => {
      head += chunk.toString("latin1");
      if (!head.includes("\r\n\r\n")) return;
      socket.off("data", onData);
      if (!head.startsWith("HTTP/1.1 101")) return reject(new Error(head.split("\r\n")[0]));
      upgraded++;
      resolve();
    };
    socket.on("data", onData);
    socket.on("error", reject);
    sockets.push(socket);
  });
}
// Batches of 100 so the listen backlog never overflows.
for (let i = 0; i < total; i += 100) {
  await Promise.all(Array.from({ length: Math.min(100, total - i) }, (_, j) => open(i + j)));
}
console.log(`READY ${upgraded}`);
setInterval(() => {}, 1 << 30);
