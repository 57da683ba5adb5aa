import assert from "node:assert/strict";
import { test } from "node:test";
import { FrameDecoder } from "../../src/engine/frame_decoder.ts";
import { encodeFrame } from "../../src/engine/frame_encoder.ts";
import type { Frame } from "../../src/engine/frame.ts";
import {
  allocatePayload,
  earlyPayloadBuffers,
  installPayloadAllocator,
  PAYLOAD_ALLOCATOR_THRESHOLD,
  setEarlyPayloadBuffers,
} from "../../src/engine/payload_memory.ts";
import { Protocol } from "../../src/engine/protocol.ts";
import { concatBytes } from "../_util/hex.ts";
import { SeededRandom } from "../_util/seeded_random.ts";
import { clientFrame } from "./_frames.ts";

// Stands in for memory that is not zero-filled: every buffer comes full of 0xa5, so any byte
// the engine fails to overwrite shows up in what it delivers or sends.
function installDirtyAllocator(): number[] {
  const sizes: number[] = [];
  installPayloadAllocator((size) => {
    sizes.push(size);
    return new Uint8Array(size).fill(0xa5);
  });
  return sizes;
}

test("allocatePayload takes the installed allocator from the threshold up only", () => {
  const sizes = installDirtyAllocator();
  try {
    const small = allocatePayload(PAYLOAD_ALLOCATOR_THRESHOLD - 1);
    assert.equal(small[0], 0);
    const large = allocatePayload(PAYLOAD_ALLOCATOR_THRESHOLD);
    assert.equal(large.byteLength, PAYLOAD_ALLOCATOR_THRESHOLD);
    assert.deepEqual(sizes, [PAYLOAD_ALLOCATOR_THRESHOLD]);
  } finally {
    installPayloadAllocator((size) => new Uint8Array(size));
  }
});

test("A decoded payload that spans chunks overwrites every byte of a dirty buffer", () => {
  const sizes = installDirtyAllocator();
  try {
    const payload = new Uint8Array(3 << 20); // zeros: a byte left unwritten would read 0xa5
    payload.set(new SeededRandom(3).bytes(4096), 1000);
    const wire = clientFrame(0x82, payload, new Uint8Array([0xa5, 0xa5, 0xa5, 0xa5]));
    const decoder = new FrameDecoder({ role: "server" });
    const frames = [];
    for (let at = 0; at < wire.length; at += 65536) {
      decoder.push(wire.slice(at, at + 65536));
      for (let f = decoder.next(); f !== null; f = decoder.next()) frames.push(f);
    }
    assert.equal(frames.length, 1);
    assert.deepEqual(sizes, [payload.length]);
    assert.deepEqual(frames[0].payload, payload);
  } finally {
    installPayloadAllocator((size) => new Uint8Array(size));
  }
});

test("A large masked frame is encoded whole into a dirty buffer", () => {
  const sizes = installDirtyAllocator();
  try {
    const payload = new SeededRandom(4).bytes(2 << 20);
    const key = new Uint8Array([1, 2, 3, 4]);
    const { header, payload: masked } = encodeFrame(
      { fin: true, rsv1: false, opcode: 0x2, payload },
      { maskKey: key },
    );
    assert.deepEqual(sizes, [payload.length + 14]);
    const server = new FrameDecoder({ role: "server" });
    server.push(new Uint8Array([...header, ...masked]));
    assert.deepEqual(server.next()?.payload, payload);
    // The protocol's send path (a client's binary message) round-trips too.
    const client = new Protocol({ role: "client" });
    client.sendBinary(payload);
    const receiver = new Protocol({ role: "server" });
    const events = client.takeOutgoing().flatMap((chunk) => receiver.receive(chunk));
    assert.equal(events.length, 1);
    assert.ok(events[0].type === "binary");
    assert.deepEqual(events[0].data, payload);
  } finally {
    installPayloadAllocator((size) => new Uint8Array(size));
  }
});

/** Runs `body` with early payload buffers and the dirty allocator, then restores both. */
function withEarlyBuffers(body: (sizes: number[]) => void): void {
  const sizes = installDirtyAllocator();
  setEarlyPayloadBuffers(true);
  try {
    body(sizes);
  } finally {
    setEarlyPayloadBuffers(false);
    installPayloadAllocator((size) => new Uint8Array(size));
  }
}

