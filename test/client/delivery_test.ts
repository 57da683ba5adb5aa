import { test } from "node:test";
import assert from "node:assert/strict";
import { UnconfirmedWindow } from "../../src/client/delivery.ts";
import type { UnconfirmedMessages } from "../../src/client/delivery.ts";
import type { WebSocketClient } from "../../src/client/web_socket_client.ts";
import { rig } from "./helpers.ts";
import { seededRandom } from "../../src/client/backoff.ts";

function record(client: WebSocketClient): UnconfirmedMessages[] {
  const events: UnconfirmedMessages[] = [];
  client.on("unconfirmed", (event) => events.push(event));
  return events;
}

const item = (message: string, seq: number): [string, number, number] => [
  message,
  seq,
  message.length,
];

test("UnconfirmedWindow confirms up to a mark and hands out the rest in write order", () => {
  const unconfirmed = new UnconfirmedWindow(1024);
  unconfirmed.add(...item("a", 0));
  unconfirmed.add(...item("b", 1));
  const mark = unconfirmed.mark;
  unconfirmed.add(...item("c", 2));
  assert.equal(unconfirmed.pending, 3);
  unconfirmed.confirm(mark);
  unconfirmed.confirm(1); // an older answer arriving late changes nothing
  assert.equal(unconfirmed.pending, 1);
  const taken = unconfirmed.take();
  assert.deepEqual(taken.messages.map((m) => m.message), ["c"]);
  assert.equal(taken.omitted, 0);
  assert.equal(unconfirmed.pending, 0);
  assert.deepEqual(unconfirmed.take(), { messages: [], omitted: 0 });
});

test("UnconfirmedWindow keeps at most maxBytes and counts the older unconfirmed messages as omitted", () => {
  const unconfirmed = new UnconfirmedWindow(3);
  for (const [i, m] of ["aa", "bb", "c", "d"].entries()) unconfirmed.add(...item(m, i));
  // "aa" and "bb" no longer fit: counted, not kept.
  assert.equal(unconfirmed.pending, 4);
  unconfirmed.confirm(1); // confirms "aa", which was omitted
  const taken = unconfirmed.take();
  assert.deepEqual(taken.messages.map((m) => m.message), ["c", "d"]);
  assert.equal(taken.omitted, 1, "only 'bb' is unconfirmed and not kept");
  const counting = new UnconfirmedWindow(0);
  counting.add(...item("x", 0));
  assert.deepEqual(counting.take(), { messages: [], omitted: 1 });
});

test("UnconfirmedWindow matches a plain list model through growth, wrap-around, confirms and takes", () => {
  // The window keeps its messages in a ring; the model keeps every write in
  // an array and applies the rules directly: of the unconfirmed writes, the
  // newest ones whose sizes add up to at most maxBytes are kept.
  const random = seededRandom(7);
  for (const maxBytes of [0, 5, 40, 1000]) {
    const window = new UnconfirmedWindow(maxBytes);
    let writes: { message: string; seq: number; size: number }[] = [];
    let confirmed = 0;
    let taken = 0;
    let keptFrom = 0; // writes before this one were evicted and can never be kept again
    for (let step = 0; step < 3000; step++) {
      const dice = random();
      if (dice < 0.8) {
        const size = Math.floor(random() * 8);
        const seq = taken + writes.length;
        writes.push({ message: `m${seq}`.padEnd(size, "."), seq, size });
        window.add(writes.at(-1)!.message, seq, size);
        let bytes = 0;
        let from = writes.length;
        while (from > Math.max(keptFrom, confirmed) && bytes + writes[from - 1].size <= maxBytes) {
          bytes += writes[--from].size;
        }
        keptFrom = from;
      } else if (dice < 0.95) {
        const mark = Math.floor(random() * (writes.length + 1));
        window.confirm(taken + mark);
        confirmed = Math.max(confirmed, Math.min(mark, writes.length));
        keptFrom = Math.max(keptFrom, confirmed);
      } else {
        const kept = writes.slice(Math.max(keptFrom, confirmed));
        const result = window.take();
        assert.deepEqual(result.messages, kept, `maxBytes ${maxBytes}, step ${step}`);
        assert.equal(result.omitted, writes.length - confirmed - kept.length);
        taken += writes.length;
        writes = [];
        confirmed = 0;
        keptFrom = 0;
      }
      assert.equal(window.pending, writes.length - confirmed);
      assert.equal(window.mark, taken + writes.length);
    }
  }
});

