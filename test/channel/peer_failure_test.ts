import { test } from "node:test";
import assert from "node:assert/strict";
import { ProtocolError } from "../../src/engine/errors.ts";
import type { ProtocolEvent } from "../../src/engine/protocol.ts";
import { failureReason } from "../../src/engine/close_payload.ts";
import {
  hasMessageBefore,
  PeerFailure,
  type PeerFailureHost,
} from "../../src/channel/peer_failure.ts";
import { deadline } from "../_util/async.ts";

function host(overrides: Partial<PeerFailureHost> = {}) {
  const log: string[] = [];
  const all: PeerFailureHost = {
    closed: () => false,
    unread: () => false,
    pending: () => undefined,
    settings: { closeTimeout: 5000 },
    ending: (_error, code, reason) => void log.push(`ending ${code} ${reason}`),
    shutDown: (_error, code, reason) => void log.push(`shutDown ${code} ${reason}`),
    ...overrides,
  };
  return { all, log };
}

const violation = () => new ProtocolError("WS_INVALID_OPCODE", "Invalid opcode 3", 1002);

test("PeerFailure closes at once when nothing can still be answered", () => {
  const { all, log } = host();
  const failure = new PeerFailure(all);
  const result = failure.fail(violation(), {
    reason: "r",
    messagesBefore: false,
    failEngine: () => log.push("failEngine"),
  });
  assert.equal(result, undefined);
  assert.equal(failure.active, false);
  assert.deepEqual(log, ["failEngine", "shutDown 1002 r"]);
});

test("PeerFailure waits for unread messages to be taken before closing", async () => {
  let unread = true;
  const { all, log } = host({ unread: () => unread });
  const failure = new PeerFailure(all);
  const held = failure.fail(violation(), {
    reason: "",
    messagesBefore: true,
    failEngine: () => log.push("failEngine"),
  });
  assert.ok(held instanceof Promise);
  assert.equal(failure.active, true);
  assert.deepEqual(log, ["ending 1002 "]);
  unread = false;
  failure.taken();
  await deadline(held!, 2000);
  assert.equal(failure.active, false);
  assert.deepEqual(log, ["ending 1002 ", "failEngine", "shutDown 1002 "]);
});

test("PeerFailure ignores a second failure while one is in progress", () => {
  const { all, log } = host({ unread: () => true });
  const failure = new PeerFailure(all);
  failure.fail(violation(), { reason: "", messagesBefore: true, failEngine: () => {} });
  const second = failure.fail(violation(), {
    reason: "",
    messagesBefore: false,
    failEngine: () => {},
  });
  assert.equal(second, undefined);
  assert.deepEqual(log, ["ending 1002 "]);
  failure.end();
});

test("PeerFailure end() releases the wait without closing a channel that already ended", async () => {
  let closed = false;
  const { all, log } = host({ unread: () => true, closed: () => closed });
  const failure = new PeerFailure(all);
  const held = failure.fail(violation(), {
    reason: "",
    messagesBefore: true,
    failEngine: () => log.push("failEngine"),
  });
  closed = true;
  failure.end();
  await deadline(held!, 2000);
  assert.deepEqual(log, ["ending 1002 "]);
});

test("failureReason keeps messages up to 123 UTF-8 bytes only", () => {
  assert.equal(failureReason(violation()), "Invalid opcode 3");
  assert.equal(failureReason(new ProtocolError("WS_X", "é".repeat(62), 1002)), "");
});

test("hasMessageBefore finds data messages before the index only", () => {
  const events: ProtocolEvent[] = [
    { type: "ping", data: new Uint8Array(0) },
    { type: "text", data: "a" },
    { type: "error", error: violation() },
  ];
  assert.equal(hasMessageBefore(events, 1), false);
  assert.equal(hasMessageBefore(events, 2), true);
});
