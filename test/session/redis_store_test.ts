import { test } from "node:test";
import assert from "node:assert/strict";
import { redisSkip, startRedisServer } from "../_util/redis_server.ts";
import { RedisSessionStore } from "../../src/session/redis.ts";
import { SessionHub } from "../../src/session/session_hub.ts";
import { rig } from "./_rig.ts";
import { delay, waitFor } from "../_util/async.ts";

const skip = redisSkip;

test("history in a Redis stream: contiguous positions, text and bytes, MAXLEN and age trimming", {
  skip,
}, async () => {
  const redis = await startRedisServer();
  const store = new RedisSessionStore({ url: redis.url, maxEntries: 3, maxAge: 60_000 });
  try {
    await store.start({ entry() {} });
    const empty = await store.head("t");
    assert.equal(empty.head, 0);
    const first = await store.append("t", "one");
    assert.equal(first.position, 1);
    assert.equal(first.epoch, empty.epoch, "the epoch of a topic is stable");
    await store.append("t", new Uint8Array([0, 255, 7]));
    for (const text of ["3", "4", "5"]) await store.append("t", text);
    const page = await store.read("t", 0, 10);
    assert.equal(page.head, 5);
    assert.equal(page.oldest, 3);
    assert.deepEqual(page.entries, [
      { position: 3, data: "3" },
      { position: 4, data: "4" },
      { position: 5, data: "5" },
    ]);
    assert.deepEqual((await store.read("t", 3, 1)).entries, [{ position: 4, data: "4" }]);
    assert.deepEqual((await store.read("t", 5, 10)).entries, []);
    const bytes = new RedisSessionStore({ url: redis.url, prefix: "b:" });
    await bytes.start({ entry() {} });
    await bytes.append("b", new Uint8Array([0, 255, 7]));
    assert.deepEqual((await bytes.read("b", 0, 10)).entries, [{
      position: 1,
      data: new Uint8Array([0, 255, 7]),
    }]);
    await bytes.close();

    const aged = new RedisSessionStore({ url: redis.url, prefix: "aged:", maxAge: 50 });
    await aged.start({ entry() {} });
    await aged.append("t", "old");
    await delay(120);
    await aged.append("t", "new");
    const kept = await aged.read("t", 0, 10);
    assert.equal(kept.oldest, 2);
    assert.deepEqual(kept.entries, [{ position: 2, data: "new" }]);
    await aged.close();
  } finally {
    await store.close();
    await redis.stop();
  }
});

test("the de-duplication record: claim, commit, duplicate, lease held by another connection", {
  skip,
}, async () => {
  const redis = await startRedisServer();
  const store = new RedisSessionStore({ url: redis.url });
  try {
    await store.start({ entry() {} });
    assert.equal(await store.accepted("s"), 0);
    assert.equal(await store.claim("s", 1, "conn-a", 10_000), "ok");
    assert.equal(await store.claim("s", 1, "conn-b", 10_000), "busy");
    await store.commit("s", 1, "conn-a");
    assert.equal(await store.accepted("s"), 1);
    assert.equal(await store.claim("s", 1, "conn-b", 10_000), "duplicate");
    assert.equal(await store.claim("s", 2, "conn-b", 30), "ok");
    await delay(60); // conn-b's lease ran out (it died mid-handler)
    assert.equal(await store.claim("s", 2, "conn-c", 10_000), "ok");
  } finally {
    await store.close();
    await redis.stop();
  }
});

test(
  "another store's appends arrive live, in order; a client resumes on another hub through Redis",
  { skip },
  async () => {
    const redis = await startRedisServer();
    const storeA = new RedisSessionStore({ url: redis.url });
    const storeB = new RedisSessionStore({ url: redis.url });
    const r = rig({ store: storeA });
    const other = new SessionHub({ store: storeB });
    try {
      await Promise.all([r.hub.ready, other.ready]);
      await r.subscribed("room");
      for (let i = 1; i <= 5; i++) await other.publish("room", `b${i}`);
      await waitFor(() => r.messages.length === 5, {
        what: "live messages from the other process",
      });
      const first = r.hub;
      await r.outage(async () => {
        r.hub = other;
        for (let i = 6; i <= 8; i++) await first.publish("room", `a${i}`);
      });
      await waitFor(() => r.messages.length === 8, { what: "the replay on the other hub" });
      assert.deepEqual(r.messages.map((m) => m.position), [1, 2, 3, 4, 5, 6, 7, 8]);
      assert.deepEqual(r.gaps, []);
      await first.close();
    } finally {
      await r.close();
      await redis.stop();
    }
  },
);

test("a send acknowledged by one hub is a duplicate for the other (dedup record in Redis)", {
  skip,
}, async () => {
  const redis = await startRedisServer();
  const seen: string[] = [];
  let cutOnce = true;
  const r = rig({
    store: new RedisSessionStore({ url: redis.url }),
    onMessage: ({ data }) => {
      seen.push(String(data));
      if (data === "b" && cutOnce) {
        cutOnce = false;
        r.offline = true;
        r.cut();
      }
    },
  });
  try {
    await r.hub.ready;
    await r.client.connect();
    const sends = ["a", "b", "c"].map((text) => r.client.send(text));
    await waitFor(() => seen.length === 2);
    const first = r.hub;
    r.hub = new SessionHub({
      store: new RedisSessionStore({ url: redis.url }),
      onMessage: ({ data }) => void seen.push(String(data)),
    });
    await r.hub.ready;
    r.offline = false;
    await Promise.all(sends);
    assert.deepEqual(seen, ["a", "b", "c"]);
    await first.close();
  } finally {
    await r.close();
    await redis.stop();
  }
});

test(
  "history survives a Redis restart (AOF): resume without a gap; publishes during the outage reject",
  { skip },
  async () => {
    const redis = await startRedisServer({ persistent: true });
    const r = rig({ store: new RedisSessionStore({ url: redis.url, maxReconnectDelay: 50 }) });
    try {
      await r.hub.ready;
      await r.subscribed("t");
      await r.hub.publish("t", "1");
      await waitFor(() => r.messages.length === 1);
      r.offline = true;
      r.cut();
      await r.hub.publish("t", "2");
      await redis.restart(async () => {
        await assert.rejects(r.hub.publish("t", "during the outage"));
      });
      await waitFor(async () => {
        try {
          await r.hub.publish("t", "3");
          return true;
        } catch {
          return false;
        }
      }, { what: "Redis back", timeout: 10_000, interval: 50 });
      r.offline = false;
      await waitFor(() => r.messages.length === 3, { what: "the replay after the restart" });
      assert.deepEqual(r.messages.map((m) => [m.position, m.data]), [[1, "1"], [2, "2"], [3, "3"]]);
      assert.deepEqual(r.gaps, []);
    } finally {
      await r.close();
      await redis.stop();
    }
  },
);