test("unconfirmed: a connection that dies right after N sends reports exactly those N, in order", async () => {
  const { client, server, clock } = rig({ reconnect: false });
  const events = record(client);
  await client.connect();
  const peer = server.lastPeer!;
  peer.loseMessages = true; // the server crashes with these still in flight
  await Promise.all(["m1", "m2", "m3"].map((m) => client.send(m)));
  assert.equal(client.metrics().awaitingConfirmation, 3);
  peer.drop();
  await clock.flush();
  assert.deepEqual(peer.received, []);
  assert.deepEqual(events, [
    { messages: ["m1", "m2", "m3"], omitted: 0, requeued: false, url: "ws://fake/", code: 1006 },
  ]);
  const metrics = client.metrics();
  assert.equal(metrics.messagesSent, 3);
  assert.equal(metrics.unconfirmedMessages, 3);
  assert.equal(metrics.resentMessages, 0);
  assert.equal(metrics.awaitingConfirmation, 0);
  await client.close();
});

test("unconfirmed: only the sends after the last answered heartbeat ping are reported", async () => {
  const { client, server, clock } = rig({
    reconnect: false,
    heartbeat: { interval: 1000, timeout: 5000 },
  });
  const events = record(client);
  await client.connect();
  const peer = server.lastPeer!;
  await client.send("a");
  await client.send("b");
  await clock.advance(1000); // ping, answered: "a" and "b" were read by the peer
  assert.equal(peer.pings, 1);
  assert.equal(client.metrics().awaitingConfirmation, 0);
  peer.loseMessages = true;
  await client.send("c");
  await client.send("d");
  peer.drop();
  await clock.flush();
  assert.deepEqual(peer.received, ["a", "b"]);
  assert.deepEqual(peer.lost, ["c", "d"]);
  assert.equal(events.length, 1);
  assert.deepEqual(events[0].messages, ["c", "d"]);
  assert.equal(client.metrics().unconfirmedMessages, 2);
  await client.close();
});

test("unconfirmed: an answered application-level heartbeat confirms too", async () => {
  const { client, server, clock } = rig(
    {
      reconnect: false,
      heartbeat: { interval: 1000, timeout: 5000, mode: "message", pingMessage: "ping" },
    },
    { pingSupported: false },
  );
  server.onConnection((peer) => peer.onMessage((m) => m === "ping" && peer.send("pong")));
  const events = record(client);
  await client.connect();
  await client.send("a");
  await clock.advance(1000);
  assert.equal(client.metrics().rttSamples, 1);
  await client.send("b");
  server.lastPeer!.drop();
  await clock.flush();
  assert.deepEqual(events.map((e) => e.messages), [["b"]]);
  await client.close();
});

test("unconfirmed: disconnect() confirms through the close handshake; a close the server starts does not", async () => {
  const { client, server, clock } = rig({ reconnect: { base: 10, max: 10 } });
  const events = record(client);
  await client.connect();
  await client.send("a");
  await client.disconnect();
  assert.deepEqual(events, [], "the server answered our close frame: it read 'a'");
  await client.connect();
  await client.send("b");
  server.lastPeer!.close(1001, "restarting");
  await clock.flush();
  assert.deepEqual(events, [
    { messages: ["b"], omitted: 0, requeued: false, url: "ws://fake/", code: 1001 },
  ]);
  await client.close();
});

test("unconfirmed: messages of afterConnect are not tracked (every connection sends them again)", async () => {
  const { client, server, clock } = rig({
    reconnect: false,
    afterConnect: (c) => c.send("subscribe"),
  });
  const events = record(client);
  await client.connect();
  assert.deepEqual(server.lastPeer!.received, ["subscribe"]);
  server.lastPeer!.drop();
  await clock.flush();
  assert.deepEqual(events, []);
  await client.close();
});

test("unconfirmed: delivery.maxBytes bounds what is kept; the rest is counted as omitted", async () => {
  const { client, server, clock } = rig({ reconnect: false, delivery: { maxBytes: 4 } });
  const events = record(client);
  await client.connect();
  for (const m of ["aaa", "bbb", "cc", "dd"]) await client.send(m);
  server.lastPeer!.drop();
  await clock.flush();
  assert.equal(events.length, 1);
  assert.deepEqual(events[0].messages, ["cc", "dd"]);
  assert.equal(events[0].omitted, 2);
  assert.equal(client.metrics().unconfirmedMessages, 4);
  await client.close();
});

