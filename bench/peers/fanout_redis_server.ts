// One process of the multi-process fan-out benchmark, ours: Node serve() + TopicHub with a
// RedisBackplane. Usage (bundled by esbuild for Node 20): node .build/bench/fanout_redis_server.mjs
//   --redis redis://127.0.0.1:PORT — prints "PORT <n>" once the backplane is connected.
// /sub connections join the room; every message on a /pub connection is published to the room
// (here and, through Redis, in every other process).
import process from "node:process";
import type { WebSocketChannel } from "../../src/channel/web_socket_channel.ts";
import { serve } from "../../src/adapters/node.ts";
import { TopicHub } from "../../src/fanout/topic_hub.ts";
import { RedisBackplane } from "../../src/backplane/redis.ts";

const ROOM = "room";
const i = process.argv.indexOf("--redis");
const url = i > 0 ? process.argv[i + 1] : "redis://127.0.0.1:6379";
const hub = new TopicHub({
  backplane: new RedisBackplane({ url }),
  onError: (error) => console.error("hub:", error),
});
await hub.ready;

async function publisher(channel: WebSocketChannel) {
  const reader = channel.stream.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      void hub.publish(ROOM, value);
    }
  } catch { /* connection ended */ }
}

const server = await serve({
  hostname: "127.0.0.1",
  port: 0,
  idleTimeout: 0,
  onChannel(channel, request) {
    if (new URL(request.url).pathname === "/pub") return void publisher(channel);
    hub.subscribe(channel, ROOM);
    channel.stream.pipeTo(new WritableStream()).catch(() => {});
  },
});
process.on("SIGTERM", () => process.exit(0));
console.log(`PORT ${server.port}`);
