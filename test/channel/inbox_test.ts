import { test } from "node:test";
import assert from "node:assert/strict";
import { Inbox, isBeingDelivered, messageCost } from "../../src/channel/inbox.ts";

function queue() {
  let spaces = 0;
  let cancels = 0;
  const q = new Inbox({ onSpace: () => spaces++, onCancel: () => cancels++ });
  return { q, spaces: () => spaces, cancels: () => cancels };
}

test("messageCost counts bytes plus a fixed overhead", () => {
  assert.equal(messageCost(""), 32);
  assert.equal(messageCost(new Uint8Array(10)), 42);
});

test("isBeingDelivered is true for the message a listener is handed, during its call only, nested too", async () => {
  const outer = new Inbox();
  const inner = new Inbox();
  const seen: string[] = [];
  const a = new Uint8Array([1]);
  const b = new Uint8Array([2]);
  inner.listen((message) => {
    seen.push(`inner ${isBeingDelivered(message)} ${isBeingDelivered(a)}`);
  });
  outer.listen((message) => {
    seen.push(`outer ${isBeingDelivered(message)}`);
    inner.push(b);
    seen.push(`outer again ${isBeingDelivered(message)} ${isBeingDelivered(b)}`);
  });
  await Promise.resolve();
  outer.push(a);
  assert.deepEqual(seen, ["outer true", "inner true false", "outer again true false"]);
  assert.equal(isBeingDelivered(a), false);
  assert.equal(isBeingDelivered(undefined), false);
  // A listener that throws: the message is not taken for one being delivered afterwards.
  const failing = new Inbox({ onSpace() {}, onCancel() {}, report() {} });
  failing.listen(() => {
    throw new Error("listener failed");
  });
  await Promise.resolve();
  failing.push(a);
  assert.equal(isBeingDelivered(a), false);
});

