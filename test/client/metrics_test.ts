import { test } from "node:test";
import assert from "node:assert/strict";
import { rig } from "./helpers.ts";

test("metrics count UTF-8 bytes, not UTF-16 code units, in both directions", async () => {
  const { client, server, clock } = rig();
  await client.connect();
  await client.send("héllo €"); // 10 bytes, 7 code units
  await client.send("😀"); // 4 bytes, 2 code units
  await client.send(new Uint8Array(3));
  server.lastPeer!.send("ü"); // 2 bytes
  server.lastPeer!.send(new Uint8Array(5));
  await clock.flush();
  const m = client.metrics();
  assert.equal(m.messagesSent, 3);
  assert.equal(m.bytesSent, 10 + 4 + 3);
  assert.equal(m.messagesReceived, 2);
  assert.equal(m.bytesReceived, 2 + 5);
  await client.close();
});

test("metrics count attempts, connects, reconnects, failures and the disconnect", async () => {
  const { client, server, clock } = rig({ random: () => 0.5 });
  server.failNext(2);
  const connected = client.connect();
  await clock.runAll(10);
  await connected;
  server.lastPeer!.close(1012, "restart");
  await clock.flush();
  const closedAt = clock.now();
  await clock.runNext();
  const m = client.metrics();
  assert.equal(m.attempts, 4);
  assert.equal(m.failedAttempts, 2);
  assert.equal(m.connects, 2);
  assert.equal(m.reconnects, 1);
  assert.equal(m.lastDisconnectCode, 1012);
  assert.equal(m.lastDisconnectReason, "restart");
  assert.equal(m.lastDisconnectedAt, closedAt);
  assert.equal(m.lastConnectedAt, clock.now());
  assert.equal(m.state, "open");
  assert.equal(m.lastError?.code, "WS_CONNECT_REFUSED");
  await client.close();
});

test("metrics report the state, time in state, next reconnect and queue depth", async () => {
  const { client, server, clock } = rig({ random: () => 0.5, reconnect: { base: 2000 } });
  await client.connect();
  server.lastPeer!.drop();
  await clock.flush();
  void client.send("ab€").catch(() => {});
  await clock.advance(300);
  const m = client.metrics();
  assert.equal(m.state, "closed");
  assert.equal(m.timeInState, 300);
  assert.equal(m.nextReconnectAt, m.stateSince + 1000);
  assert.equal(m.queuedMessages, 1);
  assert.equal(m.queuedBytes, 5);
  assert.equal(m.attemptStreak, 1);
  await client.close();
});

test("metrics() is a plain JSON-able snapshot", async () => {
  const { client } = rig();
  await client.connect();
  const m = client.metrics();
  assert.deepEqual(JSON.parse(JSON.stringify(m)), m);
  assert.equal(Object.getPrototypeOf(m), Object.prototype);
  await client.send("x");
  assert.equal(m.messagesSent, 0, "a snapshot does not change afterwards");
  await client.close();
});
