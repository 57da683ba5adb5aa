import { test } from "node:test";
import assert from "node:assert/strict";
import type { ClosedState } from "../../src/client/state.ts";
import type { ClientChannel } from "../../src/client/types.ts";
import { FakePeer } from "../../src/testing/fake_channel.ts";
import { rejection, rig } from "./helpers.ts";

test("connectTimeout aborts a hanging attempt, counts it as failed and reconnects (never stuck)", async () => {
  const { client, server, clock, states } = rig({ connectTimeout: 1000, random: () => 0 });
  server.hangNext();
  const connected = client.connect();
  await clock.advance(999);
  assert.equal(client.state.type, "connecting");
  assert.equal(server.attempts[0].signal.aborted, false);
  await clock.advance(1);
  assert.equal(server.attempts[0].signal.aborted, true, "the connector's signal aborted");
  const failed = states.find((s) => s.type === "closed") as ClosedState;
  assert.equal(failed.willReconnect, true);
  assert.equal((failed.error as { code?: string }).code, "WS_CONNECT_TIMEOUT");
  assert.equal(client.metrics().failedAttempts, 1);
  await clock.runNext();
  await connected;
  assert.equal(client.state.type, "open");
  assert.equal(server.attempts.length, 2);
  await client.close();
});

test("connectTimeout applies to every reconnect attempt, not only the first", async () => {
  const { client, server, clock } = rig({ connectTimeout: 500, random: () => 0.5 });
  await client.connect();
  server.hangNext(3);
  server.lastPeer!.drop();
  for (let i = 0; i < 3; i++) {
    await clock.flush();
    await clock.runNext(); // backoff timer → attempt
    assert.equal(client.state.type, "connecting");
    await clock.advance(500); // the attempt times out
    assert.equal(client.state.type, "closed");
  }
  await clock.runNext();
  assert.equal(client.state.type, "open");
  assert.equal(client.metrics().failedAttempts, 3);
  assert.ok(server.attempts.slice(1, 4).every((a) => a.signal.aborted));
  await client.close();
});

test("connectTimeout closes a channel that the connector delivers after the deadline", async () => {
  let late: FakePeer | undefined;
  let deliver!: () => void;
  const { client, clock } = rig({
    connectTimeout: 1000,
    reconnect: false,
    connector: (url) =>
      new Promise<ClientChannel>((resolve) => {
        deliver = () => resolve((late = new FakePeer(url, {})).channel);
      }),
  });
  const connected = rejection(client.connect());
  await clock.advance(1000);
  assert.equal((await connected).code, "WS_CONNECT_TIMEOUT");
  deliver();
  await clock.flush();
  assert.equal(late!.isClosed, true, "the late connection was closed, not leaked");
  assert.equal(client.state.type, "closed");
  await client.close();
});

test("connectTimeout also bounds afterConnect", async () => {
  const { client, server, clock } = rig({
    connectTimeout: 1000,
    reconnect: false,
    afterConnect: () => new Promise(() => {}),
  });
  const connected = rejection(client.connect());
  await clock.advance(1000);
  assert.equal((await connected).code, "WS_CONNECT_TIMEOUT");
  assert.equal(server.lastPeer!.isClosed, true);
  await client.close();
});

test("afterConnect runs before queued and user messages on every connection, through interceptors", async () => {
  let runs = 0;
  const { client, server, clock } = rig({
    random: () => 0,
    interceptors: [{ send: (m) => `${m}.` }],
    afterConnect: async (c) => {
      runs++;
      await c.sendJson({ auth: runs });
      void client.send("user during hook");
    },
  });
  const early = client.send("queued early");
  await client.connect();
  await early;
  await clock.flush();
  assert.deepEqual(server.lastPeer!.received, [
    '{"auth":1}.',
    "queued early.",
    "user during hook.",
  ]);
  server.lastPeer!.drop();
  await clock.flush();
  void client.send("while down");
  await clock.runNext();
  await clock.flush();
  assert.deepEqual(server.lastPeer!.received, ['{"auth":2}.', "while down.", "user during hook."]);
  assert.equal(client.metrics().messagesSent, 6, "hook sends are counted");
  await client.close();
});

test("a failing afterConnect closes that connection and counts as a failed attempt", async () => {
  let runs = 0;
  const { client, server, clock, states } = rig({
    random: () => 0,
    afterConnect: () => {
      if (++runs === 1) throw new Error("auth rejected");
    },
  });
  const queued = client.send("payload");
  const connected = client.connect();
  await clock.flush();
  assert.equal(server.peers[0].isClosed, true);
  assert.deepEqual(server.peers[0].received, [], "nothing queued went to the failed connection");
  const failed = states.find((s) => s.type === "closed") as ClosedState;
  assert.equal((failed.error as { code?: string }).code, "WS_AFTER_CONNECT_FAILED");
  assert.equal(states.filter((s) => s.type === "open").length, 0, "never reported open");
  await clock.runNext();
  await connected;
  await queued;
  assert.deepEqual(server.peers[1].received, ["payload"]);
  assert.equal(client.metrics().failedAttempts, 1);
  await client.close();
});

test("a server close during afterConnect is judged by its close code", async () => {
  const { client, server, clock } = rig({
    afterConnect: () => new Promise(() => {}),
  });
  server.onConnection((peer) => setTimeout(() => peer.close(4003, "bad token"), 0));
  const connected = rejection(client.connect());
  await clock.flush();
  await clock.flush();
  assert.equal((await connected).code, "WS_AFTER_CONNECT_FAILED");
  assert.equal((client.state as ClosedState).willReconnect, false, "4xxx: stop");
  assert.equal((client.state as ClosedState).code, 4003);
  assert.equal(server.attempts.length, 1);
  await client.close();
});
