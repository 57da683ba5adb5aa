import { test } from "node:test";
import assert from "node:assert/strict";
import { PeerClose, type PeerCloseHost } from "../../src/channel/peer_close.ts";
import { deadline } from "../_util/async.ts";

function host(overrides: Partial<PeerCloseHost> = {}) {
  let replies = 0;
  const all: PeerCloseHost = {
    closed: () => false,
    unread: () => false,
    pending: () => undefined,
    settings: { closeTimeout: 5000 },
    reply: () => void replies++,
    ...overrides,
  };
  return { all, replies: () => replies };
}

test("PeerClose replies at once when nothing can still be answered", () => {
  const { all, replies } = host();
  const close = new PeerClose(all);
  assert.equal(close.received(false), undefined);
  assert.equal(close.active, false);
  assert.equal(replies(), 1);
  close.replyNow();
  assert.equal(replies(), 1, "one reply only");
});

test("PeerClose waits for messages from the same read to be taken, then replies", async () => {
  let unread = true;
  const { all, replies } = host({ unread: () => unread });
  const close = new PeerClose(all);
  const held = close.received(true);
  assert.ok(held instanceof Promise);
  assert.equal(close.active, true);
  close.taken();
  assert.equal(replies(), 0, "a message is still unread");
  unread = false;
  close.taken();
  await deadline(held!, 2000, "reply");
  assert.equal(close.active, false);
  assert.equal(replies(), 1);
});

test("PeerClose waits for sends being prepared before replying", async () => {
  let finish!: () => void;
  const sending = new Promise<void>((resolve) => finish = resolve);
  const { all, replies } = host({ pending: () => sending });
  const held = new PeerClose(all).received(false);
  assert.ok(held instanceof Promise, "a send under way may be an answer");
  await new Promise((resolve) => setTimeout(resolve, 10));
  assert.equal(replies(), 0);
  finish();
  await deadline(held!, 2000, "reply");
  assert.equal(replies(), 1);
});

test("PeerClose replies at min(timeout, 1 s) when the application never reads", async () => {
  const { all, replies } = host({ unread: () => true, settings: { closeTimeout: 50 } });
  const started = Date.now();
  await deadline(new PeerClose(all).received(true)!, 2000, "reply");
  assert.equal(replies(), 1);
  assert.ok(Date.now() - started < 900, `${Date.now() - started} ms`);
});

test("PeerClose replyNow() replies synchronously once, and never after the channel ended", async () => {
  const { all, replies } = host({ unread: () => true });
  const close = new PeerClose(all);
  const held = close.received(true);
  close.replyNow();
  assert.equal(replies(), 1, "synchronously");
  assert.equal(close.active, false);
  await deadline(held!, 2000, "window");
  assert.equal(replies(), 1, "the window's end does not reply again");

  let closed = false;
  const ended = host({ unread: () => true, closed: () => closed });
  const late = new PeerClose(ended.all);
  const waiting = late.received(true);
  closed = true;
  late.replyNow();
  await deadline(waiting!, 2000, "window");
  assert.equal(ended.replies(), 0, "no reply on a closed channel");
});
