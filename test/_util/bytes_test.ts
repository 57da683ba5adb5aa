import { test } from "node:test";
import assert from "node:assert/strict";
import { asBytes, concat, toBytes, utf8Length } from "../../src/_util/bytes.ts";

test("asBytes views buffers and views without copying", () => {
  const buffer = new ArrayBuffer(8);
  const view = asBytes(new DataView(buffer, 2, 4));
  assert.equal(view.buffer, buffer);
  assert.equal(view.byteOffset, 2);
  assert.equal(view.byteLength, 4);
  const bytes = new Uint8Array(3);
  assert.equal(asBytes(bytes), bytes);
  assert.equal(asBytes(buffer).byteLength, 8);
});

test("toBytes encodes strings as UTF-8 and reads Blobs asynchronously", async () => {
  assert.deepEqual(toBytes("é€"), new Uint8Array([0xc3, 0xa9, 0xe2, 0x82, 0xac]));
  const fromBlob = toBytes(new Blob(["ab"]));
  assert.ok(fromBlob instanceof Promise);
  assert.deepEqual(await fromBlob, new Uint8Array([0x61, 0x62]));
  assert.throws(() => toBytes(42 as unknown as string), TypeError);
});

test("concat joins arrays in order", () => {
  assert.deepEqual(
    concat([new Uint8Array([1]), new Uint8Array(0), new Uint8Array([2, 3])]),
    new Uint8Array([1, 2, 3]),
  );
  assert.deepEqual(concat([]), new Uint8Array(0));
});

test("utf8Length matches TextEncoder, lone surrogates included", () => {
  for (
    const text of ["", "abc", "é", "€", "𝄞", "a\ud800b", "\udc00", "mixé€𝄞", "\x7f", "a\x7f\x80b"]
  ) {
    assert.equal(utf8Length(text), new TextEncoder().encode(text).byteLength, JSON.stringify(text));
  }
});

test("utf8Length matches TextEncoder on ASCII, multi-byte, astral and lone surrogates", () => {
  const encoder = new TextEncoder();
  for (
    const text of [
      "",
      "plain ascii",
      "é",
      "aé€😀",
      "x".repeat(5000) + "€",
      "\ud800",
      "a\udc00b",
      "😀".repeat(3),
      // Around the length from which the string is encoded into scratch space.
      "x".repeat(94) + "é",
      "x".repeat(96),
      "é".repeat(96),
      "x".repeat(94) + "😀",
      "\x7f".repeat(95) + "\x80",
      "x".repeat(200) + "\ud800",
      // Longer than the scratch space: sized in chunks, a pair never split.
      "😀".repeat(40_000),
      "x".repeat(65_534) + "😀" + "é".repeat(10),
      "€".repeat(21_845) + "\udc00" + "😀",
    ]
  ) {
    assert.equal(utf8Length(text), encoder.encode(text).length, JSON.stringify(text.slice(0, 10)));
  }
});
