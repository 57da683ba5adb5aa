import assert from "node:assert/strict";
import { test } from "node:test";
import { ProtocolError } from "../../src/engine/errors.ts";
import type { Frame } from "../../src/engine/frame.ts";
import { FrameDecoder, type FrameDecoderOptions } from "../../src/engine/frame_decoder.ts";
import { encodeFrame } from "../../src/engine/frame_encoder.ts";
import { concatBytes, hex, toHex } from "../_util/hex.ts";
import { SeededRandom } from "../_util/seeded_random.ts";
import { clientFrame, digest } from "./_frames.ts";

type Summary = [number, boolean, boolean, string];

function summarizeFrames(frames: Frame[]): Summary[] {
  return frames.map((f) => [f.opcode, f.fin, f.rsv1, digest(f.payload)]);
}

/** Decodes `bytes` cut at `cuts`; copies each piece since the decoder unmasks in place. */
function decode(options: FrameDecoderOptions, bytes: Uint8Array, cuts: number[] = []): Frame[] {
  const decoder = new FrameDecoder(options);
  const frames: Frame[] = [];
  let start = 0;
  for (const cut of [...cuts, bytes.length]) {
    decoder.push(bytes.slice(start, cut));
    for (let f = decoder.next(); f !== null; f = decoder.next()) {
      frames.push({ ...f, payload: f.payload.slice() });
    }
    start = cut;
  }
  return frames;
}

function decodeError(options: FrameDecoderOptions, bytes: Uint8Array): ProtocolError {
  try {
    decode(options, bytes);
  } catch (error) {
    assert.ok(error instanceof ProtocolError, `expected ProtocolError, got ${error}`);
    return error;
  }
  assert.fail(`no error for ${toHex(bytes)}`);
}

const server = { role: "server" } as const;
const client = { role: "client" } as const;

// RFC 6455 §5.7 examples, with the role that receives them.
const rfcVectors: { name: string; role: "client" | "server"; wire: string; frames: Summary[] }[] = [
  {
    name: "unmasked text Hello",
    role: "client",
    wire: "81 05 48 65 6c 6c 6f",
    frames: [[1, true, false, "48 65 6c 6c 6f"]],
  },
  {
    name: "masked text Hello",
    role: "server",
    wire: "81 85 37 fa 21 3d 7f 9f 4d 51 58",
    frames: [[1, true, false, "48 65 6c 6c 6f"]],
  },
  {
    name: "fragmented unmasked text Hel + lo",
    role: "client",
    wire: "01 03 48 65 6c 80 02 6c 6f",
    frames: [[1, false, false, "48 65 6c"], [0, true, false, "6c 6f"]],
  },
  {
    name: "unmasked ping Hello",
    role: "client",
    wire: "89 05 48 65 6c 6c 6f",
    frames: [[9, true, false, "48 65 6c 6c 6f"]],
  },
  {
    name: "masked pong Hello",
    role: "server",
    wire: "8a 85 37 fa 21 3d 7f 9f 4d 51 58",
    frames: [[10, true, false, "48 65 6c 6c 6f"]],
  },
];

for (const vector of rfcVectors) {
  test(`FrameDecoder decodes the RFC 6455 §5.7 ${vector.name} at every split`, () => {
    const wire = hex(vector.wire);
    assert.deepEqual(summarizeFrames(decode({ role: vector.role }, wire)), vector.frames);
    for (let cut = 1; cut < wire.length; cut++) {
      assert.deepEqual(
        summarizeFrames(decode({ role: vector.role }, wire, [cut])),
        vector.frames,
        `cut ${cut}`,
      );
    }
    const bytewise = Array.from({ length: wire.length - 1 }, (_, i) => i + 1);
    assert.deepEqual(summarizeFrames(decode({ role: vector.role }, wire, bytewise)), vector.frames);
  });
}

