import { test } from "node:test";
import assert from "node:assert/strict";
import { InvalidJsonError } from "../../src/client/errors.ts";
import { ClientError } from "../../src/client/errors.ts";
import { BoundedReader, MessageFanout } from "../../src/client/message_streams.ts";
import { numbered, rig, take } from "./helpers.ts";

test("json() yields parsed values and reports invalid JSON on its errors side channel", async () => {
  const { client, server, clock } = rig();
  const values = client.json<unknown>();
  await client.connect();
  const peer = server.lastPeer!;
  peer.send('{"a":1}');
  peer.send("not json");
  peer.send(new TextEncoder().encode("[1,2]"));
  peer.send(new Uint8Array([0xff, 0xfe]));
  peer.send('"text"');
  await clock.flush();
  const reader = values.getReader();
  const got = [];
  for (let i = 0; i < 3; i++) got.push((await reader.read()).value);
  assert.deepEqual(got, [{ a: 1 }, [1, 2], "text"]);
  const errors = values.errors.getReader();
  const first = await errors.read();
  assert.ok(first.value instanceof InvalidJsonError);
  assert.equal(first.value.code, "WS_INVALID_JSON");
  assert.equal(first.value.data, "not json");
  const second = await errors.read();
  assert.deepEqual(second.value!.data, new Uint8Array([0xff, 0xfe]));
  assert.equal(client.metrics().invalidJson, 2);
  await client.close();
  assert.equal((await reader.read()).done, true);
  assert.equal((await errors.read()).done, true);
});

test("sendJson sends JSON text and rejects values that cannot be serialised", async () => {
  const { client, server } = rig();
  await client.connect();
  await client.sendJson({ type: "hi", n: [1, "€"] });
  assert.deepEqual(server.lastPeer!.received, ['{"type":"hi","n":[1,"€"]}']);
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  await assert.rejects(client.sendJson(cyclic), TypeError);
  await assert.rejects(client.sendJson(undefined), TypeError);
  await client.close();
});

test("two concurrent for-await readers of client.stream both see every message in order", async () => {
  const { client, server, clock } = rig();
  const first = client.stream;
  const second = client.stream;
  assert.notEqual(first, second, "each access is a new subscriber");
  const collect = async (stream: ReadableStream<unknown>) => {
    const seen: unknown[] = [];
    for await (const message of stream) seen.push(message);
    return seen;
  };
  const a = collect(first);
  const b = collect(second);
  const c = collect(client.messages());
  await client.connect();
  const sent = [...numbered(0, 50), new Uint8Array([1, 2]), "last"];
  for (const message of sent) server.lastPeer!.send(message);
  await clock.flush();
  await client.close();
  assert.deepEqual(await a, sent);
  assert.deepEqual(await b, sent);
  assert.deepEqual(await c, sent);
});

test("a slow reader with the default policy overflows alone: it gets its buffer, then WS_READER_OVERFLOW", async () => {
  const { client, server, clock } = rig({ readers: { limit: 4 } });
  const slow = client.stream.getReader();
  const fast = client.stream.getReader();
  await client.connect();
  const fastSeen = take(fast, 10);
  for (let i = 0; i < 10; i++) server.lastPeer!.send(`m${i}`);
  await clock.flush();
  assert.deepEqual(await fastSeen, numbered(0, 10), "the fast reader was not held back");
  assert.equal(client.metrics().messagesReceived, 10, "the socket kept being read");
  assert.deepEqual(await take(slow, 4), numbered(0, 4), "what it had buffered");
  const error = await slow.read().then(() => undefined, (e: unknown) => e);
  assert.ok(error instanceof ClientError, String(error));
  assert.equal(error.code, "WS_READER_OVERFLOW");
  assert.equal(client.metrics().readerOverflows, 1);
  server.lastPeer!.send("after");
  await clock.flush();
  assert.deepEqual(await take(fast, 1), ["after"]);
  await client.close();
});

test('overflow: "drop-oldest" keeps the newest messages and counts the dropped ones', async () => {
  const { client, server, clock } = rig();
  const reader = client.messages({ limit: 3, overflow: "drop-oldest" }).getReader();
  await client.connect();
  for (let i = 0; i < 10; i++) server.lastPeer!.send(`m${i}`);
  await clock.flush();
  assert.deepEqual(await take(reader, 3), numbered(7, 10));
  assert.equal(client.metrics().readerDroppedMessages, 7);
  server.lastPeer!.send("m10");
  await clock.flush();
  assert.deepEqual(await take(reader, 1), ["m10"], "still subscribed");
  await client.close();
  assert.equal((await reader.read()).done, true);
});

