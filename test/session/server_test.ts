import { test } from "node:test";
import assert from "node:assert/strict";
import { serveHere } from "../_util/serve_here.ts";
import { connect } from "../../mod.ts";
import { SESSION_PROTOCOL } from "../../src/session/frames.ts";
import { SessionHub } from "../../src/session/session_hub.ts";
import { SessionClient, type TopicMessage } from "../../src/session/session_client.ts";
import { deadline, waitFor } from "../_util/async.ts";

test("one server: session clients and plain WebSocket clients side by side", async () => {
  const received: string[] = [];
  const hub = new SessionHub({ onMessage: ({ data }) => void received.push(String(data)) });
  const server = await serveHere({
    protocols: [SESSION_PROTOCOL],
    async onChannel(channel) {
      if (channel.protocol === SESSION_PROTOCOL) {
        hub.accept(channel);
        return;
      }
      for await (const message of channel.stream) await channel.sink.add(message); // plain echo
    },
  });
  const url = `ws://127.0.0.1:${server.port}/`;
  const client = new SessionClient(url, { heartbeat: false });
  const messages: TopicMessage[] = [];
  client.on("message", (message) => messages.push(message));
  client.subscribe("news");
  try {
    await deadline(client.connect(), 5_000, "session connect");
    await client.send("over the session");
    assert.deepEqual(received, ["over the session"]);
    await waitFor(() => client.positions().news !== undefined);
    await hub.publish("news", "published");
    await waitFor(() => messages.length === 1);
    assert.equal(messages[0].position, 1);

    const plain = connect(url);
    await plain.ready;
    assert.equal(plain.protocol, "");
    await plain.sink.add("plain");
    const reader = plain.stream.getReader();
    assert.equal((await deadline(reader.read(), 5_000, "echo")).value, "plain");
    reader.releaseLock();
    await plain.sink.close();
  } finally {
    await client.close();
    await hub.close();
    await server.close();
  }
});

test("a server without the session protocol: the client reports WS_SESSION_UNSUPPORTED", async () => {
  const server = await serveHere({});
  const errors: Error[] = [];
  const client = new SessionClient(`ws://127.0.0.1:${server.port}/`, {
    heartbeat: false,
    reconnect: false,
  });
  client.on("error", (error) => errors.push(error));
  try {
    const error = await client.connect().then(() => undefined, (e) => e);
    const causes = [];
    for (let e = error; e; e = e.cause) causes.push(e.code);
    assert.ok(causes.includes("WS_SESSION_UNSUPPORTED"), `codes: ${causes}`);
  } finally {
    await client.close();
    await server.close();
  }
});
