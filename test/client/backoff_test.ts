import { test } from "node:test";
import assert from "node:assert/strict";
import { backoffDelay, DEFAULT_BACKOFF, seededRandom } from "../../src/client/backoff.ts";
import { WebSocketClient } from "../../src/client/web_socket_client.ts";
import { FakeClock } from "../../src/testing/fake_clock.ts";
import { FakeTransport } from "../../src/testing/fake_transport.ts";

test("backoffDelay stays within [floor, min(max, floor + base·2^attempt)] for every attempt", () => {
  const random = seededRandom(12345);
  for (const floor of [0, 250]) {
    for (let attempt = 0; attempt < 40; attempt++) {
      for (let i = 0; i < 200; i++) {
        const delay = backoffDelay(attempt, { base: 500, max: 10_000, floor, random });
        const upper = Math.min(10_000, floor + 500 * 2 ** attempt);
        assert.ok(
          delay >= floor && delay <= upper,
          `attempt ${attempt}: ${delay} not in [${floor}, ${upper}]`,
        );
        assert.equal(delay, Math.round(delay));
      }
    }
  }
});

test("backoffDelay windows double per attempt until the cap (full jitter reaches the top of each window)", () => {
  const random = seededRandom(7);
  const maxima: number[] = [];
  for (let attempt = 0; attempt < 8; attempt++) {
    let top = 0;
    for (let i = 0; i < 2000; i++) {
      top = Math.max(top, backoffDelay(attempt, { base: 100, max: 5000, random }));
    }
    maxima.push(top);
  }
  // Windows 100, 200, 400, 800, 1600, 3200, 5000, 5000: the sampled maxima come close to each.
  const windows = [100, 200, 400, 800, 1600, 3200, 5000, 5000];
  maxima.forEach((top, i) =>
    assert.ok(top <= windows[i] && top >= windows[i] * 0.97, `attempt ${i}: ${top}`)
  );
});

test("backoffDelay is reproducible with the same seed and differs with another", () => {
  const run = (seed: number) => {
    const random = seededRandom(seed);
    return Array.from({ length: 20 }, (_, attempt) => backoffDelay(attempt, { random }));
  };
  assert.deepEqual(run(99), run(99));
  assert.notDeepEqual(run(99), run(100));
});

test("backoffDelay uses the defaults: 1 s first window, 30 s cap, no floor", () => {
  assert.deepEqual({ ...DEFAULT_BACKOFF }, { base: 1000, max: 30_000, floor: 0 });
  assert.equal(backoffDelay(0, { random: () => 0.999999 }), 1000);
  assert.equal(backoffDelay(50, { random: () => 0.999999 }), 30_000);
  assert.equal(backoffDelay(3, { random: () => 0 }), 0);
});

test("backoffDelay handles degenerate settings without throwing (base 0, floor over max, bad random)", () => {
  assert.equal(backoffDelay(3, { base: 0, max: 1000, floor: 0, random: () => 0.5 }), 0);
  assert.equal(backoffDelay(3, { base: 100, max: 1000, floor: 2000 }), 2000);
  assert.equal(backoffDelay(0, { base: 100, max: 1000, random: () => NaN }), 0);
  assert.equal(backoffDelay(0, { base: 100, max: 1000, random: () => 7 }), 100);
  assert.equal(backoffDelay(-5, { base: 100, max: 1000, random: () => 0.999999 }), 100);
  assert.equal(backoffDelay(Infinity, { base: 100, max: 1000, random: () => 0.999999 }), 1000);
});

test("backoffDelay adds the floor below the random part so floored delays still spread", () => {
  const random = seededRandom(3);
  const delays = new Set<number>();
  for (let i = 0; i < 500; i++) {
    delays.add(backoffDelay(0, { base: 1000, max: 30_000, floor: 5000, random }));
  }
  assert.ok(Math.min(...delays) >= 5000 && Math.max(...delays) <= 6000);
  assert.ok(delays.size > 300, `only ${delays.size} distinct delays`);
});

test("backoffDelay spreads 1000 simulated clients evenly over the first window", () => {
  const buckets = new Array(10).fill(0);
  let sum = 0;
  for (let client = 0; client < 1000; client++) {
    const delay = backoffDelay(0, { base: 1000, random: seededRandom(client + 1) });
    sum += delay;
    buckets[Math.min(9, Math.floor(delay / 100))]++;
  }
  // Uniform: 100 per bucket expected; a lockstep or clustered schedule would fail this.
  for (const count of buckets) assert.ok(count >= 60 && count <= 140, `buckets ${buckets}`);
  assert.ok(Math.abs(sum / 1000 - 500) < 40, `mean ${sum / 1000}`);
});

test("seededRandom yields numbers in [0, 1)", () => {
  const random = seededRandom(0);
  for (let i = 0; i < 10_000; i++) {
    const r = random();
    assert.ok(r >= 0 && r < 1);
  }
});

test("1000 clients dropped at once reconnect spread over the first window, not in lockstep", async () => {
  const clock = new FakeClock();
  const server = new FakeTransport();
  const attemptTimes: number[] = [];
  const connector: typeof server.connector = (url, options) => {
    attemptTimes.push(clock.now());
    return server.connector(url, options);
  };
  const clients = Array.from({ length: 1000 }, (_, i) =>
    new WebSocketClient("ws://fake/", {
      connector,
      clock,
      heartbeat: false,
      random: seededRandom(1000 + i),
      reconnect: { base: 1000, max: 30_000 },
    }));
  await Promise.all(clients.map((c) => c.connect()));
  attemptTimes.length = 0;
  const droppedAt = clock.now();
  server.dropAll();
  await clock.advance(1000);
  assert.equal(attemptTimes.length, 1000, "every client reconnected within the first window");
  assert.ok(clients.every((c) => c.state.type === "open"));
  const buckets = new Array(10).fill(0);
  for (const t of attemptTimes) buckets[Math.min(9, Math.floor((t - droppedAt) / 100))]++;
  for (const count of buckets) {
    assert.ok(count >= 60 && count <= 140, `reconnects per 100 ms: ${buckets}`);
  }
  const sameMs = new Map<number, number>();
  for (const t of attemptTimes) sameMs.set(t, (sameMs.get(t) ?? 0) + 1);
  assert.ok(Math.max(...sameMs.values()) <= 8, "no millisecond sees a burst");
  await Promise.all(clients.map((c) => c.close()));
});
