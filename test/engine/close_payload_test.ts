import assert from "node:assert/strict";
import { test } from "node:test";
import {
  encodeClosePayload,
  parseClosePayload,
  validateCloseArguments,
} from "../../src/engine/close_payload.ts";
import { ProtocolError } from "../../src/engine/errors.ts";
import { hex, toHex } from "../_util/hex.ts";

function parseError(bytes: Uint8Array): ProtocolError {
  try {
    parseClosePayload(bytes);
  } catch (error) {
    assert.ok(error instanceof ProtocolError);
    return error;
  }
  assert.fail("no error");
}

test("parseClosePayload reads code and reason, and 1005 for an empty body", () => {
  assert.deepEqual(parseClosePayload(hex("0f a0 62 79 65")), { code: 4000, reason: "bye" });
  assert.deepEqual(parseClosePayload(hex("03 e8")), { code: 1000, reason: "" });
  assert.deepEqual(parseClosePayload(new Uint8Array(0)), { code: 1005, reason: "" });
});

test("parseClosePayload fails a 1-byte body with 1002", () => {
  const error = parseError(hex("03"));
  assert.equal(error.closeCode, 1002);
  assert.equal(error.code, "WS_INVALID_CLOSE_PAYLOAD");
});

test("parseClosePayload fails codes a peer may not send with 1002", () => {
  for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535]) {
    const error = parseError(new Uint8Array([code >>> 8, code & 0xff]));
    assert.equal(error.closeCode, 1002, `${code}`);
    assert.equal(error.code, "WS_INVALID_CLOSE_CODE");
  }
});

test("parseClosePayload fails a reason that is not UTF-8 with 1007", () => {
  for (const reason of ["ff ff", "c0 af", "ed a0 80", "e2 82"]) {
    const error = parseError(hex(`03 e8 ${reason}`));
    assert.equal(error.closeCode, 1007, reason);
    assert.equal(error.code, "WS_INVALID_UTF8");
  }
});

test("parseClosePayload keeps a leading byte order mark in the reason", () => {
  assert.equal(parseClosePayload(hex("03 e8 ef bb bf 41")).reason, "\ufeffA");
});

test("encodeClosePayload writes the code big-endian followed by the UTF-8 reason", () => {
  assert.equal(toHex(encodeClosePayload(1000, "é")), "03 e8 c3 a9");
  assert.equal(toHex(encodeClosePayload(4999)), "13 87");
  assert.equal(encodeClosePayload().length, 0);
});

test("encodeClosePayload accepts 123 reason bytes and rejects 124", () => {
  assert.equal(encodeClosePayload(1000, "a".repeat(123)).length, 125);
  assert.equal(encodeClosePayload(1000, "é".repeat(61) + "a").length, 125);
  assert.throws(() => encodeClosePayload(1000, "a".repeat(124)), RangeError);
  assert.throws(() => encodeClosePayload(1000, "é".repeat(62)), RangeError);
});

test("encodeClosePayload rejects codes peers may not receive and bad reasons", () => {
  for (const code of [999, 1004, 1005, 1006, 1015, 5000, 1000.5]) {
    assert.throws(() => encodeClosePayload(code), RangeError, `${code}`);
  }
  assert.throws(() => encodeClosePayload(1000, 42 as unknown as string), TypeError);
  assert.throws(() => encodeClosePayload(undefined, "why"), TypeError);
});

test("validateCloseArguments allows 1000 and 3000-4999 and 123-byte reasons", () => {
  assert.equal(validateCloseArguments(), undefined);
  assert.equal(validateCloseArguments(1000, "x"), 1000);
  assert.equal(validateCloseArguments(3000), 3000);
  assert.equal(validateCloseArguments(4999, "a".repeat(123)), 4999);
  assert.equal(validateCloseArguments(undefined, "only a reason"), 1000);
  assert.equal(validateCloseArguments(undefined, ""), undefined);
});

test("validateCloseArguments refuses reserved codes, long reasons and wrong types", () => {
  for (const code of [0, 999, 1001, 1002, 1004, 1005, 1006, 1011, 1015, 2999, 5000, 3000.5, NaN]) {
    assert.throws(() => validateCloseArguments(code), RangeError, String(code));
  }
  assert.throws(() => validateCloseArguments(1000, "é".repeat(62)), RangeError);
  assert.throws(() => validateCloseArguments("1000" as unknown as number), TypeError);
  assert.throws(() => validateCloseArguments(1000, 5 as unknown as string), TypeError);
});
