import { test } from "node:test";
import assert from "node:assert/strict";
import { connect as netConnect } from "node:net";
import { connect } from "../../mod.ts";
import type { Message, WebSocketChannel } from "../../src/channel/web_socket_channel.ts";
import { TopicHub } from "../../src/fanout/topic_hub.ts";
import { internalsOf } from "../../src/channel/channel_internals.ts";
import { deadline } from "../_util/async.ts";
import { currentRuntime } from "../_util/runtimes.ts";
import { serveFunction } from "../_util/serve_here.ts";
import {
  type ServerKind,
  serverRuntime,
  startServer,
  type TestServer,
} from "../adapters/fixtures/pairs.ts";

// Every server entry point this runtime hosts, with real sockets: live
// channels (count, iteration, close with a code) and the topic hub over them.

const kinds = (Object.keys(serverRuntime) as ServerKind[]).filter((kind) =>
  serverRuntime[kind] === currentRuntime || serverRuntime[kind] === "any"
);

/** Engine clients (so that every server is reached the same way). */
async function clients(port: number, count: number): Promise<WebSocketChannel[]> {
  const list = Array.from(
    { length: count },
    () => connect(`ws://127.0.0.1:${port}/`, { transport: "engine", protocols: ["chat"] }),
  );
  await deadline(Promise.all(list.map((c) => c.ready)), 10_000, "clients to connect");
  return list;
}

/** One connection at a time, so that list[i] and accepted[i] are the two ends of one connection. */
async function connectPairs(server: TestServer, count: number) {
  const list: WebSocketChannel[] = [];
  const accepted: WebSocketChannel[] = [];
  for (let i = 0; i < count; i++) {
    list.push(...await clients(server.port, 1));
    accepted.push(await deadline(server.next(), 5_000, "the server channel"));
    await deadline(accepted[i].ready, 5_000, "the server channel to open");
  }
  return { list, accepted };
}

async function read(channel: WebSocketChannel, count: number): Promise<Message[]> {
  const reader = channel.stream.getReader();
  const out: Message[] = [];
  try {
    while (out.length < count) {
      const { value, done } = await deadline(reader.read(), 10_000, `message ${out.length + 1}`);
      if (done) break;
      out.push(value);
    }
  } finally {
    reader.releaseLock();
  }
  return out;
}

for (const kind of kinds) {
  test(`${kind}: live channels are counted, iterated and closed with the caller's code`, async () => {
    const server = await startServer(kind);
    try {
      const { list, accepted } = await connectPairs(server, 3);
      assert.equal(server.channels.size, 3);
      assert.deepEqual(new Set(server.channels), new Set(accepted));
      // One leaves: the set forgets it.
      await list[0].sink.close(1000);
      await deadline(accepted[0].closed, 5_000, "the first channel to close");
      assert.equal(server.channels.size, 2);
      await deadline(server.channels.closeAll(4001, "maintenance"), 10_000, "closeAll");
      for (const client of list.slice(1)) {
        const info = await deadline(client.closed, 5_000, "the client to see the close");
        assert.equal(info.code, 4001);
        assert.equal(info.reason, "maintenance");
      }
      assert.equal(server.channels.size, 0);
    } finally {
      await server.close();
    }
  });

  test(`${kind}: the topic hub fans out to its channels, except the sender, and forgets closed ones`, async () => {
    const server = await startServer(kind);
    const hub = new TopicHub();
    try {
      const { list, accepted } = await connectPairs(server, 4);
      // On Bun.serve the hub goes through Bun's own topics.
      assert.equal(
        internalsOf(accepted[0])?.nativeTopics !== undefined,
        kind === "bun-handler",
      );
      // Three in the room, one elsewhere.
      for (const channel of accepted.slice(0, 3)) hub.subscribe(channel, "room");
      hub.subscribe(accepted[3], "other");
      assert.equal(hub.subscriberCount("room"), 3);
      hub.publish("room", "from 0", { except: accepted[0] });
      hub.publish("room", new Uint8Array([1, 2, 3]));
      hub.publish("other", "elsewhere");
      assert.deepEqual(await read(list[0], 1), [new Uint8Array([1, 2, 3])]);
      assert.deepEqual(await read(list[1], 2), ["from 0", new Uint8Array([1, 2, 3])]);
      assert.deepEqual(await read(list[2], 2), ["from 0", new Uint8Array([1, 2, 3])]);
      assert.deepEqual(await read(list[3], 1), ["elsewhere"]);
      // Order holds over many messages.
      const expected = Array.from({ length: 300 }, (_, i) => `m${i}`);
      for (const text of expected) hub.publish("room", text);
      assert.deepEqual(await read(list[1], 300), expected);
      await list[2].sink.close(1000);
      await deadline(accepted[2].closed, 5_000, "a subscriber to close");
      await new Promise((resolve) => setTimeout(resolve, 0));
      assert.equal(hub.subscriberCount("room"), 2);
      assert.equal(hub.unsubscribe(accepted[1], "room"), true);
      hub.publish("room", "last");
      assert.deepEqual((await read(list[0], 301)).slice(300), ["last"]);
      for (const client of list) await client.sink.close(1000).catch(() => {});
    } finally {
      await hub.close();
      await server.close();
    }
  });
}

