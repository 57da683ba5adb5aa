import { test } from "node:test";
import assert from "node:assert/strict";
import { PreparedMessage } from "../../src/fanout/prepared_message.ts";
import { decompressMessage } from "../../src/deflate/decompress_message.ts";
import { Protocol } from "../../src/engine/protocol.ts";
import { zlibCodec } from "../../src/adapters/zlib_codec.ts";
import * as zlib from "node:zlib";

test("PreparedMessage frames text and binary with 7-, 16- and 64-bit lengths, built once", () => {
  const small = new PreparedMessage("Hello");
  assert.deepEqual([...small.frame], [0x81, 5, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
  assert.equal(small.frame, small.frame);
  assert.equal(small.size, 7);
  const medium = new PreparedMessage(new Uint8Array(126).fill(1));
  assert.deepEqual([...medium.frame.subarray(0, 4)], [0x82, 126, 0, 126]);
  assert.equal(medium.size, 130);
  const large = new PreparedMessage(new Uint8Array(65536));
  assert.deepEqual([...large.frame.subarray(0, 10)], [0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0]);
  // Text is measured in UTF-8 bytes.
  assert.equal(new PreparedMessage("é").frame[1], 2);
});

test("PreparedMessage frames decode as the message on a client", () => {
  const client = new Protocol({ role: "client" });
  const events = client.receive(new PreparedMessage("x".repeat(300)).frame.slice());
  assert.equal(events.length, 1);
  assert.deepEqual(events[0], { type: "text", data: "x".repeat(300) });
});

test("PreparedMessage compresses once into an RSV1 frame that inflates to the message", async () => {
  const text = "compressible ".repeat(500);
  const message = new PreparedMessage(text);
  const first = message.compressed();
  assert.equal(message.compressed(), first);
  const { frame, length, final } = await first;
  assert.equal(frame[0], 0xc1);
  assert.ok(length < text.length / 10, `compressed to ${length}`);
  assert.equal(typeof final, "boolean");
  const headerSize = frame.byteLength - length;
  const inflated = await decompressMessage(frame.subarray(headerSize), {});
  assert.equal(new TextDecoder().decode(inflated), text);
});

test("PreparedMessage compressed with a codec: sync-flushed (no final block), a fresh window", async () => {
  const text = "compressible ".repeat(500);
  const { frame, length, final } = await new PreparedMessage(text).compressed(zlibCodec);
  assert.equal(final, false);
  assert.equal(frame[0], 0xc1);
  const payload = frame.subarray(frame.byteLength - length);
  assert.equal(payload[0] & 1, 0, "the first block is not final");
  // A fresh zlib inflater (RFC 7692 §7.2.2: append 00 00 ff ff) reads it alone.
  const inflated = zlib.inflateRawSync(
    new Uint8Array([...payload, 0x00, 0x00, 0xff, 0xff]),
    { finishFlush: zlib.constants.Z_SYNC_FLUSH },
  );
  assert.equal(new TextDecoder().decode(inflated), text);
});
