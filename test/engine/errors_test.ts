import assert from "node:assert/strict";
import { test } from "node:test";
import { ProtocolError, WebSocketError } from "../../src/engine/errors.ts";

test("WebSocketError carries a stable code, an optional close code and a cause", () => {
  const cause = new Error("inner");
  const error = new WebSocketError(
    "WS_INVALID_STATE",
    "Cannot send message: connection is closed",
    { cause },
  );
  assert.ok(error instanceof Error);
  assert.equal(error.name, "WebSocketError");
  assert.equal(error.code, "WS_INVALID_STATE");
  assert.equal(error.closeCode, undefined);
  assert.equal(error.cause, cause);
});

test("ProtocolError is a WebSocketError with a close code", () => {
  const error = new ProtocolError("WS_INVALID_OPCODE", "Invalid opcode 3", 1002);
  assert.ok(error instanceof WebSocketError);
  assert.equal(error.name, "ProtocolError");
  assert.equal(error.closeCode, 1002);
  assert.equal(error.cause, undefined);
  const wrapped = new ProtocolError("WS_INTERNAL_ERROR", "Internal error", 1011, { cause: "x" });
  assert.equal(wrapped.cause, "x");
});
