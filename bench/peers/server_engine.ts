// Echo server on our engine serve() for the running runtime (Deno, Bun, or Node via an esbuild bundle).
// Usage: deno run -A bench/peers/server_engine.ts | bun bench/peers/server_engine.ts |
//        node .build/bench/server_engine.mjs   — prints "PORT <n>".
// Options: --port N; --stream (read through `stream` instead of `listen()`); --compression [--threshold 1024] [--client-context-takeover] [--platform-codec]
// (--client-context-takeover: clientNoContextTakeover: false, so a client may keep its context)
// (permessage-deflate through serve()'s `compression` option).
import type { WebSocketChannel } from "../../src/channel/web_socket_channel.ts";

const runtime = "Deno" in globalThis ? "deno" : "Bun" in globalThis ? "bun" : "node";
// On Deno, `node:process` (or the `process` global) loads Deno's Node compatibility layer:
// 1.7 MB more live heap than the library itself (1.9 MB), which Deno.upgradeWebSocket's
// server does not carry, and every full collection marks it (at 64 KiB echoes a full
// collection runs every few hundred messages, brought on by the payloads' external memory).
const process = runtime === "deno"
  ? { argv: ["deno", "server_engine.ts", ...Deno.args], on: onDenoSignal, exit: Deno.exit }
  : (await import("node:process")).default;

function onDenoSignal(signal: "SIGTERM", listener: () => void) {
  Deno.addSignalListener(signal, listener);
}
const module = runtime === "deno"
  ? await import("../../src/adapters/deno.ts")
  : runtime === "bun"
  ? await import("../../src/adapters/bun.ts")
  : await import("../../src/adapters/node.ts");

// The per-message path: each message is handed over synchronously and sent straight back.
function echo(channel: WebSocketChannel) {
  channel.listen((message) => channel.send(message).catch(() => {}));
}

// The same through the stream: a read (a promise) per message.
async function echoStream(channel: WebSocketChannel) {
  const reader = channel.stream.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      // Not awaited: add() keeps order and applies backpressure through the sink queue;
      // waiting here would serialise reads behind every write.
      channel.sink.add(value).catch(() => {});
    }
  } catch { /* connection ended */ }
}

const argValue = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const compression = process.argv.includes("--compression")
  ? {
    threshold: Number(argValue("threshold", "1024")),
    clientNoContextTakeover: process.argv.includes("--client-context-takeover") ? false : undefined,
    // The platform CompressionStream instead of the node:zlib codec the adapters supply.
    codec: process.argv.includes("--platform-codec") ? null : undefined,
  }
  : false;
const server = await module.serve({
  hostname: "127.0.0.1",
  port: Number(argValue("port", "0")),
  maxMessageSize: 64 * 1024 * 1024,
  idleTimeout: 0,
  compression,
  onChannel: process.argv.includes("--stream") ? echoStream : echo,
});
console.log(`PORT ${server.port}`);
// A graceful exit on SIGTERM, so `node --cpu-prof` writes its profile.
process.on("SIGTERM", () => process.exit(0));
