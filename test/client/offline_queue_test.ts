import { test } from "node:test";
import assert from "node:assert/strict";
import { OfflineQueue } from "../../src/client/offline_queue.ts";
import { FakeClock } from "../../src/testing/fake_clock.ts";
import { rejection } from "./helpers.ts";

test("OfflineQueue keeps FIFO order and counts UTF-8 bytes", () => {
  const queue = new OfflineQueue(new FakeClock());
  void queue.push("a");
  void queue.push("€");
  void queue.push(new Uint8Array(5));
  assert.equal(queue.length, 3);
  assert.equal(queue.bytes, 1 + 3 + 5);
  assert.equal(queue.shift()!.message, "a");
  assert.equal(queue.shift()!.message, "€");
  assert.equal(queue.bytes, 5);
});

test("OfflineQueue with overflow 'reject' rejects the new message with WS_QUEUE_FULL and keeps the old", async () => {
  const queue = new OfflineQueue(new FakeClock(), { maxBytes: 4, overflow: "reject" });
  const first = queue.push("abc");
  const error = await rejection(queue.push("de"));
  assert.equal(error.code, "WS_QUEUE_FULL");
  assert.equal(queue.length, 1);
  queue.shift()!.resolve();
  await first;
});

test("OfflineQueue with overflow 'drop-oldest' evicts from the front and rejects those sends", async () => {
  const queue = new OfflineQueue(new FakeClock(), { maxMessages: 2, overflow: "drop-oldest" });
  const a = queue.push("a");
  void queue.push("b");
  void queue.push("c");
  assert.equal((await rejection(a)).code, "WS_MESSAGE_DROPPED");
  assert.deepEqual([queue.shift()!.message, queue.shift()!.message], ["b", "c"]);
  assert.equal(queue.dropped, 1);
});

test("OfflineQueue with overflow 'drop-newest' drops the incoming message and keeps the queue", async () => {
  const queue = new OfflineQueue(new FakeClock(), { maxBytes: 3, overflow: "drop-newest" });
  void queue.push("ab");
  const c = queue.push("cd");
  assert.equal((await rejection(c)).code, "WS_MESSAGE_DROPPED");
  assert.equal(queue.length, 1);
  assert.equal(queue.shift()!.message, "ab");
  assert.equal(queue.dropped, 1);
});

test("OfflineQueue rejects a message larger than the whole queue with WS_MESSAGE_TOO_BIG", async () => {
  const queue = new OfflineQueue(new FakeClock(), { maxBytes: 2, overflow: "drop-oldest" });
  void queue.push("ab");
  assert.equal((await rejection(queue.push("xyz"))).code, "WS_MESSAGE_TOO_BIG");
  assert.equal(queue.length, 1, "the queue is untouched");
});

test("OfflineQueue expires messages after the TTL on its own timer", async () => {
  const clock = new FakeClock();
  const queue = new OfflineQueue(clock, { ttl: 1000 });
  const a = queue.push("a");
  let aError: { code?: string } | undefined;
  a.catch((e) => (aError = e));
  await clock.advance(500);
  const b = rejection(queue.push("b"));
  await clock.advance(499);
  assert.equal(aError, undefined);
  await clock.advance(1);
  assert.equal((aError as { code?: string } | undefined)?.code, "WS_MESSAGE_EXPIRED");
  assert.equal(queue.length, 1);
  await clock.advance(500);
  assert.equal((await b).code, "WS_MESSAGE_EXPIRED");
  assert.equal(queue.expired, 2);
  assert.equal(clock.pending, 0, "no timer left once empty");
});

test("OfflineQueue.requeue puts a message back at its place in send order", () => {
  const queue = new OfflineQueue(new FakeClock());
  void queue.push("m0", 0);
  void queue.push("m1", 1);
  const first = queue.shift()!;
  void queue.push("m2", 2);
  queue.requeue(first);
  assert.deepEqual([0, 1, 2].map(() => queue.shift()!.message), ["m0", "m1", "m2"]);
});

test("OfflineQueue.clear rejects everything with the given error and stops the timer", async () => {
  const clock = new FakeClock();
  const queue = new OfflineQueue(clock, { ttl: 1000 });
  const sends = [queue.push("a"), queue.push("b")];
  queue.clear(new Error("gone"));
  for (const send of sends) assert.equal((await rejection(send)).message, "gone");
  assert.equal(queue.length, 0);
  assert.equal(queue.bytes, 0);
  assert.equal(clock.pending, 0);
});
