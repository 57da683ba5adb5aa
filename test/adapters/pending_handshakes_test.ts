import { test } from "node:test";
import assert from "node:assert/strict";
import { PendingHandshakes } from "../../src/adapters/pending_handshakes.ts";
import { deadline, delay } from "../_util/async.ts";

/** Keys admitted with a slot counter: what expired, in order, and the slots still held. */
function tracked(timeout: number) {
  let held = 0;
  const expired: string[] = [];
  let onExpired = () => {};
  const pending = new PendingHandshakes<string>(timeout, (key, entry) => {
    // The slot is back before the callback, and the key no longer pending.
    assert.equal(pending.get(key), undefined);
    expired.push(`${key}${entry.deciding === true ? " deciding" : ""}`);
    onExpired();
  });
  return {
    pending,
    expired,
    held: () => held,
    admit(key: string) {
      held++;
      let given = false;
      pending.admit(key, () => {
        assert.ok(!given, `${key} released twice`);
        given = true;
        held--;
      });
    },
    /** Resolves once `count` keys have expired in all. */
    expiredCount(count: number) {
      return deadline(
        new Promise<void>((resolve) => {
          const check = () => expired.length >= count && resolve();
          onExpired = check;
          check();
        }),
        5000,
        `${count} expiries`,
      );
    },
  };
}

test("PendingHandshakes expires what is not settled, in admission order, each slot given back once", async () => {
  const t = tracked(20);
  t.admit("a");
  t.admit("b");
  t.admit("c");
  t.pending.get("b")!.deciding = true;
  t.pending.settle("a");
  t.pending.settle("a"); // already settled: nothing
  assert.equal(t.held(), 2);
  await t.expiredCount(2);
  assert.deepEqual(t.expired, ["b deciding", "c"]);
  assert.equal(t.held(), 0);
  assert.equal(t.pending.size, 0);
  assert.equal(t.pending.settle("c"), undefined, "settling an expired key does nothing");
});

test("PendingHandshakes: a key admitted later never expires before its own time", async () => {
  const expiredAt = new Map<string, number>();
  const pending = new PendingHandshakes<string>(30, (key) => expiredAt.set(key, performance.now()));
  const admittedAt = new Map<string, number>();
  for (const key of ["first", "second"]) {
    admittedAt.set(key, performance.now());
    pending.admit(key, () => {});
    await delay(15);
  }
  await deadline(
    (async () => {
      while (expiredAt.size < 2) await delay(5);
    })(),
    5000,
    "both expiries",
  );
  assert.deepEqual([...expiredAt.keys()], ["first", "second"]);
  for (const [key, at] of expiredAt) assert.ok(at - admittedAt.get(key)! >= 29, key);
});

test("PendingHandshakes with every key settled holds no timer and expires nothing", async () => {
  const t = tracked(10);
  for (const key of ["a", "b", "c"]) t.admit(key);
  for (const key of ["c", "a", "b"]) assert.ok(t.pending.settle(key));
  assert.equal(t.held(), 0);
  await delay(40);
  assert.deepEqual(t.expired, []);
  // Admitted again after being empty: the timer is set anew.
  t.admit("d");
  await t.expiredCount(1);
  assert.deepEqual(t.expired, ["d"]);
});

test("PendingHandshakes.clear() gives every slot back once and expires nothing", async () => {
  const t = tracked(10);
  for (const key of ["a", "b", "c"]) t.admit(key);
  t.pending.get("b")!.deciding = true;
  t.pending.clear();
  assert.equal(t.held(), 0);
  assert.equal(t.pending.size, 0);
  await delay(40);
  assert.deepEqual(t.expired, []);
  t.pending.clear(); // empty: nothing
  assert.equal(t.held(), 0);
});
