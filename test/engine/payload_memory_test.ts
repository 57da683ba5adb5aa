import assert from "node:assert/strict";
import { test } from "node:test";
import { FrameDecoder } from "../../src/engine/frame_decoder.ts";
import { encodeFrame } from "../../src/engine/frame_encoder.ts";
import {
  allocatePayload,
  installPayloadAllocator,
  PAYLOAD_ALLOCATOR_THRESHOLD,
} from "../../src/engine/payload_memory.ts";
import { Protocol } from "../../src/engine/protocol.ts";
import { SeededRandom } from "../_util/seeded_random.ts";
import { clientFrame } from "./_frames.ts";
import { concatBytes } from "../_util/hex.ts";

// Runs `run` with memory that is not zero-filled standing in: every buffer from the allocator
// comes full of 0xa5, so any byte the engine fails to overwrite shows up in what it delivers
// or sends. `run` gets the sizes allocated; the zero-filling allocator is back afterwards.
function withDirtyAllocator(run: (sizes: number[]) => void): void {
  const sizes: number[] = [];
  installPayloadAllocator((size) => {
    sizes.push(size);
    return new Uint8Array(size).fill(0xa5);
  });
  try {
    run(sizes);
  } finally {
    installPayloadAllocator((size) => new Uint8Array(size));
  }
}

test("allocatePayload takes the installed allocator from the threshold up only", () =>
  withDirtyAllocator((sizes) => {
    const small = allocatePayload(PAYLOAD_ALLOCATOR_THRESHOLD - 1);
    assert.equal(small[0], 0);
    const large = allocatePayload(PAYLOAD_ALLOCATOR_THRESHOLD);
    assert.equal(large.byteLength, PAYLOAD_ALLOCATOR_THRESHOLD);
    assert.deepEqual(sizes, [PAYLOAD_ALLOCATOR_THRESHOLD]);
  }));

test("A decoded payload that spans chunks overwrites every byte of a dirty buffer", () =>
  withDirtyAllocator((sizes) => {
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
  }));

test("A payload of up to 256 KiB that spans chunks fills a dirty buffer it gets at once", () =>
  withDirtyAllocator((sizes) => {
    const random = new SeededRandom(5);
    for (const length of [PAYLOAD_ALLOCATOR_THRESHOLD, 64 * 1024, 256 * 1024]) {
      const payload = new Uint8Array(length); // zeros, with random bytes between
      payload.set(random.bytes(1000), 7);
      payload.set(random.bytes(1000), length - 1500);
      const wire = clientFrame(0x82, payload, new Uint8Array([0xa5, 0xa5, 0xa5, 0xa5]));
      for (const step of [1021, 16 * 1024 + 3, length - 1]) {
        sizes.length = 0;
        const decoder = new FrameDecoder({ role: "server", unzeroedParts: true });
        const frames = [];
        for (let at = 0; at < wire.length; at += step) {
          decoder.push(wire.slice(at, at + step));
          for (let f = decoder.next(); f !== null; f = decoder.next()) frames.push(f);
        }
        assert.equal(frames.length, 1);
        assert.deepEqual(sizes, [length], `${length} in chunks of ${step}`);
        assert.deepEqual(frames[0].payload, payload, `${length} in chunks of ${step}`);
        assert.equal(frames[0].payload.buffer.byteLength, length);
      }
    }
    // Under the threshold: a zero-filled buffer of the runtime's.
    sizes.length = 0;
    const decoder = new FrameDecoder({ role: "server", unzeroedParts: true });
    const wire = clientFrame(0x82, new Uint8Array(4096), new Uint8Array([0xa5, 0xa5, 0xa5, 0xa5]));
    decoder.push(wire.slice(0, 100));
    assert.equal(decoder.next(), null);
    decoder.push(wire.slice(100));
    assert.deepEqual(decoder.next()?.payload, new Uint8Array(4096));
    assert.deepEqual(sizes, []);
  }));