const engineKinds = kinds.filter((kind) => kind.endsWith("-serve"));
for (const kind of engineKinds) {
  test(`${kind}: one publish reaches compressing and plain subscribers alike, in order`, async () => {
    const serve = await serveFunction();
    const hub = new TopicHub();
    const server = await serve({
      hostname: "127.0.0.1",
      port: 0,
      compression: true,
      idleTimeout: 0,
      onChannel: (channel) => hub.subscribe(channel, "feed"),
    });
    try {
      const url = `ws://127.0.0.1:${server.port}/`;
      const deflating = connect(url, { transport: "engine", compression: true });
      const plain = connect(url, { transport: "engine" });
      await Promise.all([deflating.ready, plain.ready]);
      assert.match(deflating.extensions, /permessage-deflate/);
      assert.equal(plain.extensions, "");
      while (hub.subscriberCount("feed") < 2) await new Promise((r) => setTimeout(r, 5));
      // Small messages (under the threshold) between large ones must not overtake them.
      const expected: Message[] = [];
      for (let i = 0; i < 60; i++) {
        const message = i % 3 === 0 ? `${i}:${"compressible ".repeat(200)}` : `${i}`;
        hub.publish("feed", message);
        expected.push(message);
      }
      const bytes = new Uint8Array(4096).fill(7);
      hub.publish("feed", bytes);
      expected.push(bytes);
      assert.deepEqual(await read(deflating, expected.length), expected);
      assert.deepEqual(await read(plain, expected.length), expected);
      await Promise.all([deflating.sink.close(1000), plain.sink.close(1000)]);
    } finally {
      await hub.close();
      await server.close();
    }
  });

  test(`${kind}: server.close(code, reason) closes every connection with them`, async () => {
    const serve = await serveFunction();
    const server = await serve({ hostname: "127.0.0.1", port: 0, onChannel: () => {} });
    const list = await clients(server.port, 2);
    while (server.channels.size < 2) await new Promise((r) => setTimeout(r, 5));
    await deadline(server.close(1012, "Service restart"), 10_000, "server.close");
    for (const client of list) {
      const info = await deadline(client.closed, 5_000, "the close");
      assert.deepEqual([info.code, info.reason], [1012, "Service restart"]);
    }
  });
}

for (const kind of engineKinds) {
  test(`${kind}: a large publish goes out compressed (RSV1) to a peer that negotiated deflate`, async () => {
    const serve = await serveFunction();
    const hub = new TopicHub();
    const server = await serve({
      hostname: "127.0.0.1",
      port: 0,
      compression: true,
      idleTimeout: 0,
      onChannel: (channel) => hub.subscribe(channel, "feed"),
    });
    const socket = netConnect({ host: "127.0.0.1", port: server.port });
    try {
      const received: number[] = [];
      socket.on("data", (chunk: Uint8Array) => received.push(...chunk));
      socket.on("error", () => {});
      socket.write(
        "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
          "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n\r\n",
      );
      while (hub.subscriberCount("feed") < 1) await new Promise((r) => setTimeout(r, 5));
      hub.publish("feed", "a".repeat(10_000));
      hub.publish("feed", "tiny");
      const headEnd = () => {
        const text = new TextDecoder("latin1").decode(Uint8Array.from(received));
        return text.indexOf("\r\n\r\n");
      };
      for (let i = 0; i < 400 && (headEnd() < 0 || received.length < headEnd() + 10); i++) {
        await new Promise((r) => setTimeout(r, 5));
      }
      const frames = Uint8Array.from(received).subarray(headEnd() + 4);
      assert.equal(frames[0], 0xc1, "FIN + RSV1 + text: compressed");
      const length = frames[1] & 0x7f;
      assert.ok(length < 126 && length < 100, `compressed to ${length} bytes`);
      // The server has the node:zlib codec: sync-flushed, never a final block (RFC 7692 §7.2.1).
      assert.equal(frames[2] & 1, 0, "the payload's first block is not final");
      await deadline(
        (async () => {
          while (received.length < headEnd() + 4 + 2 + length + 6) {
            await new Promise((r) => setTimeout(r, 5));
          }
        })(),
        5_000,
        "the second frame",
      );
      const second = Uint8Array.from(received).subarray(headEnd() + 4 + 2 + length);
      assert.equal(second[0], 0x81, "a message under the threshold goes uncompressed, after");
      assert.equal(second[1], 4);
    } finally {
      socket.destroy();
      await hub.close();
      await server.close();
    }
  });
}
