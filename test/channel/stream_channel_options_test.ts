import { test } from "node:test";
import assert from "node:assert/strict";
import {
  resolveSettings,
  serverSettings,
  STREAM_CHANNEL_DEFAULTS,
} from "../../src/channel/stream_channel_options.ts";

test("resolveSettings keeps the seven channel fields, with the defaults for what is undefined", () => {
  const settings = resolveSettings(
    {
      role: "client",
      closeTimeout: undefined,
      maxMessageSize: 10,
      ...{ onChannel: () => {}, port: 1 },
    } as Parameters<typeof resolveSettings>[0],
  );
  assert.deepEqual(Object.keys(settings).sort(), [
    "answerPingMessages",
    "closeTimeout",
    "maxFragments",
    "maxMessageSize",
    "readableHighWaterMark",
    "role",
    "writableHighWaterMark",
  ]);
  assert.equal(settings.closeTimeout, STREAM_CHANNEL_DEFAULTS.closeTimeout);
  assert.equal(settings.maxMessageSize, 10);
  assert.equal(settings.role, "client");
});

test("serverSettings: one frozen settings object per server options object, with the defaults", () => {
  const options = { maxMessageSize: 1024, onChannel: () => {} };
  const settings = serverSettings(options);
  assert.equal(serverSettings(options), settings);
  assert.ok(Object.isFrozen(settings));
  assert.equal(resolveSettings(settings), settings);
  assert.deepEqual({ ...settings }, {
    role: "server",
    maxMessageSize: 1024,
    maxFragments: settings.maxFragments,
    closeTimeout: 5000,
    readableHighWaterMark: 1024 * 1024,
    writableHighWaterMark: 64 * 1024,
    answerPingMessages: undefined,
  });
  assert.notEqual(serverSettings({ ...options }), settings);
});

test("serverSettings: only the server options a channel takes from are read", () => {
  // Not server options: a plain object's extra fields change nothing, as an instance's would not.
  const options = {
    closeTimeout: 250,
    readableHighWaterMark: 1,
    writableHighWaterMark: 1,
    role: "client",
  };
  const settings = serverSettings(options);
  assert.equal(settings.role, "server");
  assert.equal(settings.closeTimeout, 250);
  assert.equal(settings.readableHighWaterMark, 1024 * 1024);
  assert.equal(settings.writableHighWaterMark, 64 * 1024);
});
