import { test } from "node:test";
import assert from "node:assert/strict";
import { startHeartbeat } from "../../src/adapters/heartbeat.ts";
import type { CloseInfo } from "../../src/channel/web_socket_channel.ts";
import { deadline, delay } from "../_util/async.ts";

function fakeChannel(answers: boolean) {
  let endConnection!: (info: CloseInfo) => void;
  const target = {
    pings: 0,
    closedWith: undefined as number | undefined,
    closed: new Promise<CloseInfo>((resolve) => endConnection = resolve),
    ping() {
      target.pings++;
      return answers ? Promise.resolve(1) : new Promise<number>(() => {});
    },
    closeWithCode(code: number) {
      target.closedWith = code;
      endConnection({ code, reason: "", wasClean: true });
      return Promise.resolve();
    },
  };
  return target;
}

test("startHeartbeat closes with 1001 when a ping stays unanswered", async () => {
  const channel = fakeChannel(false);
  startHeartbeat(channel, 0.1);
  await deadline(channel.closed, 2000, "the heartbeat to close");
  assert.equal(channel.closedWith, 1001);
  assert.equal(channel.pings, 1);
});

test("startHeartbeat keeps pinging a peer that answers and stops when told", async () => {
  const channel = fakeChannel(true);
  const stop = startHeartbeat(channel, 0.05);
  await delay(200);
  stop();
  const pings = channel.pings;
  assert.ok(pings >= 3, `${pings} pings`);
  assert.equal(channel.closedWith, undefined);
  await delay(100);
  assert.equal(channel.pings, pings, "no ping after stop()");
});

test("startHeartbeat with idleTimeout 0 does nothing", async () => {
  const channel = fakeChannel(false);
  startHeartbeat(channel, 0);
  await delay(50);
  assert.equal(channel.pings, 0);
});
