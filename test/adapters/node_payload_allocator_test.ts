import assert from "node:assert/strict";
import { test } from "node:test";
import { installNodePayloadAllocator } from "../../src/adapters/node_payload_allocator.ts";
import { allocatePayload, PAYLOAD_ALLOCATOR_THRESHOLD } from "../../src/engine/payload_memory.ts";
import { FrameDecoder } from "../../src/engine/frame_decoder.ts";
import { SeededRandom } from "../_util/seeded_random.ts";
import { clientFrame } from "../engine/_frames.ts";

test("installNodePayloadAllocator gives plain Uint8Arrays with an ArrayBuffer of their own", () => {
  installNodePayloadAllocator();
  installNodePayloadAllocator(); // idempotent
  for (const size of [PAYLOAD_ALLOCATOR_THRESHOLD, 5 * 1024 * 1024 + 3]) {
    const bytes = allocatePayload(size);
    assert.equal(bytes.constructor, Uint8Array);
    assert.equal(bytes.byteOffset, 0);
    assert.equal(bytes.byteLength, size);
    assert.equal(bytes.buffer.byteLength, size);
  }
});

test("A large frame decodes exactly into memory from the Node allocator", () => {
  installNodePayloadAllocator();
  const payload = new SeededRandom(8).bytes(2 << 20);
  const wire = clientFrame(0x82, payload, new Uint8Array([5, 6, 7, 8]));
  const decoder = new FrameDecoder({ role: "server" });
  const payloads: Uint8Array[] = [];
  for (let at = 0; at < wire.length; at += 65536) {
    decoder.push(wire.slice(at, at + 65536));
    for (let f = decoder.next(); f !== null; f = decoder.next()) payloads.push(f.payload);
  }
  assert.equal(payloads.length, 1);
  assert.equal(payloads[0].buffer.byteLength, payload.length);
  assert.deepEqual(payloads[0], payload);
});
