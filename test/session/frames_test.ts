import { test } from "node:test";
import assert from "node:assert/strict";
import {
  decodeFrame,
  encodeFrame,
  encodePublish,
  type SessionFrame,
} from "../../src/session/frames.ts";
import { SessionError } from "../../src/session/errors.ts";

const clientFrames: SessionFrame[] = [
  { kind: "hello", version: 1, session: "3f2a-…" },
  { kind: "send", seq: 1, data: "héllo" },
  { kind: "send", seq: 2 ** 53 - 1, data: new Uint8Array([0, 255]) },
  { kind: "send", seq: 7, data: "" },
  { kind: "subscribe", topic: "room:1" },
  { kind: "subscribe", topic: "", from: { epoch: "e1", position: 0 } },
  { kind: "subscribe", topic: "t", from: { epoch: "abc", position: 123456789 } },
  { kind: "unsubscribe", topic: "room:1" },
];
const serverFrames: SessionFrame[] = [
  { kind: "welcome", accepted: 0, known: false },
  { kind: "welcome", accepted: 99, known: true },
  { kind: "ack", seq: 128 },
  { kind: "reject", seq: 3, reason: "no" },
  { kind: "publish", topic: "t", position: 1, data: "x" },
  { kind: "publish", topic: "t", position: 300, data: new Uint8Array(0) },
  { kind: "subscribed", topic: "t", epoch: "e", position: 5 },
  { kind: "gap", topic: "t", from: 2, to: 9 },
  { kind: "denied", topic: "t", reason: "not allowed" },
];

test("every frame kind round-trips, each in its direction only", () => {
  for (const frame of clientFrames) {
    assert.deepEqual(decodeFrame(encodeFrame(frame), "client"), frame);
    assert.throws(() => decodeFrame(encodeFrame(frame), "server"), {
      code: "WS_SESSION_UNKNOWN_KIND",
    });
  }
  for (const frame of serverFrames) {
    assert.deepEqual(decodeFrame(encodeFrame(frame), "server"), frame);
    assert.throws(() => decodeFrame(encodeFrame(frame), "client"), {
      code: "WS_SESSION_UNKNOWN_KIND",
    });
  }
});

test("byte layout: kind byte, LEB128 varints, length-prefixed strings, raw payload", () => {
  assert.deepEqual([...encodeFrame({ kind: "send", seq: 300, data: new Uint8Array([7]) })], [
    3,
    0xac,
    2,
    7,
  ]);
  assert.deepEqual([...encodeFrame({ kind: "send", seq: 1, data: "A" })], [2, 1, 65]);
  assert.deepEqual([...encodePublish("ab", 1, new Uint8Array([9]))], [0x14, 2, 97, 98, 1, 9]);
  assert.deepEqual([...encodeFrame({ kind: "ack", seq: 0 })], [0x11, 0]);
  // Overhead of a binary send of n bytes with a seq below 128: 2 bytes.
  assert.equal(encodeFrame({ kind: "send", seq: 5, data: new Uint8Array(1000) }).byteLength, 1002);
});

test("malformed frames are typed errors with close code 1008, never other exceptions", () => {
  const cases: [number[], "client" | "server", string][] = [
    [[], "client", "WS_SESSION_MALFORMED"],
    [[0x01], "client", "WS_SESSION_MALFORMED"], // HELLO without fields
    [[0x01, 1, 5, 97], "client", "WS_SESSION_MALFORMED"], // string runs past the end
    [[0x01, 1, 1, 97, 0], "client", "WS_SESSION_MALFORMED"], // trailing byte
    [[0x01, 1, 1, 0xff], "client", "WS_SESSION_MALFORMED"], // not UTF-8
    [[0x02, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 1], "client", "WS_SESSION_MALFORMED"], // varint > 8 bytes
    [[0x02, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f], "client", "WS_SESSION_MALFORMED"], // > 2^53
    [[0x02, 1, 0xc3], "client", "WS_SESSION_MALFORMED"], // text payload not UTF-8
    [[0x04, 1, 116, 2], "client", "WS_SESSION_MALFORMED"], // unknown subscribe flag
    [[0x04, 1, 116, 1, 1, 101], "client", "WS_SESSION_MALFORMED"], // position missing
    [[0x99], "client", "WS_SESSION_UNKNOWN_KIND"],
    [[0x00], "server", "WS_SESSION_UNKNOWN_KIND"],
    [[0x16, 1, 116, 1], "server", "WS_SESSION_MALFORMED"],
    [[0x16, 1, 116, 100, 1], "server", "WS_SESSION_MALFORMED"], // GAP from 100 to 1
    [[0x16, 1, 116, 0, 3], "server", "WS_SESSION_MALFORMED"], // GAP from position 0
  ];
  for (const [bytes, from, code] of cases) {
    try {
      decodeFrame(new Uint8Array(bytes), from as "client");
      assert.fail(`decoded ${bytes}`);
    } catch (error) {
      assert.ok(error instanceof SessionError, `${bytes}: ${error}`);
      assert.equal(error.code, code, String(bytes));
      assert.equal(error.closeCode, 1008);
    }
  }
  const longTopic = encodeFrame({ kind: "unsubscribe", topic: "x".repeat(2000) });
  assert.throws(() => decodeFrame(longTopic, "client"), { code: "WS_SESSION_MALFORMED" });
});

test("encoding refuses integers the protocol cannot carry", () => {
  for (const seq of [-1, 1.5, 2 ** 53, NaN]) {
    assert.throws(() => encodeFrame({ kind: "ack", seq }), RangeError);
  }
});