test("maxBytes bounds a reader by payload bytes (UTF-8), one oversized message still fits an empty buffer", async () => {
  const { client, server, clock } = rig();
  const reader = client.messages({ maxBytes: 10, overflow: "drop-oldest" }).getReader();
  await client.connect();
  server.lastPeer!.send("ééé"); // 6 bytes
  server.lastPeer!.send("abcd"); // 10 in all: fits
  server.lastPeer!.send("x"); // 11: evicts "ééé"
  server.lastPeer!.send(new Uint8Array(50)); // larger than the bound: evicts all, then fits alone
  await clock.flush();
  const [only] = await take(reader, 1);
  assert.equal((only as Uint8Array).byteLength, 50);
  assert.equal(client.metrics().readerDroppedMessages, 3);
  await client.close();
});

test('overflow: "wait" pauses reading the connection for that reader (backpressure to the peer)', async () => {
  const { client, server, clock } = rig();
  const stream = client.messages({ limit: 2, overflow: "wait" });
  await client.connect();
  for (let i = 0; i < 10; i++) server.lastPeer!.send(`m${i}`);
  await clock.flush();
  assert.ok(
    client.metrics().messagesReceived <= 4,
    `read ${client.metrics().messagesReceived} ahead`,
  );
  const reader = stream.getReader();
  assert.deepEqual(await take(reader, 10), numbered(0, 10));
  await client.close();
});

test("cancelling a reader unsubscribes it and frees its buffer; the others go on", async () => {
  const { client, server, clock } = rig({ readers: { limit: 2, overflow: "wait" } });
  const abandoned = client.stream;
  const reader = client.stream.getReader();
  await client.connect();
  for (let i = 0; i < 3; i++) server.lastPeer!.send(`m${i}`);
  await clock.flush();
  assert.equal(client.metrics().messagesReceived, 2, "the full, unread reader holds the socket");
  await abandoned.cancel();
  for (let i = 3; i < 6; i++) server.lastPeer!.send(`m${i}`);
  assert.deepEqual(await take(reader, 6), numbered(0, 6));
  await reader.cancel();
  const seen: unknown[] = [];
  client.on("message", (m) => seen.push(m));
  for (let i = 6; i < 20; i++) server.lastPeer!.send(`m${i}`);
  await clock.flush();
  assert.equal(seen.length, 14, "nobody holds the socket any more");
  await client.close();
});

test("readers survive reconnects: one stream sees the messages of every connection in order", async () => {
  const { client, server, clock } = rig({ reconnect: { base: 100, max: 100 }, random: () => 0 });
  const a = client.stream.getReader();
  const b = client.messages().getReader();
  await client.connect();
  server.lastPeer!.send("first connection");
  await clock.flush();
  server.lastPeer!.drop();
  await clock.flush();
  await clock.advance(100);
  assert.equal(client.state.type, "open");
  assert.equal(server.attempts.length, 2);
  server.lastPeer!.send("second connection");
  await clock.flush();
  for (const reader of [a, b]) {
    assert.deepEqual(await take(reader, 2), ["first connection", "second connection"]);
  }
  await client.close();
  assert.equal((await a.read()).done, true);
  assert.equal((await b.read()).done, true);
});

test("a stream touched and never read holds at most its limit, then lets go", async () => {
  const { client, server, clock } = rig({ readers: { limit: 8 } });
  void client.stream; // subscribed, never read
  await client.connect();
  for (let i = 0; i < 1000; i++) server.lastPeer!.send(`m${i}`);
  await clock.flush();
  assert.equal(client.metrics().messagesReceived, 1000, "reading went on");
  assert.equal(client.metrics().readerOverflows, 1, "the abandoned reader ended at its limit");
  const late = client.stream.getReader();
  server.lastPeer!.send("late");
  await clock.flush();
  assert.deepEqual(await take(late, 1), ["late"], "a new reader starts from its subscription");
  await client.close();
});

test("with no reader at all, 10 000 messages are read through and none is kept", async () => {
  const { client, server, clock } = rig();
  await client.connect();
  for (let i = 0; i < 10_000; i++) server.lastPeer!.send(`m${i}`);
  await clock.flush();
  assert.equal(client.metrics().messagesReceived, 10_000);
  const late = client.stream.getReader();
  server.lastPeer!.send("late");
  await clock.flush();
  assert.deepEqual(await take(late, 1), ["late"]);
  await client.close();
});

test("a reader made after close() ends at once; close() ends readers after what they buffered", async () => {
  const { client, server, clock } = rig();
  const reader = client.stream.getReader();
  await client.connect();
  server.lastPeer!.send("kept");
  await clock.flush();
  await client.close();
  assert.deepEqual(await take(reader, 5), ["kept"]);
  assert.equal((await client.stream.getReader().read()).done, true);
  assert.equal((await client.json().getReader().read()).done, true);
});

