import { test } from "node:test";
import assert from "node:assert/strict";
import { busyRejection, HandshakeSlots } from "../../src/adapters/handshake_slots.ts";

test("HandshakeSlots admits up to the limit and frees a slot once", () => {
  const slots = new HandshakeSlots(2);
  const first = slots.acquire();
  const second = slots.acquire();
  assert.ok(first && second);
  assert.equal(slots.acquire(), undefined);
  assert.equal(slots.pending, 2);
  first();
  first(); // a second call gives nothing back twice
  assert.equal(slots.pending, 1);
  assert.ok(slots.acquire());
  assert.equal(slots.acquire(), undefined);
});

test("HandshakeSlots bounds refusals still being answered separately", () => {
  const slots = new HandshakeSlots(1);
  assert.ok(slots.acquire());
  const refusal = slots.acquireRefusal();
  assert.ok(refusal);
  assert.equal(slots.acquireRefusal(), undefined, "past twice the limit: close at once");
  refusal();
  assert.ok(slots.acquireRefusal());
});

test("HandshakeSlots with Infinity never refuses", () => {
  const slots = new HandshakeSlots(Infinity);
  for (let i = 0; i < 10_000; i++) assert.ok(slots.acquire());
  assert.equal(slots.pending, 10_000);
});

test("busyRejection is a 503 with Retry-After and Connection: close", () => {
  const { status, headers, body } = busyRejection();
  assert.equal(status, 503);
  assert.equal(headers.get("retry-after"), "1");
  assert.equal(headers.get("connection"), "close");
  assert.equal(headers.get("content-length"), String(body.length));
});

test("HandshakeSlots.take and give count the same slots as acquire", () => {
  const slots = new HandshakeSlots(2);
  assert.ok(slots.take());
  const release = slots.acquire();
  assert.ok(release);
  assert.equal(slots.take(), false);
  assert.equal(slots.acquire(), undefined);
  slots.give();
  assert.equal(slots.pending, 1);
  assert.ok(slots.take());
  release();
  slots.give();
  assert.equal(slots.pending, 0);
  slots.give(); // nothing held: stays at zero
  assert.equal(slots.pending, 0);
});