test("FrameDecoder decodes the RFC 6455 §5.7 256-byte and 64 KiB binary frames", () => {
  const small = new Uint8Array(256).map((_, i) => i);
  const big = new Uint8Array(65536).map((_, i) => i * 7);
  const wire = concatBytes([hex("82 7e 01 00"), small, hex("82 7f 00 00 00 00 00 01 00 00"), big]);
  const frames = decode(client, wire);
  assert.equal(frames.length, 2);
  assert.deepEqual(frames[0].payload, small);
  assert.deepEqual(frames[1].payload, big);
  const chunked = decode(client, wire, [3, 100, 261, 265, 270, 40000]);
  assert.deepEqual(chunked[1].payload, big);
});

test("FrameDecoder returns many frames from one chunk and views into it", () => {
  const wire = concatBytes([
    clientFrame(0x82, [1]),
    clientFrame(0x82, [2, 3]),
    clientFrame(0x89, "p"),
  ]);
  const decoder = new FrameDecoder(server);
  decoder.push(wire);
  const first = decoder.next()!;
  assert.equal(first.payload.buffer, wire.buffer);
  assert.deepEqual([...first.payload], [1]);
  assert.deepEqual([...decoder.next()!.payload], [2, 3]);
  assert.equal(decoder.next()!.opcode, 9);
  assert.equal(decoder.next(), null);
  assert.equal(decoder.pendingBytes, 0);
});

test("FrameDecoder refuses a push before the previous chunk is drained", () => {
  const decoder = new FrameDecoder(server);
  decoder.push(concatBytes([clientFrame(0x82, [1]), clientFrame(0x82, [2])]));
  assert.throws(() => decoder.push(new Uint8Array([0])), /not fully decoded/);
});

test("FrameDecoder reports the header before buffering and payload parts as they arrive", () => {
  const payload = new Uint8Array(300).map((_, i) => i);
  const wire = clientFrame(0x82, payload);
  const seen: string[] = [];
  const parts: Uint8Array[] = [];
  const decoder = new FrameDecoder({
    role: "server",
    onHeader: (h) => seen.push(`${h.opcode}:${h.length}:${h.fin}:${h.masked}`),
    onPayloadPart: (part) => parts.push(part.slice()),
  });
  decoder.push(wire.slice(0, 8));
  assert.equal(decoder.next(), null);
  assert.deepEqual(seen, ["2:300:true:true"]);
  decoder.push(wire.slice(8, 100));
  assert.equal(decoder.next(), null);
  decoder.push(wire.slice(100));
  const frame = decoder.next()!;
  assert.deepEqual(frame.payload, payload);
  assert.deepEqual(concatBytes(parts), payload);
  assert.equal(parts.length, 2);
});

test("FrameDecoder accepts a non-minimal length encoding and parses the next frame", () => {
  const nonMinimal = concatBytes([
    hex("81 fe 00 05 00 00 00 00"),
    new TextEncoder().encode("Hello"),
  ]);
  const frames = decode(server, concatBytes([nonMinimal, clientFrame(0x82, [9])]));
  assert.deepEqual(summarizeFrames(frames), [[1, true, false, "48 65 6c 6c 6f"], [
    2,
    true,
    false,
    "09",
  ]]);
});

test("FrameDecoder rejects unmasked frames from a client with 1002 (F1)", () => {
  for (const b0 of [0x81, 0x82, 0x80, 0x88, 0x89, 0x8a]) {
    const error = decodeError(server, hex(`${b0.toString(16)} 00`));
    assert.equal(error.closeCode, 1002);
    assert.equal(error.code, "WS_MASK_REQUIRED");
  }
  assert.equal(decodeError(server, hex("81 05 48 65 6c 6c 6f")).closeCode, 1002);
});

