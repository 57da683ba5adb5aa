import { test } from "node:test";
import assert from "node:assert/strict";
import { startHeartbeat } from "../../src/adapters/heartbeat.ts";
import type { CloseInfo } from "../../src/channel/channel_types.ts";
import { FakeClock } from "../../src/testing/fake_clock.ts";
import { deadline } from "../_util/async.ts";

/** A channel whose peer answers pings while `answers` is true. */
function fakeChannel(answers: boolean) {
  let endConnection!: (info: CloseInfo) => void;
  const target = {
    answers,
    pings: 0,
    closedWith: undefined as { code: number; reason?: string } | undefined,
    closed: new Promise<CloseInfo>((resolve) => endConnection = resolve),
    ping() {
      target.pings++;
      return target.answers ? Promise.resolve(1) : new Promise<number>(() => {});
    },
    closeWithCode(code: number, reason?: string) {
      target.closedWith ??= { code, reason };
      endConnection({ code, reason: reason ?? "", wasClean: true });
      return Promise.resolve();
    },
    end() {
      endConnection({ code: 1000, reason: "", wasClean: true });
    },
  };
  return target;
}

test("startHeartbeat closes a silent connection with 1001 exactly idleTimeout after it opened", async () => {
  const clock = new FakeClock();
  const channel = fakeChannel(false);
  startHeartbeat(channel, 10, clock);
  await clock.advance(4999);
  assert.equal(channel.pings, 0);
  await clock.advance(1);
  assert.equal(channel.pings, 1, "the first ping at idleTimeout / 2");
  await clock.advance(4999);
  assert.equal(channel.closedWith, undefined);
  await clock.advance(1);
  assert.deepEqual(channel.closedWith, { code: 1001, reason: "No response from ping frame" });
  assert.equal(channel.pings, 1);
  assert.equal(clock.pending, 0, "no timer left once closed");
});

test("startHeartbeat keeps an answering connection open past idleTimeout and closes it idleTimeout after its last pong", async () => {
  const clock = new FakeClock();
  const channel = fakeChannel(true);
  startHeartbeat(channel, 10, clock);
  await clock.advance(60_000);
  assert.equal(channel.closedWith, undefined);
  assert.equal(channel.pings, 12, "a ping idleTimeout / 2 after each answer");
  // The peer falls silent right after the pong at 60 s.
  channel.answers = false;
  await clock.advance(9999);
  assert.equal(channel.closedWith, undefined);
  await clock.advance(1);
  assert.deepEqual(channel.closedWith, { code: 1001, reason: "No response from ping frame" });
  assert.equal(clock.pending, 0);
});

test("startHeartbeat leaves no timer once the channel closes, and stop() ends it early", async () => {
  const clock = new FakeClock();
  const channel = fakeChannel(true);
  startHeartbeat(channel, 10, clock);
  await clock.advance(7000);
  assert.equal(clock.pending, 1, "one timer per connection");
  channel.end();
  await clock.advance(0);
  assert.equal(clock.pending, 0);
  await clock.advance(60_000);
  assert.equal(channel.pings, 1, "no ping after the close");

  const other = fakeChannel(true);
  const heartbeat = startHeartbeat(other, 10, clock);
  heartbeat!.stop();
  assert.equal(clock.pending, 0);
  await clock.advance(60_000);
  assert.equal(other.pings, 0);
});

test("startHeartbeat with idleTimeout 0 does nothing", async () => {
  const clock = new FakeClock();
  const channel = fakeChannel(false);
  assert.equal(startHeartbeat(channel, 0, clock), undefined);
  assert.equal(clock.pending, 0);
  await clock.advance(60_000);
  assert.equal(channel.pings, 0);
});

test("startHeartbeat closes with 1001 when a ping is rejected on the real clock", async () => {
  const channel = fakeChannel(true);
  channel.ping = () => (channel.pings++, Promise.reject(new Error("closing")));
  startHeartbeat(channel, 0.05);
  await deadline(channel.closed, 5000, "the heartbeat to close");
  assert.deepEqual(channel.closedWith, { code: 1001, reason: "No response from ping frame" });
});
