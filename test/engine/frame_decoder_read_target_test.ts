import assert from "node:assert/strict";
import { test } from "node:test";
import type { Frame } from "../../src/engine/frame.ts";
import { FrameDecoder } from "../../src/engine/frame_decoder.ts";
import { Protocol } from "../../src/engine/protocol.ts";
import { concatBytes } from "../_util/hex.ts";
import { SeededRandom } from "../_util/seeded_random.ts";
import { clientFrame, serverFrame } from "./_frames.ts";

const random = new SeededRandom(7);

const bytes = (length: number) => random.bytes(length);

/**
 * Decodes `wire` as a transport with read targets would: a plain chunk of
 * `first` bytes, then reads of at most `step` bytes each (cycling), into the
 * decoder's read target whenever it offers one, else as plain chunks.
 */
function decodeReadingInto(
  decoder: FrameDecoder,
  wire: Uint8Array,
  first: number,
  steps: number[],
): { frames: Frame[]; intoReads: number } {
  const frames: Frame[] = [];
  let pos = 0;
  let intoReads = 0;
  let read = -1;
  while (pos < wire.length) {
    const step = read < 0 ? first : steps[read % steps.length];
    read++;
    const target = decoder.readTarget();
    if (target !== null) {
      const n = Math.min(step, target.length, wire.length - pos);
      target.set(wire.subarray(pos, pos + n));
      decoder.pushTarget(n);
      intoReads++;
      pos += n;
    } else {
      const n = Math.min(step, wire.length - pos);
      decoder.push(wire.slice(pos, pos + n));
      pos += n;
    }
    for (let f = decoder.next(); f !== null; f = decoder.next()) {
      frames.push({ ...f, payload: f.payload.slice() });
    }
  }
  return { frames, intoReads };
}

test("FrameDecoder: a masked payload spanning many reads is read straight into its buffer", () => {
  const payload = bytes(700_000);
  const wire = clientFrame(0x82, payload, new Uint8Array([9, 200, 33, 4]));
  const decoder = new FrameDecoder({ role: "server" });
  // Odd read sizes, so the masking offset is not a multiple of 4.
  const { frames, intoReads } = decodeReadingInto(decoder, wire, 1001, [65_537, 3, 250_001, 7]);
  assert.equal(frames.length, 1);
  assert.ok(intoReads > 3);
  assert.deepEqual(frames[0].payload, payload);
  assert.equal(decoder.readTarget(), null);
});

test("FrameDecoder: a read into the target that ends mid-frame, then ordinary chunks and the next frames", () => {
  const big = bytes(300_000);
  const wire = concatBytes([
    serverFrame(0x02, big),
    serverFrame(0x80, "tail"),
    serverFrame(0x81, "x"),
  ]);
  const decoder = new FrameDecoder({ role: "client" });
  const { frames } = decodeReadingInto(decoder, wire, 5000, [100_000]);
  assert.deepEqual(frames.map((f) => [f.opcode, f.fin, f.payload.length]), [
    [2, false, 300_000],
    [0, true, 4],
    [1, true, 1],
  ]);
  assert.deepEqual(frames[0].payload, big);
});

test("FrameDecoder: readTarget is null without a spanning payload or while the chunk has bytes left", () => {
  const decoder = new FrameDecoder({ role: "client" });
  assert.equal(decoder.readTarget(), null);
  // A whole frame and the start of the next header: nothing under way yet.
  decoder.push(concatBytes([serverFrame(0x81, "hi"), new Uint8Array([0x82])]));
  assert.equal(decoder.readTarget(), null, "bytes of the chunk left");
  assert.ok(decoder.next() !== null);
  assert.equal(decoder.next(), null);
  assert.equal(decoder.readTarget(), null, "a header under way, no payload");
  decoder.push(new Uint8Array([0x7e, 0x01, 0x00, 1, 2]));
  assert.equal(decoder.next(), null);
  const target = decoder.readTarget()!;
  assert.equal(target.length, 256 - 2);
  assert.throws(() => decoder.pushTarget(255), /no read target/);
  target.fill(5);
  decoder.pushTarget(254);
  const frame = decoder.next()!;
  assert.equal(frame.payload.length, 256);
  assert.deepEqual([...frame.payload.subarray(0, 3)], [1, 2, 5]);
});

