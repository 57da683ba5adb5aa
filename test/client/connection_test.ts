import { test } from "node:test";
import assert from "node:assert/strict";
import type { ClosedState } from "../../src/client/state.ts";
import { rig } from "./helpers.ts";

test("heartbeat: a missed pong closes the connection as 1006 within interval + timeout and reconnects", async () => {
  const { client, server, clock } = rig(
    { heartbeat: { interval: 1000, timeout: 500 }, random: () => 0.5 },
    { answerPings: false },
  );
  await client.connect();
  const dead = server.lastPeer!;
  await clock.advance(1499);
  assert.equal(client.state.type, "open");
  await clock.advance(1);
  const state = client.state as unknown as ClosedState;
  assert.equal(state.type, "closed");
  assert.equal(state.code, 1006);
  assert.equal(state.reason, "heartbeat timeout");
  assert.equal((state.error as { code?: string }).code, "WS_HEARTBEAT_TIMEOUT");
  assert.equal(state.willReconnect, true);
  assert.equal(dead.isClosed, true, "the dead connection was closed (1011 on the wire)");
  assert.equal(client.metrics().heartbeatTimeouts, 1);
  server.channelOptions = { answerPings: true };
  await clock.runNext();
  assert.equal(client.state.type, "open");
  assert.notEqual(server.lastPeer, dead);
  await client.close();
});

test("heartbeat: answered pings record the RTT in the metrics and keep the connection", async () => {
  const { client, server, clock } = rig({ heartbeat: { interval: 1000, timeout: 500 } }, {
    pingRtt: 7,
  });
  await client.connect();
  await clock.advance(3000);
  const metrics = client.metrics();
  assert.equal(client.state.type, "open");
  assert.equal(server.lastPeer!.pings, 3);
  assert.equal(metrics.rttLast, 7);
  assert.equal(metrics.rttAverage, 7);
  assert.equal(metrics.rttSamples, 3);
  await client.close();
});

test("heartbeat: a server that stops answering mid-connection is detected", async () => {
  const { client, server, clock } = rig({
    heartbeat: { interval: 1000, timeout: 500 },
    reconnect: false,
  });
  await client.connect();
  await clock.advance(5000);
  assert.equal(client.state.type, "open");
  server.lastPeer!.answerPings = false;
  await clock.advance(1500);
  assert.equal(client.state.type, "closed");
  assert.equal((client.state as unknown as ClosedState).reason, "heartbeat timeout");
  await client.close();
});

test("heartbeat: browser-like transports fall back to application ping messages", async () => {
  const { client, server, clock } = rig({
    heartbeat: { interval: 1000, timeout: 500, pingMessage: "ping", pongMessage: "pong" },
  }, { pingSupported: false });
  server.onConnection((peer) => peer.onMessage((m) => m === "ping" && peer.send("pong")));
  const delivered: unknown[] = [];
  client.on("message", (m) => delivered.push(m));
  await client.connect();
  await clock.advance(3000);
  assert.equal(client.state.type, "open");
  assert.deepEqual(server.lastPeer!.received, ["ping", "ping", "ping"]);
  assert.deepEqual(delivered, [], "pongs are consumed by the heartbeat");
  assert.equal(client.metrics().rttSamples, 3);
  assert.equal(client.metrics().messagesReceived, 0, "heartbeat traffic is not user traffic");
  await client.close();
});

test("heartbeat: without a ping message on a ping-less transport it reports an error and stays open", async () => {
  const { client, clock } = rig({ heartbeat: { interval: 1000, timeout: 500 } }, {
    pingSupported: false,
  });
  const errors: string[] = [];
  client.on("error", (e) => errors.push((e as { code?: string }).code ?? e.name));
  await client.connect();
  await clock.advance(10_000);
  assert.equal(client.state.type, "open");
  assert.deepEqual(errors, ["WS_HEARTBEAT_UNSUPPORTED"]);
  await client.close();
});

test("a server close is reported with its code and reason", async () => {
  const { client, server, clock } = rig({ reconnect: false });
  await client.connect();
  server.lastPeer!.close(1001, "going away");
  await clock.flush();
  assert.deepEqual(client.state, {
    type: "closed",
    code: 1001,
    reason: "going away",
    willReconnect: false,
  });
  const metrics = client.metrics();
  assert.equal(metrics.lastDisconnectCode, 1001);
  assert.equal(metrics.lastDisconnectReason, "going away");
  await client.close();
});

test("messages still in flight from a dropped connection are delivered before the next connection's", async () => {
  const { client, server, clock } = rig({ random: () => 0 });
  const reader = client.stream.getReader();
  await client.connect();
  const first = server.lastPeer!;
  first.send("a1");
  first.send("a2");
  first.close(1012, "restart");
  await clock.runNext();
  server.lastPeer!.send("b1");
  const got = [];
  for (let i = 0; i < 3; i++) got.push((await reader.read()).value);
  assert.deepEqual(got, ["a1", "a2", "b1"]);
  await client.close();
});

test("closeQuietly sends 1001 on the wire over an engine channel and falls back to 1000 where only sink.close exists", async () => {
  const { closeQuietly } = await import("../../src/client/connection.ts");
  const { createChannelPair } = await import("../../src/testing/channel_pair.ts");
  const [client, server] = createChannelPair();
  await Promise.all([client.ready, server.ready]);
  await closeQuietly(client, 1001, "switching URL");
  const seen = await server.closed;
  assert.equal(seen.code, 1001);
  assert.equal(seen.reason, "switching URL");

  const [plainClient, plainServer] = createChannelPair();
  await Promise.all([plainClient.ready, plainServer.ready]);
  const sinkOnly = {
    ready: plainClient.ready,
    closed: plainClient.closed,
    sink: plainClient.sink,
  } as unknown as Parameters<typeof closeQuietly>[0];
  await closeQuietly(sinkOnly, 1001, "switching URL");
  assert.equal((await plainServer.closed).code, 1000);
});
