import { test } from "node:test";
import assert from "node:assert/strict";
import { createChannelPair } from "../../src/testing/channel_pair.ts";
import { deadline } from "../_util/async.ts";

test("createChannelPair gives an open client and server that talk", async () => {
  const [client, server] = createChannelPair({ protocol: "chat" });
  await client.ready;
  await server.ready;
  assert.equal(client.protocol, "chat");
  await server.sink.add("from server");
  assert.equal((await client.stream.getReader().read()).value, "from server");
  await client.sink.close(4000, "done");
  assert.deepEqual(await deadline(server.closed, 5000, "closed"), {
    code: 4000,
    reason: "done",
    wasClean: true,
  });
});

test("createChannelPair destroy ends both channels with 1006", async () => {
  const pair = createChannelPair();
  pair.destroy();
  assert.equal((await deadline(pair[0].closed, 5000, "client")).code, 1006);
  assert.equal((await deadline(pair[1].closed, 5000, "server")).code, 1006);
});

test("createChannelPair passes limits to both channels", async () => {
  const [client, server] = createChannelPair({ maxMessageSize: 10 });
  const read = server.stream.getReader().read();
  await client.sink.add("more than ten bytes");
  await assert.rejects(deadline(read, 5000, "read"), { closeCode: 1009 });
  assert.equal((await client.closed).code, 1009);
});
