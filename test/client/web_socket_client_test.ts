import { test } from "node:test";
import assert from "node:assert/strict";
import { WebSocketClient } from "../../src/client/web_socket_client.ts";
import type { ClientState, ClosedState } from "../../src/client/state.ts";
import { DROP } from "../../src/client/interceptors.ts";
import { FakeClock } from "../../src/testing/fake_clock.ts";
import { FakeTransport } from "../../src/testing/fake_transport.ts";
import { assertNoDuplicateStates, rejection, rig } from "./helpers.ts";

test("WebSocketClient goes connecting → open and reports url, attempt and protocol", async () => {
  const { client, states, server } = rig({ protocols: ["chat"] }, { protocol: "chat" });
  await client.connect();
  assert.deepEqual(states, [
    { type: "connecting", url: "ws://fake/", attempt: 1 },
    { type: "open", url: "ws://fake/", protocol: "chat", extensions: "" },
  ]);
  assert.deepEqual(server.attempts[0].protocols, ["chat"]);
  assert.equal(client.state.type, "open");
  await client.close();
});

test("WebSocketClient starts closed, emits nothing before connect(), and never repeats a state", async () => {
  const { client, states, server, clock } = rig();
  assert.deepEqual(client.state, { type: "closed", code: 1005, reason: "", willReconnect: false });
  assert.equal(states.length, 0);
  await client.connect();
  await client.connect(); // same URL while open: no new states, no new attempt
  server.lastPeer!.drop();
  await clock.runNext();
  await client.disconnect();
  await client.disconnect(); // idle: nothing to emit
  assertNoDuplicateStates(states);
  assert.equal(server.attempts.length, 2);
  assert.equal(states.at(-1)!.type, "closed");
  await client.close();
});

test("WebSocketClient.stateChanges streams later changes and ends after close()", async () => {
  const { client } = rig();
  const seen: ClientState["type"][] = [];
  const reading = (async () => {
    for await (const state of client.stateChanges) seen.push(state.type);
  })();
  await client.connect();
  await client.close();
  await reading;
  assert.deepEqual(seen, ["connecting", "open", "disconnecting", "closed"]);
  const after = await client.stateChanges.getReader().read();
  assert.equal(after.done, true);
});

test("WebSocketClient reconnects after a drop with a full-jitter delay and keeps one stream of messages", async () => {
  const { client, server, clock, states } = rig({
    reconnect: { base: 1000, max: 8000 },
    random: () => 0.5,
  });
  const reader = client.stream.getReader();
  await client.connect();
  server.lastPeer!.send("one");
  assert.equal((await reader.read()).value, "one");
  server.lastPeer!.drop();
  await clock.flush();
  const closed = client.state as ClosedState;
  assert.equal(closed.type, "closed");
  assert.equal(closed.code, 1006);
  assert.equal(closed.willReconnect, true);
  assert.equal(closed.nextDelay, 500, "attempt 0 window is [0, base]");
  await clock.advance(499);
  assert.equal(server.attempts.length, 1);
  await clock.advance(1);
  assert.equal(client.state.type, "open");
  server.lastPeer!.send("two");
  assert.equal((await reader.read()).value, "two");
  assert.deepEqual(states.map((s) => s.type), [
    "connecting",
    "open",
    "closed",
    "connecting",
    "open",
  ]);
  await client.close();
});

test("WebSocketClient backoff grows across failed attempts and is capped", async () => {
  const { client, server, clock, states } = rig({
    reconnect: { base: 100, max: 1000 },
    random: () => 0.999999,
  });
  server.down();
  void client.connect();
  await clock.flush();
  for (let i = 0; i < 6; i++) await clock.runNext();
  const delays = states.filter((s): s is ClosedState => s.type === "closed").map((s) =>
    s.nextDelay
  );
  // The first retry uses the first window; each further failure doubles it.
  assert.deepEqual(delays.slice(0, 6), [100, 200, 400, 800, 1000, 1000]);
  const attempts = states.filter((s) => s.type === "connecting").map((s) =>
    (s as { attempt: number }).attempt
  );
  assert.deepEqual(attempts.slice(0, 4), [1, 2, 3, 4]);
  await client.close();
});

