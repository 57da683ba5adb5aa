import { test } from "node:test";
import assert from "node:assert/strict";
import { createClient } from "redis";
import { RedisBackplane, type RedisBackplaneOptions } from "../../src/backplane/redis.ts";
import type {
  BackplaneError,
  BackplaneMessage,
  BackplaneStatus,
} from "../../src/fanout/backplane.ts";
import { encodeBackplaneMessage } from "../../src/fanout/backplane_codec.ts";
import { deadline, waitFor } from "../_util/async.ts";
import { freePort, type RedisServer, redisSkip, startRedisServer } from "../_util/redis_server.ts";

const skip = redisSkip;

/** A receiver that records what it hears. */
function recorder() {
  const messages: BackplaneMessage[] = [];
  const statuses: BackplaneStatus[] = [];
  return {
    messages,
    statuses,
    message: (message: BackplaneMessage) => void messages.push(message),
    status: (status: BackplaneStatus) => void statuses.push(status),
    received: (count: number, what = `${count} messages`) =>
      waitFor(() => messages.length >= count, { timeout: 10_000, what }),
    heard: (status: BackplaneStatus, count = 1) =>
      waitFor(() => statuses.filter((s) => s === status).length >= count, {
        timeout: 10_000,
        what: `status ${status} #${count}`,
      }),
  };
}

/** Runs `body` with a fresh redis-server and backplanes that are always closed. */
async function withRedis(
  body: (
    server: RedisServer,
    open: (options?: RedisBackplaneOptions) => RedisBackplane,
  ) => Promise<void>,
): Promise<void> {
  const server = await startRedisServer();
  const backplanes: RedisBackplane[] = [];
  try {
    await body(server, (options = {}) => {
      const backplane = new RedisBackplane({ url: server.url, maxReconnectDelay: 100, ...options });
      backplanes.push(backplane);
      return backplane;
    });
  } finally {
    await Promise.all(backplanes.map((b) => b.close()));
    await server.stop();
  }
}

const bytes = (...values: number[]) => new Uint8Array(values);

for (const sharded of [true, false]) {
  const mode = sharded ? "sharded (auto on Redis 7)" : "plain pub/sub";
  test(`RedisBackplane ${mode}: text and bytes both ways, origin carried`, { skip }, async () => {
    await withRedis(async (_server, open) => {
      const a = open(sharded ? {} : { sharded: false });
      const b = open(sharded ? {} : { sharded: false });
      const inA = recorder();
      const inB = recorder();
      await deadline(Promise.all([a.start(inA), b.start(inB)]), 10_000, "start");
      assert.equal(a.stats.sharded, sharded);
      await a.subscribe("room");
      await b.subscribe("room");
      await a.publish({ topic: "room", data: "héllo ✓", origin: "hub-a" });
      await b.publish({ topic: "room", data: bytes(0, 1, 2, 255), origin: "hub-b" });
      await inA.received(2);
      await inB.received(2);
      for (const inbox of [inA, inB]) {
        assert.deepEqual(inbox.messages[0], { topic: "room", data: "héllo ✓", origin: "hub-a" });
        assert.equal(inbox.messages[1].origin, "hub-b");
        assert.equal(Object.getPrototypeOf(inbox.messages[1].data), Uint8Array.prototype);
        assert.deepEqual(inbox.messages[1].data, bytes(0, 1, 2, 255));
      }
      // An empty text stays text and an empty binary stays binary.
      await a.publish({ topic: "room", data: "", origin: "hub-a" });
      await a.publish({ topic: "room", data: new Uint8Array(0), origin: "hub-a" });
      await inB.received(4);
      assert.equal(inB.messages[2].data, "");
      assert.deepEqual(inB.messages[3].data, new Uint8Array(0));
    });
  });
}

test(
  "RedisBackplane keeps the publish order of 1000 messages, and topics apart",
  { skip },
  async () => {
    await withRedis(async (_server, open) => {
      const a = open();
      const b = open();
      const inB = recorder();
      await Promise.all([a.start(recorder()), b.start(inB)]);
      await b.subscribe("numbers");
      await b.subscribe("other");
      const sent: Promise<void>[] = [];
      for (let i = 0; i < 1000; i++) {
        sent.push(a.publish({ topic: "numbers", data: String(i), origin: "a" }));
        if (i % 100 === 0) sent.push(a.publish({ topic: "ignored", data: "x", origin: "a" }));
      }
      await deadline(Promise.all(sent), 10_000, "1000 publishes");
      await inB.received(1000);
      assert.deepEqual(
        inB.messages.map((m) => m.data),
        Array.from({ length: 1000 }, (_, i) => String(i)),
      );
      assert.ok(inB.messages.every((m) => m.topic === "numbers"));
    });
  },
);

