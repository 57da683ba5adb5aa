import { test } from "node:test";
import assert from "node:assert/strict";
import { InvalidJsonError } from "../../src/client/errors.ts";
import { rig } from "./helpers.ts";

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

test("stream applies backpressure: an unread stream pauses reading the connection", async () => {
  const { client, server, clock } = rig({ highWaterMark: 2 });
  const stream = client.stream;
  await client.connect();
  for (let i = 0; i < 10; i++) server.lastPeer!.send(`m${i}`);
  await clock.flush();
  assert.ok(
    client.metrics().messagesReceived <= 4,
    `read ${client.metrics().messagesReceived} ahead`,
  );
  const reader = stream.getReader();
  for (let i = 0; i < 10; i++) assert.equal((await reader.read()).value, `m${i}`);
  await client.close();
});

test("stream is one stream for the client's life; a cancelled json() stream no longer holds messages back", async () => {
  const { client, server, clock } = rig({ highWaterMark: 1 });
  assert.equal(client.stream, client.stream);
  const json = client.json();
  await json.cancel();
  await client.connect();
  const seen: unknown[] = [];
  client.on("message", (m) => seen.push(m));
  for (let i = 0; i < 5; i++) server.lastPeer!.send(`${i}`);
  await clock.flush();
  const reader = client.stream.getReader();
  for (let i = 0; i < 5; i++) assert.equal((await reader.read()).value, `${i}`);
  assert.equal(seen.length, 5);
  await client.close();
});
