// Load client of the multi-process fan-out benchmark (Node): --subscribers connections to each
// server join the room, one publisher per server; the publishers take turns at a fixed total
// rate (open loop, a 1 ms timer), each message carrying its sequence number and send time
// (performance.now() of this process, which also receives it: one clock).
// Usage: node bench/peers/fanout_redis_client.mjs --system ours|sio --ports 4001,4002
//        [--subscribers 10] [--rate 2000] [--size 100] [--seconds 4] [--warmup 1] [--drain 1]
// Clients: `ws` for ours, socket.io-client (websocket transport) for socket.io.
// Prints "COUNTING", "WINDOW_END" (publishing stops), then after the drain "RESULT <json>":
// deliveries counted in the window, and the latency and losses of the messages sent in it.
import WebSocket from "ws";
import { io } from "socket.io-client";

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const system = arg("system", "ours");
const ports = arg("ports").split(",").map(Number);
const perServer = Number(arg("subscribers", "10"));
const rate = Number(arg("rate", "2000"));
const size = Number(arg("size", "100"));
const seconds = Number(arg("seconds", "4"));
const warmup = Number(arg("warmup", "1"));
const drain = Number(arg("drain", "1"));
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

let counting = false;
let delivered = 0;
let seqStart = Infinity;
let seqEnd = Infinity;
let inRange = 0;
const latencies = [];

function onMessage(text) {
  const now = performance.now();
  if (counting) delivered++;
  const a = text.indexOf(" ");
  const seq = Number(text.slice(0, a));
  if (seq < seqStart || seq >= seqEnd) return;
  inRange++;
  latencies.push(now - Number(text.slice(a + 1, text.indexOf(" ", a + 1))));
}

function open(port, role) {
  return new Promise((resolve, reject) => {
    if (system === "sio") {
      const socket = io(`http://127.0.0.1:${port}`, {
        transports: ["websocket"],
        forceNew: true,
        reconnection: false,
        query: { role },
      });
      socket.on("m", onMessage);
      socket.on(
        "connect",
        () => resolve({ send: (text) => socket.emit("m", text), close: () => socket.close() }),
      );
      socket.on("connect_error", reject);
    } else {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/${role}`, { perMessageDeflate: false });
      ws.on("message", (data) => onMessage(data.toString()));
      ws.on("open", () => resolve({ send: (text) => ws.send(text), close: () => ws.terminate() }));
      ws.on("error", reject);
    }
  });
}

const subscribers = [];
for (const port of ports) {
  for (let i = 0; i < perServer; i++) subscribers.push(await open(port, "sub"));
}
const publishers = await Promise.all(ports.map((port) => open(port, "pub")));
await sleep(500); // let every process's room subscription reach Redis
const total = subscribers.length;

const padding = "x".repeat(size);
let sent = 0;
let publishing = true;
const t0 = performance.now();
const timer = setInterval(() => {
  if (!publishing) return;
  const due = Math.floor(((performance.now() - t0) * rate) / 1000);
  while (sent < due) {
    const head = `${sent} ${performance.now().toFixed(3)} `;
    publishers[sent % publishers.length].send(head + padding.slice(head.length));
    sent++;
  }
}, 1);

await sleep(warmup * 1000);
counting = true;
seqStart = sent;
console.log("COUNTING");
const start = performance.now();
await sleep(seconds * 1000);
counting = false;
publishing = false;
seqEnd = sent;
const elapsed = (performance.now() - start) / 1000;
console.log("WINDOW_END");
await sleep(drain * 1000);
clearInterval(timer);
latencies.sort((a, b) => a - b);
const pct = (p) =>
  latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? NaN;
const expected = (seqEnd - seqStart) * total;
console.log(`RESULT ${
  JSON.stringify({
    delivered,
    seconds: elapsed,
    published: seqEnd - seqStart,
    subscribers: total,
    expected,
    received: inRange,
    p50: pct(50),
    p90: pct(90),
    p99: pct(99),
    p999: pct(99.9),
    max: latencies[latencies.length - 1] ?? NaN,
  })
}`);
for (const connection of [...subscribers, ...publishers]) connection.close();
process.exit(0);