test("RedisBackplane: unsubscribe stops delivery; subscribe is idempotent", { skip }, async () => {
  await withRedis(async (_server, open) => {
    const a = open();
    const b = open();
    const inB = recorder();
    await Promise.all([a.start(recorder()), b.start(inB)]);
    await b.subscribe("t");
    await b.subscribe("t");
    await a.publish({ topic: "t", data: "one", origin: "a" });
    await inB.received(1);
    await b.unsubscribe("t");
    await b.unsubscribe("t");
    await b.subscribe("marker");
    await a.publish({ topic: "t", data: "two", origin: "a" });
    await a.publish({ topic: "marker", data: "end", origin: "a" });
    await inB.received(2);
    assert.deepEqual(inB.messages.map((m) => m.data), ["one", "end"]);
  });
});

test("RedisBackplane with a user-supplied client leaves that client open", { skip }, async () => {
  await withRedis(async (server, open) => {
    const client = createClient({ url: server.url });
    client.on("error", () => {});
    await client.connect();
    try {
      const a = open({ client, url: undefined });
      const b = open();
      const inA = recorder();
      const inB = recorder();
      await Promise.all([a.start(inA), b.start(inB)]);
      await a.subscribe("u");
      await b.subscribe("u");
      await a.publish({ topic: "u", data: "from the user's client", origin: "a" });
      await b.publish({ topic: "u", data: "to the duplicate", origin: "b" });
      await inA.received(2);
      await inB.received(2);
      await a.close();
      assert.equal(client.isReady, true);
      assert.equal(await client.ping(), "PONG");
    } finally {
      await client.close();
    }
  });
});

test("RedisBackplane drops and counts messages that do not decode", { skip }, async () => {
  await withRedis(async (server, open) => {
    const errors: BackplaneError[] = [];
    const b = open({ onError: (error) => errors.push(error) });
    const inB = recorder();
    await b.start(inB);
    await b.subscribe("t");
    const raw = createClient({ url: server.url });
    raw.on("error", () => {});
    await raw.connect();
    try {
      const good = encodeBackplaneMessage("good", "raw");
      const foreign = [
        "plain text",
        Buffer.alloc(0),
        Buffer.from([1]),
        Buffer.from([2, 1, 0, 0, 65]), // a future version
        Buffer.from([1, 7, 0, 0, 65]), // an unknown kind
        Buffer.from([1, 1, 0, 9, 65]), // the origin runs past the end
        Buffer.from([1, 1, 0, 0, 0xff, 0xfe]), // text that is not UTF-8
      ];
      for (const message of foreign) await raw.sPublish("wsc:t", message);
      await raw.sPublish("wsc:t", Buffer.from(good));
      await inB.received(1);
      assert.deepEqual(inB.messages, [{ topic: "t", data: "good", origin: "raw" }]);
      assert.equal(b.stats.badMessages, foreign.length);
      assert.equal(errors.length, foreign.length);
      assert.ok(errors.every((e) => e.code === "WS_BACKPLANE_BAD_MESSAGE"));
    } finally {
      await raw.close();
    }
  });
});

test(
  "RedisBackplane survives a Redis restart: buffered publishes go out in order",
  { skip },
  async () => {
    await withRedis(async (server, open) => {
      const a = open();
      const b = open();
      const inA = recorder();
      const inB = recorder();
      await Promise.all([a.start(inA), b.start(inB)]);
      await a.subscribe("t");
      await b.subscribe("t");
      await a.publish({ topic: "t", data: "before", origin: "a" });
      await inB.received(1);
      const during: Promise<void>[] = [];
      let settled = 0;
      await server.restart(async () => {
        await inA.heard("down");
        await inB.heard("down");
        await b.subscribe("late"); // takes effect on reconnect
        for (let i = 0; i < 50; i++) {
          during.push(
            a.publish({ topic: "t", data: `during ${i}`, origin: "a" }).finally(() => {
              settled++;
            }),
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 300));
        assert.equal(settled, 0, "publishes wait while Redis is down");
        assert.equal(a.stats.bufferedMessages, 50);
      });
      await inA.heard("up");
      await inB.heard("up");
      await deadline(Promise.all(during), 10_000, "the buffered publishes");
      // A flushes only once its own subscription is back, so A hears all of them, in order.
      await inA.received(51);
      const expected = ["before", ...Array.from({ length: 50 }, (_, i) => `during ${i}`)];
      assert.deepEqual(inA.messages.map((m) => m.data), expected);
      // B's reconnect races A's flush: B hears an in-order part of them, then everything after.
      await b.publish({ topic: "t", data: "after", origin: "b" });
      await inA.received(52);
      await waitFor(() => inB.messages.some((m) => m.data === "after"), { what: "after, in B" });
      const seenByB = inB.messages.map((m) => m.data as string);
      assert.deepEqual(seenByB, expected.concat("after").filter((d) => seenByB.includes(d)));
      await a.publish({ topic: "late", data: "subscribed while down", origin: "a" });
      await waitFor(() => inB.messages.some((m) => m.topic === "late"), { what: "late, in B" });
      assert.deepEqual(inA.statuses, ["down", "up"]);
      assert.deepEqual(inB.statuses, ["down", "up"]);
    });
  },
);

