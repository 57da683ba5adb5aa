import assert from "node:assert/strict";
import { test } from "node:test";
import {
  CloseCode,
  isValidApplicationCloseCode,
  isValidWireCloseCode,
} from "../../src/engine/close_code.ts";

test("CloseCode uses the Dart status names and values", () => {
  assert.deepEqual({ ...CloseCode }, {
    normalClosure: 1000,
    goingAway: 1001,
    protocolError: 1002,
    unsupportedData: 1003,
    noStatusReceived: 1005,
    abnormalClosure: 1006,
    invalidFramePayloadData: 1007,
    policyViolation: 1008,
    messageTooBig: 1009,
    missingMandatoryExtension: 1010,
    internalServerError: 1011,
    serviceRestart: 1012,
    tryAgainLater: 1013,
    badGateway: 1014,
    tlsHandshakeFailed: 1015,
  });
});

test("isValidWireCloseCode accepts 1000-1003, 1007-1014 and 3000-4999 only", () => {
  const valid: number[] = [];
  for (let code = 0; code < 70000; code++) if (isValidWireCloseCode(code)) valid.push(code);
  assert.equal(valid.length, 4 + 8 + 2000);
  for (const code of [1000, 1003, 1007, 1014, 3000, 4999]) {
    assert.ok(isValidWireCloseCode(code), `${code}`);
  }
  for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535, 1000.5, NaN]) {
    assert.ok(!isValidWireCloseCode(code), `${code}`);
  }
});

test("isValidApplicationCloseCode accepts 1000 and 3000-4999 only", () => {
  for (const code of [1000, 3000, 4000, 4999]) {
    assert.ok(isValidApplicationCloseCode(code), `${code}`);
  }
  for (const code of [1001, 1002, 1005, 1011, 2999, 5000, 3000.5, -1]) {
    assert.ok(!isValidApplicationCloseCode(code), `${code}`);
  }
});
