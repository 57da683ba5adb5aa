// The buffer that keeps a NATS backplane's publishes during an outage:
// bounded in bytes and time, drained in order, emptied on failure.
import { test } from "node:test";
import assert from "node:assert/strict";
import { BackplaneError, type BackplaneErrorCode } from "../../src/fanout/backplane.ts";
import { NatsOutageBuffer } from "../../src/backplane/nats_outage_buffer.ts";
import { delay } from "../_util/async.ts";

const isBackplaneError = (code: BackplaneErrorCode) => (error: unknown) =>
  error instanceof BackplaneError && error.code === code;

/** Settles to "sent" or the rejection's code/message, without unhandled rejections. */
const outcome = (promise: Promise<void>) =>
  promise.then(
    () => "sent",
    (error: Error) => (error as BackplaneError).code ?? error.message,
  );

test("drain sends every publish once, in order, and resolves them", async () => {
  const buffer = new NatsOutageBuffer({ maxBytes: Infinity, timeout: 60_000 });
  assert.equal(buffer.isEmpty, true);
  // Past 1,024 entries the queue compacts while draining: order must survive it.
  const added = Array.from(
    { length: 3000 },
    (_, i) => buffer.add(`s${i}`, new Uint8Array([i & 0xff])),
  );
  assert.equal(buffer.isEmpty, false);
  const sent: string[] = [];
  buffer.drain((subject, payload) => {
    assert.equal(payload[0], Number(subject.slice(1)) & 0xff);
    sent.push(subject);
  });
  assert.deepEqual(sent, Array.from({ length: 3000 }, (_, i) => `s${i}`));
  assert.equal(buffer.isEmpty, true);
  await Promise.all(added);
});

test("a publish that send refuses rejects with its error; the rest still go", async () => {
  const buffer = new NatsOutageBuffer({ maxBytes: Infinity, timeout: 60_000 });
  const outcomes = ["a", "b", "c"].map((subject) =>
    outcome(buffer.add(subject, new Uint8Array(1)))
  );
  buffer.drain((subject) => {
    if (subject === "b") throw new RangeError("too large");
  });
  assert.deepEqual(await Promise.all(outcomes), ["sent", "too large", "sent"]);
});

test("over maxBytes (subject and payload) rejects BUFFER_FULL; room frees as it drains", async () => {
  const buffer = new NatsOutageBuffer({ maxBytes: 10, timeout: 60_000 });
  const first = buffer.add("ab", new Uint8Array(8)); // exactly 10 bytes
  await assert.rejects(
    buffer.add("", new Uint8Array(1)),
    isBackplaneError("WS_BACKPLANE_BUFFER_FULL"),
  );
  buffer.drain(() => {});
  await first;
  const second = buffer.add("ab", new Uint8Array(8));
  buffer.drain(() => {});
  await second;
  const none = new NatsOutageBuffer({ maxBytes: 0, timeout: 60_000 });
  await assert.rejects(
    none.add("a", new Uint8Array(0)),
    isBackplaneError("WS_BACKPLANE_BUFFER_FULL"),
  );
});

test("past timeout a publish rejects UNAVAILABLE and is never sent; later ones stay", async () => {
  const buffer = new NatsOutageBuffer({ maxBytes: Infinity, timeout: 300 });
  const old = outcome(buffer.add("old", new Uint8Array(1)));
  await delay(150); // expires 150 ms after the first: ample for a late timer
  const recent = outcome(buffer.add("recent", new Uint8Array(1)));
  assert.equal(await old, "WS_BACKPLANE_UNAVAILABLE");
  assert.equal(buffer.isEmpty, false);
  const sent: string[] = [];
  buffer.drain((subject) => sent.push(subject));
  assert.deepEqual(sent, ["recent"]);
  assert.equal(await recent, "sent");
  await delay(20); // no timer left behind to fire on an empty queue
});

test("an Infinity timeout never expires and leaves no timer", async () => {
  const buffer = new NatsOutageBuffer({ maxBytes: Infinity, timeout: Infinity });
  const waiting = outcome(buffer.add("a", new Uint8Array(1)));
  await delay(20);
  buffer.drain(() => {});
  assert.equal(await waiting, "sent");
});

test("failAll rejects every waiting publish with its error and empties the buffer", async () => {
  const buffer = new NatsOutageBuffer({ maxBytes: 100, timeout: 60_000 });
  const outcomes = ["a", "b"].map((subject) => outcome(buffer.add(subject, new Uint8Array(40))));
  buffer.failAll(new BackplaneError("WS_BACKPLANE_CLOSED", "closed"));
  assert.deepEqual(await Promise.all(outcomes), ["WS_BACKPLANE_CLOSED", "WS_BACKPLANE_CLOSED"]);
  assert.equal(buffer.isEmpty, true);
  // The bytes are free again.
  const next = buffer.add("c", new Uint8Array(90));
  let sent = 0;
  buffer.drain(() => sent++);
  await next;
  assert.equal(sent, 1);
});