test("FrameDecoder rejects masked frames from a server on every opcode with 1002 (F2)", () => {
  assert.equal(
    decodeError(client, hex("81 85 37 fa 21 3d 7f 9f 4d 51 58")).code,
    "WS_UNEXPECTED_MASK",
  );
  assert.equal(decodeError(client, hex("88 82 11 22 33 44 12 ca")).closeCode, 1002);
  for (const b0 of [0x80, 0x81, 0x82, 0x88, 0x89, 0x8a]) {
    assert.equal(decodeError(client, clientFrame(b0)).closeCode, 1002);
  }
});

test("FrameDecoder rejects RSV bits without an extension with 1002 (F3)", () => {
  for (const b0 of [0xc1, 0xa1, 0x91, 0xf8]) {
    const error = decodeError(server, clientFrame(b0));
    assert.equal(error.closeCode, 1002);
    assert.equal(error.code, "WS_INVALID_RSV");
  }
});

test("FrameDecoder allows RSV1 only on the first data frame when negotiated", () => {
  const options = { role: "server", allowRsv1: true } as const;
  assert.equal(decode(options, clientFrame(0xc1, [1]))[0].rsv1, true);
  assert.equal(decode(options, clientFrame(0x42, [1]))[0].rsv1, true);
  assert.equal(decodeError(options, clientFrame(0xc0)).closeCode, 1002); // continuation
  assert.equal(decodeError(options, clientFrame(0xc9)).closeCode, 1002); // ping
  assert.equal(decodeError(options, clientFrame(0xc8)).closeCode, 1002); // close
  assert.equal(decodeError(options, clientFrame(0xa1)).closeCode, 1002); // RSV2 still not
});

test("FrameDecoder rejects reserved opcodes with 1002 (F4)", () => {
  for (const opcode of [3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf]) {
    const error = decodeError(server, clientFrame(0x80 | opcode));
    assert.equal(error.closeCode, 1002);
    assert.equal(error.code, "WS_INVALID_OPCODE");
  }
});

test("FrameDecoder rejects a reserved opcode with a huge length before reading it (F13)", () => {
  const decoder = new FrameDecoder(server);
  decoder.push(hex("83 ff 00 00 00 00 7f ff ff ff"));
  assert.throws(
    () => decoder.next(),
    (e: unknown) => e instanceof ProtocolError && e.closeCode === 1002,
  );
});

test("FrameDecoder rejects fragmented control frames with 1002 (F5)", () => {
  assert.equal(decodeError(server, clientFrame(0x09)).code, "WS_FRAGMENTED_CONTROL_FRAME");
  assert.equal(decodeError(server, clientFrame(0x0a)).closeCode, 1002);
  assert.equal(decodeError(server, clientFrame(0x08)).closeCode, 1002);
});

test("FrameDecoder rejects a ping with a 126-byte payload with 1002 (F6)", () => {
  const error = decodeError(server, clientFrame(0x89, new Uint8Array(126)));
  assert.equal(error.closeCode, 1002);
  assert.equal(error.code, "WS_CONTROL_FRAME_TOO_LONG");
  assert.equal(decode(server, clientFrame(0x89, new Uint8Array(125)))[0].payload.length, 125);
});

test("FrameDecoder rejects 64-bit lengths with the top bit set or above 2^53 - 1 (F12)", () => {
  // The vectors of reliability_anchors.md F12: masked, as a server receives them, without a mask
  // key yet: the failure must come from the length alone.
  const options = { role: "server", maxPayloadLength: 100 * 1024 * 1024 } as const;
  const msb = decodeError(options, hex("82 ff 80 00 00 00 00 00 00 00"));
  assert.equal(msb.closeCode, 1002);
  assert.equal(msb.code, "WS_INVALID_PAYLOAD_LENGTH");
  const twoTo53 = decodeError(options, hex("82 ff 00 20 00 00 00 00 00 00"));
  assert.equal(twoTo53.closeCode, 1009);
  assert.equal(twoTo53.code, "WS_UNSUPPORTED_PAYLOAD_LENGTH");
  assert.equal(decodeError(options, hex("82 ff 00 00 00 01 00 00 00 01")).closeCode, 1009);
  const maxUnlimited = { role: "client", maxPayloadLength: Infinity } as const;
  assert.equal(decodeError(maxUnlimited, hex("82 7f ff ff ff ff ff ff ff ff")).closeCode, 1002);
  assert.equal(decodeError(maxUnlimited, hex("82 7f 00 20 00 00 00 00 00 00")).closeCode, 1009);
  assert.equal(decode(maxUnlimited, hex("82 7f 00 00 00 00 00 00 00 00")).length, 1);
});

