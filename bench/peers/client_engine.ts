// Closed-loop echo load client on our engine client (connect with transport "engine"); same
// arguments and output as client_ws.mjs. Usage: bun bench/peers/client_engine.ts --url ws://… --size 1024
import process from "node:process";
import { connect } from "../../mod.ts";
import type { WebSocketChannel } from "../../src/channel/web_socket_channel.ts";

const arg = (name: string, fallback?: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback!;
};
const url = arg("url");
const size = Number(arg("size", "20"));
const window = Number(arg("window", "32"));
const connections = Number(arg("connections", "1"));
const seconds = Number(arg("seconds", "4"));
const warmup = Number(arg("warmup", "1"));
const payload = crypto.getRandomValues(new Uint8Array(Math.min(size, 65536)));
const message = size <= 65536
  ? payload
  : new Uint8Array(size).map((_, i) => payload[i % payload.length]);

let counting = false;
let received = 0;
let stopped = false;

async function run(channel: WebSocketChannel) {
  await channel.ready;
  for (let i = 0; i < window; i++) channel.sink.add(message).catch(() => {});
  const reader = channel.stream.getReader();
  while (!stopped) {
    const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
    if (done) return;
    if ((value as Uint8Array).byteLength !== size) {
      throw new Error(`bad echo length ${(value as Uint8Array).byteLength}`);
    }
    if (counting) received++;
    if (!stopped) channel.sink.add(message).catch(() => {});
  }
}

const channels = Array.from(
  { length: connections },
  () => connect(url, { transport: "engine", maxMessageSize: 128 << 20 }),
);
for (const channel of channels) {
  run(channel).catch((error) => {
    console.error(error);
    process.exit(2);
  });
}
await Promise.all(channels.map((c) => c.ready));
await new Promise((r) => setTimeout(r, warmup * 1000));
counting = true;
console.log("COUNTING");
const start = performance.now();
await new Promise((r) => setTimeout(r, seconds * 1000));
counting = false;
const elapsed = (performance.now() - start) / 1000;
stopped = true;
console.log(JSON.stringify({ messages: received, seconds: elapsed, bytes: received * size }));
process.exit(0);
