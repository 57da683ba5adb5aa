// Closed-loop echo load client on the `ws` package (Node + bufferutil): each connection keeps
// `--window` messages in flight and sends a new one for every echo it gets back.
// Prints one JSON line: { messages, seconds, bytes } counted after the warm-up.
// Usage: node scripts/bench/client_ws.mjs --url ws://127.0.0.1:PORT --size 1024 --window 32
//        [--connections 1] [--seconds 4] [--warmup 1] [--text]
import WebSocket from "ws";
import { randomFillSync } from "node:crypto";

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const url = arg("url");
const size = Number(arg("size", "20"));
const window = Number(arg("window", "32"));
const connections = Number(arg("connections", "1"));
const seconds = Number(arg("seconds", "4"));
const warmup = Number(arg("warmup", "1"));
const text = process.argv.includes("--text");

const bytes = randomFillSync(Buffer.alloc(size));
const payload = text
  ? "é".repeat(Math.floor(size / 4)) + "x".repeat(size - Math.floor(size / 4) * 2)
  : bytes;

let counting = false;
let received = 0;
let stopped = false;
const sockets = [];

function open() {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 128 * 1024 * 1024 });
    ws.binaryType = "nodebuffer";
    ws.on("open", () => resolve(ws));
    ws.on("error", reject);
    ws.on("message", (data) => {
      if (data.length !== size) {
        console.error(`bad echo length ${data.length} != ${size}`);
        process.exit(2);
      }
      if (counting) received++;
      if (!stopped) ws.send(payload, { binary: !text });
    });
  });
}

for (let i = 0; i < connections; i++) sockets.push(await open());
for (const ws of sockets) for (let i = 0; i < window; i++) ws.send(payload, { binary: !text });
await new Promise((r) => setTimeout(r, warmup * 1000));
counting = true;
console.log("COUNTING");
const start = process.hrtime.bigint();
await new Promise((r) => setTimeout(r, seconds * 1000));
counting = false;
const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
stopped = true;
console.log(JSON.stringify({ messages: received, seconds: elapsed, bytes: received * size }));
for (const ws of sockets) ws.terminate();
process.exit(0);
