import { test } from "node:test";
import assert from "node:assert/strict";
import { waitFor } from "../_util/async.ts";
import { redisSkip, startRedisServer } from "../_util/redis_server.ts";
import { type ChannelPair, createChannelPair } from "../../src/testing/channel_pair.ts";
import { FakeClock } from "../../src/testing/fake_clock.ts";
import { SESSION_PROTOCOL } from "../../src/session/frames.ts";
import { SessionError } from "../../src/session/errors.ts";
import { SessionClient } from "../../src/session/session_client.ts";
import { SessionHub } from "../../src/session/session_hub.ts";
import { RedisSessionStore } from "../../src/session/redis.ts";

// Two session hubs (two processes, as far as the store can tell) on one real
// Redis; a client moves from the first to the second while the first is
// still delivering one of its sends. The leases run on a fake clock, so the
// interleaving is driven step by step, not by timing.

const LEASE = 1_000;

/** A Redis store that counts its claims, made and settled: the test waits on them. */
class CountingStore extends RedisSessionStore {
  issued = 0;
  settled = 0;
  override async claim(session: string, seq: number, owner: string, leaseMs: number) {
    this.issued++;
    try {
      return await super.claim(session, seq, owner, leaseMs);
    } finally {
      this.settled++;
    }
  }
}

function setup(redisUrl: string) {
  const clock = new FakeClock(Date.now());
  const store = () =>
    new CountingStore({ url: redisUrl, now: () => clock.now(), maxReconnectDelay: 50 });
  const delivered: string[] = [];
  const errors: unknown[] = [];
  let release!: () => void;
  const released = new Promise<void>((resolve) => release = resolve);
  const stores = { first: store(), second: store() };
  const first = new SessionHub({
    store: stores.first,
    clock,
    leaseTime: LEASE,
    onError: (error) => errors.push(error),
    onMessage: async ({ seq }) => {
      delivered.push(`first ${seq}`);
      await released;
    },
  });
  const second = new SessionHub({
    store: stores.second,
    clock,
    leaseTime: LEASE,
    onMessage: ({ seq }) => void delivered.push(`second ${seq}`),
  });
  const pairs: ChannelPair[] = [];
  let target = first;
  const client = new SessionClient("memory://session", {
    heartbeat: false,
    reconnect: { base: 5, max: 50 },
    connector: () => {
      const pair = createChannelPair({ protocol: SESSION_PROTOCOL });
      pairs.push(pair);
      target.accept(pair[1]);
      return pair[0];
    },
  });
  return {
    clock,
    delivered,
    errors,
    release,
    first,
    second,
    client,
    /** Cuts the client's connection; it reconnects to the second hub. */
    moveToSecond() {
      target = second;
      for (const pair of pairs.splice(0)) pair.destroy();
    },
    stores,
    /**
     * Connects to the first hub and sends one message; returns once its
     * handler runs, with the send's promise (wrapped: a promise would be awaited).
     */
    async sendToFirst(): Promise<{ sent: Promise<void> }> {
      await Promise.all([first.ready, second.ready]);
      await client.connect();
      const sent = client.send("x");
      sent.catch(() => {}); // the caller awaits it
      await waitFor(() => delivered.length === 1, { what: "the first hub's handler" });
      return { sent };
    },
    async close() {
      await client.close();
      await first.close();
      await second.close();
    },
  };
}

test(
  "a handler that outlives the lease: the resend on another process waits for the record, it is not delivered again",
  { skip: redisSkip },
  async () => {
    const redis = await startRedisServer();
    const rig = setup(redis.url);
    try {
      const { sent } = await rig.sendToFirst();
      rig.moveToSecond();
      // The resend reaches the second hub, which finds the first one's lease.
      const { first, second } = rig.stores;
      await waitFor(() => second.settled >= 1, { what: "the second hub's claim" });
      // Two whole leases pass while the first hub's handler runs. At each
      // step the first hub's claims in flight (its renewals) settle and the
      // second hub claims twice (the first of them may have read the clock
      // before it moved), or it took the send over.
      for (let step = 0; step < 6; step++) {
        const claims = second.settled;
        await rig.clock.advance(LEASE / 3 + 1);
        await waitFor(
          () =>
            (first.settled === first.issued && second.settled >= claims + 2) ||
            rig.delivered.length > 1,
          { what: `step ${step + 1}: the renewals settled and two claims elsewhere` },
        );
      }
      assert.deepEqual(rig.delivered, ["first 1"]);
      assert.ok(first.issued >= 7, `${first.issued - 1} renewals of the lease`);
      rig.release();
      await sent; // acknowledged by the second hub, as a duplicate
      assert.deepEqual(rig.delivered, ["first 1"]);
      assert.equal(rig.second.stats().duplicates, 1);
      assert.equal(rig.second.stats().received, 0);
    } finally {
      rig.release();
      await rig.close();
      await redis.stop();
    }
  },
);

test(
  "a store away for a whole lease after the handler: WS_SESSION_UNRECORDED, and another process delivers the send again",
  { skip: redisSkip },
  async () => {
    const redis = await startRedisServer({ persistent: true });
    const rig = setup(redis.url);
    try {
      const { sent } = await rig.sendToFirst();
      await redis.restart(async () => {
        rig.moveToSecond(); // the next connection goes to the second hub
        rig.release(); // the handler returns; its record fails while Redis is away
        await rig.clock.advance(2 * LEASE);
        await waitFor(() => rig.errors.length > 0, { what: "the record to be given up" });
      });
      const [error] = rig.errors;
      assert.ok(error instanceof SessionError, String(error));
      assert.equal(error.code, "WS_SESSION_UNRECORDED");
      assert.equal(error.closeCode, 1011);
      await sent; // delivered again by the second hub, which found the lease run out
      assert.deepEqual(rig.delivered, ["first 1", "second 1"]);
    } finally {
      rig.release();
      await rig.close();
      await redis.stop();
    }
  },
);
