/**
 * The client over channels that hand messages to a synchronous listener
 * (`listen()`, as every `WebSocketChannel` does): in-memory engine channel
 * pairs, whose server side the test drives.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { WebSocketClient } from "../../src/client/web_socket_client.ts";
import type { WebSocketClientOptions } from "../../src/client/options.ts";
import { createChannelPair } from "../../src/testing/channel_pair.ts";
import type { WebSocketChannel } from "../../src/channel/web_socket_channel.ts";
import { numbered, take } from "./helpers.ts";

function pairRig(options: WebSocketClientOptions = {}) {
  const servers: WebSocketChannel[] = [];
  const client = new WebSocketClient("ws://memory/", {
    connector: () => {
      const [near, far] = createChannelPair();
      servers.push(far);
      return near;
    },
    heartbeat: false,
    ...options,
  });
  return { client, servers };
}

/** Lets queued work run: a few turns of the event loop. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setTimeout(resolve, 1));
}

test("a listening channel's messages reach every reader, in order, with the metrics counted", async () => {
  const { client, servers } = pairRig();
  const a = client.stream.getReader();
  const b = client.messages().getReader();
  await client.connect();
  for (let i = 0; i < 50; i++) await servers[0].sink.add(`m${i}`);
  await servers[0].sink.add(new Uint8Array(3));
  assert.deepEqual((await take(a, 51)).slice(0, 50), numbered(0, 50));
  assert.deepEqual((await take(b, 51)).slice(0, 50), numbered(0, 50));
  const metrics = client.metrics();
  assert.equal(metrics.messagesReceived, 51);
  assert.equal(metrics.bytesReceived, 10 * 2 + 40 * 3 + 3);
  await client.close();
});

test('overflow: "wait" pauses a listening channel until the reader has room', async () => {
  const { client, servers } = pairRig();
  const stream = client.messages({ limit: 2, overflow: "wait" });
  await client.connect();
  for (let i = 0; i < 10; i++) await servers[0].sink.add(`m${i}`);
  await settle();
  const ahead = client.metrics().messagesReceived;
  assert.ok(ahead <= 3, `read ${ahead} ahead of a reader that holds 2`);
  assert.deepEqual(await take(stream.getReader(), 10), numbered(0, 10));
  assert.equal(client.metrics().messagesReceived, 10);
  await client.close();
});

test("messages of one listening connection come before those of the next, across a reconnect", async () => {
  const { client, servers } = pairRig({ reconnect: { base: 1, max: 1 } });
  const reader = client.stream.getReader();
  await client.connect();
  for (let i = 0; i < 5; i++) await servers[0].sink.add(`m${i}`);
  // A close the server starts with a code that asks for a reconnect.
  await servers[0].sink.close(3001, "again");
  for (let i = 0; i < 200 && (servers.length < 2 || client.state.type !== "open"); i++) {
    await settle();
  }
  assert.equal(client.state.type, "open", "reconnected");
  for (let i = 5; i < 10; i++) await servers[1].sink.add(`m${i}`);
  assert.deepEqual(await take(reader, 10), numbered(0, 10));
  await client.close();
  assert.equal((await reader.read()).done, true, "the stream ends with the client");
});

test("a prompt reader with a small limit keeps up with a burst that arrives in one read", async () => {
  const { client, servers } = pairRig({ readers: { limit: 4 } });
  const reader = client.stream.getReader();
  await client.connect();
  const seen = take(reader, 2000);
  const sent: Promise<void>[] = [];
  for (let i = 0; i < 2000; i++) sent.push(servers[0].sink.add(`m${i}`));
  await Promise.all(sent);
  assert.deepEqual(await seen, numbered(0, 2000));
  assert.equal(client.metrics().readerOverflows, 0);
  await client.close();
});
