import assert from "node:assert/strict";
import { test } from "node:test";
import { applyMask, MaskKeyPool, maskRange, WORD_MASK_THRESHOLD } from "../../src/engine/mask.ts";
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
