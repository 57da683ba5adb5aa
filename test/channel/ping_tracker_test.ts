import { test } from "node:test";
import assert from "node:assert/strict";
import { PingTracker } from "../../src/channel/ping_tracker.ts";

test("PingTracker resolves the ping whose payload the pong carries", async () => {
  const pings = new PingTracker();
  const rtt = pings.add(new Uint8Array([7]));
  pings.pong(new Uint8Array([7]));
  assert.ok((await rtt) >= 0);
});

test("PingTracker: a pong answers every earlier ping too (RFC 6455 §5.5.3)", async () => {
  const pings = new PingTracker();
  const first = pings.add(new Uint8Array([1]));
  const second = pings.add(new Uint8Array([2]));
  const third = pings.add(new Uint8Array([3]));
  pings.pong(new Uint8Array([2]));
  assert.ok((await first) >= 0);
  assert.ok((await second) >= 0);
  let settled = false;
  third.then(() => settled = true, () => {});
  await new Promise((resolve) => setTimeout(resolve, 5));
  assert.equal(settled, false);
  pings.fail(new Error("closed"));
  await assert.rejects(third, /closed/);
});

test("PingTracker ignores unsolicited and duplicate pongs", async () => {
  const pings = new PingTracker();
  pings.pong(new Uint8Array([9]));
  const rtt = pings.add(new Uint8Array([1]));
  pings.pong(new Uint8Array([1]));
  pings.pong(new Uint8Array([1]));
  assert.ok((await rtt) >= 0);
});

test("PingTracker copies the payload, so later changes do not matter", async () => {
  const pings = new PingTracker();
  const payload = new Uint8Array([5]);
  const rtt = pings.add(payload);
  payload[0] = 6;
  pings.pong(new Uint8Array([5]));
  assert.ok((await rtt) >= 0);
});

test("PingTracker nextPayload never repeats within a connection", () => {
  const pings = new PingTracker();
  const a = pings.nextPayload();
  const b = pings.nextPayload();
  assert.notDeepEqual(a, b);
  assert.equal(a.byteLength, 4);
});

test("PingTracker keeps at most 64 outstanding pings and still settles the oldest", async () => {
  const pings = new PingTracker();
  const all = [];
  for (let i = 0; i < 70; i++) all.push(pings.add(new Uint8Array([i])));
  pings.pong(new Uint8Array([69]));
  const times = await Promise.all(all);
  assert.equal(times.length, 70);
});
