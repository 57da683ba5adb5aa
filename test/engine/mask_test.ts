import assert from "node:assert/strict";
import { test } from "node:test";
import {
  applyMask,
  copyMasked,
  MaskKeyPool,
  maskRange,
  WORD_MASK_THRESHOLD,
} from "../../src/engine/mask.ts";
import { hex, toHex } from "../_util/hex.ts";
import { SeededRandom } from "../_util/seeded_random.ts";

function referenceMask(data: Uint8Array, key: Uint8Array, offset: number): Uint8Array {
  return data.map((byte, i) => byte ^ key[(offset + i) & 3]);
}

test("applyMask masks the RFC 6455 §5.7 Hello and unmasks it back", () => {
  const data = new TextEncoder().encode("Hello");
  const key = hex("37 fa 21 3d");
  applyMask(data, key);
  assert.equal(toHex(data), "7f 9f 4d 51 58");
  applyMask(data, key);
  assert.equal(new TextDecoder().decode(data), "Hello");
});

test("applyMask matches a byte-by-byte reference for every length, alignment and offset", () => {
  const random = new SeededRandom(1);
  const key = random.bytes(4);
  const backing = random.bytes(512);
  for (let length = 0; length <= 3 * WORD_MASK_THRESHOLD; length += length < 80 ? 1 : 13) {
    for (let start = 0; start < 4; start++) {
      for (let offset = 0; offset < 4; offset++) {
        const data = backing.slice(0, 300).subarray(start, start + length);
        const expected = referenceMask(data, key, offset);
        applyMask(data, key, { offset });
        assert.deepEqual(data, expected, `length ${length} start ${start} offset ${offset}`);
      }
    }
  }
});

test("applyMask over pieces equals masking the whole payload at once", () => {
  const random = new SeededRandom(2);
  const key = random.bytes(4);
  const payload = random.bytes(5000);
  const whole = payload.slice();
  applyMask(whole, key);
  const pieces = payload.slice();
  for (let at = 0; at < pieces.length;) {
    const size = 1 + random.int(300);
    applyMask(pieces.subarray(at, at + size), key, { offset: at });
    at += size;
  }
  assert.deepEqual(pieces, whole);
});

test("maskRange reads its key from any position, including the same buffer", () => {
  const frame = new Uint8Array([0, 0, 1, 2, 3, 4, 0x10, 0x20, 0x30, 0x40, 0x50]);
  maskRange(frame, 6, 11, frame, 0, 2);
  assert.equal(toHex(frame.subarray(6)), "11 22 33 44 51");
});

test("applyMask rejects keys that are not 4 bytes", () => {
  assert.throws(() => applyMask(new Uint8Array(4), new Uint8Array(3)), RangeError);
});

test("MaskKeyPool hands out fresh keys across pool refills", () => {
  const pool = new MaskKeyPool();
  const seen = new Set<string>();
  const key = new Uint8Array(6);
  for (let i = 0; i < 5000; i++) {
    pool.fill(key, 2);
    seen.add(toHex(key.subarray(2)));
  }
  assert.deepEqual([...key.subarray(0, 2)], [0, 0]);
  assert.ok(seen.size > 4990, `${seen.size} distinct keys of 5000`);
});

test("copyMasked matches copy-then-mask for every length, both alignments, offset and key position", () => {
  const random = new SeededRandom(7);
  const backing = random.bytes(600);
  const keyHolder = random.bytes(12);
  for (let length = 0; length <= 3 * WORD_MASK_THRESHOLD; length += length < 80 ? 1 : 13) {
    for (let sourceStart = 0; sourceStart < 4; sourceStart++) {
      for (let targetStart = 0; targetStart < 4; targetStart++) {
        for (const [offset, keyStart] of [[0, 0], [1, 3], [2, 8], [3, 5]]) {
          const key = keyHolder.subarray(keyStart, keyStart + 4);
          const source = backing.slice(0, 300);
          const before = source.slice();
          const target = new Uint8Array(320);
          copyMasked(
            source,
            sourceStart,
            target,
            targetStart + 1,
            length,
            keyHolder,
            offset,
            keyStart,
          );
          const expected = referenceMask(
            source.subarray(sourceStart, sourceStart + length),
            key,
            offset,
          );
          const what = `length ${length} from ${sourceStart} to ${
            targetStart + 1
          } offset ${offset}`;
          assert.deepEqual(
            target.subarray(targetStart + 1, targetStart + 1 + length),
            expected,
            what,
          );
          assert.equal(target[targetStart], 0, `${what}: wrote before the range`);
          assert.equal(target[targetStart + 1 + length] ?? 0, 0, `${what}: wrote past the range`);
          assert.deepEqual(source, before, `${what}: changed the source`);
        }
      }
    }
  }
});
