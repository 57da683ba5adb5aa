import { test } from "node:test";
import assert from "node:assert/strict";
import { rig } from "./_rig.ts";
import { SessionHub, SessionRejection } from "../../src/session/session_hub.ts";
import { MemorySessionStore } from "../../src/session/memory_store.ts";
import { SessionError } from "../../src/session/errors.ts";
import type { SessionMessage } from "../../src/session/session_hub.ts";
import { deadline, waitFor } from "../_util/async.ts";

async function rejection(promise: Promise<unknown>): Promise<SessionError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof SessionError, `not a SessionError: ${error}`);
    return error;
  }
  throw new Error("expected a rejection");
}

test("send() resolves after onMessage returned; text stays text, bytes stay bytes, sender known", async () => {
  const seen: SessionMessage[] = [];
  const r = rig({ onMessage: (message) => void seen.push(message) });
  await r.client.connect();
  await r.client.send("hi");
  assert.equal(seen.length, 1);
  await r.client.send(new Uint8Array([1, 2, 3]));
  assert.equal(seen[0].data, "hi");
  assert.deepEqual(seen[1].data, new Uint8Array([1, 2, 3]));
  assert.equal(seen[0].peer.id, r.client.sessionId);
  assert.deepEqual(seen.map((m) => m.seq), [1, 2]);
  assert.equal(r.client.outbox.messages, 0);
  await r.close();
});

test("an async handler acknowledges when its promise resolves; sends of a session are handled one at a time", async () => {
  const log: string[] = [];
  let release!: () => void;
  const gate = new Promise<void>((resolve) => release = resolve);
  const r = rig({
    onMessage: async ({ data }) => {
      log.push(`start ${data}`);
      if (data === "a") await gate;
      log.push(`end ${data}`);
    },
  });
  await r.client.connect();
  let aDone = false;
  const a = r.client.send("a").then(() => aDone = true);
  const b = r.client.send("b");
  await waitFor(() => log.length === 1);
  assert.equal(aDone, false);
  release();
  await Promise.all([a, b]);
  assert.deepEqual(log, ["start a", "end a", "start b", "end b"]);
  await r.close();
});

test("topic messages carry positions; a reconnect replays what was missed, in order, once", async () => {
  const r = rig();
  r.client.subscribe("news");
  await r.client.connect();
  await waitFor(() => r.hub.stats().published === 0 && r.client.positions().news !== undefined);
  await r.hub.publish("news", "1");
  await r.hub.publish("news", new Uint8Array([2]));
  await waitFor(() => r.messages.length === 2);
  await r.outage(async () => {
    await waitFor(() => r.client.state.type === "closed");
    for (let i = 3; i <= 6; i++) await r.hub.publish("news", String(i));
  });
  await waitFor(() => r.messages.length === 6, { what: "the replay" });
  await r.hub.publish("news", "7");
  await waitFor(() => r.messages.length === 7);
  assert.deepEqual(r.messages.map((m) => m.position), [1, 2, 3, 4, 5, 6, 7]);
  assert.deepEqual(r.messages.map((m) => m.data), [
    "1",
    new Uint8Array([2]),
    "3",
    "4",
    "5",
    "6",
    "7",
  ]);
  assert.equal(r.gaps.length, 0);
  assert.equal(r.hub.stats().replayed, 4);
  await r.close();
});

test("an outage longer than the history is reported as a gap with the lost range", async () => {
  const r = rig({ store: new MemorySessionStore({ maxEntries: 2 }) });
  await r.subscribed("t");
  await r.hub.publish("t", "1");
  await waitFor(() => r.messages.length === 1);
  await r.outage(async () => {
    for (let i = 2; i <= 6; i++) await r.hub.publish("t", String(i));
  });
  await waitFor(() => r.messages.length === 3);
  assert.deepEqual(r.gaps, [{ topic: "t", from: 2, to: 4, reason: "trimmed" }]);
  assert.deepEqual(r.messages.map((m) => m.position), [1, 5, 6]);
  await r.close();
});

test("history by age: messages older than maxAge are a gap", async () => {
  let now = 1_000;
  const r = rig({ store: new MemorySessionStore({ maxAge: 100, now: () => now }) });
  await r.subscribed("t");
  await r.outage(async () => {
    await r.hub.publish("t", "old");
    now += 200;
    await r.hub.publish("t", "new");
  });
  await waitFor(() => r.messages.length === 1);
  assert.deepEqual(r.gaps, [{ topic: "t", from: 1, to: 1, reason: "trimmed" }]);
  assert.equal(r.messages[0].data, "new");
  await r.close();
});

test("a restarted server (new in-memory epoch) is reported as a reset, then its messages follow", async () => {
  const r = rig();
  await r.subscribed("t");
  await r.hub.publish("t", "before");
  await waitFor(() => r.messages.length === 1);
  await r.outage(async () => {
    const old = r.hub;
    r.hub = new SessionHub();
    await old.close();
    await r.hub.publish("t", "after");
  });
  await waitFor(() => r.messages.length === 2);
  assert.deepEqual(r.gaps, [{ topic: "t", from: 2, to: undefined, reason: "reset" }]);
  assert.equal(r.messages[1].data, "after");
  assert.equal(r.messages[1].position, 1);
  await r.close();
});

