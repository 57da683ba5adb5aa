import { test } from "node:test";
import assert from "node:assert/strict";
import { Heartbeat, type HeartbeatHost } from "../../src/channel/heartbeat.ts";
import type { Message } from "../../src/channel/channel_types.ts";
import { FakeClock } from "../../src/testing/fake_clock.ts";

function host(clock: FakeClock, ping: () => Promise<number>) {
  const log = {
    rtts: [] as number[],
    timeouts: 0,
    unsupported: [] as unknown[],
    sent: [] as Message[],
  };
  const h: HeartbeatHost = {
    clock,
    ping,
    send: (m) => (log.sent.push(m), Promise.resolve()),
    onRtt: (ms) => log.rtts.push(ms),
    onTimeout: () => log.timeouts++,
    onUnsupported: (e) => log.unsupported.push(e),
  };
  return { h, log };
}

test("Heartbeat pings every interval and records the RTT", async () => {
  const clock = new FakeClock();
  let pings = 0;
  const { h, log } = host(clock, () => (pings++, Promise.resolve(12)));
  const heartbeat = new Heartbeat({ interval: 1000, timeout: 300 }, h);
  heartbeat.start();
  await clock.advance(999);
  assert.equal(pings, 0);
  await clock.advance(1);
  assert.equal(pings, 1);
  await clock.advance(3000);
  assert.equal(pings, 4);
  assert.deepEqual(log.rtts, [12, 12, 12, 12]);
  assert.equal(log.timeouts, 0);
  heartbeat.stop();
  assert.equal(clock.pending, 0);
});

test("Heartbeat reports a timeout exactly at interval + timeout when no pong comes", async () => {
  const clock = new FakeClock();
  const { h, log } = host(clock, () => new Promise<number>(() => {}));
  const heartbeat = new Heartbeat({ interval: 1000, timeout: 300 }, h);
  heartbeat.start();
  await clock.advance(1299);
  assert.equal(log.timeouts, 0);
  await clock.advance(1);
  assert.equal(log.timeouts, 1);
  await clock.advance(10_000);
  assert.equal(log.timeouts, 1, "stops after the timeout");
  assert.equal(clock.pending, 0);
});

test("Heartbeat in auto mode falls back to ping messages when the transport cannot ping", async () => {
  const clock = new FakeClock();
  const { h, log } = host(clock, () => Promise.reject(new Error("WS_PING_UNSUPPORTED")));
  const heartbeat = new Heartbeat({ interval: 1000, timeout: 500, pingMessage: "ping" }, h);
  heartbeat.start();
  await clock.advance(1000);
  assert.deepEqual(log.sent, ["ping"]);
  assert.equal(heartbeat.usesMessages, true);
  await clock.advance(40);
  assert.equal(heartbeat.consume("pong"), true, "the answer is consumed");
  assert.equal(heartbeat.consume("hello"), false);
  assert.deepEqual(log.rtts, [40]);
  await clock.advance(1000);
  assert.deepEqual(log.sent, ["ping", "ping"]);
  await clock.advance(500);
  assert.equal(log.timeouts, 1, "a missing pong message times out too");
  assert.equal(log.unsupported.length, 0);
});

test("Heartbeat without a ping message reports an unsupported transport instead of timing out", async () => {
  const clock = new FakeClock();
  const { h, log } = host(clock, () => Promise.reject(new Error("no ping here")));
  const heartbeat = new Heartbeat({ interval: 1000, timeout: 500 }, h);
  heartbeat.start();
  await clock.advance(5000);
  assert.equal(log.unsupported.length, 1);
  assert.equal(log.timeouts, 0);
  assert.equal(clock.pending, 0);
});

test("Heartbeat in message mode uses a custom isPong and a ping factory", async () => {
  const clock = new FakeClock();
  const { h, log } = host(clock, () => Promise.resolve(1));
  let n = 0;
  const heartbeat = new Heartbeat({
    interval: 100,
    timeout: 50,
    mode: "message",
    pingMessage: () => JSON.stringify({ type: "ping", n: ++n }),
    isPong: (m) => typeof m === "string" && m.startsWith('{"type":"pong"'),
  }, h);
  heartbeat.start();
  await clock.advance(100);
  assert.deepEqual(log.sent, ['{"type":"ping","n":1}']);
  assert.equal(heartbeat.consume('{"type":"pong"}'), true);
  assert.equal(log.rtts.length, 1);
  heartbeat.stop();
});

test("Heartbeat with interval 0 does nothing", () => {
  const clock = new FakeClock();
  const { h } = host(clock, () => Promise.resolve(1));
  new Heartbeat({ interval: 0 }, h).start();
  assert.equal(clock.pending, 0);
});
