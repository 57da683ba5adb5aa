import { test } from "node:test";
import assert from "node:assert/strict";
import { createByteStreamPair } from "../../src/testing/byte_stream_pair.ts";
import { deadline, delay } from "../_util/async.ts";

test("createByteStreamPair carries bytes both ways, as copies", async () => {
  const [a, b] = createByteStreamPair();
  const sent = new Uint8Array([1, 2, 3]);
  await a.writable.getWriter().write(sent);
  const { value } = await b.readable.getReader().read();
  assert.deepEqual(value, sent);
  assert.notEqual(value!.buffer, sent.buffer);
  await b.writable.getWriter().write(new Uint8Array([4]));
  assert.deepEqual((await a.readable.getReader().read()).value, new Uint8Array([4]));
});

test("createByteStreamPair closing a writable is EOF for the other end", async () => {
  const [a, b] = createByteStreamPair();
  const writer = a.writable.getWriter();
  await writer.write(new Uint8Array([1]));
  await writer.close();
  const reader = b.readable.getReader();
  assert.equal((await reader.read()).done, false);
  assert.equal((await reader.read()).done, true);
});

test("createByteStreamPair makes writers wait once the buffer is full", async () => {
  const [a] = createByteStreamPair({ bufferSize: 10 });
  const writer = a.writable.getWriter();
  await writer.write(new Uint8Array(5));
  let done = false;
  writer.write(new Uint8Array(20)).then(() => done = true, () => {});
  await delay(20);
  assert.equal(done, false);
});

test("createByteStreamPair destroy errors both readables and fails writes", async () => {
  const [a, b] = createByteStreamPair();
  const reading = b.readable.getReader().read();
  a.destroy();
  await assert.rejects(deadline(reading, 1000, "read"), /reset/);
  await assert.rejects(a.readable.getReader().read(), /reset/);
  await assert.rejects(a.writable.getWriter().write(new Uint8Array(1)));
});

test("createByteStreamPair cancelling a readable fails the peer's writes", async () => {
  const [a, b] = createByteStreamPair();
  await b.readable.cancel();
  await assert.rejects(a.writable.getWriter().write(new Uint8Array(1)), /reset/);
});
