import assert from "node:assert/strict";
import { test } from "node:test";
import { WebSocketError } from "../../src/engine/errors.ts";
import { HandshakeError, HandshakeErrorCode } from "../../src/handshake/errors.ts";

test("HandshakeError is a WebSocketError with a status and no close code", () => {
  const cause = new Error("boom");
  const error = new HandshakeError(HandshakeErrorCode.badStatus, "Expected status 101, got 401", {
    status: 401,
    cause,
  });
  assert.ok(error instanceof WebSocketError);
  assert.ok(error instanceof Error);
  assert.equal(error.name, "HandshakeError");
  assert.equal(error.code, "WS_HANDSHAKE_BAD_STATUS");
  assert.equal(error.status, 401);
  assert.equal(error.closeCode, undefined);
  assert.equal(error.cause, cause);
  assert.equal(
    new HandshakeError(HandshakeErrorCode.timeout, "Handshake timed out").status,
    undefined,
  );
});

test("HandshakeErrorCode values are stable WS_HANDSHAKE_* strings", () => {
  const values = Object.values(HandshakeErrorCode);
  assert.equal(new Set(values).size, values.length);
  for (const value of values) assert.match(value, /^WS_HANDSHAKE_[A-Z_]+$/);
  assert.equal(HandshakeErrorCode.timeout, "WS_HANDSHAKE_TIMEOUT");
  assert.equal(HandshakeErrorCode.headTooLarge, "WS_HANDSHAKE_HEAD_TOO_LARGE");
});
