import assert from "node:assert/strict";
import { test } from "node:test";
import {
  encodeFrame,
  encodeFrameTo,
  frameHeaderSize,
  writeFrameHeader,
} from "../../src/engine/frame_encoder.ts";
import { FrameDecoder } from "../../src/engine/frame_decoder.ts";
import { concatBytes, hex, toHex } from "../_util/hex.ts";

const hello = () => new TextEncoder().encode("Hello");

/** `actual` views the very bytes of `expected` (no copy), perhaps as another object. */
function assertSameBytes(actual: Uint8Array, expected: Uint8Array, message: string): void {
  assert.equal(actual.buffer, expected.buffer, message);
  assert.equal(actual.byteOffset, expected.byteOffset, message);
  assert.equal(actual.length, expected.length, message);
}
const rfcKey = hex("37 fa 21 3d");

test("encodeFrame produces the RFC 6455 §5.7 unmasked and masked Hello", () => {
  const plain = encodeFrame({ fin: true, rsv1: false, opcode: 1, payload: hello() });
  assert.equal(toHex(concatBytes([plain.header, plain.payload])), "81 05 48 65 6c 6c 6f");
  const masked = encodeFrame({ fin: true, rsv1: false, opcode: 1, payload: hello() }, {
    maskKey: rfcKey,
  });
  assert.equal(
    toHex(concatBytes([masked.header, masked.payload])),
    "81 85 37 fa 21 3d 7f 9f 4d 51 58",
  );
});

test("encodeFrame produces the RFC 6455 §5.7 fragments, ping and pong", () => {
  const encode = (fin: boolean, opcode: number, text: string, maskKey?: Uint8Array) => {
    const { header, payload } = encodeFrame(
      { fin, rsv1: false, opcode: opcode as 1, payload: new TextEncoder().encode(text) },
      maskKey ? { maskKey } : {},
    );
    return toHex(concatBytes([header, payload]));
  };
  assert.equal(encode(false, 1, "Hel"), "01 03 48 65 6c");
  assert.equal(encode(true, 0, "lo"), "80 02 6c 6f");
  assert.equal(encode(true, 9, "Hello"), "89 05 48 65 6c 6c 6f");
  assert.equal(encode(true, 10, "Hello", rfcKey), "8a 85 37 fa 21 3d 7f 9f 4d 51 58");
});

test("encodeFrame uses 16- and 64-bit lengths at the RFC 6455 §5.7 sizes", () => {
  const h256 =
    encodeFrame({ fin: true, rsv1: false, opcode: 2, payload: new Uint8Array(256) }).header;
  assert.equal(toHex(h256), "82 7e 01 00");
  const big = new Uint8Array(65536);
  const frame = encodeFrame({ fin: true, rsv1: false, opcode: 2, payload: big });
  assert.equal(toHex(frame.header), "82 7f 00 00 00 00 00 01 00 00");
  assertSameBytes(frame.payload, big, "unmasked payloads are not copied");
});

test("encodeFrame chooses the minimal length encoding at each boundary", () => {
  for (const [length, size] of [[0, 2], [125, 2], [126, 4], [65535, 4], [65536, 10]]) {
    const { header } = encodeFrame({
      fin: true,
      rsv1: false,
      opcode: 2,
      payload: new Uint8Array(length),
    });
    assert.equal(header.length, size, `length ${length}`);
    assert.equal(frameHeaderSize(length, true), size + 4);
  }
});

test("encodeFrame sets RSV1 and leaves FIN clear when asked", () => {
  const { header } = encodeFrame({ fin: false, rsv1: true, opcode: 1, payload: new Uint8Array(1) });
  assert.equal(header[0], 0x41);
});

test("encodeFrame masks into a new buffer and leaves the caller's payload unchanged", () => {
  const payload = new Uint8Array(1000).fill(0xaa);
  const { header, payload: wire } = encodeFrame({ fin: true, rsv1: false, opcode: 2, payload }, {
    mask: true,
  });
  assert.deepEqual(payload, new Uint8Array(1000).fill(0xaa));
  assert.notEqual(wire.buffer, payload.buffer);
  const decoder = new FrameDecoder({ role: "server" });
  decoder.push(concatBytes([header, wire]));
  assert.deepEqual(decoder.next()!.payload, payload);
});