test("resendUnconfirmed: the unconfirmed sends go out again after the reconnect, in order, before later sends", async () => {
  const { client, server, clock } = rig({
    reconnect: { base: 100, max: 100 },
    delivery: { resendUnconfirmed: true },
  });
  const events = record(client);
  await client.connect();
  const first = server.lastPeer!;
  await Promise.all([client.send("m1"), client.send("m2")]);
  await clock.flush();
  // confirmWithPing follows resendUnconfirmed: one ping confirmed both.
  assert.equal(first.pings, 1);
  assert.equal(client.metrics().awaitingConfirmation, 0);
  first.loseMessages = true;
  await Promise.all(["m3", "m4", "m5"].map((m) => client.send(m)));
  assert.equal(client.metrics().awaitingConfirmation, 3);
  first.drop();
  await clock.flush();
  assert.equal(client.state.type, "closed");
  assert.deepEqual(events, [
    { messages: ["m3", "m4", "m5"], omitted: 0, requeued: true, url: "ws://fake/", code: 1006 },
  ]);
  assert.equal(client.metrics().queuedMessages, 3);
  const later = client.send("m6");
  await clock.advance(100);
  assert.equal(client.state.type, "open");
  await later;
  const second = server.lastPeer!;
  assert.notEqual(second, first);
  assert.deepEqual(first.received, ["m1", "m2"]);
  assert.deepEqual(second.received, ["m3", "m4", "m5", "m6"]);
  await clock.flush();
  const metrics = client.metrics();
  assert.equal(metrics.resentMessages, 3);
  assert.equal(metrics.unconfirmedMessages, 0);
  assert.equal(metrics.awaitingConfirmation, 0);
  assert.equal(metrics.messagesSent, 2 + 3 + 3 + 1, "resent messages are written twice");
  assert.equal(events.length, 1);
  await client.close();
});

test("resendUnconfirmed: requeued messages the queue discards are reported again as given up", async () => {
  const { client, server, clock } = rig({
    reconnect: { base: 1000, max: 1000 },
    delivery: { resendUnconfirmed: true },
  });
  const events = record(client);
  await client.connect();
  server.lastPeer!.loseMessages = true;
  await client.send("x");
  await client.send("y");
  server.lastPeer!.drop();
  await clock.flush();
  await client.disconnect(); // before the reconnect: the queue is discarded
  await clock.flush();
  assert.equal(events.length, 2);
  assert.equal(events[0].requeued, true);
  assert.deepEqual(events[1].messages, ["x", "y"]);
  assert.equal(events[1].requeued, false);
  assert.equal(events[1].code, 1006);
  assert.equal((events[1].error as { code?: string }).code, "WS_MESSAGE_DROPPED");
  const metrics = client.metrics();
  assert.equal(metrics.resentMessages, 2);
  assert.equal(metrics.unconfirmedMessages, 2);
  await client.close();
});

test("resendUnconfirmed with queue: false only reports", async () => {
  const { client, server, clock } = rig({
    reconnect: { base: 10, max: 10 },
    queue: false,
    delivery: { resendUnconfirmed: true },
  });
  const events = record(client);
  await client.connect();
  server.lastPeer!.loseMessages = true;
  await client.send("x");
  server.lastPeer!.drop();
  await clock.advance(10);
  assert.equal(events.length, 1);
  assert.equal(events[0].requeued, false);
  assert.deepEqual(server.lastPeer!.received, []);
  assert.equal(client.metrics().unconfirmedMessages, 1);
  await client.close();
});

test("confirmWithPing on a transport without pings falls back to heartbeat/close confirmation", async () => {
  const { client, server, clock } = rig(
    { reconnect: false, delivery: { confirmWithPing: true } },
    { pingSupported: false },
  );
  const events = record(client);
  await client.connect();
  await client.send("a");
  await clock.flush();
  await client.send("b");
  await clock.flush();
  assert.equal(client.metrics().awaitingConfirmation, 2);
  server.lastPeer!.drop();
  await clock.flush();
  assert.deepEqual(events.map((e) => e.messages), [["a", "b"]]);
  await client.close();
});

test("confirmWithPing: one ping covers a burst of writes and at most one is in flight", async () => {
  const { client, server, clock } = rig(
    { reconnect: false, delivery: { confirmWithPing: true } },
    { answerPings: false },
  );
  await client.connect();
  const peer = server.lastPeer!;
  await Promise.all(["a", "b", "c"].map((m) => client.send(m)));
  await clock.flush();
  assert.equal(peer.pings, 1, "one ping in flight at a time");
  await client.send("d");
  await clock.flush();
  assert.equal(peer.pings, 1);
  assert.equal(client.metrics().awaitingConfirmation, 4);
  await client.close();
});