test("WebSocketClient resets the attempt counter only after a connection stayed open for stableAfter", async () => {
  const { client, server, clock, states } = rig({
    reconnect: { base: 100, max: 100_000, stableAfter: 5000 },
    random: () => 0.999999,
  });
  // N15: a server that accepts and drops right away keeps the backoff growing.
  const dropSoon = server.onConnection((peer) => {
    if (server.peers.length <= 4) setTimeout(() => peer.drop(), 0);
  });
  void dropSoon;
  await client.connect();
  for (let i = 0; i < 4; i++) {
    await clock.flush();
    await clock.runNext();
  }
  await clock.flush();
  const delays = () =>
    states.filter((s): s is ClosedState => s.type === "closed").map((s) => s.nextDelay);
  assert.deepEqual(delays(), [100, 200, 400, 800]);
  // The fifth connection stays: after 5 s it counts as stable, the next drop starts over.
  assert.equal(client.state.type, "open");
  await clock.advance(5000);
  server.lastPeer!.drop();
  await clock.flush();
  assert.equal(delays().at(-1), 100);
  await client.close();
});

test("WebSocketClient does not reconnect after HTTP 403 and connect() rejects with the status", async () => {
  const { client, server, clock, states } = rig();
  server.refuseNext(403);
  const error = await rejection(client.connect()) as Error & { status?: number };
  assert.equal(error.status, 403);
  await clock.advance(60_000);
  assert.equal(server.attempts.length, 1);
  const last = states.at(-1) as ClosedState;
  assert.equal(last.willReconnect, false);
  assert.equal(client.metrics().lastError?.code, "WS_HANDSHAKE_BAD_STATUS");
  await client.close();
});

test("WebSocketClient retries HTTP 503 with the longer floor, then connects", async () => {
  const { client, server, clock, states } = rig({ random: () => 0 });
  server.refuseNext(503);
  const connected = client.connect();
  await clock.flush();
  assert.equal((states.at(-1) as ClosedState).nextDelay, 5000);
  await clock.advance(5000);
  await connected;
  assert.equal(client.state.type, "open");
  await client.close();
});

test("WebSocketClient stops after a 4xxx close from the server and rejects queued sends", async () => {
  const { client, server, clock } = rig();
  await client.connect();
  server.lastPeer!.close(4001, "banned");
  await clock.flush();
  assert.deepEqual(client.state, {
    type: "closed",
    code: 4001,
    reason: "banned",
    willReconnect: false,
  });
  const late = rejection(client.send("late"));
  await clock.advance(60_000);
  assert.equal(server.attempts.length, 1);
  assert.equal((await late).code, "WS_MESSAGE_EXPIRED", "queued while idle, expires by TTL");
  await client.close();
});

test("WebSocketClient honours 1013 Try Again Later with a longer floor", async () => {
  const { client, server, clock } = rig({ random: () => 0 });
  await client.connect();
  server.lastPeer!.close(1013, "busy");
  await clock.flush();
  const state = client.state as ClosedState;
  assert.equal(state.willReconnect, true);
  assert.equal(state.nextDelay, 5000);
  await client.close();
});

test("WebSocketClient gives up after maxAttempts and rejects connect() and queued sends", async () => {
  const { client, server, clock } = rig({ reconnect: { maxAttempts: 3 } });
  server.down();
  const connecting = rejection(client.connect());
  const queued = rejection(client.send("x"));
  await clock.runAll();
  assert.equal(server.attempts.length, 3);
  assert.equal((await connecting).code, "WS_CONNECT_REFUSED");
  assert.equal((await queued).code, "WS_RECONNECT_STOPPED");
  assert.equal((client.state as ClosedState).willReconnect, false);
  assert.equal(client.metrics().failedAttempts, 3);
  await client.close();
});

test("WebSocketClient with reconnect: false stays closed after a drop", async () => {
  const { client, server, clock } = rig({ reconnect: false });
  await client.connect();
  server.lastPeer!.drop();
  await clock.advance(60_000);
  assert.equal(server.attempts.length, 1);
  assert.equal((client.state as ClosedState).willReconnect, false);
  await client.close();
});

test("WebSocketClient accepts a policy function that sees code, reason and attempt", async () => {
  const seen: string[] = [];
  const { client, server, clock } = rig({
    reconnect: {
      policy: (
        info,
      ) => (seen.push(`${info.code}:${info.reason}:${info.attempt}:${info.wasOpen}`), false),
    },
  });
  await client.connect();
  server.lastPeer!.close(1001, "restart");
  await clock.flush();
  assert.deepEqual(seen, ["1001:restart:1:true"]);
  assert.equal((client.state as ClosedState).willReconnect, false);
  await client.close();
});

