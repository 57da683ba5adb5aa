import { test } from "node:test";
import assert from "node:assert/strict";
import { deferred, handled } from "../../src/_util/deferred.ts";

test("deferred resolves once and reports settled", async () => {
  const d = deferred<number>();
  assert.equal(d.settled, false);
  d.resolve(1);
  d.resolve(2);
  d.reject(new Error("ignored"));
  assert.equal(d.settled, true);
  assert.equal(await d.promise, 1);
});

test("deferred rejects once", async () => {
  const d = deferred<number>();
  d.reject(new Error("first"));
  d.resolve(3);
  await assert.rejects(d.promise, /first/);
});

test("handled keeps the rejection for those who await it", async () => {
  let unhandled = 0;
  const onUnhandled = () => unhandled++;
  const g = globalThis as {
    process?: { on(e: string, f: () => void): void; off(e: string, f: () => void): void };
  };
  g.process?.on("unhandledRejection", onUnhandled);
  const promise = handled(Promise.reject(new Error("nobody listens")));
  await new Promise((resolve) => setTimeout(resolve, 10));
  g.process?.off("unhandledRejection", onUnhandled);
  assert.equal(unhandled, 0);
  await assert.rejects(promise, /nobody listens/);
});
