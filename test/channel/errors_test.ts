import { test } from "node:test";
import assert from "node:assert/strict";
import {
  ConnectError,
  ConnectionClosedError,
  InvalidStateError,
  UnsupportedError,
} from "../../src/channel/errors.ts";
import { WebSocketError } from "../../src/engine/errors.ts";

test("ConnectionClosedError carries the close code and reason", () => {
  const error = new ConnectionClosedError(4000, "bye");
  assert.ok(error instanceof WebSocketError);
  assert.equal(error.code, "WS_CONNECTION_CLOSED");
  assert.equal(error.closeCode, 4000);
  assert.equal(error.closeReason, "bye");
  assert.match(error.message, /4000: bye/);
  assert.match(new ConnectionClosedError(1006).message, /abnormally/);
});

test("ConnectError has code, status and 1006", () => {
  const error = new ConnectError("WS_CONNECT_TIMEOUT", "slow", { status: 504 });
  assert.equal(error.name, "ConnectError");
  assert.equal(error.closeCode, 1006);
  assert.equal(error.status, 504);
});

test("InvalidStateError and UnsupportedError have stable codes", () => {
  assert.equal(new InvalidStateError("x").code, "WS_INVALID_STATE");
  const unsupported = new UnsupportedError("WS_PING_UNSUPPORTED", "no ping");
  assert.equal(unsupported.code, "WS_PING_UNSUPPORTED");
  assert.equal(unsupported.name, "UnsupportedError");
});
