import assert from "node:assert/strict";
import { test } from "node:test";
import { isControlOpcode, isKnownOpcode, Opcode } from "../../src/engine/opcode.ts";

test("Opcode has the RFC 6455 §11.8 values", () => {
  assert.deepEqual(
    [Opcode.continuation, Opcode.text, Opcode.binary, Opcode.close, Opcode.ping, Opcode.pong],
    [0, 1, 2, 8, 9, 10],
  );
});

test("isControlOpcode is true exactly for opcodes 8-15", () => {
  for (let opcode = 0; opcode < 16; opcode++) {
    assert.equal(isControlOpcode(opcode), opcode >= 8, `${opcode}`);
  }
});

test("isKnownOpcode rejects the reserved opcodes 3-7 and 11-15", () => {
  const known = [];
  for (let opcode = 0; opcode < 16; opcode++) if (isKnownOpcode(opcode)) known.push(opcode);
  assert.deepEqual(known, [0, 1, 2, 8, 9, 10]);
});