test("Early payload buffers: off by default, and a long payload's buffer comes once a sixteenth is in", () => {
  assert.equal(earlyPayloadBuffers(), false);
  withEarlyBuffers((sizes) => {
    // 16 MiB in reads of 512 KiB (Bun's largest), each a buffer of its own; zeros with a random
    // stretch, so a byte left unwritten in the dirty buffer would read 0xa5.
    const length = 16 << 20;
    const payload = new Uint8Array(length);
    payload.set(new SeededRandom(8).bytes(1 << 20), 5 << 20);
    const wire = clientFrame(0x82, payload, new Uint8Array([0xa5, 0x5a, 0x01, 0x80]));
    const decoder = new FrameDecoder({ role: "server" });
    const chunks: ArrayBufferLike[] = [];
    const frames: Frame[] = [];
    let allocatedAt = -1;
    for (let at = 0; at < wire.length; at += 512 * 1024) {
      const chunk = wire.slice(at, at + 512 * 1024);
      chunks.push(chunk.buffer);
      decoder.push(chunk);
      for (let f = decoder.next(); f !== null; f = decoder.next()) frames.push(f);
      if (allocatedAt < 0 && sizes.length > 0) allocatedAt = at + chunk.length;
    }
    // The buffer came with the read that brought the payload to a sixteenth of its length,
    // never from the declared length alone.
    assert.deepEqual(sizes, [length]);
    assert.ok(allocatedAt >= length / 16 && allocatedAt <= length / 16 + 512 * 1024);
    assert.equal(frames.length, 1);
    assert.ok(!chunks.includes(frames[0].payload.buffer));
    assert.equal(frames[0].payload.buffer.byteLength, length);
    assert.deepEqual(frames[0].payload, payload);
  });
});

test("Early payload buffers: pieces of any size at any key offset, masked or not, with their parts in order", () => {
  withEarlyBuffers(() => {
    const random = new SeededRandom(41);
    for (let round = 0; round < 12; round++) {
      const masked = round % 2 === 0;
      // Around the 256 KiB limit of a buffer taken from the header, then well past it.
      const sizes = [256 * 1024 + random.int(3), 300_000 + random.int(500_000), 5000];
      const payloads = sizes.map((size) => random.bytes(size));
      const wire = concatBytes(
        payloads.map((payload) =>
          masked ? clientFrame(0x82, payload, random.bytes(4)) : concatBytes([
            encodeFrame({ fin: true, rsv1: false, opcode: 0x2, payload }).header,
            payload,
          ])
        ),
      );
      // The parts of the frame under way; a payload that spans reads is reported in order.
      let parts: Uint8Array[] = [];
      let reported = 0;
      const decoder = new FrameDecoder({
        role: masked ? "server" : "client",
        onHeader: () => void (parts = []),
        onPayloadPart: (part) => parts.push(part.slice()),
      });
      const frames: Frame[] = [];
      for (let at = 0; at < wire.length;) {
        const size = Math.min(
          wire.length - at,
          random.pick([1, 3, 4095, 4097, 20_000, 65536, 200_000]),
        );
        decoder.push(wire.slice(at, at + size));
        for (let f = decoder.next(); f !== null; f = decoder.next()) {
          frames.push(f);
          if (parts.length > 0) {
            assert.deepEqual(concatBytes(parts), f.payload, `round ${round}`);
            reported++;
          }
        }
        at += size;
      }
      assert.deepEqual(frames.map((f) => f.payload), payloads, `round ${round}`);
      // The two long payloads always span reads (none is longer than 200,000 bytes).
      assert.ok(reported >= 2, `round ${round}`);
    }
  });
});

test("Early payload buffers: a header that declares 64 MiB and sends 1 MiB reserves nothing", () => {
  withEarlyBuffers((sizes) => {
    const decoder = new FrameDecoder({ role: "server" });
    const header = clientFrame(0x82, new Uint8Array(0), new Uint8Array([1, 2, 3, 4]));
    // The same header with a 64 MiB length (127, then 8 bytes), the mask bit kept.
    const wire = new Uint8Array([header[0], 0xff, 0, 0, 0, 0, 0x04, 0, 0, 0, 1, 2, 3, 4]);
    decoder.push(wire);
    assert.equal(decoder.next(), null);
    for (let i = 0; i < 16; i++) {
      decoder.push(new Uint8Array(65536));
      assert.equal(decoder.next(), null);
    }
    assert.deepEqual(sizes, []);
  });
});
