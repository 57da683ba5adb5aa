import { test } from "node:test";
import assert from "node:assert/strict";
// The entry point installs the engine transport (Node 20 has no global WebSocket).
import "../../mod.ts";
import { SessionHub } from "../../src/session/session_hub.ts";
import { SessionClient, type TopicMessage } from "../../src/session/session_client.ts";
import type { SessionStore } from "../../src/session/store.ts";
import { MemorySessionStore } from "../../src/session/memory_store.ts";
import { RedisSessionStore } from "../../src/session/redis.ts";
import { deadline, waitFor } from "../_util/async.ts";
import { type RedisServer, redisSkip, startRedisServer } from "../_util/redis_server.ts";
import { serveHub } from "./_rig.ts";

// SessionHub.publish() keeps no reference to the caller's bytes once it returns: history kept
// for replay holds its own copy. A publisher refills one buffer for every message; a client
// that subscribes afterwards from position 0 gets the history replayed, byte for byte, from
// the in-memory store and from a real Redis.

const COUNT = 10;
const SIZE = 2048;

const stores: { name: string; skip: string | false; open(redis?: RedisServer): SessionStore }[] = [
  { name: "in-memory store", skip: false, open: () => new MemorySessionStore() },
  {
    name: "Redis store",
    skip: redisSkip,
    open: (redis) => new RedisSessionStore({ url: redis!.url }),
  },
];

/** One value per message: its fill byte, or a description of what is wrong with it. */
function fillOf(message: TopicMessage): number | string {
  const data = message.data;
  if (typeof data === "string") return `text ${data.length}`;
  const first = data[0];
  return data.byteLength === SIZE && data.every((b) => b === first)
    ? first
    : `mixed ${data.byteLength} B starting ${first}`;
}

for (const kind of stores) {
  test(
    `SessionHub.publish (${kind.name}): history replays what was published, not a refilled buffer`,
    {
      skip: kind.skip,
    },
    async () => {
      const redis = kind.skip === false && kind.name.startsWith("Redis")
        ? await startRedisServer()
        : undefined;
      const hub = new SessionHub({ store: kind.open(redis) });
      const server = await serveHub(hub);
      const url = `ws://127.0.0.1:${server.port}/`;
      const live = new SessionClient(url, { heartbeat: false });
      const late = new SessionClient(url, { heartbeat: false });
      const liveMessages: TopicMessage[] = [];
      const replayed: TopicMessage[] = [];
      live.on("message", (message) => liveMessages.push(message));
      late.on("message", (message) => replayed.push(message));
      try {
        live.subscribe("feed");
        await deadline(live.connect(), 10_000, "the live client");
        await waitFor(() => live.positions().feed !== undefined, { what: "the live subscription" });
        const buffer = new Uint8Array(SIZE);
        const published: Promise<number>[] = [];
        const expected: number[] = [];
        for (let i = 0; i < COUNT; i++) {
          buffer.fill(i + 1);
          published.push(hub.publish("feed", buffer));
          expected.push(i + 1);
        }
        buffer.fill(0xee);
        const positions = await deadline(Promise.all(published), 10_000, "the publishes");
        assert.deepEqual(positions, expected, "positions in publish order");
        await waitFor(() => liveMessages.length === COUNT, { what: "live delivery" });
        assert.deepEqual(liveMessages.map(fillOf), expected, "live");

        // Replayed from the store's history.
        late.subscribe("feed", { epoch: live.positions().feed.epoch, position: 0 });
        await deadline(late.connect(), 10_000, "the late client");
        await waitFor(() => replayed.length === COUNT, { what: "the replay" });
        assert.deepEqual(replayed.map(fillOf), expected, "replayed");
      } finally {
        await Promise.all([live.close(), late.close()]);
        await hub.close();
        await server.close();
        await redis?.stop();
      }
    },
  );
}