test("a send whose acknowledgement was lost is sent again and delivered to the application once", async () => {
  const seen: string[] = [];
  let cutOnce = true;
  const r = rig({
    onMessage: ({ data }) => {
      seen.push(String(data));
      if (data === "b" && cutOnce) {
        cutOnce = false;
        r.cut(); // handled, but the ACK cannot reach the client
      }
    },
  });
  await r.client.connect();
  const sends = ["a", "b", "c", "d"].map((text) => r.client.send(text));
  await deadline(Promise.all(sends), 5_000, "every send acknowledged");
  assert.deepEqual(seen, ["a", "b", "c", "d"]);
  await r.close();
});

test("sends made while offline wait in the outbox and go out on connect", async () => {
  const seen: unknown[] = [];
  const r = rig({ onMessage: ({ data }) => void seen.push(data) });
  const sends = [r.client.send("x"), r.client.send("y")];
  assert.equal(r.client.outbox.messages, 2);
  await r.client.connect();
  await Promise.all(sends);
  assert.deepEqual(seen, ["x", "y"]);
  await r.close();
});

test("a refused message rejects with WS_SESSION_REJECTED and the reason; other throws say server error", async () => {
  const errors: unknown[] = [];
  const r = rig({
    onError: (error) => errors.push(error),
    onMessage: ({ data }) => {
      if (data === "bad") throw new SessionRejection("no bad words");
      if (data === "boom") throw new Error("internal detail");
    },
  });
  await r.client.connect();
  const bad = await rejection(r.client.send("bad"));
  assert.equal(bad.code, "WS_SESSION_REJECTED");
  assert.match(bad.message, /no bad words/);
  const boom = await rejection(r.client.send("boom"));
  assert.match(boom.message, /server error/);
  assert.doesNotMatch(boom.message, /internal detail/);
  assert.equal((errors[0] as Error).message, "internal detail");
  await r.client.send("fine");
  await r.close();
});

test("ackTimeout, outbox overflow and close are typed errors", async () => {
  const r = rig({ onMessage: () => new Promise(() => {}) }, { ackTimeout: 50 });
  await r.client.connect();
  assert.equal((await rejection(r.client.send("never"))).code, "WS_SESSION_ACK_TIMEOUT");
  await r.close();

  const full = rig({}, { outbox: { maxMessages: 1 } });
  const first = full.client.send("1");
  assert.equal((await rejection(full.client.send("2"))).code, "WS_SESSION_OUTBOX_FULL");
  await full.close();
  assert.equal((await rejection(first)).code, "WS_SESSION_CLOSED");

  const oldest = rig({}, { outbox: { maxMessages: 1, overflow: "drop-oldest" } });
  const evicted = oldest.client.send("1");
  const kept = oldest.client.send("2");
  assert.equal((await rejection(evicted)).code, "WS_SESSION_DROPPED");
  await oldest.client.connect();
  await kept;
  await oldest.close();
  assert.equal((await rejection(oldest.client.send("late"))).code, "WS_SESSION_CLOSED");
});

test("two hubs on one store: a client resumes on the other hub without loss or duplicates", async () => {
  const store = new MemorySessionStore();
  const other = new SessionHub({ store });
  const r = rig({ store });
  await r.subscribed("room");
  await other.publish("room", "from the other hub");
  await waitFor(() => r.messages.length === 1);
  const first = r.hub;
  await r.outage(async () => {
    r.hub = other;
    await r.hub.publish("room", "while away");
    await first.publish("room", "also while away");
  });
  await waitFor(() => r.messages.length === 3);
  assert.deepEqual(r.messages.map((m) => m.position), [1, 2, 3]);
  await first.close();
  await r.close();
});

test("a denied subscription is reported and forgotten", async () => {
  const r = rig({ authorize: (_peer, topic) => !topic.startsWith("admin:") });
  const denied: string[] = [];
  r.client.on("denied", ({ topic }) => denied.push(topic));
  r.client.subscribe("admin:log");
  r.client.subscribe("public");
  await r.client.connect();
  await waitFor(() => denied.length === 1 && r.client.positions().public !== undefined);
  assert.deepEqual(Object.keys(r.client.positions()), ["public"]);
  await r.close();
});

test("a resent seq is acknowledged again without reaching the application (raw frames, two connections)", async () => {
  const { createChannelPair } = await import("../../src/testing/channel_pair.ts");
  const { decodeFrame, encodeFrame, SESSION_PROTOCOL } = await import(
    "../../src/session/frames.ts"
  );
  const seen: unknown[] = [];
  const hub = new SessionHub({ onMessage: ({ data }) => void seen.push(data) });
  const frames = [];
  for (let i = 0; i < 2; i++) {
    const [client, server] = createChannelPair({ protocol: SESSION_PROTOCOL });
    hub.accept(server);
    await client.sink.add(encodeFrame({ kind: "hello", version: 1, session: "same" }));
    await client.sink.add(encodeFrame({ kind: "send", seq: 1, data: "once" }));
    const reader = client.stream.getReader();
    for (let n = 0; n < 2; n++) {
      frames.push(
        decodeFrame(
          (await deadline(reader.read(), 5_000, "a frame")).value as Uint8Array,
          "server",
        ),
      );
    }
    reader.releaseLock();
    await client.sink.close();
  }
  assert.deepEqual(frames, [
    { kind: "welcome", accepted: 0, known: false },
    { kind: "ack", seq: 1 },
    { kind: "welcome", accepted: 1, known: true },
    { kind: "ack", seq: 1 },
  ]);
  assert.deepEqual(seen, ["once"]);
  assert.equal(hub.stats().duplicates, 1);
  await hub.close();
});
