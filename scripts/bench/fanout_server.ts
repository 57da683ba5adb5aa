// Fan-out server on our engine: serve() + TopicHub for the running runtime (Deno, Bun, or Node
// via an esbuild bundle), or on Bun with --handler: Bun.serve + createBunHandler, where the hub
// publishes through Bun's native topics.
// Usage: deno run -A scripts/bench/fanout_server.ts | bun scripts/bench/fanout_server.ts [--handler]
//        | node .build/bench/fanout_server.mjs   — prints "PORT <n>".
// Connections to /sub subscribe to one topic; one connection to /ctl drives the publisher (the
// protocol is in fanout_control.mjs): the server publishes a window of messages and one more for
// every message the client reports fully delivered, so buffering stays bounded.
// deno-lint-ignore-file no-explicit-any
import process from "node:process";
import type { WebSocketChannel } from "../../src/channel/web_socket_channel.ts";
import { TopicHub } from "../../src/fanout/topic_hub.ts";
import { Publisher, TOPIC } from "./fanout_control.mjs";

const runtime = "Deno" in globalThis ? "deno" : "Bun" in globalThis ? "bun" : "node";
const handlerMode = process.argv.includes("--handler");
const hub = new TopicHub();
let subscribers = 0;

const publisher = new Publisher({
  publish: (payload) => void hub.publish(TOPIC, payload),
  subscribers: () => subscribers,
  stats: () => hub.stats(),
});

async function control(channel: WebSocketChannel) {
  const reader = channel.stream.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      const reply = await publisher.command(String(value));
      if (reply !== undefined) channel.sink.add(reply).catch(() => {});
    }
  } catch { /* connection ended */ }
}

function onChannel(channel: WebSocketChannel, request: Request) {
  if (new URL(request.url).pathname === "/ctl") return void control(channel);
  hub.subscribe(channel, TOPIC);
  subscribers++;
  const gone = () => subscribers--;
  channel.closed.then(gone, gone);
  // Subscribers send nothing but their close; reading keeps the close handshake working.
  channel.stream.pipeTo(new WritableStream()).catch(() => {});
}

const options = {
  hostname: "127.0.0.1",
  port: 0,
  idleTimeout: 0,
  compression: false as const,
  onChannel,
};
let port: number;
if (handlerMode) {
  const { createBunHandler } = await import("../../src/adapters/bun.ts");
  const handler = createBunHandler(options);
  const Bun = (globalThis as any).Bun;
  const server = Bun.serve({
    hostname: options.hostname,
    port: 0,
    fetch: (request: Request, server: any) => handler.upgrade(request, server),
    websocket: handler.websocket,
  });
  port = server.port;
} else {
  const module = runtime === "deno"
    ? await import("../../src/adapters/deno.ts")
    : runtime === "bun"
    ? await import("../../src/adapters/bun.ts")
    : await import("../../src/adapters/node.ts");
  port = (await module.serve(options)).port;
}
// A graceful exit on SIGTERM, so `node --cpu-prof` writes its profile.
process.on("SIGTERM", () => process.exit(0));
console.log(`PORT ${port}`);
