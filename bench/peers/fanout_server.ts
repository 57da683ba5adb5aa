// Fan-out server on our engine: serve() + TopicHub for the running runtime (Deno, Bun, or Node
// via an esbuild bundle), or on Bun with --handler: Bun.serve + createBunHandler, where the hub
// publishes through Bun's native topics.
// Usage: deno run -A bench/peers/fanout_server.ts | bun bench/peers/fanout_server.ts [--handler]
//        | node .build/bench/fanout_server.mjs   — prints "PORT <n>".
// Connections to /sub subscribe to one topic; one connection to /ctl drives the publisher (the
// protocol is in fanout_control.mjs): the server publishes a window of messages and one more for
// every message the client reports fully delivered, so buffering stays bounded.
// --cpu-profile DIR (Node): a V8 CPU profile of each publishing phase, from "go" to "stop",
// written to DIR/n<subscribers>-<size>b-<time>.cpuprofile (connection setup left out).
// deno-lint-ignore-file no-explicit-any
import process from "node:process";
import type { WebSocketChannel } from "../../src/channel/web_socket_channel.ts";
import { TopicHub } from "../../src/fanout/topic_hub.ts";
import { Publisher, TOPIC } from "./fanout_control.mjs";

const runtime = "Deno" in globalThis ? "deno" : "Bun" in globalThis ? "bun" : "node";
const handlerMode = process.argv.includes("--handler");
const hub = new TopicHub();
let subscribers = 0;

const profileIndex = process.argv.indexOf("--cpu-profile");
const profiler = profileIndex > 0 && runtime === "node"
  ? await cpuProfiler(process.argv[profileIndex + 1])
  : undefined;

const publisher = new Publisher({
  publish: (payload) => void hub.publish(TOPIC, payload),
  subscribers: () => subscribers,
  stats: () => hub.stats(),
  started: profiler?.start,
  stopped: profiler?.stop,
});

/** Starts and stops the V8 profiler through node:inspector. */
async function cpuProfiler(dir: string) {
  const { Session } = await import("node:inspector");
  const { writeFileSync } = await import("node:fs");
  const session = new Session();
  session.connect();
  const post = (method: string, params?: object) =>
    new Promise<any>((resolve, reject) =>
      session.post(
        method,
        params,
        (error: Error | null, result: any) => error ? reject(error) : resolve(result),
      )
    );
  let name = "";
  return {
    async start(size: number, n: number) {
      name = `n${n}-${size}b-${Date.now()}`;
      await post("Profiler.enable");
      await post("Profiler.setSamplingInterval", { interval: 200 });
      await post("Profiler.start");
    },
    async stop() {
      const { profile } = await post("Profiler.stop");
      writeFileSync(`${dir}/${name}.cpuprofile`, JSON.stringify(profile));
    },
  };
}

async function control(channel: WebSocketChannel) {
  const reader = channel.stream.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      const reply = await publisher.command(String(value)).catch((error) => `error ${error}`);
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
