import { test } from "node:test";
import assert from "node:assert/strict";
import { checkServerOptions } from "../../src/adapters/serve_options.ts";

test("checkServerOptions throws TypeError / RangeError for invalid compression settings", () => {
  assert.throws(() => checkServerOptions({ compression: { threshold: -1 } }), RangeError);
  assert.throws(() => checkServerOptions({ compression: { threshold: NaN } }), RangeError);
  assert.throws(() => checkServerOptions({ compression: { maxConcurrency: 0 } }), RangeError);
  assert.throws(() => checkServerOptions({ compression: { serverMaxWindowBits: 8 } }), RangeError);
  assert.throws(() => checkServerOptions({ compression: { clientMaxWindowBits: 16 } }), RangeError);
  assert.throws(() => checkServerOptions({ compression: "on" as never }), TypeError);
  assert.throws(() => checkServerOptions({ compression: null as never }), TypeError);
});

test("checkServerOptions keeps other options and snapshots valid compression settings", () => {
  const onChannel = () => {};
  const options: { compression?: boolean; onChannel: () => void } = { onChannel };
  assert.equal(checkServerOptions(options).compression, false);
  assert.equal(checkServerOptions({ compression: false }).compression, false);
  assert.equal(checkServerOptions(options).onChannel, onChannel);
  const settings = { threshold: 100, clientNoContextTakeover: false };
  const checked = checkServerOptions({ compression: settings });
  assert.deepEqual(checked.compression, { ...settings, maxConcurrency: 10 });
  // Changing the caller's object afterwards cannot break later handshakes.
  settings.threshold = -1;
  assert.equal((checked.compression as { threshold: number }).threshold, 100);
  assert.deepEqual(checkServerOptions({ compression: true }).compression, {
    threshold: 1024,
    maxConcurrency: 10,
  });
});
