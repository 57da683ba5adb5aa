import { test } from "node:test";
import assert from "node:assert/strict";
import { messageCost, MessageQueue } from "../../src/channel/message_queue.ts";

function queue() {
  let spaces = 0;
  let cancels = 0;
  const q = new MessageQueue({ onSpace: () => spaces++, onCancel: () => cancels++ });
  return { q, spaces: () => spaces, cancels: () => cancels };
}

test("messageCost counts bytes plus a fixed overhead", () => {
  assert.equal(messageCost(""), 32);
  assert.equal(messageCost(new Uint8Array(10)), 42);
});

test("MessageQueue delivers in order and tracks unread bytes", async () => {
  const { q, spaces } = queue();
  q.push("a");
  q.push(new Uint8Array(8));
  assert.equal(q.bytes, 33 + 40);
  const reader = q.stream.getReader();
  assert.equal((await reader.read()).value, "a");
  assert.equal(q.bytes, 40);
  assert.ok(spaces() >= 1);
  assert.deepEqual((await reader.read()).value, new Uint8Array(8));
  assert.equal(q.bytes, 0);
});

test("MessageQueue hands a message straight to a waiting read", async () => {
  const { q } = queue();
  const reader = q.stream.getReader();
  const read = reader.read();
  await new Promise((resolve) => setTimeout(resolve, 0));
  q.push("now");
  assert.equal((await read).value, "now");
  assert.equal(q.bytes, 0);
});

test("MessageQueue close and error come after the queued messages", async () => {
  const { q } = queue();
  q.push("1");
  q.close();
  q.push("dropped");
  const reader = q.stream.getReader();
  assert.equal((await reader.read()).value, "1");
  assert.equal((await reader.read()).done, true);

  const other = queue().q;
  other.push("x");
  other.error(new Error("boom"));
  other.error(new Error("ignored"));
  const r2 = other.stream.getReader();
  assert.equal((await r2.read()).value, "x");
  await assert.rejects(r2.read(), /boom/);
});

test("MessageQueue error reaches a read already waiting", async () => {
  const { q } = queue();
  const read = q.stream.getReader().read();
  await new Promise((resolve) => setTimeout(resolve, 0));
  q.error(new Error("lost"));
  await assert.rejects(read, /lost/);
});

test("MessageQueue cancel drops everything and reports it", async () => {
  const { q, cancels } = queue();
  q.push("a");
  await q.stream.cancel();
  assert.equal(cancels(), 1);
  assert.equal(q.ended, true);
  assert.equal(q.bytes, 0);
  q.push("b");
  assert.equal(q.bytes, 0);
});

test("MessageQueue stays correct over many messages (compaction)", async () => {
  const { q } = queue();
  const reader = q.stream.getReader();
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 3000; i++) q.push(`m${i}`);
    for (let i = 0; i < 3000; i++) assert.equal((await reader.read()).value, `m${i}`);
  }
  assert.equal(q.bytes, 0);
});