test("A decoder whose parts may be read past their bytes gets zero-filled buffers only", () =>
  withDirtyAllocator((sizes) => {
    const wire = clientFrame(0x82, new Uint8Array(64 * 1024), new Uint8Array([7, 7, 7, 7]));
    const parts: Uint8Array[] = [];
    const decoder = new FrameDecoder({ role: "server", onPayloadPart: (p) => parts.push(p) });
    decoder.push(wire.slice(0, 1000));
    assert.equal(decoder.next(), null);
    // Everything a part's buffer holds past the part is zero, never old memory.
    assert.ok(parts[0].buffer.byteLength > parts[0].length);
    assert.ok(new Uint8Array(parts[0].buffer).every((byte) => byte === 0));
    decoder.push(wire.slice(1000));
    assert.deepEqual(decoder.next()?.payload, new Uint8Array(64 * 1024));
    assert.deepEqual(sizes, []);
  }));

test("A read target into an unzeroed buffer is zero-filled before a transport sees it", () =>
  withDirtyAllocator((sizes) => {
    const payload = new SeededRandom(6).bytes(100 * 1024);
    const wire = clientFrame(0x82, payload, new Uint8Array([9, 8, 7, 6]));
    const decoder = new FrameDecoder({ role: "server", unzeroedParts: true });
    decoder.push(wire.slice(0, 5000));
    assert.equal(decoder.next(), null);
    assert.deepEqual(sizes, [payload.length]);
    let target = decoder.readTarget()!;
    assert.equal(target.length, wire.length - 5000);
    assert.ok(target.every((byte) => byte === 0), "the view holds no old memory");
    // A transport reads the rest in two reads, straight into the payload's buffer.
    const rest = wire.subarray(5000);
    target.set(rest.subarray(0, 30000));
    decoder.pushTarget(30000);
    assert.equal(decoder.next(), null);
    target = decoder.readTarget()!;
    assert.ok(target.every((byte) => byte === 0));
    target.set(rest.subarray(30000));
    decoder.pushTarget(rest.length - 30000);
    assert.deepEqual(decoder.next()?.payload, payload);
  }));

test("A read target is zero-filled for the payload it belongs to only, never again", () =>
  withDirtyAllocator(() => {
    const fill = Uint8Array.prototype.fill;
    let zeroed = 0;
    // Counts the bytes that fill(0) writes: the read target's zero-filling, if any.
    Uint8Array.prototype.fill = function (this: Uint8Array, value, start = 0, end = this.length) {
      if (value === 0) zeroed += end - start;
      return fill.call(this, value, start, end);
    };
    try {
      const decoder = new FrameDecoder({ role: "client", unzeroedParts: true });
      // A 64 KiB payload in two chunks (an unzeroed buffer), then 1/16 of a 4 MiB one.
      const small = new Uint8Array(4 + 65535);
      small.set([0x82, 126, 0, 0]);
      small[2] = 0xff;
      small[3] = 0xff;
      decoder.push(small.slice(0, 1000));
      assert.equal(decoder.next(), null);
      decoder.push(small.slice(1000));
      assert.equal(decoder.next()?.payload.length, 65535);
      const large = new Uint8Array(10 + (4 << 20));
      large.set([0x82, 127, 0, 0, 0, 0, 0, 0x40, 0, 0]);
      decoder.push(large.slice(0, 10 + (256 << 10)));
      assert.equal(decoder.next(), null);
      zeroed = 0;
      const target = decoder.readTarget()!;
      assert.equal(target.length, (4 << 20) - (256 << 10));
      // Its buffer came zero-filled (it holds what came so far): no second pass over it.
      assert.equal(zeroed, 0);
      assert.ok(target.every((byte) => byte === 0));
    } finally {
      Uint8Array.prototype.fill = fill;
    }
  }));

