import { test } from "node:test";
import assert from "node:assert/strict";
// The entry point installs the engine transport (Node 20 has no global WebSocket).
import "../../mod.ts";
import type { Message, WebSocketChannel } from "../../src/channel/web_socket_channel.ts";
import type { UnconfirmedMessages } from "../../src/client/delivery.ts";
import { WebSocketClient } from "../../src/client/web_socket_client.ts";
import { deadline, waitFor } from "../_util/async.ts";
import { serveHere } from "../_util/serve_here.ts";

// A buffer may be refilled once client.send() resolved, also with resendUnconfirmed: the
// messages the client writes again after a reconnect (and reports as unconfirmed) are what
// was sent, not what the buffer holds by then. Real serve(), real client connections.

const COUNT = 5;
const SIZE = 3000;

function fillOf(message: Message): number | string {
  if (typeof message === "string") return `text ${message.length}`;
  const first = message[0];
  return message.byteLength === SIZE && message.every((b) => b === first)
    ? first
    : `mixed ${message.byteLength} B starting ${first}`;
}

test("resendUnconfirmed after a reconnect sends what was sent, not the refilled buffer", async () => {
  const connections: { channel: WebSocketChannel; received: Message[] }[] = [];
  const server = await serveHere({
    idleTimeout: 0,
    async onChannel(channel) {
      const connection = { channel, received: [] as Message[] };
      connections.push(connection);
      for await (const message of channel.stream) connection.received.push(message);
    },
  });
  const client = new WebSocketClient(`ws://127.0.0.1:${server.port}/`, {
    heartbeat: false,
    reconnect: { base: 10, max: 50 },
    // No confirming pings: everything written on the first connection stays unconfirmed.
    delivery: { resendUnconfirmed: true, confirmWithPing: false },
  });
  const events: UnconfirmedMessages[] = [];
  client.on("unconfirmed", (event) => events.push(event));
  try {
    await deadline(client.connect(), 10_000, "the client to connect");
    const buffer = new Uint8Array(SIZE);
    const expected: number[] = [];
    for (let i = 0; i < COUNT; i++) {
      buffer.fill(i + 1);
      await deadline(client.send(buffer), 10_000, `send ${i + 1}`);
      expected.push(i + 1);
    }
    buffer.fill(0xee); // every send() resolved: the buffer is the caller's again
    await waitFor(() => connections[0]?.received.length === COUNT, { what: "the first copies" });
    assert.deepEqual(connections[0].received.map(fillOf), expected, "first connection");

    // A close the server starts confirms nothing: the five go out again on the next connection.
    await connections[0].channel.sink.close(1000, "restart");
    await waitFor(() => connections[1]?.received.length === COUNT, {
      timeout: 10_000,
      what: "the resent messages",
    });
    assert.deepEqual(connections[1].received.map(fillOf), expected, "resent");
    assert.equal(events.length, 1);
    assert.equal(events[0].requeued, true);
    assert.deepEqual(events[0].messages.map(fillOf), expected, "reported");
  } finally {
    await client.close();
    await server.close();
  }
});

test("each send() gets a promise of its own, also when the socket takes the message at once", async () => {
  const server = await serveHere({
    idleTimeout: 0,
    async onChannel(channel) {
      for await (const _ of channel.stream) { /* read and drop */ }
    },
  });
  const client = new WebSocketClient(`ws://127.0.0.1:${server.port}/`, { heartbeat: false });
  try {
    await deadline(client.connect(), 10_000, "the client to connect");
    const sends = ["a", "b", "c"].map((m) => client.send(m));
    assert.equal(new Set(sends).size, 3, "callers may key or tag their sends");
    await deadline(Promise.all(sends), 10_000, "the sends");
    assert.equal(client.metrics().messagesSent, 3);
  } finally {
    await client.close();
    await server.close();
  }
});
