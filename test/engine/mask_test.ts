import assert from "node:assert/strict";
import { test } from "node:test";
import {
  applyMask,
  KERNEL_MASK_THRESHOLD,
  maskCopy,
  maskCopyInKernel,
  MaskKeyPool,
  maskRange,
  maskRangeInKernel,
  unmaskedCopy,
  WORD_MASK_THRESHOLD,
} from "../../src/engine/mask.ts";
import { Protocol, type ProtocolEvent } from "../../src/engine/protocol.ts";
import {
  loadMaskKernel,
  MASK_KERNEL_BLOCK,
  MASK_KERNEL_WASM,
} from "../../src/engine/mask_kernel.ts";
import { concatBytes, hex, toHex } from "../_util/hex.ts";
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

test("the WebAssembly SIMD kernel loads on this runtime and masks whole 64-byte groups only", () => {
  assert.ok(WebAssembly.validate(MASK_KERNEL_WASM));
  const kernel = loadMaskKernel();
  assert.ok(kernel !== null, "WebAssembly SIMD is available on every runtime we test");
  assert.ok(kernel.memory.length >= MASK_KERNEL_BLOCK + 4096 + 32);
  // One block and the room to place it, however large the payloads: never 16 MiB.
  assert.ok(kernel.memory.buffer.byteLength <= MASK_KERNEL_BLOCK + 65536);
  kernel.memory.fill(0xaa, 0, 200);
  kernel.mask(0, 130, 0x04030201); // 128 bytes masked, the last 2 left to the caller
  assert.deepEqual([...kernel.memory.subarray(0, 8)], [
    0xab,
    0xa8,
    0xa9,
    0xae,
    0xab,
    0xa8,
    0xa9,
    0xae,
  ]);
  assert.equal(kernel.memory[127], 0xae);
  assert.equal(kernel.memory[128], 0xaa);
  assert.equal(kernel.memory[129], 0xaa);
});

// Lengths around the kernel threshold, its 64-byte groups and its blocks.
const KERNEL_LENGTHS = [
  KERNEL_MASK_THRESHOLD - 1,
  KERNEL_MASK_THRESHOLD,
  KERNEL_MASK_THRESHOLD + 1,
  KERNEL_MASK_THRESHOLD + 63,
  4097,
  MASK_KERNEL_BLOCK - 1,
  MASK_KERNEL_BLOCK,
  MASK_KERNEL_BLOCK + 1,
  MASK_KERNEL_BLOCK + 5,
  3 * MASK_KERNEL_BLOCK + 3,
  3 * MASK_KERNEL_BLOCK + 61,
];

test("maskRange through the kernel matches the reference at unaligned starts, odd lengths and every offset", () => {
  const random = new SeededRandom(3);
  const backing = random.bytes(4 * MASK_KERNEL_BLOCK);
  for (const length of KERNEL_LENGTHS) {
    for (const start of [0, 1, 2, 3, 7]) {
      for (let offset = 0; offset < 4; offset++) {
        const key = random.bytes(4);
        const data = backing.slice(0, start + length).subarray(start);
        const expected = referenceMask(data, key, offset);
        maskRange(data, 0, length, key, offset);
        assert.deepEqual(data, expected, `length ${length} start ${start} offset ${offset}`);
      }
    }
  }
});

test("unmaskedCopy returns the unmasked range in a buffer of its own for every length and start", () => {
  const random = new SeededRandom(11);
  const source = random.bytes(400);
  const before = source.slice();
  for (let length = 0; length <= 300; length += length < 70 ? 1 : 23) {
    for (let start = 0; start < 4; start++) {
      // The key inside the source, just before the payload, as in a frame.
      const keyStart = start + 2;
      const from = keyStart + 4;
      const copy = unmaskedCopy(source, from, from + length, source, keyStart);
      const key = source.subarray(keyStart, keyStart + 4);
      assert.deepEqual(copy, referenceMask(source.subarray(from, from + length), key, 0));
      assert.notEqual(copy.buffer, source.buffer);
      assert.equal(copy.byteOffset, 0);
      assert.equal(copy.buffer.byteLength, length, `length ${length}: a buffer of its own`);
    }
  }
  assert.deepEqual(source, before, "the source is left as it was");
});