test(
  "RedisBackplane: a publish that would overflow the buffer rejects at once",
  { skip },
  async () => {
    await withRedis(async (server, open) => {
      const a = open({ maxBufferedMessages: 3, maxBufferedBytes: 100 });
      const inA = recorder();
      await a.start(inA);
      await server.stop();
      await inA.heard("down");
      const waiting = [1, 2, 3].map((i) => a.publish({ topic: "t", data: `m${i}`, origin: "a" }));
      for (const pending of waiting) pending.catch(() => {});
      await assert.rejects(
        a.publish({ topic: "t", data: "m4", origin: "a" }),
        (error: BackplaneError) => error.code === "WS_BACKPLANE_BUFFER_FULL",
      );
      assert.equal(a.stats.bufferedMessages, 3);
      await a.close();
      for (const pending of waiting) {
        await assert.rejects(
          pending,
          (error: BackplaneError) => error.code === "WS_BACKPLANE_CLOSED",
        );
      }
      const b = open({ maxBufferedBytes: 100 });
      await assert.rejects(
        b.publish({ topic: "t", data: "x".repeat(200), origin: "b" }), // before start, it waits too
        (error: BackplaneError) => error.code === "WS_BACKPLANE_BUFFER_FULL",
      );
    });
  },
);

test(
  "RedisBackplane.start() rejects with WS_BACKPLANE_UNAVAILABLE within the timeout",
  { skip },
  async () => {
    const port = await freePort();
    const backplane = new RedisBackplane({
      url: `redis://127.0.0.1:${port}`,
      connectTimeout: 500,
      maxReconnectDelay: 100,
    });
    const started = Date.now();
    await assert.rejects(
      deadline(backplane.start(recorder()), 5000, "start"),
      (error: BackplaneError) => error.code === "WS_BACKPLANE_UNAVAILABLE",
    );
    assert.ok(Date.now() - started < 3000, `took ${Date.now() - started} ms`);
    await assert.rejects(
      backplane.publish({ topic: "t", data: "x", origin: "o" }),
      (error: BackplaneError) => error.code === "WS_BACKPLANE_CLOSED",
    );
    await backplane.close();
    // close() while start() still retries: start() rejects at once with WS_BACKPLANE_CLOSED.
    const waiting = new RedisBackplane({
      url: `redis://127.0.0.1:${port}`,
      connectTimeout: 10_000,
    });
    const starting = waiting.start(recorder());
    await new Promise((resolve) => setTimeout(resolve, 100));
    await waiting.close();
    await assert.rejects(
      deadline(starting, 2000, "start after close"),
      (error: BackplaneError) => error.code === "WS_BACKPLANE_CLOSED",
    );
  },
);

test(
  "RedisBackplane.close() is idempotent; later calls reject with WS_BACKPLANE_CLOSED",
  { skip },
  async () => {
    await withRedis(async (_server, open) => {
      const a = open();
      await a.start(recorder());
      await a.subscribe("t");
      await Promise.all([a.close(), a.close()]);
      await a.close();
      const closed = (error: BackplaneError) => error.code === "WS_BACKPLANE_CLOSED";
      await assert.rejects(a.publish({ topic: "t", data: "x", origin: "o" }), closed);
      await assert.rejects(a.subscribe("u"), closed);
      await assert.rejects(a.unsubscribe("t"), closed);
      await assert.rejects(a.start(recorder()), closed);
      // close() while start() is under way: start() rejects, nothing stays open.
      const b = open();
      const starting = b.start(recorder());
      await b.close();
      await assert.rejects(deadline(starting, 5000, "start"), closed);
    });
  },
);