test("FrameDecoder rejects a declared length over the limit from the header alone (1009)", () => {
  const decoder = new FrameDecoder({ role: "server", maxPayloadLength: 1024 });
  decoder.push(hex("82 fe 04 01")); // 1025 bytes declared, no mask key or payload yet
  assert.throws(
    () => decoder.next(),
    (e: unknown) => e instanceof ProtocolError && e.closeCode === 1009,
  );
  assert.equal(
    decode({ role: "server", maxPayloadLength: 1024 }, clientFrame(0x82, new Uint8Array(1024)))
      .length,
    1,
  );
});

test("FrameDecoder buffers by bytes received, not bytes declared (F14)", () => {
  // 2^45 bytes declared within an effectively unlimited limit: allocating that would throw.
  const decoder = new FrameDecoder({ role: "client", maxPayloadLength: Number.MAX_SAFE_INTEGER });
  decoder.push(hex("82 7f 00 00 20 00 00 00 00 00"));
  assert.equal(decoder.next(), null);
  decoder.push(new Uint8Array(1000));
  assert.equal(decoder.next(), null);
});

test("FrameDecoder gives a frame that spans chunks a buffer of exactly its length at the end", () => {
  // 3 MiB in 64 KiB reads: the buffer grows with the bytes received and ends at the payload's
  // length (no geometric headroom left in the delivered message).
  const payload = new SeededRandom(11).bytes(3 << 20);
  const wire = clientFrame(0x82, payload, new Uint8Array([9, 8, 7, 6]));
  const decoder = new FrameDecoder({ role: "server" });
  const frames: Frame[] = [];
  for (let at = 0; at < wire.length; at += 65536) {
    decoder.push(wire.slice(at, at + 65536));
    for (let f = decoder.next(); f !== null; f = decoder.next()) frames.push(f);
  }
  assert.equal(frames.length, 1);
  assert.equal(frames[0].payload.byteOffset, 0);
  assert.equal(frames[0].payload.buffer.byteLength, payload.length);
  assert.deepEqual(frames[0].payload, payload);
});

test("FrameDecoder keeps a large payload's chunks by reference and copies them once at the end", () => {
  // 16 MiB after a header read of its own, then 64 KiB reads (each its own buffer, as Node's
  // socket reads are): every piece is the chunk itself, unmasked in place, and the payload
  // gets one buffer of exactly its length, allocated when its last byte is in.
  const length = 16 << 20;
  const payload = new SeededRandom(5).bytes(length);
  const wire = clientFrame(0x82, payload, new Uint8Array([4, 3, 2, 1]));
  const chunks: ArrayBufferLike[] = [];
  const partBuffers: ArrayBufferLike[] = [];
  let received = 0;
  const decoder = new FrameDecoder({
    role: "server",
    onPayloadPart: (part) => {
      assert.deepEqual(part, payload.subarray(received, received + part.length));
      received += part.length;
      partBuffers.push(part.buffer);
    },
  });
  const frames: Frame[] = [];
  decoder.push(wire.slice(0, 14));
  assert.equal(decoder.next(), null);
  for (let at = 14; at < wire.length; at += 65536) {
    const chunk = wire.slice(at, at + 65536);
    chunks.push(chunk.buffer);
    decoder.push(chunk);
    for (let f = decoder.next(); f !== null; f = decoder.next()) frames.push(f);
  }
  assert.equal(received, length);
  assert.deepEqual(partBuffers, chunks);
  assert.equal(frames.length, 1);
  assert.ok(!chunks.includes(frames[0].payload.buffer));
  assert.equal(frames[0].payload.byteOffset, 0);
  assert.equal(frames[0].payload.buffer.byteLength, length);
  assert.deepEqual(frames[0].payload, payload);
});

