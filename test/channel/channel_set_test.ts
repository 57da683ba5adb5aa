import { test } from "node:test";
import assert from "node:assert/strict";
import { ChannelSet } from "../../src/channel/channel_set.ts";
import { createChannelPair } from "../../src/testing/channel_pair.ts";
import { FakePeer } from "../../src/testing/fake_channel.ts";

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

test("ChannelSet counts and iterates open channels, once each, in order added", async () => {
  const set = new ChannelSet();
  const pairs = [createChannelPair(), createChannelPair(), createChannelPair()];
  for (const [, server] of pairs) set.add(server);
  set.add(pairs[0][1]);
  assert.equal(set.size, 3);
  assert.deepEqual([...set], pairs.map(([, server]) => server));
  assert.equal(set.has(pairs[1][1]), true);
  assert.equal(set.has(pairs[1][0]), false);
  await pairs[1][0].sink.close(1000);
  await pairs[1][1].closed;
  await tick();
  assert.equal(set.size, 2);
  assert.equal(set.has(pairs[1][1]), false);
  await set.closeAll();
  for (const [client] of [pairs[0], pairs[2]]) {
    const info = await client.closed;
    assert.deepEqual([info.code, info.reason], [1001, "Server shutting down"]);
  }
  assert.equal(set.size, 0);
});

test("ChannelSet.closeAll passes any wire code and reason, and resolves when all ended", async () => {
  const set = new ChannelSet();
  const [client, server] = createChannelPair();
  set.add(server);
  await set.closeAll(1013, "Try again later");
  assert.equal((await server.closed).code, 1013);
  assert.deepEqual([(await client.closed).code, client.closeReason], [1013, "Try again later"]);
});

test("ChannelSet works with channels of other implementations (closed through the sink)", async () => {
  const set = new ChannelSet();
  const peer = new FakePeer("ws://fake/", {});
  set.add(peer.channel);
  assert.equal(set.size, 1);
  await set.closeAll(4000, "bye");
  assert.equal(peer.channel.closeCode, 4000);
  await tick();
  assert.equal(set.size, 0);
});

test("ChannelSet.closeAll on an empty set resolves at once", async () => {
  await new ChannelSet().closeAll();
});
