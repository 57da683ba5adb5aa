import { test } from "node:test";
import assert from "node:assert/strict";
import { TopicHub } from "../../src/fanout/topic_hub.ts";
import { createChannelPair } from "../../src/testing/channel_pair.ts";
import { fromStreams, type StreamChannel } from "../../src/channel/stream_channel.ts";
import { FakePeer } from "../../src/testing/fake_channel.ts";
import type { Message } from "../../src/channel/web_socket_channel.ts";
import type { Backplane, BackplaneReceiver } from "../../src/fanout/backplane.ts";
import { BackplaneError } from "../../src/fanout/backplane.ts";
import { deadline } from "../_util/async.ts";

/** Reads `count` messages from a client channel. */
async function read(client: StreamChannel, count: number): Promise<Message[]> {
  const reader = client.stream.getReader();
  const out: Message[] = [];
  try {
    while (out.length < count) {
      const { value, done } = await deadline(reader.read(), 5_000, `message ${out.length + 1}`);
      if (done) break;
      out.push(value);
    }
  } finally {
    reader.releaseLock();
  }
  return out;
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

function pairs(n: number) {
  return Array.from({ length: n }, () => createChannelPair());
}

async function closeAll(list: ReturnType<typeof createChannelPair>[]) {
  await Promise.all(list.map(([client]) => client.sink.close().catch(() => {})));
}

test("publish sends an ArrayBuffer and any view as binary, as sink.add does", async () => {
  const hub = new TopicHub();
  const [client, server] = createChannelPair();
  hub.subscribe(server, "t");
  hub.publish("t", new Uint16Array([0x0201]).buffer);
  hub.publish("t", new DataView(new Uint8Array([9, 8, 7]).buffer, 1, 2));
  assert.deepEqual(await read(client, 2), [new Uint8Array([1, 2]), new Uint8Array([8, 7])]);
  await client.sink.close();
  await hub.close();
});

test("publish reaches every subscriber of the topic, text as text and bytes as bytes", async () => {
  const hub = new TopicHub();
  const members = pairs(3);
  const outsider = createChannelPair();
  for (const [, server] of members) hub.subscribe(server, "room");
  hub.subscribe(outsider[1], "elsewhere");
  hub.publish("room", "hello");
  hub.publish("room", new Uint8Array([1, 2, 3]));
  for (const [client] of members) {
    assert.deepEqual(await read(client, 2), ["hello", new Uint8Array([1, 2, 3])]);
  }
  hub.publish("elsewhere", "only you");
  assert.deepEqual(await read(outsider[0], 1), ["only you"]);
  assert.equal(hub.stats().delivered, 7);
  assert.equal(hub.stats().published, 3);
  await closeAll([...members, outsider]);
  await hub.close();
});

test("except leaves out one subscriber (the sender)", async () => {
  const hub = new TopicHub();
  const [a, b] = pairs(2);
  hub.subscribe(a[1], "t");
  hub.subscribe(b[1], "t");
  hub.publish("t", "from a", { except: a[1] });
  hub.publish("t", "to all");
  assert.deepEqual(await read(b[0], 2), ["from a", "to all"]);
  assert.deepEqual(await read(a[0], 1), ["to all"]);
  await closeAll([a, b]);
  await hub.close();
});

test("unsubscribe, topicsOf, subscriberCount and topics", async () => {
  const hub = new TopicHub();
  const [a, b] = pairs(2);
  hub.subscribe(a[1], "x");
  hub.subscribe(a[1], "y");
  hub.subscribe(a[1], "y"); // twice: one subscription
  hub.subscribe(b[1], "y");
  assert.deepEqual(hub.topicsOf(a[1]).sort(), ["x", "y"]);
  assert.equal(hub.subscriberCount("y"), 2);
  assert.deepEqual(hub.topics().sort(), ["x", "y"]);
  assert.equal(hub.unsubscribe(a[1], "y"), true);
  assert.equal(hub.unsubscribe(a[1], "y"), false);
  assert.equal(hub.subscriberCount("y"), 1);
  hub.publish("y", "only b");
  hub.publish("x", "only a");
  assert.deepEqual(await read(b[0], 1), ["only b"]);
  assert.deepEqual(await read(a[0], 1), ["only a"]);
  assert.equal(hub.unsubscribe(a[1], "x"), true);
  assert.deepEqual(hub.topicsOf(a[1]), []);
  assert.deepEqual(hub.topics(), ["y"]);
  assert.equal(hub.subscriberCount("nothing"), 0);
  await closeAll([a, b]);
  await hub.close();
});

test("a closed channel leaves its topics by itself", async () => {
  const hub = new TopicHub();
  const [a, b] = pairs(2);
  hub.subscribe(a[1], "t");
  hub.subscribe(a[1], "u");
  hub.subscribe(b[1], "t");
  await a[0].sink.close(1000);
  await a[1].closed;
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.equal(hub.subscriberCount("t"), 1);
  assert.equal(hub.subscriberCount("u"), 0);
  assert.deepEqual(hub.topics(), ["t"]);
  assert.deepEqual(hub.topicsOf(a[1]), []);
  hub.publish("t", "still works");
  assert.deepEqual(await read(b[0], 1), ["still works"]);
  // A dropped connection (no close handshake) leaves too.
  b.destroy();
  await b[1].closed;
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.deepEqual(hub.topics(), []);
  await hub.close();
});

test("publish order per subscriber is kept across topics", async () => {
  const hub = new TopicHub();
  const [a] = pairs(1);
  hub.subscribe(a[1], "p");
  hub.subscribe(a[1], "q");
  const expected: string[] = [];
  for (let i = 0; i < 200; i++) {
    const topic = i % 3 === 0 ? "q" : "p";
    hub.publish(topic, `${topic}${i}`);
    expected.push(`${topic}${i}`);
  }
  assert.deepEqual(await read(a[0], 200), expected);
  await closeAll([a]);
  await hub.close();
});

test("a publish encodes the frame once and writes the same bytes to every subscriber", async () => {
  const hub = new TopicHub();
  const written: Uint8Array[][] = [];
  const servers = Array.from({ length: 4 }, (_, i) => {
    written.push([]);
    const writable = new WritableStream<Uint8Array>({
      write: (chunk) => void written[i].push(chunk),
    });
    const readable = new ReadableStream<Uint8Array>();
    return fromStreams({ readable, writable }, { role: "server" });
  });
  for (const server of servers) hub.subscribe(server, "t");
  hub.publish("t", "x".repeat(5000));
  await new Promise((resolve) => setTimeout(resolve, 10));
  const first = written[0][0];
  assert.equal(first.byteLength, 5004); // 4-byte header (16-bit length) + payload
  assert.deepEqual([...first.subarray(0, 4)], [0x81, 126, 0x13, 0x88]);
  for (const chunks of written) assert.equal(chunks[0].buffer, first.buffer);
  await hub.close();
});

test("slow subscriber, policy drop: skipped and counted, fast ones unaffected, bounded", async () => {
  const hub = new TopicHub({ maxBufferedBytes: 64 * 1024, slowSubscriber: "drop" });
  // A transport that never finishes a write: a peer that stopped reading.
  const stuck = fromStreams({
    readable: new ReadableStream<Uint8Array>(),
    writable: new WritableStream<Uint8Array>({ write: () => new Promise(() => {}) }),
  }, { role: "server" });
  const [fast] = pairs(1);
  hub.subscribe(stuck, "t");
  hub.subscribe(fast[1], "t");
  const payload = "y".repeat(1000);
  const reading = read(fast[0], 500);
  // The bound covers bytes waiting, so a burst in one tick must fit it: yield as a server would.
  for (let i = 0; i < 500; i++) {
    hub.publish("t", payload);
    if (i % 8 === 7) await tick();
  }
  assert.equal((await reading).length, 500);
  const stats = hub.stats();
  assert.ok(stats.dropped > 400, `dropped ${stats.dropped}`);
  assert.equal(stats.closedSlow, 0);
  const backlog = (stuck as unknown as Record<symbol, { backlog(): number }>)[
    Symbol.for("websocket-channel.internals")
  ].backlog();
  assert.ok(backlog <= 64 * 1024 + 1004, `backlog ${backlog}`);
  assert.equal(hub.subscriberCount("t"), 2);
  await closeAll([fast]);
  await hub.close();
});

test("slow subscriber, policy close (default): closed with 1013 and unsubscribed", async () => {
  const hub = new TopicHub({ maxBufferedBytes: 16 * 1024 });
  // The slow client's channel buffers at most 16 KiB unread, its connection 16 KiB more.
  const slow = createChannelPair({ readableHighWaterMark: 16 * 1024, bufferSize: 16 * 1024 });
  const fast = createChannelPair();
  hub.subscribe(slow[1], "t");
  hub.subscribe(fast[1], "t");
  const reading = read(fast[0], 300);
  // slow[0] never reads: its in-memory connection fills up, then the server's backlog grows.
  for (let i = 0; i < 300; i++) {
    hub.publish("t", "z".repeat(1000));
    if (i % 8 === 7) await tick();
  }
  assert.equal((await reading).length, 300);
  assert.equal(hub.stats().closedSlow, 1);
  assert.equal(slow[1].closeCode, 1013);
  assert.equal(slow[1].closeReason, "Subscriber too slow");
  assert.equal(hub.subscriberCount("t"), 1);
  slow.destroy();
  await closeAll([fast]);
  await hub.close();
});

test("channels that are not the engine's are served through their sink", async () => {
  const hub = new TopicHub();
  const peer = new FakePeer("ws://fake/", {});
  hub.subscribe(peer.channel, "t");
  hub.publish("t", "via sink");
  hub.publish("t", new Uint8Array([9]));
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.deepEqual(peer.received, ["via sink", new Uint8Array([9])]);
  await hub.close();
});

test("client-side channels get the message sent normally (masked)", async () => {
  const hub = new TopicHub();
  const [client, server] = createChannelPair();
  hub.subscribe(client, "t");
  hub.publish("t", "to the server");
  assert.deepEqual(await read(server, 1), ["to the server"]);
  await client.sink.close();
  await hub.close();
});

test("invalid options and arguments are typed errors", async () => {
  assert.throws(() => new TopicHub({ maxBufferedBytes: -1 }), RangeError);
  assert.throws(() => new TopicHub({ slowSubscriber: "wait" as never }), TypeError);
  const hub = new TopicHub();
  for (const value of [42, null, { a: 1 }, new Blob(["x"])]) {
    assert.throws(
      () => hub.publish("t", value as never),
      (error: unknown) =>
        error instanceof TypeError &&
        error.message.startsWith(
          "hub.publish expects a string, ArrayBuffer or ArrayBufferView; got ",
        ),
    );
  }
  assert.throws(() => hub.publish("t", 42 as never), /got number 42$/);
  assert.throws(
    () => hub.publish(7 as never, "x"),
    /hub.publish topic must be a string, got number 7/,
  );
  const [c, s] = createChannelPair();
  assert.throws(() => hub.subscribe(s, { topic: "t" } as never), TypeError);
  await c.sink.close();
  await hub.close();
  const [client, server] = createChannelPair();
  assert.throws(() => hub.subscribe(server, "t"), TypeError);
  await assert.rejects(hub.publish("t", "late"), BackplaneError);
  await client.sink.close();
});

/** A backplane joining hubs in one process, to check what the hub does with one. */
function memoryBus() {
  const receivers = new Map<BackplaneReceiver, Set<string>>();
  let down = false;
  const make = (): Backplane & { subscriptions(): Set<string> } => {
    let me: BackplaneReceiver;
    return {
      start(receiver) {
        me = receiver;
        receivers.set(receiver, new Set());
        return Promise.resolve();
      },
      subscribe(topic) {
        receivers.get(me)!.add(topic);
        return Promise.resolve();
      },
      unsubscribe(topic) {
        receivers.get(me)!.delete(topic);
        return Promise.resolve();
      },
      publish(message) {
        if (down) return Promise.reject(new BackplaneError("WS_BACKPLANE_BUFFER_FULL", "down"));
        for (const [receiver, topics] of receivers) {
          if (topics.has(message.topic)) receiver.message(message);
        }
        return Promise.resolve();
      },
      close() {
        receivers.delete(me);
        return Promise.resolve();
      },
      subscriptions: () => receivers.get(me) ?? new Set(),
    };
  };
  return { make, setDown: (value: boolean) => down = value };
}

test("with a backplane: every hub's subscribers get each publish once, the origin too", async () => {
  const bus = memoryBus();
  const planes = [bus.make(), bus.make()];
  const hubs = planes.map((backplane) => new TopicHub({ backplane }));
  await Promise.all(hubs.map((hub) => hub.ready));
  const [a, b] = pairs(2);
  // subscribe() resolves once the backplane has the topic.
  await hubs[0].subscribe(a[1], "room");
  assert.deepEqual([...planes[0].subscriptions()], ["room"]);
  await hubs[1].subscribe(b[1], "room");
  await hubs[1].subscribe(b[1], "room"); // again: the same, settled promise
  await hubs[0].publish("room", "one");
  await hubs[1].publish("room", new Uint8Array([2]));
  assert.deepEqual(await read(a[0], 2), ["one", new Uint8Array([2])]);
  assert.deepEqual(await read(b[0], 2), ["one", new Uint8Array([2])]);
  assert.equal(hubs[0].stats().received, 1);
  // The last local subscriber leaving unsubscribes the hub from the bus.
  hubs[0].unsubscribe(a[1], "room");
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.equal(planes[0].subscriptions().size, 0);
  // A refused publish rejects with the typed error and is counted; local delivery still happened.
  bus.setDown(true);
  const failed = hubs[1].publish("room", "local only");
  await assert.rejects(failed, BackplaneError);
  assert.equal(hubs[1].stats().backplaneFailures, 1);
  assert.deepEqual(await read(b[0], 1), ["local only"]);
  await closeAll([a, b]);
  await Promise.all(hubs.map((hub) => hub.close()));
});

test("a backplane that cannot start rejects ready and reports through onError", async () => {
  const errors: unknown[] = [];
  const failing: Backplane = {
    start: () => Promise.reject(new BackplaneError("WS_BACKPLANE_UNAVAILABLE", "no bus")),
    subscribe: () => Promise.resolve(),
    unsubscribe: () => Promise.resolve(),
    publish: () => Promise.resolve(),
    close: () => Promise.resolve(),
  };
  const hub = new TopicHub({ backplane: failing, onError: (error) => errors.push(error) });
  await assert.rejects(hub.ready, BackplaneError);
  const [client, server] = createChannelPair();
  await assert.rejects(hub.subscribe(server, "t"), BackplaneError);
  await client.sink.close();
  await assert.rejects(hub.publish("t", "x"), BackplaneError);
  assert.ok(errors.length >= 1);
  await hub.close();
});