test("WebSocketClient keeps at most one connection attempt in flight (concurrent connect())", async () => {
  const { client, server } = rig();
  await Promise.all([client.connect(), client.connect(), client.connect()]);
  assert.equal(server.attempts.length, 1);
  await client.close();
});

test("WebSocketClient serialises concurrent connect/disconnect/connect", async () => {
  const { client, server, clock, states } = rig();
  const first = client.connect().then(() => "open", (e) => e.code);
  const stop = client.disconnect();
  const second = client.connect();
  await stop;
  await second;
  await clock.flush();
  assert.equal(client.state.type, "open");
  assert.ok(["open", "WS_CONNECT_CANCELLED"].includes(await first));
  const live = server.peers.filter((p) => !p.isClosed);
  assert.equal(live.length, 1, "exactly one live connection");
  assertNoDuplicateStates(states);
  await client.close();
});

test("WebSocketClient.disconnect() cancels a pending connect and reconnect timers; the client is reusable", async () => {
  const { client, server, clock } = rig();
  server.down();
  const pending = rejection(client.connect());
  await clock.flush();
  assert.ok(clock.pending > 0);
  await client.disconnect(1000, "bye");
  assert.equal((await pending).code, "WS_CONNECT_CANCELLED");
  assert.deepEqual(client.state, {
    type: "closed",
    code: 1000,
    reason: "bye",
    willReconnect: false,
  });
  assert.equal(clock.pending, 0, "no timer left");
  server.up();
  await client.connect();
  assert.equal(client.state.type, "open");
  await client.close();
});

test("WebSocketClient.disconnect() runs the close handshake with the given code and does not reconnect", async () => {
  const { client, server, clock, states } = rig();
  await client.connect();
  await client.disconnect(4000, "later");
  const peer = server.lastPeer!;
  assert.deepEqual(await peer.closed, { code: 4000, reason: "later", wasClean: true });
  assert.deepEqual(states.slice(-2), [
    { type: "disconnecting", code: 4000, reason: "later" },
    { type: "closed", code: 4000, reason: "later", willReconnect: false },
  ]);
  await clock.advance(60_000);
  assert.equal(server.attempts.length, 1);
  await client.close();
});

test("WebSocketClient.disconnect() does not hang on a peer that never answers the close", async () => {
  const { client, server, clock } = rig({ closeTimeout: 2000 }, { echoClose: false });
  await client.connect();
  const done = client.disconnect();
  await clock.advance(2000);
  await done;
  assert.equal(client.state.type, "closed");
  assert.equal(server.lastPeer!.isClosed, false, "the fake peer only saw the close frame");
  await client.close();
});

test("WebSocketClient.connect(newUrl) closes the old connection (1001) and opens the new one", async () => {
  const { client, server, states } = rig({}, {}, "ws://a/");
  await client.connect();
  await client.connect("ws://b/");
  assert.equal(server.peers[0].isClosed, true);
  assert.equal(server.peers[1].url, "ws://b/");
  assert.deepEqual(states.map((s) => s.type), [
    "connecting",
    "open",
    "disconnecting",
    "closed",
    "connecting",
    "open",
  ]);
  assert.deepEqual(states[2], { type: "disconnecting", code: 1001, reason: "switching URL" });
  await client.close();
});

test("WebSocketClient calls a URL function for every attempt", async () => {
  const urls = ["ws://primary/", "ws://backup/"];
  let n = 0;
  const clock = new FakeClock();
  const server = new FakeTransport();
  server.failNext();
  const client = new WebSocketClient(() => urls[n++ % 2], {
    connector: server.connector,
    clock,
    heartbeat: false,
    random: () => 0,
  });
  const connected = client.connect();
  await clock.runNext();
  await connected;
  assert.deepEqual(server.attempts.map((a) => a.url), urls);
  assert.equal(client.metrics().url, "ws://backup/");
  await client.close();
});

test("WebSocketClient.close() is final: later calls reject with WS_CLIENT_CLOSED and streams end", async () => {
  const { client, server, clock } = rig();
  const stream = client.stream;
  await client.connect();
  await client.close();
  assert.equal(client.isClosed, true);
  assert.equal((await server.lastPeer!.closed).code, 1000);
  for (
    const call of [
      () => client.connect(),
      () => client.send("x"),
      () => client.disconnect(),
      () => client.close(),
    ]
  ) {
    assert.equal((await rejection(call())).code, "WS_CLIENT_CLOSED");
  }
  assert.equal((await stream.getReader().read()).done, true);
  assert.equal(clock.pending, 0);
});

