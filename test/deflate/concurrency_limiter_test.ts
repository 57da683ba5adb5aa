import { test } from "node:test";
import assert from "node:assert/strict";
import { ConcurrencyLimiter, sharedLimiter } from "../../src/deflate/concurrency_limiter.ts";

const tick = () => new Promise<void>((resolve) => setTimeout(resolve, 1));

test("ConcurrencyLimiter runs at most max jobs at once, in call order", async () => {
  const limiter = new ConcurrencyLimiter(3);
  let active = 0;
  let peak = 0;
  const started: number[] = [];
  const jobs = Array.from({ length: 20 }, (_, i) =>
    limiter.run(async () => {
      started.push(i);
      active++;
      peak = Math.max(peak, active);
      await tick();
      active--;
      return i;
    }));
  assert.equal(limiter.active, 3);
  assert.equal(limiter.pending, 17);
  assert.deepEqual(await Promise.all(jobs), Array.from({ length: 20 }, (_, i) => i));
  assert.equal(peak, 3);
  assert.deepEqual(started, Array.from({ length: 20 }, (_, i) => i));
  assert.equal(limiter.active, 0);
  assert.equal(limiter.pending, 0);
});

test("ConcurrencyLimiter releases the slot when a job fails", async () => {
  const limiter = new ConcurrencyLimiter(1);
  const failed = limiter.run(() => Promise.reject(new Error("boom")));
  const next = limiter.run(() => Promise.resolve("ok"));
  await assert.rejects(failed, /boom/);
  assert.equal(await next, "ok");
  assert.equal(limiter.active, 0);
});

test("ConcurrencyLimiter rejects a non-positive maximum", () => {
  assert.throws(() => new ConcurrencyLimiter(0), RangeError);
  assert.throws(() => new ConcurrencyLimiter(1.5), RangeError);
});

test("sharedLimiter returns one limiter per maximum", () => {
  assert.equal(sharedLimiter(7), sharedLimiter(7));
  assert.notEqual(sharedLimiter(7), sharedLimiter(8));
  assert.equal(sharedLimiter(7).max, 7);
});
