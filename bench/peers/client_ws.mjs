// Closed-loop echo load client on the `ws` package (Node + bufferutil): each connection keeps
// `--window` messages in flight and sends a new one for every echo it gets back.
// Prints one JSON line: { messages, seconds, bytes } counted after the warm-up.
// Usage: node bench/peers/client_ws.mjs --url ws://127.0.0.1:PORT --size 1024 --window 32
//        [--connections 1] [--seconds 4] [--warmup 1] [--text]
//        [--json] [--deflate] [--threshold 1024] [--hold]
// --json: text messages from json_payload.mjs (a pool of 64 distinct seeded JSON messages, each
// echo checked byte for byte); --deflate: offer permessage-deflate (ws defaults, `--threshold`);
// the result then also has wireOut/wireIn, the socket bytes written/read while counting.
// --hold: open the connections, exchange one message on each, print "READY <n>", idle until killed.
import WebSocket from "ws";
import { randomFillSync } from "node:crypto";
import { jsonMessages } from "./json_payload.mjs";

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
const json = process.argv.includes("--json");
const text = json || process.argv.includes("--text");
const deflate = process.argv.includes("--deflate");
const threshold = Number(arg("threshold", "1024"));
const hold = process.argv.includes("--hold");
const pool = json ? jsonMessages(size, 64, 1) : [];
const poolBytes = pool.map((m) => Buffer.from(m));

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
    const ws = new WebSocket(url, {
      perMessageDeflate: deflate ? { threshold } : false,
      maxPayload: 128 * 1024 * 1024,
    });
    ws.binaryType = "nodebuffer";
    // JSON mode: which pool entries are in flight, oldest first (echoes come back in order).
    ws.sent = [];
    ws.next = sockets.length * 7;
    ws.on(
      "upgrade",
      (response) => (ws.agreed = response.headers["sec-websocket-extensions"] ?? ""),
    );
    ws.on("open", () => resolve(ws));
    ws.on("error", reject);
    ws.on("message", (data) => {
      if (data.length !== size) {
        console.error(`bad echo length ${data.length} != ${size}`);
        process.exit(2);
      }
      if (json && !data.equals(poolBytes[ws.sent.shift()])) {
        console.error("echo differs from the message sent");
        process.exit(2);
      }
      if (counting) received++;
      if (ws.onEcho) ws.onEcho();
      else if (!stopped) send(ws);
    });
  });
}

function send(ws) {
  if (!json) return ws.send(payload, { binary: !text });
  const index = ws.next++ % pool.length;
  ws.sent.push(index);
  ws.send(pool[index], { binary: false });
}

if (hold) {
  // Batches of 100 so the listen backlog never overflows; each connection echoes one message.
  for (let i = 0; i < connections; i += 100) {
    const batch = await Promise.all(Array.from({ length: Math.min(100, connections - i) }, open));
    await Promise.all(batch.map((ws) =>
      new Promise((resolve) => {
        ws.onEcho = resolve;
        send(ws);
      })
    ));
    sockets.push(...batch);
  }
  const agreed = sockets.filter((ws) => ws.extensions.includes("permessage-deflate")).length;
  console.log(`READY ${sockets.length} deflate=${agreed}`);
  setInterval(() => {}, 1 << 30);
  await new Promise(() => {}); // idle until killed (the timer keeps the process alive)
}

for (let i = 0; i < connections; i++) sockets.push(await open());
for (const ws of sockets) for (let i = 0; i < window; i++) send(ws);
await new Promise((r) => setTimeout(r, warmup * 1000));
counting = true;
// Socket bytes both ways (frame headers, masks and compressed payloads included).
const wire = () => {
  let written = 0;
  let read = 0;
  for (const ws of sockets) {
    written += ws._socket.bytesWritten;
    read += ws._socket.bytesRead;
  }
  return [written, read];
};
console.log("COUNTING");
const wireStart = wire();
const start = process.hrtime.bigint();
await new Promise((r) => setTimeout(r, seconds * 1000));
counting = false;
const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
const wireEnd = wire();
stopped = true;
const deflated = sockets.filter((ws) => ws.extensions.includes("permessage-deflate")).length;
console.log(JSON.stringify({
  messages: received,
  seconds: elapsed,
  bytes: received * size,
  wireOut: wireEnd[0] - wireStart[0],
  wireIn: wireEnd[1] - wireStart[1],
  deflate: deflated,
  extensions: sockets[0]?.agreed ?? "",
}));
for (const ws of sockets) ws.terminate();
process.exit(0);
