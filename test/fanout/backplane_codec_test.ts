import { test } from "node:test";
import assert from "node:assert/strict";
import { BackplaneError } from "../../src/fanout/backplane.ts";
import {
  decodeBackplaneMessage,
  encodeBackplaneMessage,
  MAX_ORIGIN_BYTES,
} from "../../src/fanout/backplane_codec.ts";
import { hex, toHex } from "../_util/hex.ts";
import { SeededRandom } from "../_util/seeded_random.ts";

test("encodeBackplaneMessage: byte-exact text and binary layouts", () => {
  assert.equal(toHex(encodeBackplaneMessage("hé", "h1")), "01 01 00 02 68 31 68 c3 a9");
  assert.equal(toHex(encodeBackplaneMessage(hex("00 ff"), "")), "01 02 00 00 00 ff");
  assert.equal(toHex(encodeBackplaneMessage("", "")), "01 01 00 00");
});

test("decodeBackplaneMessage inverts encode: text stays text, bytes stay bytes", () => {
  const cases: Array<[string | Uint8Array, string]> = [
    ["hello", "hub-1"],
    ["", "x"],
    [new Uint8Array(0), "x"],
    [hex("01 01 00 00"), "hub ünï"],
    ["a".repeat(70_000), "o".repeat(MAX_ORIGIN_BYTES)],
  ];
  for (const [data, origin] of cases) {
    const decoded = decodeBackplaneMessage(encodeBackplaneMessage(data, origin));
    assert.equal(decoded.origin, origin);
    assert.equal(typeof decoded.data, typeof data);
    assert.deepEqual(
      decoded.data instanceof Uint8Array ? [...decoded.data] : decoded.data,
      data instanceof Uint8Array ? [...data] : data,
    );
  }
});

test("encodeBackplaneMessage refuses an origin longer than the length field", () => {
  assert.throws(() => encodeBackplaneMessage("x", "o".repeat(MAX_ORIGIN_BYTES + 1)), RangeError);
});

test("decodeBackplaneMessage: foreign bytes give WS_BACKPLANE_BAD_MESSAGE, never another error", () => {
  const bad = [
    "",
    "01",
    "01 01 00",
    "02 01 00 00", // version 2
    "01 03 00 00", // kind 3
    "01 00 00 00", // kind 0
    "01 01 00 05 61", // origin runs past the end
    "01 01 00 01 ff", // origin not UTF-8
    "01 01 00 00 c3", // truncated UTF-8 text
    "01 01 00 00 ed a0 80", // a surrogate in UTF-8
    "7b 22 61 22 3a 31 7d", // {"a":1}
  ];
  for (const bytes of bad) {
    assert.throws(
      () => decodeBackplaneMessage(hex(bytes)),
      (error: unknown) =>
        error instanceof BackplaneError && error.code === "WS_BACKPLANE_BAD_MESSAGE",
      bytes,
    );
  }
});

test("decodeBackplaneMessage: arbitrary seeded bytes never throw anything but BackplaneError", () => {
  const random = new SeededRandom(42);
  for (let i = 0; i < 2000; i++) {
    const bytes = random.bytes(random.int(24));
    if (i % 2 === 0 && bytes.length > 1) bytes[0] = 1; // reach past the version check
    try {
      decodeBackplaneMessage(bytes);
    } catch (error) {
      assert.ok(error instanceof BackplaneError, String(error));
    }
  }
});
