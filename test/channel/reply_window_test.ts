import { test } from "node:test";
import assert from "node:assert/strict";
import { ReplyWindow } from "../../src/channel/reply_window.ts";
import { deferred } from "../../src/_util/deferred.ts";
import { deadline, delay } from "../_util/async.ts";

/** Records when `window.done` settled. */
function watch(window: ReplyWindow): { settled: () => boolean } {
  let settled = false;
  window.done.then(() => settled = true);
  return { settled: () => settled };
}

test("ReplyWindow ends one macrotask after the reader took the last message", async () => {
  let unread = 2;
  const window = new ReplyWindow({ unread: () => unread > 0, pending: () => undefined }, 5000);
  const state = watch(window);
  unread = 1;
  window.taken();
  await delay(20);
  assert.equal(state.settled(), false, "a message is still unread");
  unread = 0;
  window.taken();
  await Promise.resolve();
  assert.equal(state.settled(), false, "microtasks (the application's reaction) run first");
  await deadline(window.done, 1000, "window");
});

test("ReplyWindow with nothing unread ends after one macrotask", async () => {
  const window = new ReplyWindow({ unread: () => false, pending: () => undefined }, 5000);
  const state = watch(window);
  await Promise.resolve();
  assert.equal(state.settled(), false);
  await deadline(window.done, 1000, "window");
});

test("ReplyWindow waits for sends being prepared, even if they fail", async () => {
  const sending = deferred<void>();
  const window = new ReplyWindow({ unread: () => false, pending: () => sending.promise }, 5000);
  const state = watch(window);
  await delay(20);
  assert.equal(state.settled(), false, "a send is still being prepared");
  sending.reject(new Error("closed"));
  await deadline(window.done, 1000, "window");
});

test("ReplyWindow ends at its deadline when the application never reads", async () => {
  const window = new ReplyWindow({ unread: () => true, pending: () => undefined }, 50);
  const state = watch(window);
  await delay(5);
  assert.equal(state.settled(), false);
  await deadline(window.done, 2000, "the deadline");
});

test("ReplyWindow taken(true) stops waiting for the reader; end() is immediate and idempotent", async () => {
  const forced = new ReplyWindow({ unread: () => true, pending: () => undefined }, 5000);
  forced.taken(true);
  await deadline(forced.done, 1000, "forced window");

  const ended = new ReplyWindow({ unread: () => true, pending: () => undefined }, 5000);
  ended.end();
  ended.end();
  ended.taken(true); // after the end: no new timer
  await deadline(ended.done, 1000, "ended window");
});