test("FrameDecoder copies small pieces and pieces of much larger buffers once those would pin too much", () => {
  // Pieces of 1 to 9000 bytes, each a view into a 1 MiB buffer of its own (a transport that
  // reads into large buffers and gets little): views may keep at most twice the bytes
  // received plus 1 MiB alive, copies add at most the bytes received plus 64 KiB.
  const random = new SeededRandom(17);
  const payload = random.bytes(700_000);
  const wire = clientFrame(0x82, payload, new Uint8Array([0x11, 0x22, 0x33, 0x44]));
  const held = new Set<ArrayBufferLike>();
  let received = 0;
  let copied = 0;
  const decoder = new FrameDecoder({
    role: "server",
    onPayloadPart: (part) => {
      held.add(part.buffer);
      received += part.length;
      if (part.buffer.byteLength < 1 << 20) copied += part.length;
      let bytes = 0;
      for (const buffer of held) bytes += buffer.byteLength;
      assert.ok(
        bytes <= 3 * received + (1 << 20) + 64 * 1024,
        `${bytes} bytes held for ${received}`,
      );
    },
  });
  const frames: Frame[] = [];
  for (let at = 0; at < wire.length;) {
    const size = Math.min(wire.length - at, 1 + random.int(random.int(2) ? 16 : 9000));
    const big = new Uint8Array(1 << 20);
    big.set(wire.subarray(at, at + size), 100);
    decoder.push(big.subarray(100, 100 + size));
    for (let f = decoder.next(); f !== null; f = decoder.next()) frames.push(f);
    at += size;
  }
  assert.ok(copied > payload.length / 2, `${copied} bytes copied`);
  assert.equal(frames.length, 1);
  assert.equal(frames[0].payload.buffer.byteLength, payload.length);
  assert.deepEqual(frames[0].payload, payload);
});

test("FrameDecoder keeps consecutive reads out of one larger slab by reference", () => {
  // 64 KiB reads, four to a 256 KiB slab (as a transport that reads one after another into
  // a slab does): every piece stays a view of its slab, none is copied before the end.
  const payload = new SeededRandom(19).bytes(600_000);
  const wire = clientFrame(0x82, payload, new Uint8Array([9, 9, 1, 2]));
  const views: Array<[ArrayBufferLike, number]> = [];
  const parts: Array<[ArrayBufferLike, number]> = [];
  const decoder = new FrameDecoder({
    role: "server",
    onPayloadPart: (part) => parts.push([part.buffer, part.byteOffset]),
  });
  const frames: Frame[] = [];
  let slab = new Uint8Array(0);
  let used = 0;
  for (let at = 0; at < wire.length; at += 65536) {
    if (used === slab.length) [slab, used] = [new Uint8Array(4 * 65536), 0];
    const piece = wire.subarray(at, at + 65536);
    slab.set(piece, used);
    const chunk = slab.subarray(used, used + piece.length);
    used += 65536;
    views.push([chunk.buffer, chunk.byteOffset + (at === 0 ? 14 : 0)]);
    decoder.push(chunk);
    for (let f = decoder.next(); f !== null; f = decoder.next()) frames.push(f);
  }
  assert.deepEqual(parts, views);
  assert.equal(frames.length, 1);
  assert.equal(frames[0].payload.buffer.byteLength, payload.length);
  assert.deepEqual(frames[0].payload, payload);
});

