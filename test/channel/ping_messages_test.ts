import { test } from "node:test";
import assert from "node:assert/strict";
import { pingAnswerer, sameMessage } from "../../src/channel/ping_messages.ts";
import { fromStreams } from "../../src/channel/stream_channel.ts";
import { connect } from "../../mod.ts";
import type { Message, WebSocketChannel } from "../../src/channel/web_socket_channel.ts";
import { deadline } from "../_util/async.ts";
import { readMessages } from "./channel_contract.ts";
import { currentRuntime } from "../_util/runtimes.ts";
import { type ServerKind, serverRuntime, startServer } from "../adapters/fixtures/pairs.ts";

/** The next `count` messages of `channel`. */
function read(channel: WebSocketChannel, count: number): Promise<Message[]> {
  const reader = channel.stream.getReader();
  return readMessages(reader, count).finally(() => reader.releaseLock());
}

test("pingAnswerer answers exactly the ping message, text to text and bytes to bytes", () => {
  assert.equal(pingAnswerer(undefined), undefined);
  assert.equal(pingAnswerer(false), undefined);
  const answer = pingAnswerer(true)!;
  assert.equal(answer("ping"), "pong");
  assert.equal(answer("ping "), undefined);
  assert.equal(answer(new TextEncoder().encode("ping")), undefined);
  const bytes = pingAnswerer({ ping: new Uint8Array([1]), pong: new Uint8Array([2]) })!;
  assert.deepEqual(bytes(new Uint8Array([1])), new Uint8Array([2]));
  assert.equal(bytes("\u0001"), undefined);
  assert.equal(pingAnswerer({ pong: "PONG" })!("ping"), "PONG");
  for (const bad of ["ping", 1, null, { ping: 5 }, { pong: {} }]) {
    assert.throws(() => pingAnswerer(bad as never), TypeError, JSON.stringify(bad));
  }
  assert.ok(sameMessage(new Uint8Array([1, 2]), new Uint8Array([1, 2])));
  assert.ok(!sameMessage(new Uint8Array([1, 2]), new Uint8Array([1, 3])));
});

test("a StreamChannel with answerPingMessages answers pings before the application sees them", async () => {
  const up = new TransformStream<Uint8Array, Uint8Array>();
  const down = new TransformStream<Uint8Array, Uint8Array>();
  const client = fromStreams({ readable: down.readable, writable: up.writable }, {
    role: "client",
  });
  const server = fromStreams({ readable: up.readable, writable: down.writable }, {
    role: "server",
    answerPingMessages: true,
  });
  await client.sink.add("ping");
  await client.sink.add("hello");
  await client.sink.add("ping");
  assert.deepEqual(await read(client, 2), ["pong", "pong"]);
  assert.deepEqual(await read(server, 1), ["hello"]);
  await client.sink.close(1000);
  await deadline(server.closed, 10_000, "server closed");
});

// Every server this runtime hosts: serve() (our engine) and the native integrations.
const kinds = (Object.keys(serverRuntime) as ServerKind[]).filter((kind) =>
  serverRuntime[kind] === currentRuntime
);
for (const kind of kinds) {
  test(`${kind} with answerPingMessages answers the client's ping messages itself`, async () => {
    const server = await startServer(kind, undefined, {
      answerPingMessages: { ping: "ping", pong: "pong" },
    });
    try {
      const client = connect(`ws://127.0.0.1:${server.port}/`, { transport: "engine" });
      await deadline(client.ready, 10_000, "client ready");
      const serverChannel = await deadline(server.next(), 10_000, "server channel");
      await client.sink.add("ping");
      await client.sink.add("for the application");
      await client.sink.add(new TextEncoder().encode("ping")); // bytes are not the text ping
      await client.sink.add("ping");
      assert.deepEqual(await read(client, 2), ["pong", "pong"]);
      assert.deepEqual(await read(serverChannel, 2), [
        "for the application",
        new TextEncoder().encode("ping"),
      ]);
      await client.sink.close(1000);
      await deadline(client.closed, 10_000, "client closed");
    } finally {
      await server.close();
    }
  });
}

test("serve() without answerPingMessages delivers ping messages to the application", async () => {
  const server = await startServer(`${currentRuntime}-serve` as ServerKind);
  try {
    const client = connect(`ws://127.0.0.1:${server.port}/`, { transport: "engine" });
    await deadline(client.ready, 10_000, "client ready");
    const serverChannel = await deadline(server.next(), 10_000, "server channel");
    await client.sink.add("ping");
    assert.deepEqual(await read(serverChannel, 1), ["ping"]);
    await client.sink.close(1000);
  } finally {
    await server.close();
  }
});
