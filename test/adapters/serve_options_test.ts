import { test } from "node:test";
import assert from "node:assert/strict";
import { checkServerOptions } from "../../src/adapters/serve_options.ts";
import { zlibCodec } from "../../src/adapters/zlib_codec.ts";

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
  // The engine paths compress with node:zlib unless a codec (or null) was chosen.
  assert.deepEqual(checked.compression, { ...settings, maxConcurrency: 10, codec: zlibCodec });
  // Changing the caller's object afterwards cannot break later handshakes.
  settings.threshold = -1;
  assert.equal((checked.compression as { threshold: number }).threshold, 100);
  assert.deepEqual(checkServerOptions({ compression: true }).compression, {
    threshold: 1024,
    maxConcurrency: 10,
    codec: zlibCodec,
  });
  const platform = checkServerOptions({ compression: { codec: null } }).compression;
  assert.equal((platform as { codec: unknown }).codec, null);
});

test("checkServerOptions validates handshakeTimeout, maxPendingHandshakes and requireOrigin", () => {
  for (const handshakeTimeout of [0, -1, NaN, Infinity, 2 ** 31]) {
    assert.throws(
      () => checkServerOptions({ handshakeTimeout }),
      RangeError,
      String(handshakeTimeout),
    );
  }
  assert.throws(() => checkServerOptions({ handshakeTimeout: "10" as never }), TypeError);
  for (const maxPendingHandshakes of [0, -1, 1.5, NaN]) {
    assert.throws(
      () => checkServerOptions({ maxPendingHandshakes }),
      RangeError,
      String(maxPendingHandshakes),
    );
  }
  assert.throws(() => checkServerOptions({ maxPendingHandshakes: "8" as never }), TypeError);
  assert.throws(() => checkServerOptions({ requireOrigin: "yes" as never }), TypeError);
  const ok = checkServerOptions({
    handshakeTimeout: 1.5,
    maxPendingHandshakes: Infinity,
    requireOrigin: true,
  });
  assert.equal(ok.handshakeTimeout, 1.5);
  assert.equal(ok.maxPendingHandshakes, Infinity);
  assert.equal(ok.requireOrigin, true);
  assert.equal(checkServerOptions({ maxPendingHandshakes: 1 }).maxPendingHandshakes, 1);
});

test("serve() throws invalid options at the call, before listening", async () => {
  const module = "Deno" in globalThis
    ? await import("../../src/adapters/deno.ts")
    : "Bun" in globalThis
    ? await import("../../src/adapters/bun.ts")
    : await import("../../src/adapters/node.ts");
  const onChannel = () => {};
  const cases: Array<[Record<string, unknown>, ErrorConstructor]> = [
    [{ handshakeTimeout: 0 }, RangeError],
    [{ maxPendingHandshakes: 0 }, RangeError],
    [{ maxMessageSize: -1 }, RangeError],
    [{ maxFragments: 0.5 }, RangeError],
    [{ idleTimeout: "30" }, TypeError],
    [{ closeTimeout: 0 }, RangeError],
    [{ port: 70000 }, RangeError],
    [{ hostname: 127 }, TypeError],
    [{ onChannel: "echo" }, TypeError],
    [{ answerPingMessages: "ping" }, TypeError],
    [{ answerPingMessages: { ping: 1 } }, TypeError],
  ];
  for (const [bad, type] of cases) {
    assert.throws(
      () => module.serve({ hostname: "127.0.0.1", onChannel, ...bad } as never),
      type,
      JSON.stringify(bad),
    );
  }
  // A port in use is not a programming error: it rejects.
  const first = await module.serve({ hostname: "127.0.0.1", port: 0, onChannel });
  try {
    await assert.rejects(module.serve({ hostname: "127.0.0.1", port: first.port, onChannel }));
  } finally {
    await first.close();
  }
});