test("A frame's mask is filled into a key of its own, not into the frame's dirty buffer", () =>
  withDirtyAllocator((sizes) => {
    const seen: number[] = [];
    const client = new Protocol({
      role: "client",
      // Writes one byte of four: the other three must be zero on the wire, not 0xa5.
      fillMask: (key) => {
        seen.push(key.buffer.byteLength);
        key[0] = 1;
      },
    });
    client.sendBinary(new Uint8Array(20_000));
    const wire = client.takeOutgoing();
    assert.ok(sizes.length > 0);
    assert.deepEqual(seen, [4]);
    const frame = wire.length === 1 ? wire[0] : new Uint8Array(wire.flatMap((c) => [...c]));
    assert.deepEqual([...frame.subarray(4, 8)], [1, 0, 0, 0]);
    const server = new Protocol({ role: "server" });
    const events = server.receive(frame);
    assert.ok(events[0].type === "binary");
    assert.deepEqual(events[0].data, new Uint8Array(20_000));
  }));

test("A large masked frame is encoded whole into a dirty buffer", () =>
  withDirtyAllocator((sizes) => {
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
  }));

/** Eight real bytes claiming `claimed`: through own properties, or a subclass's getters. */
function claimingViews(claimed: number): [string, Uint8Array][] {
  const own = new Uint8Array(8).fill(0x11);
  Object.defineProperty(own, "length", { value: claimed });
  Object.defineProperty(own, "byteLength", { value: claimed });
  class Claiming extends Uint8Array {
    override get length(): number {
      return claimed;
    }
    override get byteLength(): number {
      return claimed;
    }
  }
  const subclass = new Claiming(8).fill(0x22);
  return [["own properties", own], ["a subclass", subclass]];
}

test("A payload claiming more bytes than it holds goes out as the bytes it holds, never with old memory", () =>
  withDirtyAllocator(() => {
    for (const claimed of [2048, 16_383, 20_000, 65_536]) {
      for (const [how, view] of claimingViews(claimed)) {
        const expected = new Uint8Array(8).fill(view[0]);
        for (const role of ["server", "client"] as const) {
          // Copied next to its header (the default 1 KiB limit is below every claim) or
          // handed to the transport by reference (Node's limit, 16383).
          for (const copyPayloadsUpTo of [undefined, 16_383]) {
            const what = `${how} claiming ${claimed}, ${role}, copy limit ${copyPayloadsUpTo}`;
            const sender = new Protocol({ role, copyPayloadsUpTo });
            sender.sendBinary(view);
            const wire = concatBytes(sender.takeOutgoing());
            assert.equal(wire.length, (role === "client" ? 6 : 2) + 8, what);
            const receiver = new Protocol({ role: role === "client" ? "server" : "client" });
            const events = receiver.receive(wire);
            assert.equal(events.length, 1, what);
            assert.ok(events[0].type === "binary", what);
            assert.deepEqual(events[0].data, expected, what);
          }
        }
        // The public encoder too, masked (into an allocated buffer) and not.
        for (const mask of [false, true]) {
          const { header, payload } = encodeFrame(
            { fin: true, rsv1: false, opcode: 0x2, payload: view },
            { mask },
          );
          const decoder = new FrameDecoder({ role: mask ? "server" : "client" });
          decoder.push(concatBytes([header, payload]));
          assert.deepEqual(
            decoder.next()?.payload,
            expected,
            `${how} claiming ${claimed}, encodeFrame`,
          );
        }
      }
    }
  }));

test("A fillMask that shrinks the payload's buffer runs before the frame is measured", () =>
  withDirtyAllocator(() => {
    const Resizable = ArrayBuffer as unknown as new (
      length: number,
      options: { maxByteLength: number },
    ) => ArrayBuffer & { resize(length: number): void };
    for (const size of [2048, 65_536]) {
      const buffer = new Resizable(size, { maxByteLength: size });
      const payload = new Uint8Array(buffer).fill(0x33); // tracks the buffer's length
      const client = new Protocol({
        role: "client",
        fillMask: (key) => {
          key.set([1, 2, 3, 4]);
          buffer.resize(8);
        },
      });
      client.sendBinary(payload);
      const events = new Protocol({ role: "server" }).receive(concatBytes(client.takeOutgoing()));
      assert.equal(events.length, 1, `${size}`);
      assert.ok(events[0].type === "binary");
      assert.deepEqual(events[0].data, new Uint8Array(8).fill(0x33), `${size}`);
    }
  }));