test("maskCopy writes the masked source into the target and leaves the source untouched", () => {
  const random = new SeededRandom(4);
  for (const length of [0, 1, 5, WORD_MASK_THRESHOLD + 3, ...KERNEL_LENGTHS]) {
    for (const at of [0, 1, 6, 14]) {
      for (let offset = 0; offset < 4; offset++) {
        const key = random.bytes(4);
        const source = random.bytes(length + 3).subarray(3); // an unaligned view
        const before = source.slice();
        const target = random.bytes(at + length + 2);
        const around = [...target.subarray(0, at), ...target.subarray(at + length)];
        maskCopy(source, target, at, key, 0, offset);
        assert.deepEqual(source, before, `source changed, length ${length}`);
        assert.deepEqual(
          target.subarray(at, at + length),
          referenceMask(before, key, offset),
          `length ${length} at ${at} offset ${offset}`,
        );
        assert.deepEqual([...target.subarray(0, at), ...target.subarray(at + length)], around);
      }
    }
  }
});

test("maskCopy reads a key that lies in the target before writing over it", () => {
  // A client frame: header with the key, then the payload masked in right after it.
  const payload = new SeededRandom(5).bytes(KERNEL_MASK_THRESHOLD * 3 + 7);
  const frame = new Uint8Array(8 + payload.length);
  frame.set([0x82, 0xfe, 0x0c, 0x07, 0x11, 0x22, 0x33, 0x44]);
  maskCopy(payload, frame, 8, frame, 4, 0);
  assert.deepEqual(frame.subarray(8), referenceMask(payload, hex("11 22 33 44"), 0));
  assert.equal(toHex(frame.subarray(0, 8)), "82 fe 0c 07 11 22 33 44");
});

test("the kernel paths match the reference at random lengths across block boundaries, sources and targets at any distance", () => {
  // Lengths within 70 bytes of 1-4 whole blocks; source and target offsets that put the target
  // 0-40 bytes past the source and near the end of a 4 KiB page, where a block is placed
  // furthest into the kernel's memory.
  const random = new SeededRandom(6);
  const backing = random.bytes(4 * MASK_KERNEL_BLOCK + 8192 + 70);
  for (let round = 0; round < 24; round++) {
    const length = (1 + random.int(4)) * MASK_KERNEL_BLOCK - 70 + random.int(141);
    const from = random.pick([0, 1, 3, 4095, random.int(4096)]);
    const at = random.pick([from, from + 1 + random.int(40), 4095, random.int(4096)]);
    const offset = random.int(4);
    const key = random.bytes(4);
    const label = `length ${length} from ${from} at ${at} offset ${offset}`;
    const source = backing.slice(0, from + length).subarray(from);
    const expected = referenceMask(source, key, offset);
    const target = new Uint8Array(at + length + 1).fill(0xee);
    assert.ok(maskCopyInKernel(source, target, at, key, 0, offset));
    assert.deepEqual(target.subarray(at, at + length), expected, `copy ${label}`);
    assert.equal(target[at - 1] ?? 0xee, 0xee, `byte before, ${label}`);
    assert.equal(target[at + length], 0xee, `byte after, ${label}`);
    assert.ok(maskRangeInKernel(source, 0, length, key, offset));
    assert.deepEqual(source, expected, `in place ${label}`);
  }
});

test("a client frame of several blocks and 3 bytes round-trips through Protocol in odd-sized chunks", () => {
  const random = new SeededRandom(8);
  const payload = random.bytes(5 * MASK_KERNEL_BLOCK + 3);
  const client = new Protocol({ role: "client" });
  client.sendBinary(payload);
  const bytes = concatBytes(client.takeOutgoing());
  const server = new Protocol({ role: "server" });
  const events: ProtocolEvent[] = [];
  for (let at = 0; at < bytes.length;) {
    const size = Math.min(
      bytes.length - at,
      random.pick([1, 3, 4095, 65537, MASK_KERNEL_BLOCK - 1, MASK_KERNEL_BLOCK + 1, 200_003]),
    );
    // Each chunk at an odd offset of its own buffer, as reads out of a larger slab arrive.
    const slack = random.int(8);
    const chunk = new Uint8Array(slack + size);
    chunk.set(bytes.subarray(at, at + size), slack);
    events.push(...server.receive(chunk.subarray(slack)));
    at += size;
  }
  assert.equal(events.length, 1);
  const event = events[0];
  assert.ok(event.type === "binary");
  assert.deepEqual(event.data, payload);
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