test("FrameDecoder gives a payload that arrives whole in the next chunk as a view of that chunk", () => {
  const payload = new SeededRandom(23).bytes(300_000);
  const wire = clientFrame(0x82, payload, new Uint8Array([5, 6, 7, 8]));
  const decoder = new FrameDecoder({ role: "server" });
  decoder.push(wire.slice(0, 14));
  assert.equal(decoder.next(), null);
  const rest = wire.slice(14);
  decoder.push(rest);
  const frame = decoder.next();
  assert.ok(frame !== null);
  assert.equal(frame.payload.buffer, rest.buffer);
  assert.deepEqual(frame.payload, payload);
  assert.equal(decoder.next(), null);
});

test("FrameDecoder unmasks a payload of up to 256 KiB that spans chunks straight into its own buffer", () => {
  for (const length of [5000, 65536, 256 * 1024]) {
    const payload = new SeededRandom(length).bytes(length);
    const wire = clientFrame(0x82, payload, new Uint8Array([3, 1, 4, 1]));
    const buffers = new Set<ArrayBufferLike>();
    const decoder = new FrameDecoder({
      role: "server",
      onPayloadPart: (part) => buffers.add(part.buffer),
    });
    const frames: Frame[] = [];
    for (let at = 0; at < wire.length; at += 4096) {
      decoder.push(wire.slice(at, at + 4096));
      for (let f = decoder.next(); f !== null; f = decoder.next()) frames.push(f);
    }
    assert.equal(frames.length, 1);
    assert.deepEqual([...buffers], [frames[0].payload.buffer]);
    assert.equal(frames[0].payload.buffer.byteLength, length);
    assert.deepEqual(frames[0].payload, payload);
  }
});

test("FrameDecoder decodes payloads split into held, copied and mixed pieces at any key offset", () => {
  // Piece sizes around the 4 KiB hold threshold and views of larger buffers, so held pieces
  // (unmasked in place) and copied ones (unmasked on the way into the join buffer) alternate
  // at every key offset; unmasked frames (the client role) too.
  const random = new SeededRandom(31);
  for (let round = 0; round < 40; round++) {
    const masked = round % 2 === 0;
    const payloads = [random.bytes(random.int(200_000)), random.bytes(4096 + random.int(3))];
    const wire = concatBytes(
      payloads.map((payload) =>
        masked ? clientFrame(0x82, payload, random.bytes(4)) : concatBytes([
          encodeFrame({ fin: true, rsv1: false, opcode: 0x2, payload }).header,
          payload,
        ])
      ),
    );
    const decoder = new FrameDecoder({ role: masked ? "server" : "client" });
    const frames: Frame[] = [];
    for (let at = 0; at < wire.length;) {
      const size = Math.min(
        wire.length - at,
        random.pick([1, 3, 4095, 4096, 4097, 5000, 8191, 20_000, 65536]),
      );
      const slack = random.pick([0, 0, size, 3 * size]);
      const buffer = new Uint8Array(size + slack);
      buffer.set(wire.subarray(at, at + size));
      decoder.push(buffer.subarray(0, size));
      for (let f = decoder.next(); f !== null; f = decoder.next()) frames.push(f);
      at += size;
    }
    assert.deepEqual(
      frames.map((f) => digest(f.payload)),
      payloads.map((p) => digest(p)),
      `round ${round}`,
    );
  }
});

test("FrameDecoder does not size a buffer from a declared length within the default limit", () => {
  // A hostile header declaring 64 MiB (the default limit) followed by a few bytes: reserving
  // 64 MiB per such connection cost a full garbage collection each. The buffer follows the
  // bytes received.
  const parts: Uint8Array[] = [];
  const decoder = new FrameDecoder({ role: "server", onPayloadPart: (part) => parts.push(part) });
  decoder.push(hex("82 ff 00 00 00 00 04 00 00 00 01 02 03 04 09"));
  assert.equal(decoder.next(), null);
  assert.equal(parts.length, 1);
  assert.ok(
    parts[0].buffer.byteLength <= 256 * 1024,
    `buffer of ${parts[0].buffer.byteLength} bytes`,
  );
  // A small frame that spans chunks still gets exactly its length.
  const small = new FrameDecoder({ role: "server", onPayloadPart: (part) => parts.push(part) });
  small.push(hex("82 85 01 02 03 04 09"));
  assert.equal(small.next(), null);
  assert.equal(parts[1].buffer.byteLength, 5);
});

