import { test } from "node:test";
import assert from "node:assert/strict";
import { FakePeer } from "../../src/testing/fake_channel.ts";

const ALL = "a string, ArrayBuffer, ArrayBufferView or Blob";

test("the fake channel's sink throws a TypeError naming a value that is not a message", async () => {
  const peer = new FakePeer("ws://fake/", {});
  const { sink } = peer.channel;
  assert.throws(
    () => sink.add(42 as unknown as string),
    new TypeError(`sink.add expects ${ALL}; got number 42`),
  );
  assert.throws(
    () => sink.add(null as unknown as string),
    new TypeError(`sink.add expects ${ALL}; got null`),
  );
  assert.throws(() => sink.add({ a: 1 } as unknown as string), /got Object \{"a":1\}$/);
  const writer = sink.getWriter();
  await assert.rejects(writer.write(undefined as unknown as string), TypeError);
  writer.releaseLock();
  await sink.add("fine");
  await sink.add(new Uint16Array([0x0201]));
  assert.deepEqual(peer.received, ["fine", new Uint8Array([1, 2])]);
  // Close arguments are checked at the call, as by the real sinks.
  assert.throws(() => sink.close(1001), RangeError);
  await sink.close(1000);
});

test("FakePeer.send throws for a value that is not a message and delivers buffers as bytes", async () => {
  const peer = new FakePeer("ws://fake/", {});
  assert.throws(
    () => peer.send(42 as unknown as string),
    new TypeError("peer.send expects a string, ArrayBuffer or ArrayBufferView; got number 42"),
  );
  peer.send(new Uint8Array([1]).buffer);
  peer.send("x");
  const reader = peer.channel.stream.getReader();
  assert.deepEqual((await reader.read()).value, new Uint8Array([1]));
  assert.equal((await reader.read()).value, "x");
  reader.releaseLock();
  await peer.channel.sink.close();
});