test("Inbox delivers in order and tracks unread bytes", async () => {
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

test("Inbox hands a message straight to a waiting read", async () => {
  const { q } = queue();
  const reader = q.stream.getReader();
  const read = reader.read();
  await new Promise((resolve) => setTimeout(resolve, 0));
  q.push("now");
  assert.equal((await read).value, "now");
  assert.equal(q.bytes, 0);
});

test("Inbox close and error come after the queued messages", async () => {
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

test("Inbox error reaches a read already waiting", async () => {
  const { q } = queue();
  const read = q.stream.getReader().read();
  await new Promise((resolve) => setTimeout(resolve, 0));
  q.error(new Error("lost"));
  await assert.rejects(read, /lost/);
});

test("Inbox cancel drops everything and reports it", async () => {
  const { q, cancels } = queue();
  q.push("a");
  await q.stream.cancel();
  assert.equal(cancels(), 1);
  assert.equal(q.ended, true);
  assert.equal(q.bytes, 0);
  q.push("b");
  assert.equal(q.bytes, 0);
});

test("Inbox stays correct over many messages (compaction)", async () => {
  const { q } = queue();
  const reader = q.stream.getReader();
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 3000; i++) q.push(`m${i}`);
    for (let i = 0; i < 3000; i++) assert.equal((await reader.read()).value, `m${i}`);
  }
  assert.equal(q.bytes, 0);
});

test("Inbox.listen delivers held messages in a microtask, then new ones synchronously", async () => {
  const { q, spaces } = queue();
  q.push("held");
  const seen: unknown[] = [];
  const subscription = q.listen((message) => seen.push(message));
  assert.deepEqual(seen, []); // not before listen() returned
  await Promise.resolve();
  assert.deepEqual(seen, ["held"]);
  assert.equal(q.bytes, 0);
  assert.ok(spaces() >= 1);
  q.push("live");
  assert.deepEqual(seen, ["held", "live"]); // synchronously, no queueing
  assert.equal(subscription.isPaused, false);
});

test("Inbox.listen pause holds and counts messages; resume delivers them, then the end", async () => {
  const { q, spaces } = queue();
  const seen: unknown[] = [];
  const subscription = q.listen((message) => seen.push(message), {
    onDone: () => seen.push("done"),
    onError: () => seen.push("error"),
  });
  await Promise.resolve();
  subscription.pause();
  assert.equal(subscription.isPaused, true);
  q.push("a");
  q.push("bb");
  assert.deepEqual(seen, []);
  assert.equal(q.bytes, 33 + 34);
  const before = spaces();
  subscription.resume();
  assert.deepEqual(seen, ["a", "bb"]);
  assert.equal(q.bytes, 0);
  assert.ok(spaces() > before); // the channel may read its transport again
  subscription.pause();
  q.push("c");
  q.close();
  assert.deepEqual(seen, ["a", "bb"]);
  subscription.resume();
  assert.deepEqual(seen, ["a", "bb", "c", "done"]);
});

test("Inbox.listen: a pause inside the listener stops delivery at that message", async () => {
  const { q } = queue();
  for (const m of ["1", "2", "3"]) q.push(m);
  const seen: unknown[] = [];
  const subscription = q.listen((message) => {
    seen.push(message);
    if (message === "2") subscription.pause();
  });
  await Promise.resolve();
  assert.deepEqual(seen, ["1", "2"]);
  q.push("4");
  assert.deepEqual(seen, ["1", "2"]);
  subscription.resume();
  assert.deepEqual(seen, ["1", "2", "3", "4"]);
});

test("Inbox.listen reports an error end after the messages, exactly once", async () => {
  const { q } = queue();
  const events: unknown[] = [];
  q.push("x");
  q.error(new Error("lost"));
  q.error(new Error("ignored"));
  q.listen((message) => events.push(message), {
    onDone: () => events.push("done"),
    onError: (error) => events.push((error as Error).message),
  });
  await Promise.resolve();
  assert.deepEqual(events, ["x", "lost"]);
});

test("Inbox.listen cancel drops messages and reports the cancel", async () => {
  const { q, cancels } = queue();
  const seen: unknown[] = [];
  const subscription = q.listen((message) => seen.push(message), {
    onDone: () => seen.push("done"),
  });
  await Promise.resolve();
  q.push("a");
  subscription.cancel();
  q.push("b");
  q.close();
  assert.deepEqual(seen, ["a"]);
  assert.equal(cancels(), 1);
  assert.equal(q.ended, true);
  assert.equal(q.bytes, 0);
});

test("Inbox: one reader only; stream after listen() is locked, listen() after stream throws", () => {
  const a = queue().q;
  a.listen(() => {});
  assert.equal(a.stream.locked, true);
  assert.throws(() => a.listen(() => {}), { name: "InvalidStateError" });

  const b = queue().q;
  assert.equal(b.stream.locked, false);
  assert.throws(() => b.listen(() => {}), { name: "InvalidStateError" });
  assert.throws(() => queue().q.listen("nope" as never), TypeError);
});

test("Inbox.listen: an exception in the listener is reported, delivery goes on", async () => {
  const reported: unknown[] = [];
  const q = new Inbox({ onSpace() {}, onCancel() {}, report: (error) => reported.push(error) });
  const seen: unknown[] = [];
  q.listen((message) => {
    seen.push(message);
    if (message === "bad") throw new Error("listener failed");
  }, {
    onDone() {
      throw new Error("onDone failed");
    },
  });
  await Promise.resolve();
  assert.doesNotThrow(() => q.push("bad"));
  q.push("next");
  q.close();
  assert.deepEqual(seen, ["bad", "next"]);
  assert.deepEqual(reported.map((e) => (e as Error).message), ["listener failed", "onDone failed"]);
});

test("Inbox.listen: an end caused inside the listener comes after the listener returned", async () => {
  const inbox = new Inbox();
  const log: string[] = [];
  inbox.listen((message) => {
    log.push(String(message));
    inbox.close(); // as a listener that closes its channel's sink
    log.push("returned");
  }, { onDone: () => log.push("done") });
  await Promise.resolve();
  inbox.push("a");
  inbox.push("b"); // after the end: dropped
  assert.deepEqual(log, ["a", "returned", "done"]);
});

test("Inbox.listen: a message pushed from inside the listener is delivered after it returned, in order", async () => {
  const inbox = new Inbox();
  const log: string[] = [];
  inbox.listen((message) => {
    log.push(`${message}:start`);
    if (message === "a") inbox.push("b");
    log.push(`${message}:end`);
  }, { onDone: () => log.push("done") });
  await Promise.resolve();
  inbox.push("a");
  inbox.close();
  assert.deepEqual(log, ["a:start", "a:end", "b:start", "b:end", "done"]);
});
