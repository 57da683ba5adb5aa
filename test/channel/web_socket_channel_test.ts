import { test } from "node:test";
import assert from "node:assert/strict";
import { WebSocketChannel } from "../../src/channel/web_socket_channel.ts";
// The engine transport of connect(), as the entry points install it.
import "../../src/adapters/engine_connect.ts";
import { createByteStreamPair } from "../../src/testing/byte_stream_pair.ts";
import { deadline } from "../_util/async.ts";
import { startEngineServer } from "../_util/engine_server.ts";

test("WebSocketChannel.fromStreams makes connected channels of a byte-stream pair", async () => {
  const [a, b] = createByteStreamPair();
  const client = WebSocketChannel.fromStreams(a, { role: "client", protocol: "p" });
  const server = WebSocketChannel.fromStreams(b, { role: "server", protocol: "p" });
  await client.ready;
  assert.equal(client.protocol, "p");
  await client.sink.add(new Uint8Array([1]));
  assert.deepEqual((await server.stream.getReader().read()).value, new Uint8Array([1]));
  await server.sink.close(1000);
  assert.equal((await deadline(client.closed, 5000, "closed")).code, 1000);
});

test("WebSocketChannel.connect with the engine transport talks to an engine server", async () => {
  const server = await startEngineServer();
  try {
    const client = WebSocketChannel.connect(server.url, { transport: "engine" });
    const { channel } = await server.accept();
    await deadline(client.ready, 5000, "ready");
    channel.stream.pipeTo(channel.sink).catch(() => {});
    await client.sink.add("echo?");
    assert.equal((await deadline(client.stream.getReader().read(), 5000, "echo")).value, "echo?");
    assert.ok((await deadline(client.ping(), 5000, "ping")) >= 0);
    await client.sink.close(1000);
    assert.equal((await deadline(channel.closed, 5000, "closed")).wasClean, true);
  } finally {
    await server.close();
  }
});

test("WebSocketChannel.fromWebSocket wraps a native WebSocket", {
  skip: typeof (globalThis as { WebSocket?: unknown }).WebSocket === "function"
    ? false
    : "no global WebSocket",
}, async () => {
  const server = await startEngineServer();
  try {
    const client = WebSocketChannel.fromWebSocket(new WebSocket(server.url));
    const { channel } = await server.accept();
    await deadline(client.ready, 5000, "ready");
    await channel.sink.add("hi");
    assert.equal((await deadline(client.stream.getReader().read(), 5000, "message")).value, "hi");
    await client.sink.close(1000);
    assert.equal((await deadline(channel.closed, 5000, "closed")).code, 1000);
  } finally {
    await server.close();
  }
});
