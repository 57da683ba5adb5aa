import assert from "node:assert/strict";
import { test } from "node:test";
import { createFrame } from "../../src/engine/frame.ts";
import { Opcode } from "../../src/engine/opcode.ts";

test("createFrame builds a final uncompressed frame without copying the payload", () => {
  const payload = new Uint8Array([1, 2, 3]);
  const frame = createFrame(Opcode.binary, payload);
  assert.deepEqual(frame, { fin: true, rsv1: false, opcode: 2, payload });
  assert.equal(frame.payload, payload);
});

test("createFrame defaults to an empty payload", () => {
  assert.equal(createFrame(Opcode.ping).payload.length, 0);
});