test("WebSocketClient.close() while connecting aborts the attempt and rejects connect()", async () => {
  const { client, server, clock } = rig();
  server.hangNext();
  const pending = rejection(client.connect());
  await clock.flush();
  await client.close();
  assert.equal((await pending).code, "WS_CLIENT_CLOSED");
  assert.equal(server.attempts[0].signal.aborted, true);
  assert.equal(clock.pending, 0);
});

test("WebSocketClient's signal aborts everything: connection, timers, pending sends", async () => {
  const controller = new AbortController();
  const { client, server, clock } = rig({ signal: controller.signal });
  await client.connect();
  server.lastPeer!.drop();
  await clock.flush();
  const queued = rejection(client.send("x"));
  controller.abort();
  assert.equal((await queued).code, "WS_ABORTED");
  await clock.flush();
  assert.equal(client.isClosed, true);
  assert.equal(client.state.type, "closed");
  assert.equal(clock.pending, 0);
  assert.equal((await rejection(client.connect())).code, "WS_ABORTED");
});

test("WebSocketClient with an already aborted signal never connects", async () => {
  const { client, server } = rig({ signal: AbortSignal.abort() });
  assert.equal((await rejection(client.connect())).code, "WS_ABORTED");
  assert.equal(server.attempts.length, 0);
});

test("WebSocketClient queues while offline and flushes once, in order, after reconnecting", async () => {
  const { client, server, clock } = rig({ random: () => 0 });
  await client.connect();
  const first = server.lastPeer!;
  await client.send("before");
  first.drop();
  await clock.flush();
  const sends = ["q1", "q2", "q3"].map((m) => client.send(m));
  let settled = 0;
  for (const s of sends) s.then(() => settled++);
  await clock.flush();
  assert.equal(settled, 0, "not resolved before a connection took them");
  assert.equal(client.metrics().queuedMessages, 3);
  await clock.runNext();
  await Promise.all(sends);
  assert.deepEqual(first.received, ["before"]);
  assert.deepEqual(server.lastPeer!.received, ["q1", "q2", "q3"]);
  await client.send("after");
  assert.deepEqual(server.lastPeer!.received, ["q1", "q2", "q3", "after"]);
  await client.close();
});

test("WebSocketClient sends queued before the first connect() once it opens", async () => {
  const { client, server } = rig();
  const sent = client.send("early");
  await client.connect();
  await sent;
  assert.deepEqual(server.lastPeer!.received, ["early"]);
  await client.close();
});

test("WebSocketClient with queue: false rejects sends while not open", async () => {
  const { client } = rig({ queue: false });
  assert.equal((await rejection(client.send("x"))).code, "WS_NOT_CONNECTED");
  await client.close();
});

test("WebSocketClient.disconnect() rejects queued messages with WS_MESSAGE_DROPPED", async () => {
  const { client, server, clock } = rig();
  server.down();
  void client.connect();
  const queued = rejection(client.send("x"));
  await clock.flush();
  await client.disconnect();
  assert.equal((await queued).code, "WS_MESSAGE_DROPPED");
  await client.close();
});

test("WebSocketClient overflow policy applies to its offline queue", async () => {
  const { client } = rig({ queue: { maxMessages: 2, overflow: "drop-oldest" } });
  const a = rejection(client.send("a"));
  void client.send("b");
  void client.send("c");
  assert.equal((await a).code, "WS_MESSAGE_DROPPED");
  assert.equal(client.metrics().queuedMessages, 2);
  assert.equal(client.metrics().droppedMessages, 1);
  await client.close();
});

test("WebSocketClient runs send interceptors in order and receive interceptors in reverse", async () => {
  const log: string[] = [];
  const { client, server } = rig({
    interceptors: [
      { send: (m) => `${m}|a`, receive: (m) => (log.push(`a:${m}`), `${m}|a`) },
      { send: (m) => Promise.resolve(`${m}|b`) },
      { receive: (m) => (log.push(`c:${m}`), m === "drop" ? undefined : `${m}|c`) },
    ],
  });
  const received: unknown[] = [];
  client.on("message", (m) => received.push(m));
  await client.connect();
  await client.send("x");
  assert.deepEqual(server.lastPeer!.received, ["x|a|b"]);
  server.lastPeer!.send("y");
  await new Promise((r) => setTimeout(r, 0));
  assert.deepEqual(received, ["y|c|a"]);
  assert.deepEqual(log, ["c:y", "a:y|c"]);
  await client.close();
});