test("BoundedReader hands an item straight to a waiting read and counts nothing for it", async () => {
  const buffer = new BoundedReader<string>({ limit: 1 });
  const reader = buffer.stream.getReader();
  const pending = reader.read();
  assert.equal(buffer.push("direct", 1), 0);
  assert.equal((await pending).value, "direct");
  assert.equal(buffer.length, 0);
  assert.equal(buffer.push("kept", 1), 0);
  assert.equal(buffer.push("too many", 1), "overflow");
  assert.equal(buffer.push("ignored", 1), 0, "an ended reader takes nothing");
  assert.equal((await reader.read()).value, "kept");
  await assert.rejects(reader.read(), { code: "WS_READER_OVERFLOW" });
});

test("MessageFanout.deliver waits only for full wait readers, and not at all with none", async () => {
  const fanout = new MessageFanout({ limit: 1 });
  assert.equal(fanout.deliver("nobody"), undefined);
  const waiting = fanout.messages({ overflow: "wait" }).getReader();
  const dropping = fanout.messages({ overflow: "drop-oldest" }).getReader();
  assert.equal(fanout.size, 2);
  const held = fanout.deliver("a");
  assert.ok(held instanceof Promise, "the wait reader is full at its limit of 1");
  assert.equal((await waiting.read()).value, "a");
  assert.equal(await held, undefined);
  fanout.deliver("b");
  assert.equal((await dropping.read()).value, "b", "the dropping reader let go of a");
  await waiting.cancel();
  await dropping.cancel();
  assert.equal(fanout.size, 0);
});

test("MessageFanout.deliver returns the turn only while a remaining reader has unread messages", async () => {
  const fanout = new MessageFanout({ limit: 2 });
  const turn = Promise.resolve();
  assert.equal(fanout.deliver("nobody", 6, turn), undefined);
  const prompt = fanout.messages().getReader();
  const reading = prompt.read();
  await Promise.resolve();
  assert.equal(fanout.deliver("taken", 5, turn), undefined, "a waiting read took it at once");
  assert.equal((await reading).value, "taken");
  assert.equal(fanout.deliver("held", 4, turn), turn, "nobody was reading: it is held");
  assert.equal((await prompt.read()).value, "held");
  // A reader that overflows leaves: what it holds does not make the others wait.
  const slow = fanout.messages({ limit: 1 });
  const pending = prompt.read();
  await Promise.resolve();
  assert.equal(fanout.deliver("one", 3, turn), turn, "slow holds it, within its limit");
  assert.equal((await pending).value, "one");
  const next = prompt.read();
  await Promise.resolve();
  assert.equal(fanout.deliver("two", 3, turn), undefined, "slow overflowed and left");
  assert.equal(fanout.size, 1);
  assert.equal((await next).value, "two");
  await slow.cancel().catch(() => {});
  await prompt.cancel();
});

test("BoundedReader keeps order and bounds against a plain list, across reuse and compaction", async () => {
  // Seeded steps: pushes and reads in runs, so the buffer empties (its slots
  // are reused), and stays non-empty past 1,024 reads (it compacts).
  let seed = 7;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (const overflow of ["drop-oldest", "error"] as const) {
    const limit = overflow === "error" ? 100_000 : 37;
    const buffer = new BoundedReader<number>({ limit, maxBytes: 10 * limit, overflow });
    const reader = buffer.stream.getReader();
    const model: number[] = [];
    let next = 0;
    let dropped = 0;
    let modelDropped = 0;
    for (let step = 0; step < 6_000; step++) {
      const phase = Math.floor(step / 1_500) % 2; // pushes outrun reads, then reads catch up
      const pushes = Math.floor(random() * (phase === 0 ? 4 : 2));
      for (let i = 0; i < pushes; i++) {
        const result = buffer.push(next, 10);
        assert.notEqual(result, "overflow");
        dropped += result as number;
        model.push(next++);
        for (; model.length > limit; modelDropped++) model.shift();
      }
      const reads = Math.min(model.length, Math.floor(random() * (phase === 0 ? 3 : 5)));
      for (let i = 0; i < reads; i++) assert.equal((await reader.read()).value, model.shift());
      assert.equal(buffer.length, model.length);
    }
    assert.equal(dropped, modelDropped);
    if (overflow === "drop-oldest") assert.ok(dropped > 1_024, "ran past the compaction point");
    buffer.end();
    for (const value of model) assert.equal((await reader.read()).value, value);
    assert.equal((await reader.read()).done, true);
  }
});
