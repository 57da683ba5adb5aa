import { test } from "node:test";
import assert from "node:assert/strict";
import zlib from "node:zlib";
import { compressMessage, compressorSyncFlushes } from "../../src/deflate/compress_message.ts";
import { decompressMessage } from "../../src/deflate/decompress_message.ts";

const runtime = "Deno" in globalThis ? "deno" : "Bun" in globalThis ? "bun" : "node";
const hex = (bytes: Uint8Array) =>
  Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(" ");
const encoder = new TextEncoder();

function randomBytes(length: number, seed = 1): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

test("compressMessage emits the RFC 7692 §7.2.3.1 form on Deno and the §7.2.3.4 form on Node and Bun", async () => {
  const payload = await compressMessage(encoder.encode("Hello"));
  if (runtime === "deno") {
    assert.equal(await compressorSyncFlushes(), true);
    assert.equal(hex(payload), "f2 48 cd c9 c9 07 00");
  } else {
    assert.equal(await compressorSyncFlushes(), false);
    assert.equal(hex(payload), "f3 48 cd c9 c9 07 00 00");
  }
});

test("CompressionStream platform facts: the output of one write plus close", async () => {
  const stream = new CompressionStream("deflate-raw");
  const writer = stream.writable.getWriter();
  writer.write(encoder.encode("a")).catch(() => {});
  writer.close().catch(() => {});
  const chunks: string[] = [];
  for await (const chunk of stream.readable as unknown as AsyncIterable<Uint8Array>) {
    chunks.push(hex(chunk));
  }
  const all = chunks.join(" ");
  // Deno: sync flush after the write, then an empty final fixed block; Node/Bun: one BFINAL block.
  assert.equal(all, runtime === "deno" ? "4a 04 00 00 00 ff ff 03 00" : "4b 04 00");
});

test("compressMessage round-trips through decompressMessage for many sizes and shapes", async () => {
  const messages = [
    new Uint8Array(0),
    encoder.encode("a"),
    encoder.encode(
      JSON.stringify({
        users: Array.from({ length: 50 }, (_, i) => ({ id: i, name: `user${i}` })),
      }),
    ),
    encoder.encode("lorem ipsum dolor sit amet ".repeat(5000)),
    randomBytes(70000, 9),
    new Uint8Array(1 << 20),
  ];
  for (const message of messages) {
    const payload = await compressMessage(message);
    assert.deepEqual(
      await decompressMessage(payload, { maxSize: message.length }),
      message,
      `length ${message.length}`,
    );
  }
});

test("compressMessage output inflates with node:zlib the way zlib-based peers (ws) do", async () => {
  for (
    const message of [
      encoder.encode("Hello"),
      encoder.encode("x".repeat(100000)),
      randomBytes(50000, 4),
    ]
  ) {
    const payload = await compressMessage(message);
    const withTail = new Uint8Array([...payload, 0x00, 0x00, 0xff, 0xff]);
    const out = zlib.inflateRawSync(withTail, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
    assert.deepEqual(new Uint8Array(out), message);
  }
});

test("compressMessage never trims a message that merely ends in the sync-flush bytes", async () => {
  const message = new Uint8Array([...randomBytes(3000, 5), 0x00, 0x00, 0xff, 0xff, 0x03, 0x00]);
  const payload = await compressMessage(message);
  assert.deepEqual(await decompressMessage(payload), message);
});

test("compressMessage compresses each message independently (no context takeover)", async () => {
  const message = encoder.encode("repeated text ".repeat(200));
  const first = await compressMessage(message);
  const second = await compressMessage(message);
  assert.deepEqual(second, first);
  assert.deepEqual(await decompressMessage(second), message); // no dictionary needed
});