test("WebSocketClient keeps send order across slow async interceptors", async () => {
  const { client, server } = rig({
    interceptors: [{
      send: async (m) => {
        await new Promise((r) => setTimeout(r, m === "slow" ? 10 : 0));
        return m;
      },
    }],
  });
  await client.connect();
  await Promise.all([client.send("slow"), client.send("fast")]);
  assert.deepEqual(server.lastPeer!.received, ["slow", "fast"]);
  await client.close();
});

test("WebSocketClient: an interceptor that drops a message resolves send() without sending", async () => {
  const { client, server } = rig({ interceptors: [{ send: (m) => (m === "no" ? DROP : m) }] });
  await client.connect();
  await client.send("no");
  await client.send("yes");
  assert.deepEqual(server.lastPeer!.received, ["yes"]);
  assert.equal(client.metrics().messagesSent, 1);
  await client.close();
});

test("WebSocketClient sends ArrayBuffer and views as binary", async () => {
  const { client, server } = rig();
  await client.connect();
  await client.send(new Uint16Array([0x0201]).buffer);
  await client.send(new DataView(new Uint8Array([9, 8, 7]).buffer, 1, 2));
  assert.deepEqual(server.lastPeer!.received, [new Uint8Array([1, 2]), new Uint8Array([8, 7])]);
  await client.close();
});

test("WebSocketClient.send() throws a TypeError naming a value that is not a message, open or not", async () => {
  const { client, server } = rig();
  const garbage: unknown[] = [42, { a: 1 }, null, undefined, new Blob(["x"])];
  if (typeof SharedArrayBuffer !== "undefined") {
    garbage.push(new Uint8Array(new SharedArrayBuffer(2)));
  }
  const expect = (value: unknown) =>
    assert.throws(
      () => client.send(value as string),
      (error: unknown) =>
        error instanceof TypeError &&
        error.message.startsWith(
          "client.send expects a string, ArrayBuffer or ArrayBufferView; got ",
        ),
      String(value),
    );
  for (const value of garbage) expect(value); // idle: not even queued
  assert.equal(client.metrics().queuedMessages, 0);
  await client.connect();
  for (const value of garbage) expect(value);
  assert.throws(() => client.send(42 as unknown as string), /got number 42$/);
  await client.send("fine");
  assert.deepEqual(server.lastPeer!.received, ["fine"]);
  await client.close();
  // Closed: the argument is still checked first.
  assert.throws(() => client.send(null as unknown as string), /got null$/);
});

test("WebSocketClient.disconnect()/close() throw for invalid close codes and long reasons at the call", async () => {
  const { client, server } = rig();
  await client.connect();
  for (const code of [999, 1001, 1006, 2999, 5000, 1000.5]) {
    assert.throws(() => client.disconnect(code), RangeError, `code ${code}`);
  }
  assert.throws(() => client.close(1000, "é".repeat(62)), RangeError);
  assert.throws(() => client.close("1000" as unknown as number), TypeError);
  assert.equal(client.state.type, "open", "nothing happened");
  assert.equal(client.isClosed, false);
  await client.close(4000, "é".repeat(61));
  assert.deepEqual(await server.lastPeer!.closed, {
    code: 4000,
    reason: "é".repeat(61),
    wasClean: true,
  });
});

test("WebSocketClient schedules exactly one reconnect when a failure both errors the stream and closes (N16)", async () => {
  const { client, server, clock, states } = rig({ random: () => 0.5 });
  await client.connect();
  server.lastPeer!.drop(); // errors the stream and resolves `closed`
  await clock.flush();
  assert.equal(clock.pending, 1, "one backoff timer");
  await clock.runAll(10);
  assert.equal(server.attempts.length, 2);
  assert.deepEqual(states.map((s) => s.type), [
    "connecting",
    "open",
    "closed",
    "connecting",
    "open",
  ]);
  await client.close();
});

test("WebSocketClient.close() rejects queued sends with WS_CLIENT_CLOSED", async () => {
  const { client, server, clock } = rig();
  server.down();
  void client.connect();
  const queued = rejection(client.send("never"));
  await clock.flush();
  await client.close();
  assert.equal((await queued).code, "WS_CLIENT_CLOSED");
  assert.equal(client.metrics().queuedMessages, 0);
});
