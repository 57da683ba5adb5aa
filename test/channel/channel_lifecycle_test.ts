import { test } from "node:test";
import assert from "node:assert/strict";
import { ChannelLifecycle } from "../../src/channel/channel_lifecycle.ts";
import { type CloseWatcher, watchClose } from "../../src/channel/channel_internals.ts";
import { ChannelSet } from "../../src/channel/channel_set.ts";
import { createChannelPair } from "../../src/testing/channel_pair.ts";
import type { CloseInfo } from "../../src/channel/channel_types.ts";

class Connection extends ChannelLifecycle {
  end(info: CloseInfo) {
    this.notifyClosed(info);
  }
}

const CLEAN: CloseInfo = { code: 1000, reason: "bye", wasClean: true };

test("ChannelLifecycle tells each watcher once, with the watched channel, when the connection ends", () => {
  const connection = new Connection();
  const facade = {};
  const told: [string, object][] = [];
  const watcher = (name: string): CloseWatcher => ({
    channelClosed: (channel) => void told.push([name, channel]),
  });
  connection.watchClose(watcher("a"), facade);
  connection.watchClose(watcher("b"), facade);
  connection.watchClose(watcher("c"), facade);
  assert.deepEqual(told, []);
  connection.end(CLEAN);
  assert.deepEqual(told, [["a", facade], ["b", facade], ["c", facade]]);
  connection.end({ code: 1006, reason: "", wasClean: false });
  assert.equal(told.length, 3);
});

test("ChannelLifecycle creates closed only when asked, before or after the end, with the first end's info", async () => {
  const before = new Connection();
  const early = before.closedPromise;
  assert.equal(before.closedPromise, early);
  before.end(CLEAN);
  assert.deepEqual(await early, CLEAN);

  const after = new Connection();
  after.end(CLEAN);
  after.end({ code: 1006, reason: "", wasClean: false });
  assert.deepEqual(await after.closedPromise, CLEAN);
});

test("ChannelLifecycle: a watcher added after the end is told in a microtask", async () => {
  const connection = new Connection();
  connection.end(CLEAN);
  let told = 0;
  connection.watchClose({ channelClosed: () => told++ }, connection);
  assert.equal(told, 0);
  await Promise.resolve();
  assert.equal(told, 1);
});

test("ChannelLifecycle: a throwing watcher is reported asynchronously and the others are still told", async () => {
  const connection = new Connection();
  const thrown = new Error("watcher failed");
  let told = 0;
  connection.watchClose({
    channelClosed: () => {
      throw thrown;
    },
  }, connection);
  connection.watchClose({ channelClosed: () => told++ }, connection);
  const reported = new Promise<unknown>((resolve) => {
    const original = globalThis.queueMicrotask;
    globalThis.queueMicrotask = (callback) => {
      globalThis.queueMicrotask = original;
      try {
        callback();
      } catch (error) {
        resolve(error);
      }
    };
  });
  connection.end(CLEAN);
  assert.equal(told, 1);
  assert.equal(await reported, thrown);
});

test("watchClose on an engine channel needs no closed promise; ChannelSet drops closed channels", async () => {
  const [client, server] = createChannelPair();
  const channels = new ChannelSet();
  channels.add(server);
  channels.add(client);
  let told: object | undefined;
  watchClose(server, { channelClosed: (channel) => told = channel });
  assert.equal(channels.size, 2);
  await client.sink.close(1000, "done");
  await server.closed;
  await client.closed;
  assert.equal(told, server);
  assert.equal(channels.size, 0);
});

test("watchClose falls back to closed for a channel without the hook", async () => {
  let resolve!: (info: CloseInfo) => void;
  const channel = { closed: new Promise<CloseInfo>((r) => resolve = r) };
  let told: object | undefined;
  watchClose(channel, { channelClosed: (c) => told = c });
  resolve(CLEAN);
  await channel.closed;
  await Promise.resolve();
  assert.equal(told, channel);
});

test("ChannelLifecycle: ready settles with the opening, created only when asked for while connecting", async () => {
  const opening = new Connection();
  assert.equal(opening.state, "connecting");
  const ready = opening.opened;
  assert.equal(opening.opened, ready);
  opening.markOpen();
  assert.equal(opening.state, "open");
  await ready;

  // Open before anyone asked: every channel shares one resolved promise.
  const a = new Connection();
  const b = new Connection();
  a.markOpen();
  b.markOpen();
  assert.equal(a.opened, b.opened);
  await a.opened;

  const failed = new Connection();
  const early = failed.opened;
  const error = new Error("refused");
  failed.markOpeningFailed(error);
  assert.equal(failed.state, "closed");
  await assert.rejects(early, (e) => e === error);
  await assert.rejects(failed.opened, (e) => e === error);
  // Failing before anyone asked leaves no unhandled rejection behind.
  new Connection().markOpeningFailed(new Error("nobody asked"));
});