test("writeFrameHeader writes a 64-bit length up to 2^53 - 1 and rejects more", () => {
  const header = new Uint8Array(10);
  const fields = { fin: true, rsv1: false, opcode: 2, masked: false };
  writeFrameHeader(header, 0, { ...fields, length: Number.MAX_SAFE_INTEGER });
  assert.equal(toHex(header), "82 7f 00 1f ff ff ff ff ff ff");
  assert.throws(() => writeFrameHeader(header, 0, { ...fields, length: 2 ** 53 }), RangeError);
  assert.throws(() => writeFrameHeader(header, 0, { ...fields, length: -1 }), RangeError);
});

test("encodeFrameTo copies unmasked payloads up to 1 KiB next to the header, larger ones by reference", () => {
  const out: Uint8Array[] = [];
  const small = new Uint8Array(1024).fill(7);
  assert.equal(encodeFrameTo(out, 2, small, false, false), 4 + 1024);
  assert.equal(out.length, 1);
  assert.deepEqual(out[0], concatBytes([hex("82 7e 04 00"), small]));
  const large = new Uint8Array(1025).fill(9);
  assert.equal(encodeFrameTo(out, 1, large, true, false), 4 + 1025);
  assert.equal(out.length, 3);
  assert.equal(toHex(out[1]), "c1 7e 04 01");
  assertSameBytes(out[2], large, "the caller's bytes, not a copy");
});

test("encodeFrameTo copies unmasked payloads only up to the limit its caller gives", () => {
  const out: Uint8Array[] = [];
  const small = new Uint8Array(64).fill(3);
  assert.equal(encodeFrameTo(out, 2, small, false, false, undefined, 64), 2 + 64);
  assert.equal(out.length, 1);
  assert.deepEqual(out[0], concatBytes([hex("82 40"), small]));
  const larger = new Uint8Array(65).fill(4);
  assert.equal(encodeFrameTo(out, 2, larger, false, false, undefined, 64), 2 + 65);
  assert.equal(out.length, 3);
  assert.equal(toHex(out[1]), "82 41");
  assertSameBytes(out[2], larger, "the caller's bytes, not a copy");
  // A masked frame is always one buffer of its own, whatever the limit.
  assert.equal(encodeFrameTo(out, 2, larger, false, true, undefined, 0), 6 + 65);
  assert.equal(out.length, 4);
  assert.equal(out[3].length, 6 + 65);
});

test("encodeFrameTo masks like encodeFrame, with an injected key or a fresh pooled one", () => {
  for (const length of [0, 5, 125, 126, 5000, 70000]) {
    const payload = new Uint8Array(length).map((_, i) => i * 31);
    const original = payload.slice();
    const out: Uint8Array[] = [];
    const size = encodeFrameTo(out, 2, payload, false, true, (key) => key.set(rfcKey));
    const expected = encodeFrame({ fin: true, rsv1: false, opcode: 2, payload }, {
      maskKey: rfcKey,
    });
    assert.equal(out.length, 1, "a masked frame is one buffer");
    assert.equal(size, out[0].length);
    assert.deepEqual(out[0], concatBytes([expected.header, expected.payload]));
    assert.deepEqual(payload, original);
  }
  const out: Uint8Array[] = [];
  const payload = new TextEncoder().encode("Hello");
  encodeFrameTo(out, 1, payload, false, true);
  encodeFrameTo(out, 1, payload, false, true);
  const keys = out.map((frame) => toHex(frame.subarray(2, 6)));
  assert.notEqual(keys[0], keys[1], "each frame gets its own key");
  const decoder = new FrameDecoder({ role: "server" });
  decoder.push(concatBytes(out));
  assert.deepEqual(decoder.next()!.payload, payload);
  assert.deepEqual(decoder.next()!.payload, payload);
});