test("FrameDecoder grows with the bytes received above the default limit", () => {
  // 80 MiB declared (the limit raised to 128 MiB), 100 KiB sent: the buffer follows what came.
  const parts: Uint8Array[] = [];
  const grown = new FrameDecoder({
    role: "client",
    maxPayloadLength: 128 << 20,
    onPayloadPart: (part) => parts.push(part),
  });
  grown.push(concatBytes([hex("82 7f 00 00 00 00 05 00 00 00"), new Uint8Array(100 * 1024)]));
  assert.equal(grown.next(), null);
  assert.equal(parts.length, 1);
  assert.ok(parts[0].buffer.byteLength < 2 << 20, `buffer of ${parts[0].buffer.byteLength} bytes`);
});

test("FrameDecoder decodes a 1 MiB frame delivered one byte per chunk for its header and in odd pieces", () => {
  const payload = new SeededRandom(7).bytes(1 << 20);
  const wire = clientFrame(0x82, payload, new Uint8Array([1, 2, 3, 4]));
  const cuts = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14];
  for (let at = 20; at < wire.length; at += 9973) cuts.push(at);
  const frames = decode(server, wire, cuts);
  assert.equal(frames.length, 1);
  assert.deepEqual(frames[0].payload, payload);
});

test("FrameDecoder yields the same frames for random splits of valid streams", () => {
  const random = new SeededRandom(2024);
  for (let round = 0; round < 200; round++) {
    const parts: Uint8Array[] = [];
    const expected: Summary[] = [];
    const count = 1 + random.int(6);
    for (let i = 0; i < count; i++) {
      const size = random.pick([0, 1, 5, 125, 126, 127, 300, 65535, 65536, 70000]);
      const payload = random.bytes(random.int(2) === 0 ? Math.min(size, 125) : size);
      const opcode = payload.length <= 125 ? random.pick([1, 2, 9, 10]) : random.pick([1, 2]);
      const frame = { fin: true, rsv1: false, opcode: opcode as 1, payload };
      const { header, payload: masked } = encodeFrame(frame, { mask: true });
      parts.push(concatBytes([header, masked]));
      expected.push([opcode, true, false, digest(payload)]);
    }
    const wire = concatBytes(parts);
    const cuts: number[] = [];
    for (
      let at = random.int(20);
      at < wire.length;
      at += 1 + random.int(random.int(2) ? 7 : 5000)
    ) cuts.push(at);
    assert.deepEqual(summarizeFrames(decode(server, wire, cuts)), expected, `round ${round}`);
  }
});

test("FrameDecoder fuzz: random input only ever yields frames or a ProtocolError", () => {
  const random = new SeededRandom(99);
  for (let round = 0; round < 3000; round++) {
    const decoder = new FrameDecoder({
      role: random.int(2) ? "server" : "client",
      maxPayloadLength: 1 << 16,
      allowRsv1: random.int(2) === 1,
    });
    const input = random.bytes(random.int(200));
    // Bias towards plausible headers so the fuzz gets past the first byte.
    if (input.length > 0 && random.int(2)) {
      input[0] = random.pick([0x81, 0x82, 0x01, 0x80, 0x88, 0x89]);
    }
    try {
      let at = 0;
      while (at < input.length) {
        const size = 1 + random.int(40);
        decoder.push(input.subarray(at, at + size));
        at += size;
        while (decoder.next() !== null) { /* drain */ }
      }
    } catch (error) {
      assert.ok(error instanceof ProtocolError, `round ${round}: ${error}`);
      assert.ok([1002, 1009].includes(error.closeCode), `round ${round}: ${error.closeCode}`);
    }
  }
});
