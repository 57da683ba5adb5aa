import { test } from "node:test";
import assert from "node:assert/strict";
import {
  defaultReconnectPolicy,
  type DisconnectInfo,
  normalizeDecision,
  retryDelay,
  TRY_AGAIN_LATER_DELAY,
} from "../../src/client/retry_policy.ts";
import { ClientError } from "../../src/client/errors.ts";
import { ConnectError } from "../../src/channel/errors.ts";

const closed = (code: number): DisconnectInfo => ({ code, reason: "", wasOpen: true, attempt: 1 });
const decide = (info: DisconnectInfo) => normalizeDecision(defaultReconnectPolicy(info));

test("defaultReconnectPolicy follows the close-code table", () => {
  const table: [number, boolean][] = [
    [1000, true], // the server's normal close (restart, deploy); our own 1000 never reaches the policy
    [1001, true],
    [1002, false],
    [1003, false],
    [1005, true],
    [1006, true],
    [1007, false],
    [1008, false],
    [1009, false],
    [1010, false],
    [1011, true],
    [1012, true],
    [1013, true],
    [1014, true],
    [1015, false],
    [3000, false],
    [3003, false],
    [3008, true],
    [4000, false],
    [4001, false],
    [4999, false],
  ];
  for (const [code, reconnect] of table) {
    assert.equal(decide(closed(code)).reconnect, reconnect, `close code ${code}`);
  }
});

test("defaultReconnectPolicy follows the HTTP status table of refused handshakes", () => {
  const table: [number, boolean][] = [
    [400, false],
    [401, false],
    [403, false],
    [404, false],
    [408, true],
    [426, false],
    [429, true],
    [500, true],
    [502, true],
    [503, true],
  ];
  for (const [status, reconnect] of table) {
    const error = new ConnectError("WS_HANDSHAKE_BAD_STATUS", "refused", { status });
    const info: DisconnectInfo = { code: 1006, reason: "", error, wasOpen: false, attempt: 1 };
    assert.equal(decide(info).reconnect, reconnect, `HTTP ${status} via the error`);
    assert.equal(
      decide({ ...info, error: undefined, status }).reconnect,
      reconnect,
      `HTTP ${status}`,
    );
  }
});

test("defaultReconnectPolicy raises the floor after 1013, 429 and 503", () => {
  assert.equal(decide(closed(1013)).minDelay, TRY_AGAIN_LATER_DELAY);
  assert.equal(decide({ ...closed(1006), status: 429 }).minDelay, TRY_AGAIN_LATER_DELAY);
  assert.equal(decide({ ...closed(1006), status: 503 }).minDelay, TRY_AGAIN_LATER_DELAY);
  assert.equal(decide(closed(1006)).minDelay, 0);
});

test("defaultReconnectPolicy reconnects after network errors and timeouts", () => {
  for (
    const error of [
      new ConnectError("WS_CONNECT_REFUSED", "refused"),
      new ClientError("WS_CONNECT_TIMEOUT", "slow"),
      new ClientError("WS_AFTER_CONNECT_FAILED", "hook threw"),
      new TypeError("fetch failed"),
    ]
  ) {
    assert.equal(
      decide({ code: 1006, reason: "", error, wasOpen: false, attempt: 3 }).reconnect,
      true,
    );
  }
});

test("defaultReconnectPolicy uses the close code carried by a failed attempt's error", () => {
  const error = new ClientError("WS_AFTER_CONNECT_FAILED", "server said no", { closeCode: 4001 });
  assert.equal(
    decide({ code: 1006, reason: "", error, wasOpen: false, attempt: 1 }).reconnect,
    false,
  );
});

test("normalizeDecision accepts booleans and objects", () => {
  assert.deepEqual(normalizeDecision(false), { reconnect: false, minDelay: 0 });
  assert.deepEqual(normalizeDecision({ reconnect: true, minDelay: 10 }), {
    reconnect: true,
    minDelay: 10,
  });
  assert.deepEqual(normalizeDecision({ reconnect: true }), { reconnect: true, minDelay: 0 });
});

test("retryDelay: stops when disabled, at maxAttempts, on a 'no' or a throwing policy; else backs off above minDelay", () => {
  const settings = { enabled: true, base: 100, max: 10_000, maxAttempts: 5, stableAfter: 5000 };
  const info = { code: 1006, reason: "", wasOpen: true, attempt: 1 };
  const errors: unknown[] = [];
  const onError = (error: unknown) => errors.push(error);
  assert.equal(retryDelay(info, { ...settings, enabled: false }, () => 0.5, onError), undefined);
  assert.equal(retryDelay({ ...info, attempt: 5 }, settings, () => 0.5, onError), undefined);
  assert.equal(retryDelay({ ...info, code: 1008 }, settings, () => 0.5, onError), undefined);
  const boom = new Error("policy bug");
  const throwing = {
    ...settings,
    policy: () => {
      throw boom;
    },
  };
  assert.equal(retryDelay(info, throwing, () => 0.5, onError), undefined);
  assert.deepEqual(errors, [boom]);
  // Full jitter: at most base * 2^(attempt - 1), never below the policy's minDelay.
  assert.equal(retryDelay({ ...info, attempt: 3 }, settings, () => 0.999, onError), 400);
  const later = { ...settings, policy: () => ({ reconnect: true, minDelay: 700 }) };
  assert.equal(retryDelay(info, later, () => 0, onError), 700);
  assert.equal(errors.length, 1);
});
