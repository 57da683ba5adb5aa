import { test } from "node:test";
import assert from "node:assert/strict";
import { JoinArena } from "../../src/adapters/join_arena.ts";

test("JoinArena hands out consecutive ranges of one slab, exactly as long as asked", () => {
  const arena = new JoinArena({ slabSize: 100 });
  const a = arena.take(30);
  const b = arena.take(50);
  assert.equal(a.bytes.buffer, b.bytes.buffer);
  assert.deepEqual([a.bytes.byteOffset, a.bytes.byteLength], [0, 30]);
  assert.deepEqual([b.bytes.byteOffset, b.bytes.byteLength], [30, 50]);
  // Ranges in use never overlap: what one holds survives writes into the other.
  a.bytes.fill(1);
  b.bytes.fill(2);
  assert.ok(a.bytes.every((x) => x === 1) && b.bytes.every((x) => x === 2));
});

test("JoinArena takes a new slab when the current one is short, and reuses a slab once all its ranges are back", () => {
  const arena = new JoinArena({ slabSize: 100, spareSlabs: 1 });
  const a = arena.take(60);
  const b = arena.take(60); // 40 left: a second slab
  assert.notEqual(a.bytes.buffer, b.bytes.buffer);
  arena.give(a); // the first slab is free and not current: a spare
  assert.equal(arena.spareSlabs, 1);
  const c = arena.take(60); // 40 left in the second: the spare
  assert.equal(c.bytes.buffer, a.bytes.buffer);
  assert.equal(c.bytes.byteOffset, 0);
  assert.equal(arena.spareSlabs, 0);
  arena.give(c); // current again and free: starts over in place
  const d = arena.take(100);
  assert.deepEqual([d.bytes.buffer === a.bytes.buffer, d.bytes.byteOffset], [true, 0]);
  arena.give(b);
  arena.give(d);
});

test("JoinArena keeps at most spareSlabs freed slabs, and gives a long range a slab of its own", () => {
  const arena = new JoinArena({ slabSize: 100, spareSlabs: 2 });
  const leases = [arena.take(100), arena.take(100), arena.take(100), arena.take(100)];
  assert.equal(new Set(leases.map((l) => l.bytes.buffer)).size, 4);
  for (const lease of leases) arena.give(lease);
  // Three freed slabs that are not current, two kept.
  assert.equal(arena.spareSlabs, 2);
  const long = arena.take(250);
  assert.deepEqual([long.bytes.byteLength, long.bytes.buffer.byteLength], [250, 250]);
  arena.give(long);
});

test("JoinArena: a slab whose ranges are given back while others are taken is not reused before its last", () => {
  const arena = new JoinArena({ slabSize: 100, spareSlabs: 4 });
  const a = arena.take(40);
  const b = arena.take(40);
  arena.give(a); // b still in use: the slab goes on from 80
  const c = arena.take(20);
  assert.deepEqual([c.bytes.buffer === b.bytes.buffer, c.bytes.byteOffset], [true, 80]);
  arena.give(b);
  arena.give(c); // all back: from the start again
  assert.equal(arena.take(10).bytes.byteOffset, 0);
});
