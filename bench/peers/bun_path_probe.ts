// In-process probe of our Bun server's per-message JavaScript: serve() with Bun.listen
// replaced by a recorder, fake sockets whose write takes everything, and reads made as
// Bun makes them (a fresh Uint8Array per read). Prints ns of CPU per echoed message.
// Usage: bun bench/peers/bun_path_probe.ts [--size 20] [--connections 100] [--messages 2000000]
import process from "node:process";
import type { BunSocket, BunSocketHandlers } from "../../src/adapters/bun_socket_transport.ts";

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return Number(i > 0 ? process.argv[i + 1] : fallback);
};
const size = arg("size", "20");
const connections = arg("connections", "100");
const messages = arg("messages", "2000000");

// deno-lint-ignore no-explicit-any
const bun = (globalThis as any).Bun;
let handlers!: BunSocketHandlers;
bun.listen = (options: { socket: BunSocketHandlers }) => {
  handlers = options.socket;
  return { port: 1, stop() {} };
};
const { serve } = await import("../../src/adapters/bun.ts");
await serve({
  port: 0,
  idleTimeout: 0,
  maxMessageSize: 64 * 1024 * 1024,
  onChannel: (channel) => {
    channel.listen((m) => void channel.send(m).catch(() => {}));
  },
});

let written = 0;
const sockets: BunSocket[] = [];
for (let i = 0; i < connections; i++) {
  const socket: BunSocket = {
    data: undefined,
    write(data: Uint8Array, _offset?: number, length?: number) {
      written++;
      return length ?? data.byteLength;
    },
    end() {},
    shutdown() {},
    pause() {},
    resume() {},
    setNoDelay: () => true,
  };
  sockets.push(socket);
  handlers.open(socket);
  handlers.data(
    socket,
    new TextEncoder().encode(
      "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    ),
  );
}
await new Promise((resolve) => setTimeout(resolve, 100));
const opened = written;
if (opened !== connections) throw new Error(`only ${opened} handshakes answered`);

// One masked binary frame of `size` bytes.
const header = size < 126 ? [0x82, 0x80 | size] : [0x82, 0x80 | 126, size >> 8, size & 255];
const frame = new Uint8Array(header.length + 4 + size);
frame.set(header);
frame.set([1, 2, 3, 4], header.length);
for (let i = 0; i < size; i++) frame[header.length + 4 + i] = (i * 7) ^ [1, 2, 3, 4][i & 3];

function run(count: number) {
  for (let i = 0; i < count; i++) {
    // A fresh read, as Bun hands one over.
    handlers.data(sockets[i % connections], frame.slice());
    // Each burst of reads ends in a turn of the event loop; a microtask checkpoint here.
  }
}
// Warm up, then measure in slices with microtask checkpoints between them.
const step = 1000;
for (let i = 0; i < 200; i++) {
  run(step);
  await null;
}
written = 0;
const before = process.cpuUsage();
const t0 = performance.now();
for (let done = 0; done < messages; done += step) {
  run(step);
  await null;
}
const wall = performance.now() - t0;
const cpu = process.cpuUsage(before);
if (written !== messages) throw new Error(`wrote ${written} for ${messages} messages`);
console.log(
  `size ${size}: ${((cpu.user + cpu.system) * 1000 / messages).toFixed(0)} ns CPU/message ` +
    `(user ${(cpu.user * 1000 / messages).toFixed(0)}), wall ${
      (wall * 1e6 / messages).toFixed(0)
    } ns`,
);
process.exit(0);
