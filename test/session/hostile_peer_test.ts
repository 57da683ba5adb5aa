/**
 * The session hub against hostile peers over real sockets (the running
 * runtime's `serve()` and raw session frames from an engine client): what
 * one connection can make the server buffer or do.
 *
 * @module
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect } from "../../mod.ts";
import { encodeFrame, SESSION_PROTOCOL } from "../../src/session/frames.ts";
import { MemorySessionStore } from "../../src/session/memory_store.ts";
import { SessionHub } from "../../src/session/session_hub.ts";
import type { PeerConnection } from "../../src/session/session_peer.ts";
import { createClient } from "redis";
import { RedisSessionStore } from "../../src/session/redis.ts";
import { delay, waitFor } from "../_util/async.ts";
import { redisSkip, startRedisServer } from "../_util/redis_server.ts";
import { currentRuntime } from "../_util/runtimes.ts";
import { serveHub } from "./_rig.ts";

/** Waits until `read()` has not changed for `quiet` ms (the server stopped writing). */
async function settled(read: () => number, quiet = 300): Promise<number> {
  let value = read();
  for (;;) {
    await delay(quiet);
    const now = read();
    if (now === value) return now;
    value = now;
  }
}

test(`session hub (${currentRuntime}): resuming many topics from position 0 without reading stays within maxBufferedBytes`, async () => {
  const topics = 16;
  const perTopic = 256;
  const size = 8 * 1024;
  const maxBufferedBytes = 64 * 1024;
  const store = new MemorySessionStore();
  const hub = new SessionHub({ store, maxBufferedBytes });
  const payload = "x".repeat(size);
  for (let t = 0; t < topics; t++) {
    for (let i = 0; i < perTopic; i++) await hub.publish(`t${t}`, payload);
  }
  let peer: PeerConnection | undefined;
  const server = await serveHub(hub, (accepted) => peer = accepted as PeerConnection);
  const client = connect(`ws://127.0.0.1:${server.port}/`, {
    protocols: [SESSION_PROTOCOL],
    transport: "engine",
  });
  try {
    await client.ready;
    await client.sink.add(encodeFrame({ kind: "hello", version: 1, session: "resumer" }));
    for (let t = 0; t < topics; t++) {
      const from = { epoch: store.epoch, position: 0 };
      await client.sink.add(encodeFrame({ kind: "subscribe", topic: `t${t}`, from }));
    }
    await waitFor(() => hub.stats().replayed > 0);
    // The client reads nothing: each replay must wait for the backlog, not write a page first.
    await settled(() => hub.stats().replayed);
    const backlog = peer!.backlog;
    const frame = size + 16;
    assert.ok(
      backlog <= maxBufferedBytes + topics * frame,
      `${backlog} bytes waiting for one connection (limit ${maxBufferedBytes})`,
    );
    // Nothing is lost by waiting: reading now receives all of it.
    let received = 0;
    for await (const message of client.stream) {
      assert.ok(message instanceof Uint8Array);
      if (message[0] === 0x13 && ++received === topics * perTopic) break;
    }
    assert.equal(hub.stats().replayed, topics * perTopic);
  } finally {
    client.sink.close().catch(() => {});
    await hub.close();
    await server.close();
  }
});

test(
  `session hub (${currentRuntime}): SUBSCRIBEs of made-up topics leave no Redis key without a TTL`,
  {
    skip: redisSkip,
  },
  async () => {
    const redis = await startRedisServer();
    const store = new RedisSessionStore({ url: redis.url, prefix: "h:", maxAge: 60_000 });
    const hub = new SessionHub({ store });
    const server = await serveHub(hub);
    const inspect = createClient({ url: redis.url });
    await inspect.connect();
    const client = connect(`ws://127.0.0.1:${server.port}/`, {
      protocols: [SESSION_PROTOCOL],
      transport: "engine",
    });
    try {
      await hub.ready;
      await hub.publish("real", "kept");
      await client.ready;
      await client.sink.add(encodeFrame({ kind: "hello", version: 1, session: "prober" }));
      const reader = client.stream.getReader();
      const subscribed = async () => {
        const { value } = await reader.read();
        assert.ok(value instanceof Uint8Array && value[0] === 0x15, "SUBSCRIBED");
      };
      assert.ok(((await reader.read()).value as Uint8Array)[0] === 0x10, "WELCOME");
      for (let i = 0; i < 20; i++) {
        await client.sink.add(encodeFrame({ kind: "subscribe", topic: `made-up-${i}` }));
        await subscribed();
        await client.sink.add(encodeFrame({ kind: "unsubscribe", topic: `made-up-${i}` }));
      }
      await client.sink.add(encodeFrame({ kind: "subscribe", topic: "real" }));
      await subscribed();
      const forever: string[] = [];
      for (const key of await inspect.keys("h:*")) {
        if (key.includes("real")) continue; // a published topic keeps its numbering
        if ((await inspect.pTTL(key)) === -1) forever.push(key);
      }
      assert.deepEqual(forever, [], "keys a client created without any publish, kept forever");
      // The published topic's epoch did not get a TTL from being read.
      for (const key of await inspect.keys("h:*real*")) {
        assert.equal(await inspect.pTTL(key), -1, key);
      }
      reader.releaseLock();
    } finally {
      client.sink.close().catch(() => {});
      await inspect.quit();
      await hub.close();
      await server.close();
      await redis.stop();
    }
  },
);
