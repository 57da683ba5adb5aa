import { test } from "node:test";
import assert from "node:assert/strict";
import { connect } from "../../mod.ts";
import type { WebSocketChannel } from "../../src/channel/web_socket_channel.ts";
import { NatsBackplane } from "../../src/backplane/nats.ts";
import { RedisBackplane } from "../../src/backplane/redis.ts";
import type { Backplane } from "../../src/fanout/backplane.ts";
import { TopicHub } from "../../src/fanout/topic_hub.ts";
import { deadline, waitFor } from "../_util/async.ts";
import { natsSkip, startNatsServer } from "../_util/nats_server.ts";
import { redisSkip, startRedisServer } from "../_util/redis_server.ts";
import { serveHere } from "../_util/serve_here.ts";

// TopicHub.publish() keeps no reference to the caller's bytes once it returns: a publisher that
// refills one buffer for every message (without awaiting anything) must not change what
// subscribers receive, whether their frames are compressed after the call or the message
// crosses a backplane that encodes it once connected. Real server, clients, Redis and NATS.

const COUNT = 40; // more than the compressions that run at once
const SIZE = 8192; // compressible, over every compression threshold

/** Publishes COUNT messages from one buffer refilled before each publish; the values expected. */
function publishRefilling(hub: TopicHub, topic: string): number[] {
  const buffer = new Uint8Array(SIZE);
  const values: number[] = [];
  for (let i = 0; i < COUNT; i++) {
    buffer.fill(i + 1);
    hub.publish(topic, buffer).catch(() => {});
    values.push(i + 1);
  }
  buffer.fill(0xee);
  return values;
}

/** Reads `count` messages and returns, for each, its one fill value (or a description of it). */
async function fills(channel: WebSocketChannel, count: number): Promise<(number | string)[]> {
  const reader = channel.stream.getReader();
  const out: (number | string)[] = [];
  try {
    while (out.length < count) {
      const { value, done } = await deadline(reader.read(), 10_000, `message ${out.length + 1}`);
      if (done) break;
      if (typeof value === "string") {
        out.push(`text ${value.length}`);
        continue;
      }
      const first = value[0];
      const same = value.byteLength === SIZE && value.every((b) => b === first);
      out.push(same ? first : `mixed ${value.byteLength} B starting ${first}`);
    }
  } finally {
    reader.releaseLock();
  }
  return out;
}

// Compressing subscribers alone (the frame is built after the call), with a shared compressed
// frame (server_no_context_takeover: compressed once, after the call), and with a plain one.
const mixes: { name: string; compression: (boolean | "shared")[] }[] = [
  { name: "compressing subscribers only", compression: [true, "shared"] },
  { name: "compressing and plain subscribers", compression: [true, "shared", false] },
];

for (const mix of mixes) {
  test(`TopicHub.publish: a refilled buffer changes no delivery (${mix.name})`, async () => {
    const hub = new TopicHub();
    const server = await serveHere({
      compression: true,
      idleTimeout: 0,
      onChannel: (channel) => void hub.subscribe(channel, "feed"),
    });
    try {
      const url = `ws://127.0.0.1:${server.port}/`;
      const clients = mix.compression.map((mode) =>
        connect(url, {
          transport: "engine",
          compression: mode === "shared" ? { serverNoContextTakeover: true } : mode,
        })
      );
      await deadline(Promise.all(clients.map((c) => c.ready)), 10_000, "clients to connect");
      mix.compression.forEach((mode, i) => {
        if (mode) assert.match(clients[i].extensions, /permessage-deflate/);
      });
      await waitFor(() => hub.subscriberCount("feed") === clients.length, {
        timeout: 5_000,
        what: "subscribers",
      });
      const expected = publishRefilling(hub, "feed");
      const received = await Promise.all(clients.map((c) => fills(c, COUNT)));
      received.forEach((got, i) => assert.deepEqual(got, expected, `subscriber ${i}`));
      await Promise.all(clients.map((c) => c.sink.close(1000)));
    } finally {
      await hub.close();
      await server.close();
    }
  });
}

// A backplane encodes a publish once it is connected, after publish() returned.
const buses = [
  {
    name: "Redis",
    skip: redisSkip,
    start: async () => {
      const server = await startRedisServer();
      return { server, open: (): Backplane => new RedisBackplane({ url: server.url }) };
    },
  },
  {
    name: "NATS",
    skip: natsSkip,
    start: async () => {
      const server = await startNatsServer();
      return { server, open: (): Backplane => new NatsBackplane({ servers: server.url }) };
    },
  },
];

for (const bus of buses) {
  test(
    `TopicHub.publish over ${bus.name}: a refilled buffer does not change what other processes get`,
    { skip: bus.skip },
    async () => {
      const { server: busServer, open } = await bus.start();
      const publisher = new TopicHub({ backplane: open() });
      const receiver = new TopicHub({ backplane: open() });
      const subscribed: Promise<void>[] = [];
      const server = await serveHere({
        idleTimeout: 0,
        onChannel: (channel) => void subscribed.push(receiver.subscribe(channel, "feed")),
      });
      try {
        await deadline(Promise.all([publisher.ready, receiver.ready]), 10_000, "the backplanes");
        const client = connect(`ws://127.0.0.1:${server.port}/`, { transport: "engine" });
        await deadline(client.ready, 10_000, "the client to connect");
        await waitFor(() => subscribed.length === 1, { timeout: 5_000, what: "the subscription" });
        await deadline(subscribed[0], 10_000, "the subscription to reach the bus");
        const expected = publishRefilling(publisher, "feed");
        assert.deepEqual(await fills(client, COUNT), expected);
        assert.equal(receiver.stats().received, COUNT);
        await client.sink.close(1000);
      } finally {
        await Promise.all([publisher.close(), receiver.close()]);
        await server.close();
        await busServer.stop();
      }
    },
  );
}
