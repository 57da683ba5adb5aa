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

test("serverSettings: reads a channel's settings only, whatever else the options hold", () => {
  const options = {
    closeTimeout: 250,
    readableHighWaterMark: 16 * 1024,
    writableHighWaterMark: 4096,
    role: "client",
    port: 8080,
  };
  assert.deepEqual({ ...serverSettings(options) }, {
    role: "server",
    maxMessageSize: 64 * 1024 * 1024,
    maxFragments: serverSettings(options).maxFragments,
    closeTimeout: 250,
    readableHighWaterMark: 16 * 1024,
    writableHighWaterMark: 4096,
    answerPingMessages: undefined,
  });
});

test("resolveSettings: a high-water mark that is not a number of at least 0 throws", () => {
  for (const value of [NaN, -1]) {
    assert.throws(
      () => resolveSettings({ role: "server", readableHighWaterMark: value }),
      RangeError,
    );
    assert.throws(
      () => resolveSettings({ role: "client", writableHighWaterMark: value }),
      RangeError,
    );
  }
  assert.throws(
    () => resolveSettings({ role: "server", readableHighWaterMark: "1" as unknown as number }),
    TypeError,
  );
  assert.equal(
    resolveSettings({ role: "server", readableHighWaterMark: 0 }).readableHighWaterMark,
    0,
  );
});