test("FrameDecoder: a long payload's read target comes once a sixteenth of it arrived, never from the declared length alone", () => {
  const decoder = new FrameDecoder({ role: "client" });
  // 64 MiB declared (the limit), one byte sent: no target, nothing reserved.
  decoder.push(new Uint8Array([0x82, 0x7f, 0, 0, 0, 0, 0x04, 0, 0, 0, 0xaa]));
  assert.equal(decoder.next(), null);
  assert.equal(decoder.readTarget(), null);
  // 1 MiB declared: the target (its own buffer) once 64 KiB of it are in, holding them.
  const payload = bytes(1024 * 1024);
  const wire = serverFrame(0x82, payload);
  const other = new FrameDecoder({ role: "client" });
  other.push(wire.slice(0, 10 + 65_535));
  assert.equal(other.next(), null);
  assert.equal(other.readTarget(), null);
  other.push(wire.slice(10 + 65_535, 10 + 65_536));
  assert.equal(other.next(), null);
  const target = other.readTarget()!;
  assert.equal(target.buffer.byteLength, 1024 * 1024);
  assert.equal(target.length, 1024 * 1024 - 65_536);
  target.set(wire.subarray(10 + 65_536));
  other.pushTarget(target.length);
  const frame = other.next()!;
  assert.equal(frame.payload.buffer, target.buffer, "no copy at the end");
  assert.deepEqual(frame.payload, payload);
});

test("FrameDecoder: a short payload's read target is the rest of its own buffer", () => {
  const decoder = new FrameDecoder({ role: "server" });
  const payload = bytes(200_000);
  const wire = clientFrame(0x82, payload, new Uint8Array([1, 2, 3, 4]));
  decoder.push(wire.slice(0, 15)); // the 14-byte header and a payload byte
  assert.equal(decoder.next(), null);
  const target = decoder.readTarget()!;
  assert.equal(target.buffer.byteLength, 200_000);
  assert.equal(target.length, 200_000 - 1);
});

test("FrameDecoder: pieces read into the target reach onPayloadPart as they arrive", () => {
  const parts: number[] = [];
  const decoder = new FrameDecoder({
    role: "client",
    onPayloadPart: (part) => parts.push(part.length),
  });
  decodeReadingInto(decoder, serverFrame(0x82, bytes(100_000)), 10, [30_000]);
  // The first chunk: the 10-byte header alone.
  assert.deepEqual(parts, [30_000, 30_000, 30_000, 10_000]);
});

test("Protocol: a too large declared length fails with 1009 and offers no read target", () => {
  const protocol = new Protocol({ role: "server", maxMessageSize: 1024 * 1024 });
  const header = new Uint8Array([0x82, 0xff, 0, 0, 0, 0, 0, 0x20, 0, 0, 1, 2, 3, 4, 0]);
  const events = protocol.receive(header);
  assert.equal(events.length, 1);
  assert.equal(events[0].type, "error");
  assert.equal(protocol.closeCode, 1009);
  assert.equal(protocol.readTarget(), null);
});

test("Protocol: invalid UTF-8 read into the target fails at once with 1007, before the payload ends", () => {
  const protocol = new Protocol({ role: "client" });
  const text = new Uint8Array(200_000).fill(0x61);
  text[150_000] = 0xff;
  const wire = serverFrame(0x81, text);
  assert.deepEqual(protocol.receive(wire.slice(0, 20_000)), []);
  const target = protocol.readTarget()!;
  target.set(wire.subarray(20_000, 160_000));
  const events = protocol.receiveInTarget(140_000);
  assert.equal(events.length, 1);
  assert.equal(events[0].type, "error");
  assert.equal(protocol.closeCode, 1007);
  assert.equal(protocol.readTarget(), null);
});
